"""Data quality: gaps and resampling."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.types import Timeframe
from tools.market_data._frame import COLUMNS, INDEX

# Equities are expected on the New York Stock Exchange's trading days: the bundled stocks
# and most users' imports are US listings. Another market's stocks would need its own
# calendar (``exchange_calendars`` names them, e.g. XLON, XTKS).
EQUITY_CALENDAR = "XNYS"


def find_gaps(index: pd.DatetimeIndex, tf: str, *, calendar: str | None = None) -> pd.DataFrame:
    """Missing stretches between consecutive bars: one row per gap with its start (the
    first missing open time), end (the next bar present) and the number of missing bars.

    ``calendar`` (an ``exchange_calendars`` code such as ``"XNYS"``, for equities): a daily
    series is expected only on that exchange's trading days, so weekends and market
    holidays (Good Friday, Thanksgiving, the 2001-09-11 closure) are not gaps. Without
    one (crypto trades every day) every step is expected.
    """
    tf = Timeframe(tf)
    step = np.int64(tf.seconds)
    secs = index.as_unit("s").asi8
    if len(secs) < 2:
        return pd.DataFrame({"start": [], "end": [], "missing": []})
    diffs = np.diff(secs)
    where = np.flatnonzero(diffs > step)
    sessions = None
    if calendar is not None and tf.seconds == 86400 and len(where):
        sessions = trading_days(calendar, index[0], index[-1])
    rows = []
    for i in where:
        missing = int(diffs[i] // step) - 1
        start = index[i] + pd.Timedelta(seconds=int(step))
        if sessions is not None:
            missing, first = _missing_sessions(sessions, index[i], index[i + 1])
            start = first if first is not None else start
        if missing > 0:
            rows.append({"start": start, "end": index[i + 1], "missing": missing})
    return pd.DataFrame(rows, columns=["start", "end", "missing"])


def trading_days(calendar: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """The exchange's sessions from ``first``'s year to ``last``'s, as UTC midnights (how
    daily bars are stamped)."""
    days = _sessions(calendar, first.year, last.year)
    return pd.DatetimeIndex(days).tz_localize("UTC")


@cache
def _sessions(calendar: str, first_year: int, last_year: int) -> pd.DatetimeIndex:
    import exchange_calendars

    try:
        # exchange_calendars builds its sessions with pandas APIs pandas 3 deprecates; the
        # warnings are the library's to fix and say nothing about the user's data.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
            exchange = exchange_calendars.get_calendar(
                calendar, start=f"{first_year}-01-01", end=f"{last_year}-12-31"
            )
    except exchange_calendars.errors.InvalidCalendarName as exc:
        raise ConfigError(f"unknown exchange calendar {calendar!r} ({exc})") from exc
    return pd.DatetimeIndex(exchange.sessions)


def _missing_sessions(
    sessions: pd.DatetimeIndex, before: pd.Timestamp, after: pd.Timestamp
) -> tuple[int, pd.Timestamp | None]:
    """How many sessions fall strictly between two bars' days, and the first of them."""
    lo = int(sessions.searchsorted(before.normalize(), side="right"))
    hi = int(sessions.searchsorted(after.normalize(), side="left"))
    return max(hi - lo, 0), sessions[lo] if hi > lo else None


def resample(frame: pd.DataFrame, source: str, target: str) -> pd.DataFrame:
    """Aggregate bars to a coarser timeframe (e.g. 1h → 4h → 1d), buckets aligned to UTC.

    The last bucket is dropped unless the source bars reach its end: a bar that has not
    closed yet must not be presented as if it had. Interior buckets with missing source
    bars are kept (that is what traded); ``find_gaps`` on the source reports them.
    """
    source, target = Timeframe(source), Timeframe(target)
    if target.seconds % source.seconds != 0 or target.seconds < source.seconds:
        raise ConfigError(f"cannot resample {source} bars to {target}: pick a multiple of {source}")
    if target == source or frame.empty:
        return frame
    keys = frame.index.as_unit("s").asi8 // target.seconds * target.seconds
    grouped = frame.groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index.to_numpy(), unit="s", utc=True))
    out.index = out.index.as_unit("ns").rename(INDEX)
    last_close = frame.index[-1] + pd.Timedelta(seconds=source.seconds)
    if out.index[-1] + pd.Timedelta(seconds=target.seconds) > last_close:
        out = out.iloc[:-1]
    return out.loc[:, list(COLUMNS)]
