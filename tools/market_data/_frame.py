"""The canonical bar frame and its validation.

A bar frame is a ``pandas.DataFrame`` with a tz-aware UTC ``DatetimeIndex`` named
``open_time`` (strictly increasing) and float64 columns ``open, high, low, close, volume``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import DataError

COLUMNS = ("open", "high", "low", "close", "volume")
INDEX = "open_time"


def empty_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name=INDEX)
    return pd.DataFrame({c: np.array([], dtype="float64") for c in COLUMNS}, index=index)


def _row_label(source: str, position: int, row_offset: int) -> str:
    return f"{source}: row {position + row_offset}"


def validate_frame(
    frame: pd.DataFrame, *, source: str, row_offset: int = 2, allow_unsorted: bool = False
) -> pd.DataFrame:
    """Check a frame in file order and return it sorted and typed.

    ``row_offset`` maps a 0-based position to the row number a person sees in the file
    (2 for a CSV with a header line). Every error names ``source`` and that row.
    Identical duplicate rows are dropped; conflicting duplicates are an error.
    """
    if frame.empty:
        raise DataError(f"{source}: no rows; a bar file needs at least one row of data")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    values = frame.loc[:, list(COLUMNS)]
    for col in COLUMNS:
        arr = pd.to_numeric(values[col], errors="coerce").to_numpy(dtype="float64")
        bad = ~np.isfinite(arr)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raw = values[col].iloc[pos]
            raise DataError(
                f"{_row_label(source, pos, row_offset)}: {col} is {raw!r}, not a finite number"
            )
        values = values.assign(**{col: arr})
    o, h, low, c, v = (values[col].to_numpy() for col in COLUMNS)
    checks = (
        (h < low, "high is below low"),
        (v < 0, "volume is negative"),
        ((o <= 0) | (h <= 0) | (low <= 0) | (c <= 0), "a price is zero or negative"),
        ((o > h) | (o < low), "open lies outside [low, high]"),
        ((c > h) | (c < low), "close lies outside [low, high]"),
    )
    for mask, what in checks:
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            row = values.iloc[pos]
            detail = ", ".join(f"{k}={row[k]:g}" for k in COLUMNS)
            raise DataError(
                f"{_row_label(source, pos, row_offset)}: {what} ({detail}); "
                "fix or remove that row and import again"
            )
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError(f"{source}: timestamps must be timezone-aware")
    values.index = index.tz_convert("UTC").as_unit("ns").rename(INDEX)
    diffs = np.diff(values.index.asi8)
    if (diffs < 0).any() and not allow_unsorted:
        pos = int(np.flatnonzero(diffs < 0)[0]) + 1
        raise DataError(
            f"{_row_label(source, pos, row_offset)}: time {values.index[pos].isoformat()} is "
            f"earlier than the row before ({values.index[pos - 1].isoformat()}); "
            "rows must be in increasing time order"
        )
    values = values.sort_index(kind="stable")
    dup = values.index.duplicated(keep="first")
    if dup.any():
        dup_times = values.index[dup]
        first = values[~dup]
        clashing = values[dup].ne(first.loc[dup_times].set_axis(dup_times)).any(axis=1)
        if clashing.any():
            when = clashing[clashing].index[0]
            pos = int(np.flatnonzero(frame.index == when)[1])
            raise DataError(
                f"{_row_label(source, pos, row_offset)}: a second bar at {when.isoformat()} "
                "with different values; keep one bar per time"
            )
        values = first
    return values


def infer_timeframe_seconds(index: pd.DatetimeIndex) -> int:
    """The bar spacing most rows agree on (gaps make some differences larger)."""
    if len(index) < 2:
        raise DataError("cannot infer a timeframe from fewer than two bars; pass --timeframe")
    diffs = np.diff(index.as_unit("s").asi8)
    diffs = diffs[diffs > 0]
    values, counts = np.unique(diffs, return_counts=True)
    return int(values[np.argmax(counts)])
