"""execute: send what the risk officer approves, through the existing executor.

The risk check runs again here, fresh, right before sending (an approval made minutes
ago carries an expired token, and the account or the trading state may have changed).
Order ids are deterministic: a resumed or replayed run finds its order in the ledger and
reports it instead of sending it again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.gate import decide, quotes_of
from agents.models import OrderOutcome
from agents.nodes._common import ctx_of, progress, record
from agents.state import AgentState
from core.ledger import OrderRecord
from core.types import OrderIntent, Quote
from policies.risk import Approved, client_order_id

NAME = "execute"


def execute(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    from tools.executor import startup

    executor = ctx.executor()
    if not executor.reconciled:
        startup(executor)
    intents = [OrderIntent.model_validate(v["intent"]) for v in state["verdicts"] if v["approved"]]
    outcomes: list[dict[str, Any]] = []
    fresh: list[OrderIntent] = []
    for intent in intents:
        known = executor.ledger.get_order(client_order_id(intent))
        if known is not None:  # an earlier attempt of this run got this far: never resend
            outcomes.append(_outcome(executor.resolve(known), "known").model_dump(mode="json"))
        else:
            fresh.append(intent)
    verdicts = []
    for decision, verdict in decide(
        ctx, fresh, quotes_of(dict(state)), state.get("round", 1), "execute"
    ):
        verdicts.append(verdict.model_dump(mode="json"))
        record(ctx, NAME, "decision", verdicts[-1])
        if not isinstance(decision, Approved):
            continue
        result = executor.submit(decision)
        order = result.order
        if ctx.fill_on_quote and order.status.is_working:
            _fill_on_quote(ctx, order, state["snapshots"][str(order.symbol)])
            executor.sync()
            order = executor.ledger.get_order(order.client_order_id) or order
        outcomes.append(_outcome(order, result.outcome).model_dump(mode="json"))
    for o in outcomes:
        record(ctx, NAME, "order", o)
    summary = "; ".join(
        f"{o['side']} {o['quantity']} {o['symbol']}: {o['status']}"
        + (f", {o['filled_qty']} @ {o['avg_fill_price']}" if o["avg_fill_price"] else "")
        for o in outcomes
    ) or "nothing sent: " + "; ".join(
        f"{v['symbol']} denied ({','.join(v['reason_codes'])})"
        for v in verdicts
        if not v["approved"]
    )
    progress(NAME, "finished", summary)
    return {"orders": outcomes, "verdict_history": [*state.get("verdict_history", []), *verdicts]}


def _fill_on_quote(ctx: AgentContext, order: OrderRecord, snap: dict[str, Any]) -> None:
    """Paper trading: the venue is our own broker, so it fills against the run's quote
    (at the run's clock, so only an order sent by then can fill)."""
    from tools.executor import PaperBroker

    broker = ctx.executor().broker
    if isinstance(broker, PaperBroker):
        quote = Quote(symbol=order.symbol, timestamp=ctx.clock.now(),
                      last=Decimal(str(snap["quote"]["last"])))  # fmt: skip
        broker.on_quote(quote)
        # The ledger keeps the paper account's balances between processes.
        from core.ledger import Balance

        ledger = ctx.executor().ledger
        ledger.set_balances(broker.venue, [Balance(c, v) for c, v in broker.balances().items()])


def _outcome(order: OrderRecord, outcome: str) -> OrderOutcome:
    return OrderOutcome(
        client_order_id=order.client_order_id, symbol=str(order.symbol), side=order.side.value,
        quantity=str(order.quantity), status=order.status.value, outcome=outcome,
        filled_qty=str(order.filled_qty),
        avg_fill_price=None if order.avg_fill_price is None else str(order.avg_fill_price),
        error=order.last_error,
    )  # fmt: skip
