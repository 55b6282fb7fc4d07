"""The bridge from proposals to the risk officer: orders with deterministic ids, the
market and portfolio views, and ``policies.risk.check`` on each. Used by the risk-gate
node and again, fresh, by the execute node right before anything is sent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from agents.account import read_account
from agents.context import AgentContext
from agents.models import RiskVerdict, TradeProposal
from core.types import OrderIntent, OrderType, Quote, Side, Symbol
from policies.risk import Approved, Denied, MarketView, WorkingOrder, check


def intent_for(
    run_id: str, tag: str, index: int, proposal: TradeProposal, venue: str, at: datetime
) -> OrderIntent:
    """The order a proposal becomes. Its id is a function of the run, the round and the
    position, so a resumed or replayed run produces the same client order id and the
    executor never sends it twice."""
    assert proposal.quantity is not None
    return OrderIntent(
        intent_id=f"{run_id}-r{tag}-{index}", symbol=Symbol(proposal.symbol),
        side=Side(proposal.side), quantity=proposal.quantity,
        order_type=OrderType(proposal.order_type), limit_price=proposal.limit_price,
        venue=venue, created_at=at, rationale=proposal.rationale[:500],
    )  # fmt: skip


def quotes_of(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every quote the run gathered: its symbols' and the held ones' (older checkpoints
    have only the snapshots')."""
    quotes = {s: v["quote"] for s, v in state["snapshots"].items()}
    return {**quotes, **(state.get("quotes") or {})}


def market_view(ctx: AgentContext, quotes: dict[str, Any]) -> MarketView:
    view = {
        Symbol(s): Quote(symbol=Symbol(s), timestamp=q["timestamp"], last=Decimal(str(q["last"])))
        for s, q in quotes.items()
    }
    instruments = ctx.instruments
    if instruments is None:  # a real venue: its own trading rules (loaded by ccxt)
        instruments = ctx.executor().broker.instruments()
    return MarketView(quotes=view, instruments=instruments)


def equity_of(ctx: AgentContext, quotes: dict[str, Any]) -> Decimal:
    marks = {s: Decimal(str(q["last"])) for s, q in quotes.items()}
    return read_account(ctx).equity(marks)


def decide(
    ctx: AgentContext,
    intents: list[OrderIntent],
    quotes: dict[str, Any],
    round_: int,
    stage: str = "gate",
) -> list[tuple[Approved | Denied, RiskVerdict]]:
    """Check each order in turn; an approved one counts as working for the next, so two
    orders cannot each use the same room under a limit."""
    executor = ctx.executor()
    now = ctx.clock.now()
    # Feed today's equity first: it rolls the risk state's day and trips breakers.
    state = executor.mark_to_market(equity_of(ctx, quotes))
    view = read_account(ctx).view(ctx.currency)
    market = market_view(ctx, quotes)
    out: list[tuple[Approved | Denied, RiskVerdict]] = []
    for intent in intents:
        decision = check(intent, view, market, ctx.limits, state, now, signer=ctx.signer)
        verdict = verdict_of(decision, intent, now, round_)
        out.append((decision, verdict.model_copy(update={"stage": stage})))
        if isinstance(decision, Approved):
            order = decision.order
            extra = WorkingOrder(order.symbol, order.side, order.quantity, order.limit_price)
            view = type(view)(cash=view.cash, positions=view.positions,
                              working_orders=(*view.working_orders, extra),
                              currency=view.currency)  # fmt: skip
    return out


def verdict_of(
    decision: Approved | Denied, intent: OrderIntent, now: datetime, round_: int
) -> RiskVerdict:
    if isinstance(decision, Approved):
        order = decision.order
        return RiskVerdict(
            symbol=str(order.symbol), side=order.side.value, quantity=str(order.quantity),
            order_type=order.order_type.value,
            limit_price=None if order.limit_price is None else str(order.limit_price),
            approved=True, client_order_id=decision.client_order_id,
            expires_at=decision.expires_at, checked_at=now, round=round_,
            intent=intent.model_dump(mode="json"),
        )  # fmt: skip
    return RiskVerdict(
        symbol=str(intent.symbol), side=intent.side.value, quantity=str(intent.quantity),
        order_type=intent.order_type.value,
        limit_price=None if intent.limit_price is None else str(intent.limit_price),
        approved=False, reason_codes=[c.value for c in decision.codes],
        messages=[v.message for v in decision.violations], checked_at=now, round=round_,
        intent=intent.model_dump(mode="json"),
    )  # fmt: skip
