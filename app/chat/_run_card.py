"""An agent run as the chat shows it: live progress per node, then the proposal card
(evidence, forecast, policy, order, risk verdict) with Approve / Approve smaller /
Reject. Decisions go through ``app.services.runs.decide_run``, as the CLI's and the
API's do."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import streamlit as st

from app.chat._ui import (
    container,
    fact,
    guarded,
    money,
    operator,
    pct,
    plain,
    produced_by,
    when,
)
from app.services.run_cards import RunCard, SymbolCard, run_card


def progress_box(label: str) -> tuple[Any, Callable[[dict[str, Any]], None], list[str]]:
    """A status box that shows each node as it starts and its summary when it ends."""
    box = st.status(label, expanded=True)
    lines: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        node = str(event.get("node", ""))
        if event.get("status") == "started":
            box.update(label=f"{label} — {node}…")
            return
        line = f"✓ {node}: {event.get('summary', '')}"
        lines.append(line)
        box.write(plain(line))

    return box, on_event, lines


def render_run(run_id: str, progress: list[str] | None = None) -> None:
    """The card of a run, fresh from the ledger. A decision queued by a button is acted
    on first, with its progress shown live."""
    _act_on_queued(run_id)
    with guarded():
        card = run_card(container(), run_id)
        if progress:
            with st.expander(f"Progress ({len(progress)} steps)"):
                for line in progress:
                    st.text(line)
        _header(card)
        for symbol in card.symbols:
            _symbol(symbol, run_id)
        _proposal(card)
        if card.awaiting:
            _buttons(card)
        else:
            _after(card)
        source = card.proposed_by or "the offline rules"
        llm = f" (LLM {card.llm}: {card.llm_calls} call(s))" if card.llm else ""
        produced_by(f"{source}{llm}; the risk officer is deterministic code")


def _header(card: RunCard) -> None:
    st.markdown(f"**Agent run** `{card.run_id}` · **{card.status.replace('_', ' ')}**"
                + (f" · outcome **{card.outcome}**" if card.outcome else ""))  # fmt: skip
    clock = "clock fixed there" if card.fixed_clock else "live clock"
    st.caption(f"Mode {card.mode} · as of {when(card.as_of)} ({clock})")
    for path in card.tampered:
        st.error(f"The record was edited after it was written: {plain(path)}")
    if card.error:
        st.error(plain(card.error))


def _symbol(s: SymbolCard, run_id: str) -> None:
    st.markdown(f"#### {plain(s.symbol)} · last {money(s.quote)} at {when(s.quote_at)}")
    if s.data_note:
        st.caption(plain(s.data_note))
    st.markdown("**Evidence**" + (f" — news tone {s.news_sentiment:+.2f} over {s.news_items} "
                "item(s)" if s.news_sentiment is not None else ""))  # fmt: skip
    for finding in s.findings:
        refs = " ".join(f"[{n}]" for n in finding.get("citations", []))
        st.markdown(f"- {plain(finding.get('claim', ''))} {plain(refs)}")
    if s.brief:
        st.markdown(plain(s.brief))
    for cite in s.evidence:
        dated = str(cite.get("published_at") or "")[:10] or "undated"
        with st.expander(f"[{cite['n']}] {cite.get('title') or cite['doc_id']} · {dated}"):
            st.markdown("> " + plain(" ".join(str(cite.get("text", "")).split())))
            where = cite.get("section") or "whole document"
            st.caption(f"{plain(where)} · characters {cite.get('char_start')}–"
                       f"{cite.get('char_end')} of {cite['doc_id']}")  # fmt: skip
    left, right = st.columns(2)
    with left:
        _forecast(s)
    with right:
        _policy(s)


def _forecast(s: SymbolCard) -> None:
    st.markdown("**Forecast**")
    if s.forecast is None or s.forecast_range is None:
        st.caption(plain(s.forecast_error or "no forecaster for this symbol"))
        return
    r, f = s.forecast_range, s.forecast
    fact(st, f"median over {r.horizon} bars", pct(r.median, 2),
         f"10–90%: {pct(r.low)} to {pct(r.high)}")  # fmt: skip
    st.caption(f"Out-of-sample record: {plain(f.get('note', ''))} (model {plain(f['model_id'])})")
    if f.get("uses_future_data"):
        st.warning("This model was trained on bars after the run's as-of: the rules ignore it.")


def _policy(s: SymbolCard) -> None:
    st.markdown("**Policy (GA-evolved PPO)**")
    if s.policy is None:
        st.caption(plain(s.policy_error or "no policy for this symbol"))
        return
    p = s.policy
    fact(st, "target position", f"{p.get('target_position')}",
         f"confidence {p.get('confidence', 0):.0%}")  # fmt: skip
    diff = p.get("sharpe_diff_vs_buy_hold") or {}
    band = ""
    if {"point", "low", "high"} <= diff.keys():
        level = diff.get("level", 0.95)
        band = (f"; Sharpe minus buy-and-hold's {diff['point']:+.2f} "
                f"[{diff['low']:+.2f}, {diff['high']:+.2f}] at {level:.0%}")  # fmt: skip
    st.caption(f"Out-of-sample record: {plain(p.get('note', ''))}{plain(band)} "
               f"(policy {plain(p['policy_id'])})")  # fmt: skip
    if p.get("uses_future_data"):
        st.warning("This policy was trained on bars after the run's as-of: the rules ignore it.")


def _proposal(card: RunCard) -> None:
    st.markdown("**Proposal**")
    if card.decision:
        st.caption(plain(card.decision))
    if not card.proposals:
        st.info("No order proposed.")
    else:
        rows = [{"symbol": p["symbol"], "side": p["side"], "quantity": p["quantity"],
                 "type": p["order_type"], "limit": p.get("limit_price") or "—",
                 "confidence": f"{float(p.get('confidence') or 0):.0%}"}
                for p in card.proposals]  # fmt: skip
        st.dataframe(rows, hide_index=True, width="stretch")
        with st.expander("Rationale"):
            for p in card.proposals:
                st.markdown(plain(p.get("rationale", "")))
    st.markdown("**Risk officer**")
    for v in card.verdicts:
        verdict = "APPROVED" if v.get("approved") else "DENIED"
        what = f"{v['side']} {v['quantity']} {v['symbol']} ({v['order_type']}"
        what += f" {v['limit_price']})" if v.get("limit_price") else ")"
        codes = ", ".join(v.get("reason_codes") or []) or "no reason codes"
        text = f"**{verdict}** {plain(what)} · {plain(codes)} · {v.get('node', '')}"
        (st.success if v.get("approved") else st.error)(text)
        for message in v.get("messages") or []:
            st.caption(plain(message))
    for note in card.notes:
        st.caption(f"· {plain(note)}")


def _buttons(card: RunCard) -> None:
    rid = card.run_id
    st.text_input("Your decision: a reason (recorded with it)", key=f"reason-{rid}")
    one = len(card.proposals) == 1
    proposed = Decimal(str(card.proposals[0]["quantity"])) if one else Decimal(0)
    approve, qty, smaller, reject = st.columns(4, vertical_alignment="bottom")
    approve.button("Approve", key=f"approve-{rid}", type="primary", width="stretch",
                   on_click=_queue, args=(rid, "approve"))  # fmt: skip
    whole = proposed == proposed.to_integral_value()
    qty.number_input(
        "Smaller quantity", key=f"qty-{rid}", disabled=not one or proposed <= 1,
        min_value=1 if whole else 0.0, step=1 if whole else 0.00001,
        value=max(1, int(proposed) // 2) if whole else float(proposed) / 2,
    )  # fmt: skip
    smaller.button("Approve smaller", key=f"smaller-{rid}", width="stretch",
                   disabled=not one, on_click=_queue, args=(rid, "smaller"))  # fmt: skip
    reject.button("Reject", key=f"reject-{rid}", width="stretch",
                  on_click=_queue, args=(rid, "reject"))  # fmt: skip


def _queue(run_id: str, action: str) -> None:
    state = st.session_state
    state.setdefault("decisions", {})[run_id] = {
        "action": action, "reason": state.get(f"reason-{run_id}", ""),
        "quantity": state.get(f"qty-{run_id}") if action == "smaller" else None,
    }  # fmt: skip


def _act_on_queued(run_id: str) -> None:
    from agents.models import ApprovalDecision
    from app.services.runs import decide_run

    queued = st.session_state.get("decisions", {}).pop(run_id, None)
    if queued is None:
        return
    with guarded():
        quantity = None if queued["quantity"] is None else Decimal(str(queued["quantity"]))
        decision = ApprovalDecision(
            action="reject" if queued["action"] == "reject" else "approve",
            quantity=quantity, operator=operator(), reason=queued["reason"] or "",
        )  # fmt: skip
        did = "Approved" if decision.action == "approve" else "Rejected"
        box, on_event, _ = progress_box(f"{did}; acting on it")
        view = decide_run(container(), run_id, decision, on_event)
        box.update(label=f"Run {view.outcome or view.status}", state="complete", expanded=False)


def _after(card: RunCard) -> None:
    if card.approval:
        a = card.approval
        qty = f" {a['quantity']}" if a.get("quantity") else ""
        reason = f": {a['reason']}" if a.get("reason") else ""
        did = {"approve": "Approved", "reject": "Rejected"}.get(a["action"], a["action"])
        st.markdown(f"**{did}{qty}** by {plain(a.get('operator', '?'))}"
                    f"{plain(reason)}")  # fmt: skip
    if card.orders:
        st.markdown("**Orders**")
        st.dataframe(
            [{"order": o["client_order_id"], "symbol": o["symbol"], "side": o["side"],
              "quantity": o["quantity"], "status": o["status"], "filled": o.get("filled_qty"),
              "avg price": money(o.get("avg_fill_price")), "error": o.get("error") or ""}
             for o in card.orders],
            hide_index=True, width="stretch",
        )  # fmt: skip
    elif card.outcome:
        st.caption(f"Nothing was sent (outcome: {plain(card.outcome)}).")
