"""Each API key's daily LLM budget (``TILLER_API_LLM_BUDGET_PER_KEY_USD_PER_DAY``).

A request that may call an LLM reserves the most it can spend (one run's budget,
``TILLER_LLM_MAX_COST_PER_RUN_USD``) before it starts, atomically, so concurrent requests
cannot together overspend; when it ends, the reservation is replaced by what it spent.
Offline (no LLM configured) nothing is reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import ThrottledError
from core.ledger.models import ApiUsageRow

if TYPE_CHECKING:
    from app.bootstrap import Container


class BudgetSpentError(ThrottledError):
    """The key's LLM budget for today is spent; ``retry_after``: seconds to midnight UTC."""

    def __init__(self, message: str, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reservation:
    key_id: str
    day: str
    amount: Decimal


def reserve(c: Container, key_id: str) -> Reservation | None:
    """Reserve one run's LLM budget for ``key_id`` today, or raise ``BudgetSpentError``.
    None when no LLM is configured (nothing to spend)."""
    if not c.settings.llm_enabled:
        return None
    try:
        return _reserve(c, key_id)
    except IntegrityError:  # another request created today's row first (PostgreSQL)
        return _reserve(c, key_id)


def _reserve(c: Container, key_id: str) -> Reservation:
    now = c.clock.now()
    day, amount = now.date().isoformat(), c.settings.llm_max_cost_per_run_usd
    budget = c.settings.api_llm_budget_per_key_usd_per_day
    with c.ledger._tx() as session:
        row = session.get(ApiUsageRow, (key_id, day), with_for_update=True)
        if row is None:
            row = ApiUsageRow(key_id=key_id, day=day, llm_cost_usd=Decimal(0), updated_at=now)
            session.add(row)
        if row.llm_cost_usd + amount > budget:
            raise BudgetSpentError(
                f"this API key has spent (or reserved) ${row.llm_cost_usd} of its "
                f"${budget} LLM budget for {day}; one more request may spend ${amount}",
                retry_after=_to_midnight(now),
                hint="wait until midnight UTC, or raise TILLER_API_LLM_BUDGET_PER_KEY_USD_PER_DAY",
            )
        row.llm_cost_usd += amount
        row.updated_at = now
    return Reservation(key_id, day, amount)


def settle(c: Container, reservation: Reservation | None, spent: Decimal) -> None:
    """Replace the reservation by what was spent (never below zero)."""
    if reservation is None:
        return
    change = spent - reservation.amount
    with c.ledger._tx() as session:
        row = session.get(ApiUsageRow, (reservation.key_id, reservation.day), with_for_update=True)
        if row is not None:
            row.llm_cost_usd = max(row.llm_cost_usd + change, Decimal(0))
            row.updated_at = c.clock.now()


def spent_today(c: Container, key_id: str) -> Decimal:
    day = c.clock.now().date().isoformat()
    with c.ledger._read() as session:
        value = session.execute(
            select(ApiUsageRow.llm_cost_usd).where(
                ApiUsageRow.key_id == key_id, ApiUsageRow.day == day
            )
        ).scalar()
    return Decimal(0) if value is None else Decimal(value)


def run_llm_cost(c: Container, run_id: str) -> Decimal:
    """What a run's LLM calls cost, from its record."""
    from core.ledger.runlog import RunLog

    return sum(
        (Decimal(str(e.payload.get("cost_usd", "0"))) for e in RunLog(c.ledger).events(run_id)
         if e.kind == "llm_call"),
        Decimal(0),
    )  # fmt: skip


def _to_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))
