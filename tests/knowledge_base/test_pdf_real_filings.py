"""The PDF loader on PDF copies of real filings (printed from their HTML by Chromium):
the same Part/Item outline as the HTML loader finds, and the metadata the cover and
signature pages state. The PDFs are made once and cached in the temp folder, never
committed; without Chromium or the shared filings the tests are skipped."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest

from knowledge_base import Document, load_file
from tests.conftest import SHARED_DATA

FILINGS = ("aapl-10-q-2025-08-01", "jwn-8-k", "ko-10-k-2025-02-20")


def _print_to_pdf(chromium: str, html: Path, pdf: Path) -> None:
    partial = pdf.with_suffix(".partial.pdf")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={partial}",
         str(html)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    partial.replace(pdf)  # a run killed half-way leaves no PDF to be taken as whole


def _pdf_copy(name: str) -> tuple[Path, Path]:
    """The shared filing ``name``'s HTML and its PDF copy (printed once, then cached);
    skips the test when Chromium or the shared filings are absent."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium) to print filings")
    filings = SHARED_DATA / "filings"
    if not filings.is_dir():
        pytest.skip(f"{filings} is absent (set TILLER_SHARED_DATA)")
    cache = Path(tempfile.gettempdir()) / "tiller-test-filing-pdfs"
    cache.mkdir(exist_ok=True)
    html, pdf = filings / f"{name}.html", cache / f"{name}.pdf"
    if not pdf.exists():
        _print_to_pdf(chromium, html, pdf)
    return html, pdf


@pytest.fixture(scope="session")
def pdf_copies() -> dict[str, tuple[Document, Document]]:
    """name → (the PDF copy's document, the HTML original's document)."""
    loaded = {}
    for name in FILINGS:
        html, pdf = _pdf_copy(name)
        [from_pdf] = load_file(pdf)
        [from_html] = load_file(html)
        loaded[name] = (from_pdf, from_html)
    return loaded


@pytest.mark.parametrize("name", FILINGS)
def test_pdf_copy_of_a_filing_then_its_outline_is_the_html_originals(
    pdf_copies: dict[str, tuple[Document, Document]], name: str
) -> None:
    from_pdf, from_html = pdf_copies[name]

    assert [s.path for s in from_pdf.sections] == [s.path for s in from_html.sections]


def test_pdf_copy_of_a_10q_then_cover_and_signature_pages_give_its_metadata(
    pdf_copies: dict[str, tuple[Document, Document]],
) -> None:
    from_pdf, _ = pdf_copies["aapl-10-q-2025-08-01"]

    assert (from_pdf.company, from_pdf.tickers, from_pdf.form) == ("Apple Inc.", ("AAPL",), "10-Q")
    assert from_pdf.published_at is not None
    assert from_pdf.published_at.date() == date(2025, 8, 1)
    assert from_pdf.metadata_sources["tickers"] == "cover page"
    assert from_pdf.metadata_sources["published_at"] == "signature page"


def test_pdf_copy_then_the_browsers_print_header_and_footer_are_not_in_the_text(
    pdf_copies: dict[str, tuple[Document, Document]],
) -> None:
    from_pdf, _ = pdf_copies["aapl-10-q-2025-08-01"]

    assert "file:///" not in from_pdf.text and "aapl-10-q-2025-08-01.html" not in from_pdf.text
    assert len(from_pdf.page_starts) > 20


def test_pdf_copy_of_an_8k_without_a_dated_name_then_the_signature_date_is_its_date(
    pdf_copies: dict[str, tuple[Document, Document]],
) -> None:
    from_pdf, from_html = pdf_copies["jwn-8-k"]

    assert from_pdf.published_at is not None
    assert from_pdf.published_at.date() == date(2023, 3, 6)
    assert from_html.published_at == from_pdf.published_at  # both read the signature page
    assert from_html.metadata_sources["published_at"] == "signature page"


def test_pdf_copy_of_a_10q_then_statement_rows_are_the_html_originals(
    pdf_copies: dict[str, tuple[Document, Document]],
) -> None:
    from_pdf, from_html = pdf_copies["aapl-10-q-2025-08-01"]
    rows_html = [line for line in from_html.text.splitlines() if "(in millions) | " in line]
    rows_pdf = set(from_pdf.text.splitlines())

    assert (
        "Payments for acquisition of property, plant and equipment (in millions) | "
        "2025: (9,473) | 2024: (6,539)"
    ) in rows_pdf
    assert (
        "Total net sales (in millions) | three months 2025: 94,036 | three months 2024: "
        "85,777 | nine months 2025: 313,695 | nine months 2024: 296,105"
    ) in rows_pdf
    assert len(rows_html) > 100
    assert sum(row in rows_pdf for row in rows_html) >= 0.9 * len(rows_html)


def _rewritten_rows(document: Document) -> list[str]:
    return [line for line in document.text.splitlines() if re.search(r" \| (?:19|20)\d\d: ", line)]


def test_pdf_copy_of_kos_10k_then_no_statement_row_takes_a_heading_or_another_columns_values(
    pdf_copies: dict[str, tuple[Document, Document]],
) -> None:
    from_pdf, from_html = pdf_copies["ko-10-k-2025-02-20"]
    rows = _rewritten_rows(from_pdf)

    # A "$ —" (none, in a dollar column) is one value: it leaves no "$" in the label.
    held_for_sale = (
        "Cash, cash equivalents and short-term investments (in millions) | 2024: $— | 2023: $37"
    )
    assert held_for_sale in rows
    assert held_for_sale in _rewritten_rows(from_html)
    assert not [row for row in rows if re.search(r"\$\s*(?:\(in \w+\))?\s*\|", row)]
    # Ten columns of pension assets by fair-value level under two year headings: the
    # row is not made to fit the two years (the one with derivative instruments neither).
    assert not [
        row
        for row in rows
        if row.startswith(("Cash and cash equivalents $ 203", "Derivative financial instruments —"))
    ]
    assert "Cash and cash equivalents $ 203 $ 376 $ — $ — $ 579 $ 163 $ 212 $ — $ — $ 375" in (
        from_pdf.text.splitlines()
    )
    # The cash-flow hedges' gain in OCI sits between the row's text columns: the row is
    # not rewritten with it kept in the label and only the reclassified gain named 2024.
    hedge = "Foreign currency contracts $ 457 Net operating revenues $ 84"
    assert hedge in from_pdf.text.splitlines()
    assert not [row for row in rows if row.startswith("Foreign currency contracts $ 457")]
    assert "Foreign currency contracts | $457 | Net operating revenues | $84" in (
        from_html.text.splitlines()
    )
    # A superscript footnote mark is not glued to the HTML's label ("Per Share1").
    per_share = "Basic Net Income Per Share | 2024: $2.47 | 2023: $2.48 | 2022: $2.20"
    assert per_share in rows
    assert per_share in _rewritten_rows(from_html)
    # A panel's heading ("Year Ended December 31, 2023", "December 31, 2024 2023") is no
    # row whose values are years.
    assert not [
        row for row in rows if re.fullmatch(r".*?(?: \| (?:19|20)\d\d: (?:19|20)\d\d)+", row)
    ]


# Each shared 10-Q's quarter as its iXBRL states it (dei:DocumentFiscalPeriodFocus and
# dei:DocumentFiscalYearFocus) and as its text reads, checked by hand: Apple's nine months
# ended June 28, 2025 in the fiscal year after the one ended September 28, 2024; NVIDIA's
# "Second Quarter of Fiscal Year 2026"; the others' six months ended June 30, 2025.
TEN_QS = {
    "aapl-10-q-2025-08-01": "Q3 2025",
    "nflx-10-q-2025-07-18": "Q2 2025",
    "nvda-10-q-2025-08-27": "Q2 2026",
    "tsla-10-q-2025-07-24": "Q2 2025",
    "xom-10-q-2025-08-04": "Q2 2025",
}


@pytest.mark.parametrize("name", sorted(TEN_QS))
def test_pdf_copy_of_a_10q_then_its_text_gives_the_fiscal_quarter_the_ixbrl_states(
    name: str,
) -> None:
    html, pdf = _pdf_copy(name)
    [from_pdf] = load_file(pdf)
    [from_html] = load_file(html)

    assert from_html.fiscal_period == TEN_QS[name]  # iXBRL's facts
    assert from_pdf.fiscal_period == TEN_QS[name]  # the PDF's text
    assert from_pdf.metadata_sources["fiscal_period"] == "document text"
    assert from_pdf.title is not None and from_pdf.title.endswith(f"10-Q {TEN_QS[name]}")
    assert "fiscal_period" not in from_pdf.missing


@pytest.mark.parametrize("name", ["ko-10-k-2025-02-20", "jwn-8-k"])
def test_pdf_copy_of_a_10k_or_8k_then_its_fiscal_period_is_the_html_originals(
    pdf_copies: dict[str, tuple[Document, Document]], name: str
) -> None:
    from_pdf, from_html = pdf_copies[name]

    assert from_pdf.fiscal_period == from_html.fiscal_period
    assert from_pdf.metadata_sources.get("fiscal_period") == (
        "cover page" if from_pdf.fiscal_period else None
    )


def test_pdf_copy_then_a_hyphen_at_a_line_end_stays_a_hyphen(
    pdf_copies: dict[str, tuple[Document, Document]],
) -> None:
    """PDFium joins "forward-" and "looking" on the next line with U+FFFE in place of
    the hyphen; a search for "forward-looking" must find those passages too."""
    from_pdf, _ = pdf_copies["aapl-10-q-2025-08-01"]

    assert "\ufffe" not in from_pdf.text
    assert "forward-looking" in from_pdf.text
    assert "forwardlooking" not in from_pdf.text
