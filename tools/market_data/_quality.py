"""Data quality: gaps and resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.types import Timeframe
from tools.market_data._frame import COLUMNS, INDEX


def find_gaps(index: pd.DatetimeIndex, tf: str, *, weekdays_only: bool) -> pd.DataFrame:
    """Missing stretches between consecutive bars: one row per gap with its start (the
    first missing open time), end (the next bar present) and the number of missing bars.

    ``weekdays_only`` (equities): a daily series skipping Saturday and Sunday is not a gap.
    Exchange holidays still show up; they are real absences of trading, reported for a
    person to judge.
    """
    tf = Timeframe(tf)
    step = np.int64(tf.seconds)
    secs = index.as_unit("s").asi8
    if len(secs) < 2:
        return pd.DataFrame({"start": [], "end": [], "missing": []})
    diffs = np.diff(secs)
    where = np.flatnonzero(diffs > step)
    rows = []
    for i in where:
        missing = int(diffs[i] // step) - 1
        start = index[i] + pd.Timedelta(seconds=int(step))
        if weekdays_only and tf.seconds == 86400:
            expected = pd.bdate_range(start, index[i + 1], inclusive="left")
            missing = len(expected)
            if missing:
                start = expected[0]  # the first missing trading day, not the Saturday
        if missing > 0:
            rows.append({"start": start, "end": index[i + 1], "missing": missing})
    return pd.DataFrame(rows, columns=["start", "end", "missing"])


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
