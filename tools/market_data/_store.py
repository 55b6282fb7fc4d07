"""The local bar store: one Parquet file per (symbol, timeframe).

Why Parquet files rather than a database: bars are append-mostly columnar data read
whole into NumPy for backtests; Parquet gives that in one vectorised read, compresses
well, is readable by every data tool a user already has (pandas, polars, DuckDB,
Spark), and needs no server. Every write goes to a temporary file that is renamed over
the old one, so a crash mid-write never leaves a half-written store; the file it
replaces is kept as the series' previous version (``previous/``), so the last write can
be undone (``restore``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import ConfigError, DataError, NotFoundError
from core.timeutil import ensure_utc
from core.types import Symbol, Timeframe
from tools.market_data._frame import COLUMNS, INDEX, empty_frame, validate_frame
from tools.market_data._quality import EQUITY_CALENDAR, find_gaps, resample

_META_KEY = b"tiller"
_OHLC = ("open", "high", "low", "close")
MAX_QUIET_CHANGE = 0.05
"""The most an import may move a stored bar's open, high, low or close (relative to the
stored value) without being told to (``--replace``): a revision beyond that is a
different series (another symbol, other units), not a correction."""


@dataclass(frozen=True)
class BarChange:
    """One field of one stored bar as a write would change it."""

    at: datetime
    field: str
    old: float
    new: float

    @property
    def relative(self) -> float:
        return (self.new - self.old) / self.old if self.old else float("inf")

    def describe(self) -> str:
        return (
            f"{self.field} at {self.at.isoformat()} from {self.old:,.6g} to {self.new:,.6g} "
            f"({self.relative:+.1%})"
        )

    def to_json(self) -> dict[str, object]:
        return {"open_time": self.at.isoformat(), "field": self.field, "old": self.old,
                "new": self.new, "relative": round(self.relative, 6)}  # fmt: skip


@dataclass(frozen=True)
class SeriesInfo:
    symbol: Symbol
    timeframe: Timeframe
    rows: int
    first: datetime | None
    last: datetime | None
    sources: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "symbol": str(self.symbol),
            "timeframe": str(self.timeframe),
            "rows": self.rows,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class WriteReport:
    symbol: Symbol
    timeframe: Timeframe
    added: int
    updated: int
    unchanged: int
    total: int
    sources: tuple[str, ...] = field(default=())
    gaps: int = 0
    missing_bars: int = 0
    largest_change: BarChange | None = None  # among the updated bars' OHLC

    def to_json(self) -> dict[str, object]:
        return {
            "symbol": str(self.symbol),
            "timeframe": str(self.timeframe),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "total": self.total,
            "gaps": self.gaps,
            "missing_bars": self.missing_bars,
            "largest_change": self.largest_change.to_json() if self.largest_change else None,
        }


class BarStore:
    """Point-in-time access to stored bars. Thread-compatible, not process-locked: run one
    writer at a time (the CLI does)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- paths -------------------------------------------------------------------------
    def _path(self, symbol: Symbol, timeframe: Timeframe) -> Path:
        return self.root / "bars" / symbol.slug / f"{timeframe}.parquet"

    def previous_path(self, symbol: str, timeframe: str) -> Path:
        """Where the version a write replaced is kept (one per series)."""
        return self.root / "previous" / Symbol(symbol).slug / f"{Timeframe(timeframe)}.parquet"

    def has(self, symbol: str, timeframe: str) -> bool:
        return self._path(Symbol(symbol), Timeframe(timeframe)).exists()

    # -- reads -------------------------------------------------------------------------
    def catalog(self) -> list[SeriesInfo]:
        out = []
        base = self.root / "bars"
        if not base.exists():
            return []
        for path in sorted(base.glob("*/*.parquet")):
            symbol = Symbol.from_slug(path.parent.name)
            timeframe = Timeframe(path.stem)
            pf = pq.ParquetFile(path)
            meta = _read_meta(pf.schema_arrow)
            rows = pf.metadata.num_rows
            first = last = None
            if rows:
                times = pq.read_table(path, columns=[INDEX]).column(INDEX).to_pandas()
                first, last = times.iloc[0].to_pydatetime(), times.iloc[-1].to_pydatetime()
            out.append(
                SeriesInfo(symbol, timeframe, rows, first, last, tuple(meta.get("sources", [])))
            )
        return out

    def timeframes(self, symbol: str) -> list[Timeframe]:
        folder = self.root / "bars" / Symbol(symbol).slug
        tfs = [Timeframe(p.stem) for p in folder.glob("*.parquet")] if folder.exists() else []
        return sorted(tfs, key=lambda t: t.seconds)

    def read(self, symbol: str, timeframe: str) -> pd.DataFrame:
        """Every stored bar of one series (no point-in-time cut; see ``bars``)."""
        sym, tf = Symbol(symbol), Timeframe(timeframe)
        path = self._path(sym, tf)
        if not path.exists():
            raise NotFoundError(self._missing_message(sym, tf))
        frame = pq.read_table(path).to_pandas()
        frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns")
        return frame.loc[:, list(COLUMNS)]

    def bars(
        self,
        symbol: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> pd.DataFrame:
        """Bars whose open time lies in [start, end] and that had *closed* by ``as_of``.

        A bar opening at t closes at t + timeframe; it is returned only if that is
        <= ``as_of``. If the timeframe is not stored but a finer one that divides it is,
        the finer bars are resampled (after the point-in-time cut, so a partial
        higher-timeframe bar is never formed from the future).
        """
        sym, tf = Symbol(symbol), Timeframe(timeframe)
        if self._path(sym, tf).exists():
            frame = self.read(sym, tf)
            source_tf = tf
        else:
            source_tf = self._finer_source(sym, tf)
            frame = self.read(sym, source_tf)
        if as_of is not None:
            cutoff = pd.Timestamp(ensure_utc(as_of)) - pd.Timedelta(seconds=source_tf.seconds)
            frame = frame.loc[frame.index <= cutoff]
        if source_tf != tf:
            frame = resample(frame, source_tf, tf)
        if start is not None:
            frame = frame.loc[frame.index >= pd.Timestamp(ensure_utc(start))]
        if end is not None:
            frame = frame.loc[frame.index <= pd.Timestamp(ensure_utc(end))]
        return frame

    def _finer_source(self, sym: Symbol, tf: Timeframe) -> Timeframe:
        options = [t for t in self.timeframes(sym) if t.seconds < tf.seconds]
        options = [t for t in options if tf.seconds % t.seconds == 0]
        if not options:
            raise NotFoundError(self._missing_message(sym, tf))
        return max(options, key=lambda t: t.seconds)

    def _missing_message(self, sym: Symbol, tf: Timeframe) -> str:
        have = self.timeframes(sym)
        if have:
            return (
                f"no {tf} bars for {sym} (stored: {', '.join(have)}); fetch or import {tf} "
                "bars, or pick a stored timeframe"
            )
        known = sorted({str(i.symbol) for i in self.catalog()})
        hint = f" Known symbols: {', '.join(known)}." if known else ""
        return (
            f"no data for {sym}.{hint} Import a file with `tiller data import PATH` "
            f"or fetch it with `tiller data fetch binance {sym} {tf}`."
        )

    def gaps(self, symbol: str, timeframe: str) -> pd.DataFrame:
        sym, tf = Symbol(symbol), Timeframe(timeframe)
        return find_gaps(self.read(sym, tf).index, tf, calendar=_calendar(sym))

    # -- writes ------------------------------------------------------------------------
    def write(
        self,
        symbol: str,
        timeframe: str,
        frame: pd.DataFrame,
        *,
        source: str,
        replace_conflicts: bool = True,
        max_change: float | None = None,
    ) -> WriteReport:
        """Merge ``frame`` into the stored series, atomically.

        Bars at new times are added. A bar at a stored time with different values is
        updated (``replace_conflicts``) or refused with a ``DataError`` naming the first
        clash. With ``max_change`` (e.g. ``MAX_QUIET_CHANGE``), updates that move any
        open, high, low or close by more than that fraction are all refused, with their
        count and the largest change. Validation runs on the merged result before
        anything is written; the replaced file is kept for ``restore``.
        """
        sym, tf = Symbol(symbol), Timeframe(timeframe)
        new = validate_frame(frame, source=source, row_offset=0)
        path = self._path(sym, tf)
        old = self.read(sym, tf) if path.exists() else empty_frame()
        meta = _read_meta(pq.read_schema(path)) if path.exists() else {}
        common = new.index.intersection(old.index)
        changed = old.loc[common].ne(new.loc[common]).any(axis=1)
        n_updated = int(changed.sum())
        if n_updated and not replace_conflicts:
            when = changed[changed].index[0]
            raise DataError(
                f"{source}: the bar at {when.isoformat()} differs from the stored one for "
                f"{sym} {tf}; import without --keep-stored to overwrite the stored bars"
            )
        largest, n_large = _changes(old.loc[common], new.loc[common], max_change)
        if max_change is not None and n_large and largest is not None:
            raise DataError(
                f"{source}: {n_large} stored bar(s) of {sym} {tf} would change by more than "
                f"{max_change:.0%} (largest: {largest.describe()}); nothing was written. If "
                "this file is right, import it again with --replace (the bars it replaces "
                f"are kept: `tiller data restore {sym} {tf}` brings them back)"
            )
        merged = pd.concat([old.loc[old.index.difference(new.index)], new]).sort_index()
        merged.index.name = INDEX
        sources = list(meta.get("sources", []))
        if source not in sources:
            sources.append(source)
        self._atomic_write(path, merged, {"symbol": sym, "timeframe": tf, "sources": sources})
        holes = find_gaps(pd.DatetimeIndex(merged.index), tf, calendar=_calendar(sym))
        return WriteReport(
            sym,
            tf,
            added=len(new) - len(common),
            updated=n_updated,
            unchanged=len(common) - n_updated,
            total=len(merged),
            sources=tuple(sources),
            gaps=len(holes),
            missing_bars=int(holes["missing"].sum()) if len(holes) else 0,
            largest_change=largest,
        )

    def restore(self, symbol: str, timeframe: str) -> SeriesInfo:
        """Put back the version the last write replaced; the current one becomes the
        previous version, so a second restore undoes the first."""
        sym, tf = Symbol(symbol), Timeframe(timeframe)
        path, previous = self._path(sym, tf), self.previous_path(sym, tf)
        if not previous.exists():
            raise NotFoundError(
                f"no previous version of {sym} {tf} to restore: it is kept from the first "
                "write that replaces an existing series file"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        swap = previous.with_name(f".{previous.name}.swap")
        if path.exists():
            _keep(path, swap)
        os.replace(previous, path)
        if swap.exists():
            os.replace(swap, previous)
        return next(i for i in self.catalog() if i.symbol == sym and i.timeframe == tf)

    def delete(self, symbol: str, timeframe: str) -> None:
        path = self._path(Symbol(symbol), Timeframe(timeframe))
        if not path.exists():
            raise NotFoundError(f"nothing stored for {symbol} {timeframe}")
        path.unlink()

    def _atomic_write(self, path: Path, frame: pd.DataFrame, meta: dict[str, object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame, preserve_index=True)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(meta, default=str).encode()
        table = table.replace_schema_metadata(schema_meta)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            if path.exists():
                # The old file stays whole until the new one is in place, and after.
                sym, tf = meta["symbol"], meta["timeframe"]
                _keep(path, self.previous_path(str(sym), str(tf)))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _changes(
    old: pd.DataFrame, new: pd.DataFrame, limit: float | None
) -> tuple[BarChange | None, int]:
    """The largest relative OHLC change between two aligned frames, and how many bars
    change by more than ``limit`` on any of those fields."""
    if old.empty:
        return None, 0
    before = old.loc[:, list(_OHLC)].to_numpy(dtype="float64")
    after = new.loc[old.index, list(_OHLC)].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(after - before) / np.abs(before)
    rel = np.where(before == after, 0.0, rel)  # 0 -> 0 is no change
    if not np.any(rel > 0):
        return None, 0
    row, col = np.unravel_index(int(np.nanargmax(rel)), rel.shape)
    at = pd.Timestamp(old.index[row]).to_pydatetime()
    largest = BarChange(at, _OHLC[col], float(before[row, col]), float(after[row, col]))
    n_large = 0 if limit is None else int(np.sum(np.nanmax(rel, axis=1) > limit))
    return largest, n_large


def _keep(path: Path, keep_as: Path) -> None:
    """Make ``keep_as`` a copy of ``path`` (a hard link when the file system allows),
    replacing whatever was there atomically."""
    keep_as.parent.mkdir(parents=True, exist_ok=True)
    tmp = keep_as.with_name(f".{keep_as.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copy2(path, tmp)
    os.replace(tmp, keep_as)


def _calendar(symbol: Symbol) -> str | None:
    """The trading days a series is expected on: a crypto pair trades every day."""
    return None if symbol.is_pair else EQUITY_CALENDAR


def _read_meta(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(_META_KEY)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def open_store(root: Path) -> BarStore:
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(
            f"market data directory {root} is a file; set TILLER_DATA_DIR to a folder"
        )
    return BarStore(root)


def as_arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Contiguous float64 columns for numeric kernels."""
    return {c: np.ascontiguousarray(frame[c].to_numpy(dtype="float64")) for c in COLUMNS}
