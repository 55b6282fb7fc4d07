"""The Runs page: every agent run, filtered, and one run's full record."""

from __future__ import annotations

import streamlit as st

from app.chat._run_card import render_run
from app.chat._ui import container, guarded, plain, when

_STATUSES = ["any", "awaiting_approval", "running", "succeeded", "failed"]


def _runs() -> str | None:
    from app.services.account_history import find_runs

    cols = st.columns(3)
    status = cols[0].selectbox("Status", _STATUSES, key="runs-status")
    symbol = cols[1].text_input("Symbol", key="runs-symbol", placeholder="e.g. AAPL")
    outcome = cols[2].text_input("Outcome", key="runs-outcome", placeholder="e.g. executed")
    found = find_runs(
        container(), status=None if status == "any" else status, symbol=symbol or None,
        outcome=outcome.strip() or None, limit=100,
    )  # fmt: skip
    if not found:
        st.info("No agent run matches. Start one on the Chat page: “run the agents on AAPL”.")
        return None
    st.dataframe(
        [{"run": v.run_id, "started": when(v.started_at),
          "symbols": ", ".join(v.inputs.get("request", {}).get("symbols", [])),
          "status": v.status, "outcome": v.outcome or "",
          "as of": when(v.inputs.get("as_of"))} for v in found],
        hide_index=True, width="stretch", key="runs-table",
    )  # fmt: skip
    edited = [v.run_id for v in found if v.tampered]
    if edited:
        st.error("Records edited after they were written: " + ", ".join(edited))
    labels = {v.run_id: f"{v.run_id[:12]} · {when(v.started_at)} · {v.status}" for v in found}
    return st.selectbox("Open a run", list(labels), format_func=labels.__getitem__,
                        key="runs-open")  # fmt: skip


def _record(run_id: str) -> None:
    from app.services.runs import show_run

    view = show_run(container(), run_id, events=True)
    with st.expander(f"The full record ({len(view.events or [])} events)"):
        st.markdown("**Inputs**")
        st.json(view.inputs, expanded=False)
        st.dataframe(
            [{"seq": e["seq"], "at": when(e["at"]), "node": e["node"], "kind": e["kind"],
              "digest": e["digest"][:16]} for e in view.events or []],
            hide_index=True, width="stretch", key="runs-events",
        )  # fmt: skip
        for e in view.events or []:
            if e["kind"] in ("llm_call", "proposal", "decision", "human_action", "order"):
                st.markdown(f"`{e['seq']}` {plain(e['node'])} · {plain(e['kind'])}")
                st.json(e["payload"], expanded=False)
    st.caption(f"The same record: `tiller runs show {run_id} --json`")


st.title("Runs")
with guarded():
    chosen = _runs()
    if chosen:
        with st.container(border=True):
            render_run(chosen)
        _record(chosen)
