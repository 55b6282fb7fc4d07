"""approval (copilot mode): wait for a person. Approve, reject, or approve a smaller
quantity (which goes through the risk gate again).

Nothing with a side effect runs before ``interrupt()`` here: LangGraph re-runs this node
from its start when the run resumes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.context import AgentContext
from agents.models import ApprovalDecision
from agents.nodes._common import ctx_of, progress, record
from agents.state import AgentState

NAME = "approval"


def approval(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    asked = {
        "run_id": state["run_id"],
        "proposals": state.get("proposals", []),
        "verdicts": [{k: v for k, v in d.items() if k != "intent"} for d in state["verdicts"]],
    }
    raw = dict(interrupt(asked))
    ctx = ctx_of(runtime)
    # The runner records the decision as it claims the pause (one decision per pause,
    # across processes); a resume that did not (an older caller) is recorded here.
    recorded = raw.pop("_recorded", False)
    decision = ApprovalDecision.model_validate(raw)
    if not recorded:
        record(ctx, NAME, "human_action", decision.model_dump(mode="json"))
    if decision.action == "reject":
        progress(NAME, "finished", f"rejected by {decision.operator}")
        return {"approval": decision.model_dump(mode="json"), "outcome": "rejected"}
    if decision.quantity is None:
        progress(NAME, "finished", f"approved by {decision.operator}")
        return {"approval": decision.model_dump(mode="json"), "human_approved": True}
    smaller = _smaller(state, decision.quantity)
    progress(NAME, "finished", f"approved {decision.quantity} by {decision.operator}; re-checking")
    return {"approval": decision.model_dump(mode="json"), "proposals": smaller,
            "human_approved": True}  # fmt: skip


def _smaller(state: AgentState, quantity: Decimal) -> list[dict[str, Any]]:
    """The one proposal, at ``quantity`` (checked to be smaller by the service before the
    run resumes; checked again here because a checkpoint can be resumed by anyone)."""
    proposals = state.get("proposals", [])
    if len(proposals) != 1 or quantity >= Decimal(str(proposals[0]["quantity"])):
        raise ValueError("a smaller approval needs exactly one proposal and a lower quantity")
    return [{**proposals[0], "quantity": str(quantity)}]
