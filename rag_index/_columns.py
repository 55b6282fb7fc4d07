"""Chunk metadata as parallel numpy columns, so a ``Filters`` becomes a row mask in
microseconds and is applied *before* ranking.

Row ``i`` of every column (and of the vector matrix and the BM25 index) is the chunk with
the ``i``-th smallest SQLite rowid at one store generation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag_index._records import FilterSpec

NO_DATE = np.iinfo(np.int64).min  # published_at unknown
NO_FORM = -1


@dataclass(frozen=True)
class Columns:
    rowids: np.ndarray  # int64, ascending
    collection: np.ndarray  # int32 code into collections
    form: np.ndarray  # int32 code into forms, NO_FORM when unknown
    published: np.ndarray  # int64 microseconds, NO_DATE when unknown
    ticker_ptr: np.ndarray  # int64 CSR offsets: rows of tickers[t] are ticker_rows[ptr[t]:ptr[t+1]]
    ticker_rows: np.ndarray  # int32 row numbers
    collections: tuple[str, ...]
    forms: tuple[str, ...]  # upper-cased
    tickers: tuple[str, ...]  # upper-cased
    _ticker_at: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ticker_at", {t: i for i, t in enumerate(self.tickers)})

    @property
    def n(self) -> int:
        return len(self.rowids)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, str, str | None, int | None, str]]) -> Columns:
        n = len(rows)
        codes: dict[str, dict[str, int]] = {"collection": {}, "form": {}}
        collection = np.empty(n, dtype=np.int32)
        form = np.full(n, NO_FORM, dtype=np.int32)
        published = np.full(n, NO_DATE, dtype=np.int64)
        rowids = np.empty(n, dtype=np.int64)
        by_ticker: dict[str, list[int]] = {}
        for i, (rowid, coll, form_name, micros, tickers_json) in enumerate(rows):
            rowids[i] = rowid
            collection[i] = codes["collection"].setdefault(coll, len(codes["collection"]))
            if form_name is not None:
                upper = form_name.upper()
                form[i] = codes["form"].setdefault(upper, len(codes["form"]))
            if micros is not None:
                published[i] = micros
            for ticker in {t.upper() for t in json.loads(tickers_json)}:
                by_ticker.setdefault(ticker, []).append(i)
        tickers = tuple(sorted(by_ticker))
        sizes = np.array([len(by_ticker[t]) for t in tickers], dtype=np.int64)
        ticker_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        ticker_rows = (
            np.concatenate([np.asarray(by_ticker[t], dtype=np.int32) for t in tickers])
            if tickers
            else np.zeros(0, dtype=np.int32)
        )
        return cls(
            rowids=rowids,
            collection=collection,
            form=form,
            published=published,
            ticker_ptr=ticker_ptr,
            ticker_rows=ticker_rows,
            collections=tuple(codes["collection"]),
            forms=tuple(codes["form"]),
            tickers=tickers,
        )

    def mask(self, spec: FilterSpec) -> np.ndarray | None:
        """Rows that pass ``spec`` (``None`` means every row: no mask to apply)."""
        mask: np.ndarray | None = None

        def narrow(keep: np.ndarray) -> None:
            nonlocal mask
            mask = keep if mask is None else mask & keep

        if spec.collection is not None:
            if spec.collection not in self.collections:
                return np.zeros(self.n, dtype=bool)
            if len(self.collections) > 1:
                narrow(self.collection == self.collections.index(spec.collection))
        if spec.tickers:
            narrow(self._ticker_mask(spec.tickers))
        if spec.forms:
            wanted = [i for i, name in enumerate(self.forms) if name in spec.forms]
            narrow(np.isin(self.form, wanted))
        if spec.dated:
            narrow(self.published != NO_DATE)
        if spec.lower is not None:
            narrow(self.published >= spec.lower)
        if spec.upper is not None:
            narrow(self.published <= spec.upper)
        return mask

    def _ticker_mask(self, wanted: Sequence[str]) -> np.ndarray:
        keep = np.zeros(self.n, dtype=bool)
        for ticker in wanted:
            at = self._ticker_at.get(ticker)
            if at is not None:
                keep[self.ticker_rows[self.ticker_ptr[at] : self.ticker_ptr[at + 1]]] = True
        return keep

    def save(self, file: Path) -> None:
        arrays: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("rowids", "collection", "form", "published", "ticker_ptr", "ticker_rows")
        }
        names = {"collections": self.collections, "forms": self.forms, "tickers": self.tickers}
        arrays["names"] = np.frombuffer(json.dumps(names).encode(), dtype=np.uint8)
        with file.open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, file: Path) -> Columns:
        with np.load(file, allow_pickle=False) as data:
            names = json.loads(data["names"].tobytes().decode())
            return cls(
                rowids=data["rowids"],
                collection=data["collection"],
                form=data["form"],
                published=data["published"],
                ticker_ptr=data["ticker_ptr"],
                ticker_rows=data["ticker_rows"],
                collections=tuple(names["collections"]),
                forms=tuple(names["forms"]),
                tickers=tuple(names["tickers"]),
            )
