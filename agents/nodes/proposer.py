"""proposer: findings and signals → zero or more ``TradeProposal``s.

With an LLM: structured output validated by pydantic and by the run's universe (a
schema-invalid or out-of-universe answer is sent back with the error, a bounded number
of times; then the run ends with no trade and says why). Offline: the rules reasoner.
Either way, a retry after a denial may only resubmit a denied order smaller.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.models import OFFLINE_LABEL, ProposalSet, TradeProposal
from agents.nodes._common import ctx_of, progress, record
from agents.prompts import proposer_messages
from agents.rules import propose, retry_smaller
from agents.state import AgentState
from core.types import Symbol

NAME = "proposer"
ATTEMPTS = 3


def proposer(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    round_ = state.get("round", 0) + 1
    denied = [v for v in state.get("verdicts", []) if not v["approved"]] if round_ > 1 else []
    notes: list[str] = []
    if ctx.llm is None:
        by = OFFLINE_LABEL
        if round_ == 1:
            answer = propose(dict(state), ctx.rules)
            proposals, summary = answer.proposals, answer.summary
        else:
            proposals, notes = retry_smaller(state["proposals"], state["verdicts"])
            summary = f"[{OFFLINE_LABEL}] retry after denial: " + (
                "; ".join(f"{p.side} {p.quantity} {p.symbol}" for p in proposals) or "nothing"
            )
    else:
        from core.errors import UnavailableError
        from core.llm import BudgetExhaustedError, StructuredOutputError

        by = f"LLM {ctx.llm.model_name}"
        try:
            answer = _ask_llm(ctx, state, denied)
            proposals, summary = answer.proposals, answer.summary
        except (StructuredOutputError, BudgetExhaustedError, UnavailableError) as exc:
            proposals, summary = [], f"no trade: {exc}"
            notes.append(f"proposer: {exc}")
    sized = [_sized(p, state["snapshots"]) for p in proposals]
    kept = [p for p in sized if p is not None]
    if round_ > 1:
        kept, dropped = only_smaller(kept, denied)
        notes += dropped
        carried = [
            TradeProposal.model_validate(p)
            for p, v in zip(state["proposals"], state["verdicts"], strict=True)
            if v["approved"]
        ]
        kept = carried + kept
    data = [p.model_dump(mode="json") for p in kept]
    record(ctx, NAME, "proposal", {"round": round_, "by": by, "summary": summary,
                                   "proposals": data, "notes": notes})  # fmt: skip
    progress(NAME, "finished", f"{len(data)} proposal(s) ({by}): {summary[:300]}")
    return {"proposals": data, "proposal_summary": summary, "proposed_by": by, "round": round_,
            "verdicts": [], "human_approved": False, "notes": notes}  # fmt: skip


def _ask_llm(ctx: AgentContext, state: AgentState, denied: list[dict[str, Any]]) -> ProposalSet:
    assert ctx.llm is not None
    universe = set(state["snapshots"])

    def validate(answer: ProposalSet) -> list[str]:
        return [
            f"proposal {i}: symbol {p.symbol!r} is not in the universe {sorted(universe)}"
            for i, p in enumerate(answer.proposals)
            if p.symbol not in universe
        ]

    messages = proposer_messages(dict(state), denied or None)
    return ctx.llm.structured(
        messages, ProposalSet, purpose="proposer", attempts=ATTEMPTS, validate=validate
    )


def _sized(proposal: TradeProposal, snapshots: dict[str, Any]) -> TradeProposal | None:
    """A target weight becomes a quantity at the snapshot's price (whole lots)."""
    if proposal.quantity is not None:
        return proposal
    snap = snapshots[proposal.symbol]
    price, equity = Decimal(str(snap["quote"]["last"])), Decimal(str(snap["equity"]))
    held = Decimal(str(snap["position"]))
    assert proposal.target_weight is not None
    delta = Decimal(str(proposal.target_weight)) * equity / price - held
    if (delta > 0) != (proposal.side == "buy"):
        return None
    lot = Decimal("0.00001") if Symbol(proposal.symbol).is_pair else Decimal(1)
    qty = (abs(delta) / lot).to_integral_value(ROUND_DOWN) * lot
    if qty <= 0:
        return None
    return proposal.model_copy(update={"quantity": qty, "target_weight": None})


def only_smaller(
    proposals: list[TradeProposal], denied: list[dict[str, Any]]
) -> tuple[list[TradeProposal], list[str]]:
    """After a denial a proposal may only come back smaller: same symbol and side as a
    denied order, strictly lower quantity, each denied order at most once."""
    left = list(denied)
    kept: list[TradeProposal] = []
    notes: list[str] = []
    for p in proposals:
        match = next((d for d in left if d["symbol"] == p.symbol and d["side"] == p.side), None)
        if match is None:
            notes.append(f"dropped {p.side} {p.quantity} {p.symbol}: not a resubmission of a "
                         "denied order")  # fmt: skip
        elif p.quantity is None or p.quantity >= Decimal(match["quantity"]):
            notes.append(f"dropped {p.side} {p.quantity} {p.symbol}: not smaller than the "
                         f"denied {match['quantity']}")  # fmt: skip
        else:
            left.remove(match)
            kept.append(p)
    return kept, notes
