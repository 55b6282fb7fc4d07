"""Marks to market: the account's equity at current prices, fed to the breakers.

``Executor.mark_to_market`` moves the risk state to REDUCING on the daily loss or the
first drawdown limit and to HALTED on the second; the autopilot calls it on a schedule
and after every run, so a falling account stops adding exposure by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from app.services.equity import last_price, marked_equity
from core.clock import Clock
from core.errors import UnavailableError

if TYPE_CHECKING:
    from app.bootstrap import Container

__all__ = ["last_price", "mark_account"]


def mark_account(c: Container, clock: Clock, symbols: Sequence[str] = ()) -> dict[str, Any]:
    """Mark the account of ``c``'s venue at ``clock``; a position without a price means no
    mark at all (a partial equity would look like a loss and trip a breaker). An exchange
    account is asked first what it filled and holds."""
    at = clock.now()
    executor = c.executor_at(clock)
    venue = executor.venue
    if c.live_venue:
        from tools.executor import refresh_account

        try:
            refresh_account(executor)
        except UnavailableError as exc:
            return {"at": at.isoformat(), "venue": venue,
                    "problem": f"cannot mark to market: {venue} unreachable ({exc})"}  # fmt: skip
    marked = marked_equity(c, at, symbols)
    if marked.equity is None:
        return {"at": at.isoformat(), "venue": venue, "problem": marked.problem}
    state = executor.mark_to_market(marked.equity)
    return {"at": at.isoformat(), "venue": venue, "equity": str(marked.equity),
            "currency": marked.currency, "trading_state": state.trading_state.value,
            "reason": state.halted_reason}  # fmt: skip
