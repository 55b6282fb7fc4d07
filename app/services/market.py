"""Market data as every surface reads it: point-in-time bars from the store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, RootModel

from app.services.outcome import ErrorDetail, data_error
from core.types import Symbol, Timeframe

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.bootstrap import Container
    from tools.market_data import SeriesInfo, WriteReport


class BarView(BaseModel):
    open_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


class BarList(RootModel[list[BarView]]):
    """Bars alone, oldest first (``tiller data show --json``)."""


class BarsView(BaseModel):
    symbol: str
    timeframe: str
    as_of: datetime | None
    bars: list[BarView]


def bars(
    c: Container, symbol: str, timeframe: str = "1d", *, as_of: datetime | None = None,
    start: datetime | None = None, end: datetime | None = None, limit: int = 100,
) -> BarsView:  # fmt: skip
    """The last ``limit`` bars opening in [start, end] that had closed by ``as_of``
    (resampled from a finer stored timeframe when needed)."""
    sym, tf = str(Symbol(symbol)), str(Timeframe(timeframe))
    frame = c.store.bars(sym, tf, start=start, end=end, as_of=as_of).tail(limit)
    rows = [
        BarView(
            open_time=t.to_pydatetime(),
            **{k: float(row[k]) for k in ("open", "high", "low", "close", "volume")},
        )
        for t, row in frame.iterrows()
    ]
    return BarsView(symbol=sym, timeframe=tf, as_of=as_of, bars=rows)


class SeriesView(BaseModel):
    """One stored series: its first and last bar's open time and where its bars came from."""

    symbol: str
    timeframe: str
    rows: int
    first: datetime | None
    last: datetime | None
    sources: list[str]


class SeriesList(RootModel[list[SeriesView]]):
    pass


class BarChangeView(BaseModel):
    open_time: datetime
    field: str
    old: float
    new: float
    relative: float


class WriteView(BaseModel):
    """What one write did to a series (``largest_change``: among the updated bars)."""

    symbol: str
    timeframe: str
    added: int
    updated: int
    unchanged: int
    total: int
    gaps: int
    missing_bars: int
    largest_change: BarChangeView | None


class RefusedFile(BaseModel):
    path: str
    error: str


class ImportView(BaseModel):
    """``error`` is set when any file was refused (the others are still imported)."""

    imported: list[WriteView]
    failed: list[RefusedFile]
    error: ErrorDetail | None = None


class GapView(BaseModel):
    start: datetime
    end: datetime
    missing: int


class GapList(RootModel[list[GapView]]):
    pass


class FetchView(BaseModel):
    """``fetched``: closed, in-range bars received (the refetched last stored bar
    included); ``first``/``last``: open times of the first and last bar received."""

    symbol: str
    timeframe: str
    fetched: int
    added: int
    updated: int
    first: datetime | None
    last: datetime | None
    pages: int


def _series(info: SeriesInfo) -> SeriesView:
    return SeriesView(symbol=str(info.symbol), timeframe=str(info.timeframe), rows=info.rows,
                      first=info.first, last=info.last, sources=list(info.sources))  # fmt: skip


def _write(report: WriteReport) -> WriteView:
    change = report.largest_change
    return WriteView(
        symbol=str(report.symbol), timeframe=str(report.timeframe), added=report.added,
        updated=report.updated, unchanged=report.unchanged, total=report.total,
        gaps=report.gaps, missing_bars=report.missing_bars,
        largest_change=None if change is None else BarChangeView(
            open_time=change.at, field=change.field, old=change.old, new=change.new,
            relative=round(change.relative, 6)),
    )  # fmt: skip


def catalog(c: Container) -> SeriesList:
    """Every stored series."""
    return SeriesList([_series(i) for i in c.store.catalog()])


def restore(c: Container, symbol: str, timeframe: str) -> SeriesView:
    """Undo the last write to a series; running it again redoes it."""
    return _series(c.store.restore(symbol, timeframe))


def gaps(c: Container, symbol: str, timeframe: str) -> GapList:
    """Missing bars: NYSE trading days for a stock, every step for a crypto pair."""
    frame = c.store.gaps(symbol, timeframe)
    return GapList([GapView(start=r.start.to_pydatetime(), end=r.end.to_pydatetime(),
                            missing=int(r.missing)) for r in frame.itertuples()])  # fmt: skip


def import_bars(
    c: Container, path: Path, *, symbol: str | None = None, timeframe: str | None = None,
    keep_stored: bool = False, replace: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> ImportView:  # fmt: skip
    """Import a file or a folder of them. Each file is validated whole; a file that would
    move stored prices by more than 5 % is refused unless ``replace``."""
    from core.errors import ConfigError
    from tools.market_data import MAX_QUIET_CHANGE, import_path

    if keep_stored and replace:
        raise ConfigError("--keep-stored and --replace contradict each other: pick one")
    result = import_path(
        c.store, path, symbol=symbol, timeframe=timeframe, replace=not keep_stored,
        max_change=None if replace else MAX_QUIET_CHANGE, on_file=on_file,
    )  # fmt: skip
    failed = [RefusedFile(path=str(p), error=e) for p, e in result.failed]
    refused = f"{len(failed)} file(s) refused, see 'failed'"
    return ImportView(imported=[_write(r) for r in result.written], failed=failed,
                      error=data_error(refused) if failed else None)  # fmt: skip


def fetch(
    c: Container, exchange: str, symbol: str, timeframe: str, *,
    since: datetime | None = None, until: datetime | None = None,
    on_page: Callable[[int], None] | None = None,
) -> FetchView:  # fmt: skip
    """Download bars through ccxt into the store, resuming where the store ends."""
    from core.errors import ConfigError
    from tools.market_data import fetch_to_store, make_exchange

    if since is None and not c.store.has(symbol, timeframe):
        raise ConfigError(
            f"nothing stored for {symbol} {timeframe} yet; pass --since (e.g. --since 2024-01-01)"
        )
    report = fetch_to_store(
        c.store, make_exchange(exchange, c.settings), symbol, timeframe, since=since,
        until=until, clock=c.clock, max_retries=c.settings.exchange_max_retries,
        on_page=on_page,
    )  # fmt: skip
    return FetchView(symbol=str(report.symbol), timeframe=str(report.timeframe),
                     fetched=report.fetched, added=report.added, updated=report.updated,
                     first=report.first, last=report.last, pages=report.pages)  # fmt: skip
