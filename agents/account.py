"""The account as the risk officer and the proposer see it, read from the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from agents.context import AgentContext
from core.types import Symbol
from policies.risk import PortfolioView, WorkingOrder


@dataclass(frozen=True)
class Account:
    cash: Decimal
    positions: dict[Symbol, Decimal]
    working: tuple[WorkingOrder, ...]

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus positions at ``marks``; a position without a mark counts at 0 (so
        equity is understated, never overstated)."""
        held = sum(
            (qty * marks[str(s)] for s, qty in self.positions.items() if str(s) in marks),
            Decimal(0),
        )
        return self.cash + held

    def view(self, currency: str) -> PortfolioView:
        return PortfolioView(
            cash=self.cash, positions=dict(self.positions), working_orders=self.working,
            currency=currency,
        )  # fmt: skip


def read_account(ctx: AgentContext) -> Account:
    if ctx.account is not None:  # a replay decides on the account as it was recorded
        return ctx.account
    ledger = ctx.executor().ledger
    balances = {b.currency: b.free + b.used for b in ledger.balances(venue=ctx.venue)}
    cash = balances.get(ctx.currency, ctx.initial_cash)
    positions = {p.symbol: Decimal(p.quantity) for p in ledger.positions(venue=ctx.venue)}
    working = tuple(
        WorkingOrder(r.symbol, r.side, r.remaining_qty, r.limit_price)
        for r in ledger.working_orders(venue=ctx.venue)
    )
    return Account(cash, {s: q for s, q in positions.items() if q}, working)
