"""The keyword search reads an analyst's question with the filings' words: a fiscal-year
token as its year, "capex" and "operating cash flow" as the statements say them, units as
the filings write them; a whole-store search favours the companies a question names and
the part of a filing it asks about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from rag_index._query import (
    QueryWords,
    company_names,
    expand_query,
    in_sections,
    named_tickers,
    query_sections,
)
from rag_index.retriever import Retriever
from rag_index.stores import LocalStore
from rag_index.types import Chunk, DocumentRecord, Filters
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


def test_expand_query_then_fiscal_dates_leave_only_their_year() -> None:
    keywords = expand_query("Apple cash from operations in the year ended September 28, 2024")
    assert keywords.startswith("Apple cash from operations in 2024")
    for word in ("year", "ended", "September", "28"):
        assert word not in keywords.split()
    assert expand_query("KO net income in fiscal year 2023") == "KO net income in 2023"
    assert expand_query("KO net income in fiscal 2023") == "KO net income in 2023"
    kept = expand_query("KO net income in fiscal 2023", QueryWords(fiscal_dates=False))
    assert kept == "KO net income in fiscal 2023"


def test_expand_query_then_units_as_the_filings_write_them() -> None:
    assert expand_query("Tesla capex in billions").endswith(" billion")
    assert expand_query("Revenue in $ mn").endswith(" million")
    assert expand_query("Tesla capex in billions", QueryWords(units=False)).endswith("equipment")


def test_expand_query_then_a_quarter_reads_as_three_months_only_when_asked() -> None:
    assert expand_query("Tesla Q2 2025 margin", QueryWords(periods=True)).endswith("three months")
    assert expand_query("Tesla Q2 2025 margin") == "Tesla Q2 2025 margin"


STORE_COMPANIES = [
    ("COCA COLA CO", ("KO",)),
    ("Meta Platforms, Inc.", ("META",)),
    ("AMAZON.COM, INC.", ("AMZN",)),
    ("INTERNATIONAL BUSINESS MACHINES CORPORATION", ("IBM",)),
    ("Alphabet Inc.", ("GOOGL", "GOOG")),
    (None, ("XOM",)),
    ("Berkshire Hathaway Inc.", ("BRK.B",)),
    ("Ford Motor Co", ("F",)),
]


def test_named_tickers_then_names_and_tickers_of_the_stores_documents() -> None:
    assert named_tickers("Coca-Cola's capital expenditures", STORE_COMPANIES) == ("KO",)
    assert named_tickers("KO net income", STORE_COMPANIES) == ("KO",)
    assert named_tickers("How much did Amazon's AWS grow?", STORE_COMPANIES) == ("AMZN",)
    assert named_tickers("Meta ad impressions", STORE_COMPANIES) == ("META",)
    assert named_tickers("International Business Machines' pension", STORE_COMPANIES) == ("IBM",)
    assert named_tickers("GOOGL capex", STORE_COMPANIES) == ("GOOG", "GOOGL")
    assert named_tickers("XOM upstream earnings", STORE_COMPANIES) == ("XOM",)
    assert named_tickers("BRK.B float", STORE_COMPANIES) == ("BRK.B",)
    assert named_tickers("Ford Motor pickups", STORE_COMPANIES) == ("F",)
    assert named_tickers("Apple's iOS changes and Meta", STORE_COMPANIES) == ("META",)


def test_named_tickers_then_common_words_and_absent_companies_name_nothing() -> None:
    # "ko" and "meta" in lower case are words, not names; Apple is not in this store; a
    # one-letter ticker (F) and a ticker inside a longer word or symbol are not read.
    for query in (
        "a ko punch",
        "the meta data of the filing",
        "Apple capex",
        "International sales",
        "F-150 sales",
        "BRK float",
        "XOMA revenue",
    ):
        assert named_tickers(query, STORE_COMPANIES) == ()


def test_company_names_then_legal_words_dropped_and_initials_of_long_names() -> None:
    assert company_names("WELLS FARGO & COMPANY") == [("wells", "fargo")]
    assert company_names("AMAZON.COM, INC.") == [("amazon",)]
    assert company_names("International Business Machines Corp") == [
        ("international", "business", "machines"),
        ("ibm",),
    ]
    assert company_names("The Company, Inc.") == []


def test_query_sections_then_risk_and_management_questions_pick_their_items() -> None:
    risk = query_sections("What risks does Tesla describe about lithium?")
    assert in_sections(("Part I", "Item 1A. Risk Factors"), risk)
    assert not in_sections(("Part II", "Item 8. Financial Statements"), risk)
    said = query_sections("What did management say about fulfillment costs?")
    assert in_sections(("Part II", "Item 7. Management’s Discussion and Analysis"), said)
    assert query_sections("KO net income in 2023") == ()


def _store_with(tmp_path: Path, documents: list[tuple[DocumentRecord, list[Chunk]]]) -> LocalStore:
    embedder = OneVector()
    store = LocalStore(tmp_path / "kb", embedder.dim)
    for record, chunks in documents:
        store.upsert_document(record, chunks, embedder.embed([c.text for c in chunks]))
    return store


def _company(doc_id: str, company: str, ticker: str, texts: list[str]):  # type: ignore[no-untyped-def]
    record, chunks = document(doc_id, texts, tickers=(ticker,))
    return replace(record, company=company, title=company), chunks


def test_whole_store_search_naming_a_company_then_its_passage_ranks_first(tmp_path: Path) -> None:
    # The other company's passage matches more of the question's words; the question
    # names Northwind, so Northwind's passage should come first once the boost is on.
    northwind = _company("n", "Northwind Traders, Inc.", "NWT", ["Capital spending rose."])
    contoso = _company(
        "c", "Contoso Ltd", "CTSO", ["Capital expenditures rose: capital spending capital."]
    )
    embedder = OneVector()
    with _store_with(tmp_path, [contoso, northwind]) as store:
        question = "Northwind Traders capital spending"
        off = Retriever(store, embedder, company_weight=0.0).search(question, 2)  # type: ignore[arg-type]
        on = Retriever(store, embedder).search(question, 2)  # type: ignore[arg-type]
        filtered = Retriever(store, embedder).search(  # type: ignore[arg-type]
            question, 2, Filters(tickers=("CTSO",))
        )

    assert off[0].chunk.tickers == ("CTSO",)
    assert on[0].chunk.tickers == ("NWT",)
    assert [hit.chunk.tickers for hit in filtered] == [("CTSO",)]


def test_risk_question_then_the_risk_factors_passage_is_preferred(tmp_path: Path) -> None:
    record, chunks = document("d", ["Supplier risks: lithium prices.", "Lithium prices rose."])
    chunks = [
        replace(chunks[0], section=("Part II", "Item 7. Management's Discussion and Analysis")),
        replace(chunks[1], section=("Part I", "Item 1A. Risk Factors")),
    ]
    # Without the boost the MD&A passage leads: it holds one more of the question's words.
    embedder = OneVector()
    with _store_with(tmp_path, [(record, chunks)]) as store:
        question = "What risks do lithium prices pose?"
        off = Retriever(store, embedder).search(question, 2)  # type: ignore[arg-type]
        on = Retriever(store, embedder, section_weight=0.25).search(question, 2)  # type: ignore[arg-type]

    assert off[0].chunk.section[-1].startswith("Item 7")
    assert on[0].chunk.section[-1] == "Item 1A. Risk Factors"
