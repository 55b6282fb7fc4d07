"""Read a user's CSV or Parquet bar file into a canonical, validated frame."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataError
from core.types import Symbol, Timeframe
from tools.market_data._frame import COLUMNS, infer_timeframe_seconds, validate_frame

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")

_ALIASES = {
    "open_time": ("open_time", "timestamp", "time", "date", "datetime", "ts", "unix", "open time"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "price"),
    "volume": ("volume", "vol", "v", "volume_base"),
}
# Quote currencies tried, longest first, when a file name glues base and quote (BTCUSDT).
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "BTC", "ETH", "BNB")
_TF_IN_NAME = re.compile(r"(?:^|[_\-. ])(\d+[mhdw])$", re.IGNORECASE)
_PANDAS_TF = {"m": "min", "h": "h", "d": "D", "w": "W"}


@dataclass(frozen=True)
class ParsedFile:
    symbol: Symbol
    timeframe: Timeframe
    frame: pd.DataFrame
    dropped_columns: tuple[str, ...]


def is_bar_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def guess_from_name(path: Path) -> tuple[Symbol | None, Timeframe | None]:
    """``BTCUSDT_1d`` → (BTC/USDT, 1d); ``BTC_USDT-1h`` → (BTC/USDT, 1h);
    ``AAPL`` → (AAPL, None)."""
    stem = _stem(path)
    timeframe = None
    match = _TF_IN_NAME.search(stem)
    if match:
        timeframe = Timeframe(match.group(1).lower().replace("M", "m"))
        stem = stem[: match.start()]
    stem = stem.strip("_-. ").upper()
    parts = [p for p in re.split(r"[_\-/]", stem) if p]
    try:
        if len(parts) == 2 and parts[1] in _QUOTES:
            return Symbol(f"{parts[0]}/{parts[1]}"), timeframe
        if len(parts) == 1:
            word = parts[0]
            for quote in _QUOTES:
                if word.endswith(quote) and len(word) > len(quote) + 1:
                    return Symbol(f"{word[: -len(quote)]}/{quote}"), timeframe
            return Symbol(word), timeframe
    except ValueError:
        return None, timeframe
    return None, timeframe


def _pick_columns(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    lowered = {str(c).strip().lower(): c for c in raw.columns}
    chosen: dict[str, object] = {}
    for canonical, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                chosen[canonical] = lowered[alias]
                break
    missing = [c for c in ("open_time", *COLUMNS) if c not in chosen]
    if missing:
        raise DataError(
            f"{source}: cannot find column(s) {', '.join(missing)} among "
            f"{', '.join(map(str, raw.columns))}; name them timestamp, open, high, low, close, "
            "volume (a time column may also be called date or time)"
        )
    used = set(chosen.values())
    dropped = tuple(str(c) for c in raw.columns if c not in used)
    picked = raw.loc[:, [chosen[c] for c in ("open_time", *COLUMNS)]]
    picked.columns = ["open_time", *COLUMNS]
    return picked, dropped


def parse_times(col: pd.Series, source: str, row_offset: int) -> pd.DatetimeIndex:
    """ISO 8601 strings (naive = UTC), or epoch seconds/milliseconds/microseconds."""
    if pd.api.types.is_numeric_dtype(col):
        arr = col.to_numpy(dtype="float64")
        if not np.isfinite(arr).all():
            pos = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise DataError(f"{source}: row {pos + row_offset}: timestamp is missing")
        biggest = np.abs(arr).max()
        unit = "s" if biggest < 1e11 else "ms" if biggest < 1e14 else "us"
        return pd.DatetimeIndex(pd.to_datetime(arr.astype("int64"), unit=unit, utc=True))
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(col):
        parsed = pd.to_datetime(col, utc=True)
    else:
        parsed = pd.to_datetime(col.astype("string"), utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: row {pos + row_offset}: cannot read timestamp {col.iloc[pos]!r}; "
            "use ISO 8601 (2024-01-01T00:00:00Z) or epoch milliseconds"
        )
    return pd.DatetimeIndex(parsed)


def read_bar_file(
    path: Path,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    now: datetime | None = None,
) -> ParsedFile:
    """Read, map columns, parse times, validate. Errors name the file and the row. A bar
    that opens later than ``now`` (default: the system clock) plus one bar is refused."""
    source = str(path)
    if not path.exists():
        raise DataError(f"{source}: no such file")
    if not is_bar_file(path):
        raise DataError(
            f"{source}: unsupported file type; import .csv, .csv.gz or .parquet bar files"
        )
    name_symbol, name_tf = guess_from_name(path)
    try:
        if path.name.lower().endswith((".parquet", ".pq")):
            raw = pd.read_parquet(path)
            if isinstance(raw.index, pd.DatetimeIndex):
                raw = raw.reset_index()
            row_offset = 0
        else:
            raw = pd.read_csv(path, dtype_backend="numpy_nullable")
            row_offset = 2
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: not a readable CSV/Parquet file ({exc})") from exc
    if raw.empty:
        raise DataError(f"{source}: the file has no data rows")
    picked, dropped = _pick_columns(raw, source)
    index = parse_times(picked["open_time"], source, row_offset)
    frame = picked.loc[:, list(COLUMNS)].set_axis(index, axis=0)
    frame = validate_frame(frame, source=source, row_offset=row_offset)
    try:
        sym = Symbol(symbol) if symbol else name_symbol
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    if sym is None:
        raise DataError(f"{source}: cannot tell the symbol from the file name; pass --symbol")
    tf = _timeframe(frame.index, Timeframe(timeframe) if timeframe else name_tf, source)
    _refuse_future(frame.index, tf, now or datetime.now(UTC), source, row_offset)
    misaligned = (frame.index.as_unit("s").asi8 % min(tf.seconds, 86400)) != 0
    if misaligned.any():
        pos = int(np.flatnonzero(misaligned)[0])
        raise DataError(
            f"{source}: row {pos + row_offset}: {frame.index[pos].isoformat()} is not on a {tf} "
            "boundary (UTC); bar times must be bar open times"
        )
    return ParsedFile(symbol=sym, timeframe=tf, frame=frame, dropped_columns=dropped)


# A bar spaced this many bars or more from its neighbour in a small file means the file
# holds coarser bars than it is said to (a daily file imported as 1h): more than a long
# weekend of closed market (4 daily bars) can explain.
_MAX_SPACING_BARS = 5


def _timeframe(index: pd.DatetimeIndex, given: Timeframe | None, source: str) -> Timeframe:
    """The file's timeframe: the one given (--timeframe or the file name), checked against
    the bar spacing whatever the number of rows, or the spacing itself."""
    if len(index) < 2:
        if given is None:
            raise DataError(
                f"{source}: one bar cannot show its timeframe; pass --timeframe (e.g. 1d)"
            )
        return given
    inferred = Timeframe(_seconds_to_tf(infer_timeframe_seconds(index)))
    if given is None:
        return inferred
    diffs = np.diff(index.as_unit("s").asi8)
    smallest = int(diffs[diffs > 0].min())
    if (
        smallest < given.seconds
        or smallest >= _MAX_SPACING_BARS * given.seconds
        or (len(index) > 2 and inferred.seconds != given.seconds)
    ):
        raise DataError(
            f"{source}: the file name or --timeframe says {given} but most bars are "
            f"{inferred} apart (the closest two {_seconds_to_tf(smallest)}); pass the right "
            "--timeframe"
        )
    return given


def _refuse_future(
    index: pd.DatetimeIndex, tf: Timeframe, now: datetime, source: str, row_offset: int
) -> None:
    """Bars dated in the future (a typo such as 2099) would sit after every real bar and
    dominate backtests and answers; a bar may open at most one bar after ``now``."""
    limit = pd.Timestamp(now) + tf.delta
    late = index > limit
    if late.any():
        pos = int(np.flatnonzero(late)[0])
        raise DataError(
            f"{source}: row {pos + row_offset}: {index[pos].isoformat()} is in the future "
            f"(now is {pd.Timestamp(now).isoformat(timespec='seconds')}); fix the date"
        )


def _seconds_to_tf(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise DataError(f"bars are {seconds} s apart, which is not a whole number of minutes")


def pandas_freq(tf: Timeframe) -> str:
    text = str(tf)
    return text[:-1] + _PANDAS_TF[text[-1]]
