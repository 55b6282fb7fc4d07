"""Clocks. Everything that needs "now" takes a ``Clock`` so tests and backtests control time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from core.timeutil import ensure_utc


@runtime_checkable
class Clock(Protocol):
    """Source of the current time. Contract: ``now()`` is timezone-aware UTC and never
    goes backwards for a given clock instance."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, backtests, replays)."""

    def __init__(self, at: datetime) -> None:
        self._now = ensure_utc(at)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a FixedClock cannot move backwards; pass a non-negative delta")
        self._now = self._now + delta
        return self._now

    def set(self, at: datetime) -> None:
        at = ensure_utc(at)
        if at < self._now:
            raise ValueError(f"a FixedClock cannot move backwards from {self._now} to {at}")
        self._now = at
