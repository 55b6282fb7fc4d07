"""``tiller data import``: files or folders of a user's own bars into the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError, NotFoundError
from tools.market_data._readers import is_bar_file, read_bar_file
from tools.market_data._store import MAX_QUIET_CHANGE, BarStore, WriteReport


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
