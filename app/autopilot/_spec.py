"""What one autopilot job is: its symbols, its schedule and how far it may go.

A job's specification is a pydantic model stored as JSON in ``autopilot_jobs`` (readable,
not pickled); the schedule itself lives in APScheduler's job store, built from the
specification by ``trigger``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import ConfigError
from core.types import Symbol, Timeframe

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION_RE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# Cron counts weekdays from Sunday (0 or 7); APScheduler 3 counts from Monday (0). Numbers
# in a crontab's day-of-week field are translated to names so "1-5" stays Monday-Friday.
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_LONGEST = timedelta(days=366)


def parse_duration(text: str, *, option: str) -> timedelta:
    """``30s``, ``5m``, ``1h``, ``1d``, ``1w``: a whole number and a unit."""
    match = _DURATION_RE.match(str(text).strip().lower())
    if not match:
        raise ConfigError(f"{option} {text!r} is not a duration: use e.g. 30s, 5m, 1h, 1d")
    value = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])
    if value <= timedelta(0) or value > _LONGEST:
        raise ConfigError(f"{option} {text!r} must be more than 0 and at most 366 days")
    return value


def show_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT[unit] == 0:
            return f"{seconds // _UNIT[unit]}{unit}"
    return f"{seconds}s"


class JobSpec(BaseModel):
    """One scheduled job. Exactly one of ``every`` and ``cron``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Unique name: letters, digits, '.', '-', '_' (64 at most).")
    symbols: list[str] = Field(min_length=1, max_length=20)
    every: timedelta | None = None
    cron: str | None = Field(None, description="minute hour day month weekday (Sunday = 0).")
    timezone: str = "UTC"
    mode: Literal["paper", "live"] = "paper"
    approval: Literal["auto", "copilot"] = Field(
        "auto", description="auto: the risk officer's approval executes; copilot: a person."
    )
    expire_after: timedelta = Field(
        timedelta(hours=1), description="Copilot proposals nobody decided on are rejected."
    )
    timeframe: str = "1d"
    replay_from: datetime | None = Field(
        None, description="Walk stored history from here, one bar per run (stale data)."
    )
    llm_budget_usd: Decimal = Field(Decimal("1.00"), ge=0, le=Decimal(10_000))
    grace: timedelta = Field(
        timedelta(hours=1), description="A slot missed by more than this is skipped."
    )
    jitter_s: int | None = Field(None, ge=0, le=3600)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(
                "use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit"
            )
        return value

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            symbol = str(Symbol(raw))
            if symbol not in out:
                out.append(symbol)
        return out

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use e.g. America/New_York)") from None
        return value

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        return str(Timeframe(value))

    @field_validator("every", "expire_after", "grace")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(seconds=1) <= value <= _LONGEST:
            raise ValueError("must be between 1 second and 366 days")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_fields(value)  # raises ValueError naming the problem
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobSpec:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one schedule: --every (e.g. 1h) or --cron")
        return self

    @property
    def schedule(self) -> str:
        if self.every is not None:
            return f"every {show_duration(self.every)}"
        return f"cron '{self.cron}' ({self.timezone})"


def cron_fields(expr: str) -> dict[str, str]:
    """A standard 5-field crontab line as APScheduler 3 fields, weekdays as names."""
    values = expr.split()
    if len(values) != 5:
        raise ValueError(
            f"a cron schedule has 5 fields (minute hour day month weekday), got {len(values)}"
        )
    minute, hour, day, month, weekday = values
    fields = {"minute": minute, "hour": hour, "day": day, "month": month}
    fields["day_of_week"] = _weekdays(weekday)
    try:
        CronTrigger(**fields, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"invalid cron schedule {expr!r}: {exc}") from None
    return fields


def _weekdays(text: str) -> str:
    """Cron's weekday field (0 or 7 = Sunday, names allowed, ranges, steps, lists) as
    an explicit list of day names, which APScheduler 3 reads without renumbering."""
    if text == "*":
        return "*"
    days: set[int] = set()
    for item in text.lower().split(","):
        part, _, step_text = item.partition("/")
        step = _number(step_text, "step") if step_text else 1
        if step < 1:
            raise ValueError(f"weekday step {step_text!r} must be at least 1")
        if part == "*":
            low, high = 0, 6
        elif "-" in part:
            a, b = part.split("-", 1)
            low, high = _day(a), _day(b)
            if high == 0 and low > 0:
                high = 7  # "fri-sun" runs to Sunday, like "5-7"
        else:
            low = high = _day(part)
        if low > high:
            raise ValueError(f"weekday range {part!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def _day(text: str) -> int:
    text = text.strip()
    if text in _CRON_DAYS:
        return _CRON_DAYS.index(text)
    value = _number(text, "weekday")
    if not 0 <= value <= 7:
        raise ValueError(f"weekday {text!r} must be 0-7 (0 and 7 are Sunday) or a name")
    return value


def _number(text: str, what: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{what} {text!r} is not a number or a day name (sun, mon, ...)")
    return int(text)


class WallClockCronTrigger(CronTrigger):
    """Cron times are wall-clock times, and each happens once a day: when clocks go back,
    APScheduler 3 fires 01:30 twice (EDT, then EST); this skips the repeat. (A time that
    does not exist when clocks go forward, 02:30, fires an hour later, at 03:30.)"""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        nxt: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        if nxt is None or previous_fire_time is None:
            return nxt
        if _wall(nxt, self.timezone) == _wall(previous_fire_time, self.timezone):
            nxt = super().get_next_fire_time(nxt, nxt)
        return nxt


def _wall(moment: datetime, zone: object) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)  # type: ignore[arg-type]


def trigger(spec: JobSpec) -> BaseTrigger:
    """The APScheduler trigger of ``spec``: intervals count absolute time (an hourly job
    stays hourly across a DST change); cron times are wall-clock times in the zone."""
    from apscheduler.triggers.interval import IntervalTrigger

    zone = ZoneInfo(spec.timezone)
    if spec.every is not None:
        return IntervalTrigger(seconds=int(spec.every.total_seconds()), timezone=zone,
                               jitter=spec.jitter_s)  # fmt: skip
    assert spec.cron is not None
    trigger: BaseTrigger = WallClockCronTrigger(**cron_fields(spec.cron), timezone=zone,
                                                jitter=spec.jitter_s)  # fmt: skip
    return trigger
