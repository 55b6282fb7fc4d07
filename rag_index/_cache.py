"""Search structures of one store generation, built lazily and cached on disk.

A ``Snapshot`` is stamped ``<store id>.<generation>``; its files in ``<store>/cache/`` carry
the stamp in their names (``columns.<stamp>.npz``, ``vectors.<stamp>.npy``,
``bm25.<stamp>.npz``, ``hnsw.<stamp>.faiss``). Every write bumps the generation, so a cache
is either current or ignored; nothing is ever patched in place. The one exception to
"rebuild when stale" is the HNSW graph, too slow to rebuild per write: the newest older
graph is copied forward and updated (see ``_hnsw``). Files are written under a
temporary name and renamed, so a reader in another process sees a whole file or none.
A cache that cannot be read is rebuilt from SQLite (with a warning), and a cache folder
that cannot be written only costs the rebuild next time.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from rag_index import _sqlite
from rag_index._bm25 import Bm25
from rag_index._columns import Columns
from rag_index._hnsw import SEARCH_TIME_ADDS, Hnsw
from rag_index._search import Lexical

T = TypeVar("T")
_UNREADABLE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


class Snapshot:
    def __init__(self, cache_dir: Path, stamp: str, dim: int) -> None:
        self.cache_dir = cache_dir
        self.stamp = stamp
        self.dim = dim
        self._columns: Columns | None = None
        self._matrix: np.ndarray | None = None
        self._lexical: Lexical | None = None
        self._hnsw: Hnsw | None = None

    def _file(self, kind: str, suffix: str) -> Path:
        return self.cache_dir / f"{kind}.{self.stamp}{suffix}"

    def columns(self, conn: sqlite3.Connection) -> Columns:
        if self._columns is None:
            self._columns = self._load_or_build(
                self._file("columns", ".npz"),
                Columns.load,
                lambda: Columns.from_rows(_sqlite.scan_metadata(conn)),
                lambda columns, file: columns.save(file),
            )
        return self._columns

    def matrix(self, conn: sqlite3.Connection) -> np.ndarray:
        if self._matrix is None:
            n = self.columns(conn).n

            def load(file: Path) -> np.ndarray:
                matrix = np.load(file, mmap_mode="r", allow_pickle=False)
                if matrix.shape != (n, self.dim) or matrix.dtype != np.float32:
                    raise ValueError(f"holds {matrix.shape} {matrix.dtype}, not ({n}, {self.dim})")
                return matrix

            def save(matrix: np.ndarray, file: Path) -> None:
                with file.open("wb") as handle:
                    np.save(handle, matrix, allow_pickle=False)

            self._matrix = self._load_or_build(
                self._file("vectors", ".npy"),
                load,
                lambda: _sqlite.scan_vectors(conn, self.dim, n),
                save,
            )
        return self._matrix

    def lexical(self, conn: sqlite3.Connection) -> Lexical:
        if self._lexical is None:
            n = self.columns(conn).n
            self._lexical = self._load_or_build(
                self._file("bm25", ".npz"),
                lambda file: Lexical.load(file, n),
                lambda: Lexical(Bm25.build(*_sqlite.scan_terms(conn))),
                lambda lexical, file: lexical.index.save(file),
            )
        return self._lexical

    def hnsw(
        self, conn: sqlite3.Connection, *, build: bool, m: int, ef_construction: int
    ) -> Hnsw | None:
        """The HNSW graph for this generation, or ``None``.

        This generation's graph file if there is one; else the newest older graph of the
        store brought up to date (new rows added; deleted ones are hidden at search
        time); else, only when ``build``, a new graph (minutes at 100k vectors). Without
        ``build`` an older graph is used only if few rows are new, and nothing is saved.
        """
        if self._hnsw is None:
            rowids = self.columns(conn).rowids
            target = self._file("hnsw", ".faiss")
            index = self._read_hnsw(target) if target.exists() else None
            if index is None:
                index = self._evolve_hnsw(conn, rowids, build)
                if index is None and build:
                    index = Hnsw.build(self.matrix(conn), rowids, m, ef_construction)
                if index is not None and build:
                    self._persist(target, index.save)
            if index is None:
                return None
            index.attach(rowids)
            self._hnsw = index
        return self._hnsw

    def _evolve_hnsw(
        self, conn: sqlite3.Connection, rowids: np.ndarray, build: bool
    ) -> Hnsw | None:
        store_id, generation = self.stamp.split(".")
        older = []
        for path in self.cache_dir.glob(f"hnsw.{store_id}.*.faiss"):
            stamp_generation = path.name.split(".")[2]
            if stamp_generation.isdigit() and int(stamp_generation) < int(generation):
                older.append((int(stamp_generation), path))
        if not older:
            return None
        index = self._read_hnsw(max(older)[1])
        if index is None:
            return None
        index.attach(rowids)
        new = index.missing(rowids)
        if index.stale or (not build and len(new) > SEARCH_TIME_ADDS):
            return None
        index.add(self.matrix(conn)[new], rowids[new])
        return index

    def _read_hnsw(self, file: Path) -> Hnsw | None:
        try:
            return Hnsw.load(file)
        except FileNotFoundError:
            return None  # replaced by a newer generation's graph meanwhile
        except _UNREADABLE as exc:
            warnings.warn(f"ignoring the unreadable search cache {file} ({exc})", stacklevel=5)
            return None

    def _load_or_build(
        self,
        target: Path,
        load: Callable[[Path], T],
        build: Callable[[], T],
        save: Callable[[T, Path], None],
    ) -> T:
        if target.exists():
            try:
                return load(target)
            except _UNREADABLE as exc:
                warnings.warn(
                    f"ignoring the unreadable search cache {target} ({exc}); rebuilding it",
                    stacklevel=4,
                )
        value = build()
        self._persist(target, lambda path: save(value, path))
        return value

    def _persist(self, target: Path, write: Callable[[Path], None]) -> None:
        kind = target.name.split(".", 1)[0]
        temporary = self.cache_dir / f".{kind}.{uuid.uuid4().hex}.tmp"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            write(temporary)
            os.replace(temporary, target)
        except OSError as exc:
            _remove(temporary)
            if not target.exists():  # another process may have won the race: that is fine
                warnings.warn(
                    f"could not save the search cache {target} ({exc}); "
                    "it will be rebuilt next time",
                    stacklevel=5,
                )
            return
        for other in self.cache_dir.glob(f"{kind}.*"):
            if other != target and _older(other.name, self.stamp):
                _remove(other)


def _older(name: str, stamp: str) -> bool:
    """Whether the cache file ``name`` belongs to an earlier generation (or another store).
    A reader still on an old generation must not delete a newer generation's files."""
    parts = name.split(".")
    store_id, generation = stamp.split(".")
    if len(parts) < 3 or parts[1] != store_id:
        return True
    return not parts[2].isdigit() or int(parts[2]) < int(generation)


def _remove(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass  # a stale cache is never read again (stamps differ); removal is housekeeping
