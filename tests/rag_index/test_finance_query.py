"""The keyword search reads an analyst's question with the filings' words: a fiscal-year
token as its year, "capex" and "operating cash flow" as the statements say them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag_index._query import expand_query
from rag_index.retriever import Retriever
from rag_index.stores import LocalStore
from tests.rag_index.store_builders import document

CAPEX_ROW = (
    "Payments for acquisition of property, plant and equipment (in millions) | "
    "2024: (9,447) | 2023: (10,959) | 2022: (10,708)"
)


class OneVector:
    """Every text the same vector: only the keyword leg ranks."""

    name = "one"
    dim = 4

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def test_expand_query_then_years_and_statement_words_added_and_the_question_kept() -> None:
    assert expand_query("NVDA FY23 capex") == (
        "NVDA FY23 capex 2023 purchases payments property plant equipment"
    )
    assert expand_query("Operating cash flow in fiscal 2025").endswith(
        "cash provided generated operating activities"
    )
    assert expand_query("Who is the chief executive?") == "Who is the chief executive?"


def test_lexical_search_for_fy2022_capex_then_the_cash_flow_row_ranks_first(
    tmp_path: Path,
) -> None:
    texts = [
        "We expect capital expenditure to stay high as we build data centers.",
        "Net sales rose in every region; services grew fastest.",
        CAPEX_ROW,
        "Capital markets remained volatile during fiscal 2022.",
    ]
    record, chunks = document("d1", texts)
    embedder = OneVector()
    with LocalStore(tmp_path / "kb", embedder.dim) as store:
        store.upsert_document(record, chunks, embedder.embed(texts))
        hits = Retriever(store, embedder).search("FY2022 capex", 3, mode="lexical")  # type: ignore[arg-type]

    assert hits[0].chunk.text == CAPEX_ROW
