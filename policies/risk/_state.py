"""The risk state machine: ACTIVE → REDUCING → HALTED, as pure transition functions.

Breakers latch. Losses move the state towards HALTED and nothing but ``resume`` — an
explicit, audited human action with a reason — moves it back to ACTIVE: not a new day,
not a recovery in equity, not a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from core.errors import ConfigError
from policies.risk._limits import SUBMISSION_RETENTION, Ceilings
from policies.risk._reasons import ReasonCode

if TYPE_CHECKING:
    from policies.risk._decision import Approved

_ZERO = Decimal(0)


class TradingState(StrEnum):
    ACTIVE = "active"  # every check applies; orders may add exposure
    REDUCING = "reducing"  # only orders that shrink |position| without flipping it
    HALTED = "halted"  # no orders at all (cancels are not orders and stay possible)


# What makes two orders "the same" for duplicate detection: (symbol, side, quantity,
# limit price or "market"), numbers in canonical text so 10 and 10.0 match. Plain strings
# so a state can be stored as JSON and read back losslessly.
Fingerprint = tuple[str, ...]


class Submission(NamedTuple):
    """An order that was sent: when, and what it looked like (for duplicate detection)."""

    at: datetime
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class RiskState:
    """Everything the risk officer remembers between decisions.

    ``halted_reason``/``reason_code`` explain why the state is not ACTIVE (a breaker sets
    ``reason_code``; a manual halt leaves it None). ``submissions`` holds the last
    24 h of sent orders, oldest first.
    """

    trading_state: TradingState
    day: date
    day_start_equity: Decimal
    peak_equity: Decimal
    submissions: tuple[Submission, ...] = ()
    orders_today: int = 0
    consecutive_losses: int = 0
    cooldown_until: datetime | None = None
    halted_reason: str | None = None
    reason_code: ReasonCode | None = None
    changed_at: datetime | None = None

    @classmethod
    def start(cls, equity: Decimal, now: datetime) -> RiskState:
        """A fresh, ACTIVE state whose day and peak start at ``equity``."""
        return cls(
            trading_state=TradingState.ACTIVE,
            day=_utc_day(now),
            day_start_equity=equity,
            peak_equity=equity,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``tiller risk status --json`` and the audit log)."""
        return {
            "trading_state": self.trading_state.value,
            "day": self.day.isoformat(),
            "day_start_equity": str(self.day_start_equity),
            "peak_equity": str(self.peak_equity),
            "orders_today": self.orders_today,
            "consecutive_losses": self.consecutive_losses,
            "cooldown_until": _iso(self.cooldown_until),
            "halted_reason": self.halted_reason,
            "reason_code": None if self.reason_code is None else self.reason_code.value,
            "changed_at": _iso(self.changed_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _pct(fraction: Decimal) -> str:
    return f"{fraction * 100:.2f}%"


def on_equity(state: RiskState, equity: Decimal, now: datetime, limits: Ceilings) -> RiskState:
    """Feed a mark-to-market equity (cash + open positions at current prices).

    Rolls the day first if ``now`` is on a later UTC day. Drawdown from peak at or past
    ``max_drawdown_pct`` → HALTED; past ``reducing_drawdown_pct``, or a loss since the day's
    start past ``max_daily_loss_pct`` → REDUCING. Never moves back towards ACTIVE.
    """
    if not equity.is_finite() or equity < 0:
        return _trip(state, TradingState.HALTED, None, f"equity {equity} is unusable", now)
    if _utc_day(now) > state.day:
        state = on_new_day(state, _utc_day(now), equity)
    peak = max(state.peak_equity, equity)
    state = replace(state, peak_equity=peak) if peak != state.peak_equity else state
    drawdown = (peak - equity) / peak if peak > 0 else _ZERO
    start = state.day_start_equity
    daily_loss = (start - equity) / start if start > 0 else _ZERO
    if _breached(drawdown, limits.max_drawdown_fraction):
        why = f"drawdown {_pct(drawdown)} from peak {peak} reached {limits.max_drawdown_pct}%"
        return _trip(state, TradingState.HALTED, ReasonCode.DRAWDOWN, why, now)
    if _breached(drawdown, limits.reducing_drawdown_fraction):
        why = f"drawdown {_pct(drawdown)} from peak {peak} reached {limits.reducing_drawdown_pct}%"
        return _trip(state, TradingState.REDUCING, ReasonCode.DRAWDOWN, why, now)
    if _breached(daily_loss, limits.daily_loss_fraction):
        why = f"loss today {_pct(daily_loss)} from {start} reached {limits.max_daily_loss_pct}%"
        return _trip(state, TradingState.REDUCING, ReasonCode.DAILY_LOSS, why, now)
    return state


def _breached(loss: Decimal, threshold: Decimal) -> bool:
    # Only a real loss trips a breaker, so a 0 % limit means "any loss", not "always".
    return loss > 0 and loss >= threshold


_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def _trip(
    state: RiskState, to: TradingState, code: ReasonCode | None, why: str, now: datetime
) -> RiskState:
    """Move to ``to`` only if it is stricter than the current state (breakers latch)."""
    if _SEVERITY[to] <= _SEVERITY[state.trading_state]:
        return state
    return replace(state, trading_state=to, halted_reason=why, reason_code=code, changed_at=now)


def on_new_day(state: RiskState, day: date, equity: Decimal) -> RiskState:
    """Start a new UTC day: the daily-loss baseline becomes ``equity`` and the daily
    order count restarts. The trading state is untouched: a breaker outlives midnight."""
    if day < state.day:
        raise ValueError(f"the risk day cannot go back from {state.day} to {day}")
    if day == state.day:
        return state
    return replace(
        state,
        day=day,
        day_start_equity=equity,
        peak_equity=max(state.peak_equity, equity),
        orders_today=0,
    )


def on_order_submitted(state: RiskState, approved: Approved, now: datetime) -> RiskState:
    """Record that an approved order was sent (feeds throttles and duplicate detection)."""
    horizon = now - SUBMISSION_RETENTION
    kept = tuple(s for s in state.submissions if s.at > horizon)
    return replace(
        state,
        submissions=(*kept, Submission(now, approved.fingerprint)),
        orders_today=state.orders_today + 1,
    )


def on_trade_closed(state: RiskState, pnl: Decimal, now: datetime, limits: Ceilings) -> RiskState:
    """Record a closed (or partly closed) trade's realised P&L, net of fees.

    ``cooldown_after_losses`` losses in a row start a cooldown of ``cooldown``; a
    winning trade ends the streak, a break-even one leaves it as it is.
    """
    if pnl > 0:
        return replace(state, consecutive_losses=0) if state.consecutive_losses else state
    if pnl == 0:
        return state
    losses = state.consecutive_losses + 1
    if losses < limits.cooldown_after_losses:
        return replace(state, consecutive_losses=losses)
    until = now + limits.cooldown
    if state.cooldown_until is not None:
        until = max(until, state.cooldown_until)
    return replace(state, consecutive_losses=0, cooldown_until=until)


def halt(state: RiskState, reason: str, now: datetime) -> RiskState:
    """Stop all trading now. Never refuses: halting is always allowed, with or without
    a reason. An already halted state keeps its first reason."""
    if state.trading_state is TradingState.HALTED:
        return state
    why = reason.strip() or "halted by operator"
    return replace(
        state,
        trading_state=TradingState.HALTED,
        halted_reason=why,
        reason_code=None,
        changed_at=now,
    )


def resume(
    state: RiskState,
    reason: str,
    now: datetime,
    *,
    operator: str,
    equity: Decimal | None = None,
) -> tuple[RiskState, dict[str, Any]]:
    """Return to ACTIVE: the only way out of HALTED or REDUCING.

    Needs a non-empty ``reason`` and ``operator`` (``ConfigError`` otherwise) and returns
    the new state with a record to write to the audit log *before* acting on it. Pass
    ``equity`` to accept the losses so far: the peak and the day's baseline restart
    there. Without it they stay, and a breaker whose loss still stands trips again at
    the next ``on_equity``.
    """
    if not reason.strip():
        raise ConfigError("resuming trading needs a reason (e.g. --reason 'limits reviewed')")
    if not operator.strip():
        raise ConfigError("resuming trading needs the operator's name")
    resumed = replace(
        state,
        trading_state=TradingState.ACTIVE,
        halted_reason=None,
        reason_code=None,
        changed_at=now,
    )
    if equity is not None:
        resumed = replace(resumed, peak_equity=equity, day_start_equity=equity)
    record = {
        "event": "risk.resume",
        "at": now.isoformat(),
        "operator": operator.strip(),
        "reason": reason.strip(),
        "from_state": state.trading_state.value,
        "to_state": TradingState.ACTIVE.value,
        "previous_reason": state.halted_reason,
        "previous_reason_code": None if state.reason_code is None else state.reason_code.value,
        "equity_baseline": None if equity is None else str(equity),
    }
    return resumed, record
