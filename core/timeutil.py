"""Time helpers: everything inside Tiller is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from core.errors import ConfigError


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive datetimes are refused, not guessed."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} has no timezone; "
            "pass an aware datetime (e.g. datetime(..., tzinfo=UTC))"
        )
    return value.astimezone(UTC)


def parse_utc(text: str | date | datetime, *, name: str = "time") -> datetime:
    """Parse user input (``2024-01-01``, ``2024-01-01T12:00``, ISO 8601 with offset).

    A date or a string without an offset is read as UTC, which is the documented
    convention of every CLI option that takes a time.
    """
    if isinstance(text, datetime):
        return text.replace(tzinfo=UTC) if text.tzinfo is None else text.astimezone(UTC)
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day, tzinfo=UTC)
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"cannot read {name} {text!r}: use ISO 8601 such as 2024-01-01 or 2024-01-01T12:00Z"
        ) from exc
    if pd.isna(ts):
        raise ConfigError(f"{name} {text!r} is not a time; use ISO 8601 such as 2024-01-01")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()
