"""explain: the run's report — decision, evidence with citations, tool figures, risk
verdicts, orders and fills — and its outcome."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.nodes._common import ctx_of, progress, record
from agents.state import AgentState, Outcome

NAME = "explain"


def outcome_of(state: AgentState) -> Outcome:
    if state.get("outcome") == "rejected":
        return "rejected"
    orders = state.get("orders", [])
    if any(o["status"] not in ("rejected", "canceled") for o in orders):
        return "executed"
    if any(not v["approved"] for v in state.get("verdict_history", [])):
        return "denied"
    return "no_trade"


def explain(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    outcome = outcome_of(state)
    report = {
        "run_id": state["run_id"],
        "outcome": outcome,
        "as_of": state["as_of"],
        "fixed_clock": state.get("fixed_clock", False),
        "proposed_by": state.get("proposed_by"),
        "decision": state.get("proposal_summary", ""),
        "evidence": {s: a.get("evidence", []) for s, a in (state.get("analysis") or {}).items()},
        "findings": {s: a.get("findings", []) for s, a in (state.get("analysis") or {}).items()},
        "forecasts": state.get("forecasts", {}),
        "policy": state.get("policy", {}),
        "proposals": state.get("proposals", []),
        "risk": [{k: v for k, v in d.items() if k != "intent"}
                 for d in state.get("verdict_history", [])],
        "approval": state.get("approval"),
        "orders": state.get("orders", []),
        "notes": state.get("notes", []),
    }  # fmt: skip
    record(ctx, NAME, "report", {"outcome": outcome})
    progress(NAME, "finished", f"outcome: {outcome}")
    return {"report": report, "outcome": outcome}
