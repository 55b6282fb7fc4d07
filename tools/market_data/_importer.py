"""``tiller data import``: files or folders of a user's own bars into the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataError, NotFoundError
from tools.market_data._readers import is_bar_file, read_bar_file
from tools.market_data._store import MAX_QUIET_CHANGE, BarStore, WriteReport

# A bar whose price is 10 times (or a tenth of) the close before it is a bad tick (a price
# in cents, a misplaced decimal point) far more often than a real one-bar move; a real
# one (a reverse split in unadjusted prices) is imported with --replace. Without this, one
# such bar became the agents' quote, and the risk officer's collar, measured from the
# quote, could not see it.
BAD_TICK_FACTOR = 10.0


@dataclass(frozen=True)
class ImportResult:
    written: list[WriteReport]
    failed: list[tuple[Path, str]]

    def to_json(self) -> dict[str, object]:
        return {
            "imported": [r.to_json() for r in self.written],
            "failed": [{"path": str(p), "error": e} for p, e in self.failed],
        }


def import_path(
    store: BarStore,
    path: Path,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    replace: bool = True,
    max_change: float | None = MAX_QUIET_CHANGE,
    on_file: Callable[[Path], None] | None = None,
) -> ImportResult:
    """Import one file, or every bar file in a folder (not recursive).

    Each file is validated completely before anything of it is written; a bad file is
    reported and skipped, never half-imported, and never stops the other files. Stored
    bars that differ are updated (``replace``) unless a file would move any of their
    prices by more than ``max_change`` (None: no limit, what ``--replace`` asks for):
    then that file is refused as a whole.
    """
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if is_bar_file(p))
        if not files:
            raise NotFoundError(f"{path}: no .csv, .csv.gz or .parquet files in this folder")
        if symbol:
            raise DataError("--symbol applies to a single file, not to a folder")
    else:
        files = [path]
    written, failed = [], []
    for file in files:
        if on_file:
            on_file(file)
        try:
            parsed = read_bar_file(file, symbol=symbol, timeframe=timeframe)
            if max_change is not None:  # --replace: the person vouches for the prices
                _refuse_bad_ticks(store, parsed.symbol, parsed.timeframe, parsed.frame, file)
            written.append(
                store.write(
                    parsed.symbol,
                    parsed.timeframe,
                    parsed.frame,
                    source=file.name,
                    replace_conflicts=replace,
                    max_change=max_change,
                )
            )
        except DataError as exc:
            failed.append((file, str(exc)))
    return ImportResult(written, failed)


def _refuse_bad_ticks(
    store: BarStore, symbol: str, timeframe: str, frame: pd.DataFrame, file: Path
) -> None:
    """DataError naming the first new bar (one not stored yet: changes to stored bars have
    their own guard) whose open, high, low or close lies a factor of ``BAD_TICK_FACTOR``
    or more from the close before it, stored or imported."""
    try:
        stored = store.bars(symbol, timeframe)["close"]
    except NotFoundError:
        stored = frame["close"].iloc[:0]
    new = frame.loc[~frame.index.isin(stored.index)]
    if new.empty:
        return
    closes = pd.concat([stored, new["close"]]).sort_index()
    before = closes.shift(1).loc[new.index].to_numpy(dtype=float)
    prices = new[["open", "high", "low", "close"]].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        ratio = prices / before[:, None]
        bad = (ratio >= BAD_TICK_FACTOR) | (ratio <= 1 / BAD_TICK_FACTOR)
    rows = np.flatnonzero(bad.any(axis=1))
    if len(rows) == 0:
        return
    row = int(rows[0])
    col = int(np.flatnonzero(bad[row])[0])
    name = ("open", "high", "low", "close")[col]
    raise DataError(
        f"{file.name}: the bar at {new.index[row].isoformat()} has {name} "
        f"{prices[row, col]:g}, {ratio[row, col]:.3g}x the close before it "
        f"({before[row]:g}): a one-bar move of {BAD_TICK_FACTOR:g}x is almost always a bad "
        "tick; nothing of the file was written. Fix that row, or import with --replace if "
        "the move is real (e.g. a split in unadjusted prices)"
    )
