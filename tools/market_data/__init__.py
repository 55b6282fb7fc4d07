"""Market data: a local point-in-time bar store, importers, the bundled default and
live fetching through ccxt."""

from typing import TYPE_CHECKING

from tools.market_data._bundled import BUNDLED_SYMBOLS, bundled_frame, ensure_bundled
from tools.market_data._frame import COLUMNS, validate_frame
from tools.market_data._importer import ImportResult, import_path
from tools.market_data._quality import find_gaps, resample
from tools.market_data._readers import guess_from_name, read_bar_file
from tools.market_data._store import (
    MAX_QUIET_CHANGE,
    BarChange,
    BarStore,
    SeriesInfo,
    WriteReport,
    as_arrays,
    open_store,
)

__all__ = [
    "BUNDLED_SYMBOLS",
    "COLUMNS",
    "MAX_QUIET_CHANGE",
    "BarChange",
    "BarStore",
    "ImportResult",
    "SeriesInfo",
    "WriteReport",
    "as_arrays",
    "bundled_frame",
    "ensure_bundled",
    "find_gaps",
    "guess_from_name",
    "import_path",
    "open_store",
    "read_bar_file",
    "resample",
    "validate_frame",
]

if TYPE_CHECKING:  # typed for callers; loaded lazily below
    from tools.market_data._fetch import FetchReport as FetchReport
    from tools.market_data._fetch import fetch_to_store as fetch_to_store
    from tools.market_data._fetch import make_exchange as make_exchange


def __getattr__(name: str) -> object:
    # Live fetching imports ccxt (~0.7 s); load it only when someone asks for it.
    if name in {"FetchReport", "fetch_to_store", "make_exchange"}:
        from tools.market_data import _fetch

        return getattr(_fetch, name)
    raise AttributeError(f"module 'tools.market_data' has no attribute {name!r}")
