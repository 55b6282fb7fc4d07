"""risk_gate: ``policies.risk.check`` on every proposal. Approved (with a token the
executor will verify) or Denied (with reason codes). The LLM has no way to reach this
node's inputs other than through a proposal, and a proposal is only ever checked."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.gate import decide, intent_for, quotes_of
from agents.models import TradeProposal
from agents.nodes._common import ctx_of, progress, record
from agents.state import AgentState

NAME = "risk_gate"


def risk_gate(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    round_ = state.get("round", 1)
    tag = f"{round_}h" if state.get("human_approved") else str(round_)
    now = ctx.clock.now()
    proposals = [TradeProposal.model_validate(p) for p in state.get("proposals", [])]
    intents = [
        intent_for(state["run_id"], tag, i, p, ctx.venue, now) for i, p in enumerate(proposals)
    ]
    verdicts = [
        v.model_dump(mode="json") for _, v in decide(ctx, intents, quotes_of(dict(state)), round_)
    ]
    for v in verdicts:
        record(ctx, NAME, "decision", v)
    summary = (
        "; ".join(
            f"{v['side']} {v['quantity']} {v['symbol']}: "
            + ("APPROVED" if v["approved"] else "DENIED " + ",".join(v["reason_codes"]))
            for v in verdicts
        )
        or "nothing to check"
    )
    progress(NAME, "finished", summary)
    return {"verdicts": verdicts, "verdict_history": [*state.get("verdict_history", []), *verdicts]}
