"""The offline default: real daily prices of AAPL, MSFT, IBM, GOOG and FB (2000–2013).

They come from the PyPI package ``bokeh-sampledata`` (module ``bokeh_sampledata.stocks``),
which records them as public domain (Quandl WIKI prices). The source's open/high/low/close
are *unadjusted*; we scale them by ``adj_close / close`` so splits and dividends do not
show up as crashes in a backtest, and scale volume inversely. Loaded through the same
``BarStore.write`` as any import.
"""

from __future__ import annotations

import pandas as pd

from core.errors import UnavailableError
from tools.market_data._store import BarStore, WriteReport

BUNDLED_SYMBOLS = ("AAPL", "MSFT", "IBM", "GOOG", "FB")
BUNDLED_SOURCE = "bokeh-sampledata (public domain)"


def bundled_frame(symbol: str) -> pd.DataFrame:
    try:
        from bokeh_sampledata import stocks
    except ImportError as exc:  # the package is a hard dependency; this means a broken install
        raise UnavailableError(
            "the bundled prices need the bokeh-sampledata package; run `make run` or "
            "`pip install bokeh-sampledata`"
        ) from exc
    raw = getattr(stocks, symbol)
    frame = pd.DataFrame(raw)
    index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date"), utc=True)).as_unit("ns")
    frame.index = index.rename("open_time")
    factor = frame["adj_close"] / frame["close"]
    out = pd.DataFrame(
        {
            "open": frame["open"] * factor,
            "high": frame["high"] * factor,
            "low": frame["low"] * factor,
            "close": frame["adj_close"],
            "volume": frame["volume"] / factor,
        },
        index=frame.index,
    )
    # Rounding in the source can put an adjusted open a hair outside [low, high].
    out["high"] = out[["open", "high", "close"]].max(axis=1)
    out["low"] = out[["open", "low", "close"]].min(axis=1)
    return out


def ensure_bundled(store: BarStore) -> list[WriteReport]:
    """Load the bundled series that are not in the store yet (idempotent, cheap when done)."""
    reports = []
    for symbol in BUNDLED_SYMBOLS:
        if not store.has(symbol, "1d"):
            reports.append(store.write(symbol, "1d", bundled_frame(symbol), source=BUNDLED_SOURCE))
    return reports
