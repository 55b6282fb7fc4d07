"""The Risk page: the trading state, limits and their use, today's P&L, and the kill
switch (halt: one click and a confirmation; resume: a reason is required). Both go
through ``app.services.risk``, as ``tiller risk halt`` and ``resume`` do."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.chat._ui import container, fact, guarded, money, operator, plain, when


def _act() -> None:
    """Carry out what a button queued (before the state is shown, so it shows the result)."""
    from app.services.risk import halt, resume

    action = st.session_state.pop("risk_action", None)
    if action is None:
        return
    c = container()
    with guarded():
        if action["kind"] == "halt":
            reason = action["reason"].strip() or "halted from the chat"
            outcome = halt(c, reason, operator=operator())
            done = f"Trading HALTED. Cancelled {len(outcome.canceled)} working order(s)."
            st.success(done if outcome.complete else done + " Some cancels failed: halt again.")
            for failure in outcome.failed:
                st.error(f"{plain(failure.client_order_id)}: {plain(failure.error)}")
            for warning in outcome.warnings:
                st.warning(plain(warning))
        else:
            outcome_r = resume(c, action["reason"], operator=operator(),
                               acknowledge_broken_chain=action["acknowledge"],
                               accept_losses=action["accept_losses"])  # fmt: skip
            st.success(f"Trading resumed: {outcome_r.state.get('trading_state', '?').upper()}.")
            if outcome_r.equity_baseline is not None:
                st.info(f"Losses accepted: the breakers restart at equity "
                        f"{money(outcome_r.equity_baseline)}.")  # fmt: skip
            if outcome_r.warning:
                st.warning(plain(outcome_r.warning))


def _queue(kind: str) -> None:
    state = st.session_state
    state["risk_action"] = {
        "kind": kind, "reason": state.get(f"{kind}-reason", "") or "",
        "acknowledge": bool(state.get("acknowledge-chain", False)),
        "accept_losses": bool(state.get("accept-losses", False)),
    }  # fmt: skip
    state["confirm-halt"] = False


def _confirm(value: bool) -> None:
    st.session_state["confirm-halt"] = value


def _status() -> Any:
    from app.services.portfolio import risk_status

    status = risk_status(container())
    state = status.state
    cols = st.columns(4)
    fact(cols[0], "Trading state", str(state.get("trading_state", "?")).upper(),
         f"since {when(state['changed_at'])}" if state.get("changed_at") else None)  # fmt: skip
    fact(cols[1], "Today's P&L", money(status.pnl_today), f"day {state.get('day', '?')}")
    fact(cols[2], "Equity", money(status.equity), status.venue)
    fact(cols[3], "Audit chain", "verifies" if status.audit_chain_ok else "BROKEN",
         f"{status.audit_chain.entries} entries")  # fmt: skip
    if state.get("halted_reason"):
        st.warning(f"Halted: {plain(state['halted_reason'])} ({when(state.get('changed_at'))})")
    if not status.audit_chain_ok:
        st.error(f"Audit chain broken: {plain(status.audit_chain.detail or '')}")
    return status


def _limits(status: Any) -> None:
    from app.services.account_history import limit_usage

    st.subheader("Limits and their use")
    rows = [{"limit": u.name, "what": u.description,
             "used": "—" if u.used is None else f"{float(u.used):,.4g}",
             "limit value": f"{float(u.limit):,.4g}", "unit": u.unit,
             "use": min(1.0, u.fraction) if u.fraction is not None else None}
            for u in limit_usage(status)]  # fmt: skip
    st.dataframe(rows, hide_index=True, width="stretch", key="limits",
                 column_config={"use": st.column_config.ProgressColumn(
                     "use", min_value=0.0, max_value=1.0, format="percent")})  # fmt: skip
    with st.expander("Every limit"):
        st.json(status.limits, expanded=True)
        st.caption(f"Limits hash {status.limits_hash}")


def _autopilot() -> None:
    """The autopilot's leader and heartbeat; a stale heartbeat (a leader holds the lock
    but has not beaten for three cycles: hung, or its machine asleep) is a warning."""
    from app.services.autopilot import status as autopilot_status

    st.subheader("Autopilot")
    view = autopilot_status(container())
    leader = view.leader
    if leader.stale:
        age = "never" if leader.heartbeat_age_s is None else f"{leader.heartbeat_age_s:,.0f} s ago"
        st.error(f"Autopilot heartbeat is STALE: the leader {plain(leader.holder or '?')} "
                 f"holds the lock but last beat {age}. It may be hung: its scheduled marks "
                 "and runs are not happening. Check its log; `tiller autopilot stop`, then "
                 "start it again.")  # fmt: skip
    cols = st.columns(3)
    state = "running" if leader.running else "not running"
    fact(cols[0], "Autopilot", state, plain(leader.holder) if leader.holder else None)
    fact(
        cols[1],
        "Heartbeat",
        when(leader.heartbeat_at) if leader.heartbeat_at else "—",
        None if leader.heartbeat_age_s is None else f"{leader.heartbeat_age_s:,.0f} s ago",
    )
    fact(cols[2], "Jobs", str(len(view.jobs)),
         f"{sum(1 for j in view.jobs if not j.paused)} active")  # fmt: skip
    if view.jobs:
        rows = [{"job": j.name, "symbols": ",".join(j.symbols), "mode": j.mode,
                 "next run": j.next_run, "last outcome": j.last_outcome or "—"}
                for j in view.jobs]  # fmt: skip
        st.dataframe(rows, hide_index=True, width="stretch", key="autopilot-jobs")


def _kill_switch(status: Any) -> None:
    st.subheader("Kill switch")
    halted = status.state.get("trading_state") == "halted"
    if not halted:
        if not st.session_state.get("confirm-halt"):
            st.button("Halt trading", key="halt", type="primary", on_click=_confirm,
                      args=(True,), icon=":material/front_hand:")  # fmt: skip
            st.caption("Stops every new order at once and cancels working orders.")
            return
        st.warning(f"Halt trading on {status.venue}? Every new order is refused and working "
                   "orders are cancelled until someone resumes, with a reason.")  # fmt: skip
        st.text_input("Reason (recorded)", key="halt-reason")
        left, right = st.columns(2)
        left.button("Yes, halt now", key="halt-confirm", type="primary", on_click=_queue,
                    args=("halt",), width="stretch")  # fmt: skip
        right.button("Cancel", key="halt-cancel", on_click=_confirm, args=(False,),
                     width="stretch")  # fmt: skip
        return
    st.text_input("Why trading may resume (required, recorded)", key="resume-reason")
    if not status.audit_chain_ok:
        st.checkbox("I acknowledge the broken audit chain (recorded in the audit log)",
                    key="acknowledge-chain")  # fmt: skip
    st.checkbox("Accept the losses so far: the loss breakers restart at today's equity "
                "(recorded; otherwise a loss that tripped them trips them again)",
                key="accept-losses")  # fmt: skip
    st.button("Resume trading", key="resume", type="primary", on_click=_queue, args=("resume",))


st.title("Risk")
_act()
with guarded():
    current = _status()
    _limits(current)
    _kill_switch(current)
with guarded():
    _autopilot()
