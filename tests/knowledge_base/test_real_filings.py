"""The loaders on the real SEC filings in ../shared/data/filings (skipped when absent)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest

from knowledge_base import Document, load_file

pytestmark = pytest.mark.shared_data

XBRL_NOISE = re.compile(r"\b(?:us-gaap|dei|xbrli|iso4217|srt|ix):[A-Za-z]|contextRef|unitRef")


@cache
def _load(path: Path) -> Document:
    [document] = load_file(path)
    return document


@pytest.fixture
def filings(shared_data: Path) -> Path:
    path = shared_data / "filings"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def load(filings: Path, name: str) -> Document:
    path = filings / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return _load(path)


def item(document: Document, prefix: str) -> str:
    """The text of the section whose last heading starts with ``prefix``."""
    [section] = [s for s in document.sections if s.path and s.path[-1].startswith(prefix)]
    return document.section_text(section)


def test_load_when_apple_10k_then_metadata_from_its_facts_and_file_name(filings: Path) -> None:
    document = load(filings, "aapl-10-k-2024-11-01.html")

    assert document.kind == "filing"
    assert document.company == "Apple Inc."
    assert document.form == "10-K"
    assert document.fiscal_period == "FY2024"
    assert document.tickers == ("AAPL",)
    assert document.published_at == datetime(2024, 11, 1, 21, 30, tzinfo=UTC)  # 17:30 EDT
    assert document.title == "Apple Inc. 10-K FY2024"
    assert document.missing == ()


def test_load_when_apple_10k_then_risk_factors_section_mentions_suppliers(
    filings: Path,
) -> None:
    document = load(filings, "aapl-10-k-2024-11-01.html")

    [risk] = [s for s in document.sections if s.path == ("Part I", "Item 1A. Risk Factors")]
    text = document.section_text(risk)
    assert text.startswith("Item 1A. Risk Factors")
    assert len(text) > 20_000  # the body, not the table-of-contents line
    assert re.search(r"\bsuppl(?:y|iers?)\b", text)


def test_load_when_apple_10k_then_all_items_in_order_and_tables_readable(filings: Path) -> None:
    document = load(filings, "aapl-10-k-2024-11-01.html")

    items = [s.path[-1].split(".")[0] for s in document.sections if len(s.path) == 2]
    part_one_two = ["1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A", "8", "9", "9A"]
    expected = [*part_one_two, "9B", "9C", *(str(n) for n in range(10, 17))]
    assert items == [f"Item {n}" for n in expected]
    assert (
        "Total net sales (in millions) | 2024: $391,035 | change: 2% | 2023: $383,285 | "
        "change: (3)% | 2022: $394,328"
    ) in item(document, "Item 7.")
    # A statement row carries its fiscal years and scale: "FY2022 capital expenditure"
    # can find it wherever the passage boundaries fall.
    assert (
        "Payments for acquisition of property, plant and equipment (in millions) | "
        "2024: (9,447) | 2023: (10,959) | 2022: (10,708)"
    ) in item(document, "Item 8.")


@pytest.mark.parametrize(
    ("name", "company", "form", "period", "tickers"),
    [
        ("aapl-10-q-2025-08-01.html", "Apple Inc.", "10-Q", "Q3 2025", ("AAPL",)),
        ("googl-10-k-2025-02-05.html", "Alphabet Inc.", "10-K", "FY2024", ("GOOGL", "GOOG")),
        ("ko-10-k-2025-02-20.html", "COCA COLA CO", "10-K", "FY2024", ("KO",)),
        ("nvda-10-q-2025-08-27.html", "NVIDIA CORP", "10-Q", "Q2 2026", ("NVDA",)),
        ("orcl-8-k-oracle.html", "ORACLE CORP", "8-K", None, ("ORCL",)),
    ],
)
def test_load_when_real_filing_then_metadata_matches_its_cover(
    filings: Path,
    name: str,
    company: str,
    form: str,
    period: str | None,
    tickers: tuple[str, ...],
) -> None:
    document = load(filings, name)

    assert (document.company, document.form, document.fiscal_period, document.tickers) == (
        company,
        form,
        period,
        tickers,
    )


def test_load_when_8k_without_date_in_name_then_published_at_is_its_signature_date(
    filings: Path,
) -> None:
    document = load(filings, "orcl-8-k-oracle.html")

    # "Dated: November 18, 2024" on the signature page (the event, November 14, is not it).
    assert document.published_at is not None
    assert document.published_at.date() == date(2024, 11, 18)
    assert document.metadata_sources["published_at"] == "signature page"
    assert [s.path for s in document.sections][1:] == [
        ("Item 5.07 Submission of Matters to a Vote of Security Holders",)
    ]


def test_load_when_10q_then_items_are_under_both_parts(filings: Path) -> None:
    document = load(filings, "aapl-10-q-2025-08-01.html")

    paths = [s.path for s in document.sections]
    assert (
        "Part I",
        "Item 2. Management’s Discussion and Analysis of Financial Condition and "
        "Results of Operations",
    ) in paths
    assert ("Part II", "Item 1A. Risk Factors") in paths


def test_load_when_exhibit_press_release_then_one_section_and_stated_release_date(
    filings: Path,
) -> None:
    document = load(filings, "bke-8-k-ex99-1.html")

    assert document.form == "EX-99.1"
    assert document.tickers == ("BKE",)
    assert document.published_at == datetime(2024, 11, 22, 22, 30, tzinfo=UTC)  # 17:30 EST
    assert [s.path for s in document.sections] == [()]
    assert "net income for the fiscal quarter" in document.text


def test_load_when_apple_10k_markdown_then_item_sections_and_file_name_metadata(
    filings: Path,
) -> None:
    document = load(filings, "aapl-10-k-2024-11-01.md")

    assert document.company == "Apple Inc."
    assert document.form == "10-K"
    assert document.published_at == datetime(2024, 11, 1, 21, 30, tzinfo=UTC)  # 17:30 EDT
    assert "suppliers" in item(document, "Item 1A.")
    assert ("Part II", "Item 7A. Quantitative and Qualitative Disclosures About Market Risk") in [
        s.path for s in document.sections
    ]


def test_load_when_every_real_filing_then_it_loads_cleanly(filings: Path) -> None:
    paths = sorted(p for p in filings.iterdir() if p.suffix in (".html", ".md"))
    assert paths

    for path in paths:
        document = _load(path)  # load_file raises DataError for a bad file
        name = path.name
        assert document.kind == "filing", name
        assert document.title and document.form and document.tickers, name
        assert XBRL_NOISE.search(document.text) is None, name
        assert "".join(document.section_text(s) for s in document.sections) == document.text
        if document.form in ("10-K", "10-Q", "8-K"):
            assert any(s.path and s.path[-1].startswith("Item") for s in document.sections), name
