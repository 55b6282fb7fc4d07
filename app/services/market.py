"""Market data as every surface reads it: point-in-time bars from the store."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from core.types import Symbol, Timeframe

if TYPE_CHECKING:
    from app.bootstrap import Container


class BarView(BaseModel):
    open_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


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
