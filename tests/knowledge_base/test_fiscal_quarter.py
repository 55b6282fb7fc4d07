"""A 10-Q's fiscal quarter from its own text (issue 14 §1): the cover states only the
quarter's end date, the statements' column headings name the year to date ("Nine Months
Ended" → Q3), the notes or balance sheet name the fiscal year around it. Nothing is
guessed: without a fiscal year the quarter is recorded with its end date only, and text
that contradicts itself gives no period at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fpdf import FPDF

from knowledge_base import load_file
from knowledge_base._cover import fiscal_period_stated, quarterly_fiscal_period
from tests.conftest import SHARED_DATA

COVER = "FORM 10-Q\nQUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d)\n"


def cover(ended: str) -> str:
    return f"{COVER}For the quarterly period ended {ended}\nAcme Widgets, Inc.\n"


def test_nine_months_headings_and_the_annual_reports_year_then_third_quarter_of_next_year() -> None:
    text = (
        "Three Months Ended Nine Months Ended\nJune 28,\n2025\nJune 29,\n2024\n"
        "Net sales 94,036 85,777 313,695 296,105\n"
        "read with the Annual Report on Form 10-K for the fiscal year ended September 28, 2024."
    )

    assert quarterly_fiscal_period(cover("June 28, 2025"), text) == "Q3 2025"


def test_year_ending_in_january_then_the_quarter_belongs_to_the_year_it_ends_in() -> None:
    # NVIDIA: fiscal 2026 ends January 25, 2026; its second quarter ended July 27, 2025.
    text = (
        "Three Months Ended Six Months Ended\nJul 27, 2025 Jul 28, 2024 Jul 27, 2025\n"
        "our Annual Report on Form 10-K for the fiscal year ended January 26, 2025."
    )

    assert quarterly_fiscal_period(cover("July 27, 2025"), text) == "Q2 2026"


def test_balance_sheets_comparative_column_then_it_is_the_preceding_years_end() -> None:
    text = (
        "CONDENSED CONSOLIDATED BALANCE SHEET\n(millions of dollars) June 30, 2025 "
        "December 31, 2024\nCash 14,352 23,029\nThree Months Ended\nJune 30,\n"
        "Six Months Ended\nJune 30,\n2025 2024 2025 2024\n"
    )

    assert quarterly_fiscal_period(cover("June 30, 2025"), text) == "Q2 2025"


def test_only_the_current_years_end_stated_then_it_names_the_year() -> None:
    text = (
        "Three Months Ended | Six Months Ended\nJune 30, 2025 | June 30, 2024\n"
        "ASU 2023-09 is effective for the Company for the fiscal year ending December 31, 2025."
    )

    assert quarterly_fiscal_period(cover("June 30, 2025"), text) == "Q2 2025"


def test_first_quarter_when_headings_name_three_months_only_then_q1() -> None:
    text = (
        "Three Months Ended\nMarch 31, 2025 March 31, 2024\n"
        "Form 10-K for the year ended December 31, 2024"
    )

    assert quarterly_fiscal_period(cover("March 31, 2025"), text) == "Q1 2025"


def test_no_fiscal_year_in_the_text_then_the_quarter_is_recorded_with_its_end_only() -> None:
    text = "Three Months Ended Nine Months Ended\nJune 28, 2025 June 29, 2024\nNet sales 1 2 3 4"

    assert quarterly_fiscal_period(cover("June 28, 2025"), text) == "Q3 (quarter ended 2025-06-28)"


def test_52_week_year_ending_near_new_year_then_the_preceding_end_does_not_name_the_year() -> None:
    # A year that ended December 28, 2024 is followed by one ending around December 27,
    # 2025 or January 3, 2026: which calendar year names it, the text does not say.
    text = (
        "Three Months Ended\nMarch 29, 2025\nForm 10-K for the fiscal year ended December 28, 2024"
    )

    assert quarterly_fiscal_period(cover("March 29, 2025"), text) == "Q1 (quarter ended 2025-03-29)"


def test_headings_and_fiscal_year_disagree_then_no_period_is_stated() -> None:
    # Six months to date, but nine months after the preceding year's end: one is wrong.
    text = (
        "Three Months Ended Six Months Ended\nJune 28, 2025\n"
        "Form 10-K for the fiscal year ended September 28, 2024"
    )

    assert quarterly_fiscal_period(cover("June 28, 2025"), text) is None


def test_balance_sheet_against_the_previous_quarter_then_the_years_end_still_names_it() -> None:
    # A balance sheet as of June 30, 2025 and March 31, 2025 is three months after a
    # quarter's end, not a year's: the annual report's year end agrees with the headings.
    text = (
        "Three Months Ended Six Months Ended\nJune 30, 2025\n"
        "The segment's balance sheet as of June 30, 2025 and March 31, 2025 shows ...\n"
        "Form 10-K for the year ended December 31, 2024"
    )

    assert quarterly_fiscal_period(cover("June 30, 2025"), text) == "Q2 2025"


def test_two_fiscal_years_named_for_the_quarter_then_only_its_end_is_kept() -> None:
    text = (
        "Three Months Ended Six Months Ended\nJune 30, 2025\n"
        "Form 10-K for the year ended December 31, 2024\n"
        "effective for the fiscal year ending December 31, 2026 (sic)"
    )
    # December 31, 2026 is 18 months on: no quarter of it. A second year is named only
    # by a date that fits the quarter as well:
    assert quarterly_fiscal_period(cover("June 30, 2025"), text) == "Q2 2025"
    text += "\nthe fiscal year ending January 3, 2026"

    assert quarterly_fiscal_period(cover("June 30, 2025"), text) == "Q2 (quarter ended 2025-06-30)"


@pytest.mark.parametrize(
    "line",
    [
        "For the quarter ended June 30, 2025",
        "FOR THE QUARTERLY PERIOD ENDED JUNE 30, 2025",
        "For the quarterly period ended | June 30, 2025",
    ],
)
def test_cover_wordings_of_the_quarters_end_then_read(line: str) -> None:
    text = "Three Months Ended Six Months Ended\nForm 10-K for fiscal year ended December 31, 2024"

    assert quarterly_fiscal_period(f"{COVER}{line}\n", text) == "Q2 2025"


def test_prose_mentioning_nine_months_then_it_is_not_a_column_heading() -> None:
    text = (
        "Three Months Ended\nMarch 31, 2025\n"
        "The backlog is expected to be delivered over the next nine months ended by year end.\n"
        "Form 10-K for the year ended December 31, 2024"
    )

    assert quarterly_fiscal_period(cover("March 31, 2025"), text) == "Q1 2025"


def test_older_annual_report_and_a_future_standard_then_neither_is_taken_for_this_year() -> None:
    text = (
        "Three Months Ended Six Months Ended\nJune 30, 2025\n"
        "as described in the Form 10-K for the year ended December 31, 2023;\n"
        "the standard applies to the fiscal year ending December 31, 2027.\n"
        "Form 10-K for the year ended December 31, 2024"
    )

    assert quarterly_fiscal_period(cover("June 30, 2025"), text) == "Q2 2025"


def test_cover_without_a_quarterly_period_then_none() -> None:
    assert quarterly_fiscal_period(COVER, "Three Months Ended\nMarch 31, 2025") is None


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("10-K", ("FY2024", "cover page")),
        ("10-Q", ("Q1 2025", "document text")),
        ("8-K", (None, None)),
        (None, (None, None)),
    ],
)
def test_fiscal_period_stated_by_form_then_its_source(
    form: str | None, expected: tuple[str | None, str | None]
) -> None:
    head = (
        "For the fiscal year ended December 31, 2024\n"
        "For the quarterly period ended March 31, 2025\n"
    )
    text = "Three Months Ended\nMarch 31, 2025\nForm 10-K for the year ended December 31, 2024"

    assert fiscal_period_stated(form, head, text) == expected


PLAIN_10Q = """<html><body>
<p>FORM 10-Q</p>
<p>For the quarterly period ended June 30, 2025</p>
<p>Acme Widgets, Inc.</p><p>(Exact name of registrant as specified in its charter)</p>
<p>PART I</p><p>Item 1. Financial Statements</p>
<table>
<tr><td></td><td>Three Months Ended</td><td>Six Months Ended</td></tr>
<tr><td></td><td>June 30, 2025</td><td>June 30, 2024</td>
<td>June 30, 2025</td><td>June 30, 2024</td></tr>
<tr><td>Revenue</td><td>10</td><td>9</td><td>20</td><td>18</td></tr>
</table>
<p>Read with our Annual Report on Form 10-K for the year ended December 31, 2024.</p>
</body></html>"""


def test_plain_html_10q_without_ixbrl_then_its_quarter_is_read_from_its_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "acme-10-q-2025-08-01.html"
    path.write_text(PLAIN_10Q, encoding="utf-8")

    [document] = load_file(path)

    assert document.fiscal_period == "Q2 2025"
    assert document.metadata_sources["fiscal_period"] == "document text"
    assert document.title == "Acme Widgets, Inc. 10-Q Q2 2025"
    assert "fiscal_period" not in document.missing


# The shared 10-Qs, each as its iXBRL states it (dei:DocumentFiscalPeriodFocus and
# dei:DocumentFiscalYearFocus), and checked by hand against its own text.
TEN_QS = {
    "aapl-10-q-2025-08-01": "Q3 2025",  # nine months ended June 28, 2025; FY ends September
    "nflx-10-q-2025-07-18": "Q2 2025",
    "nvda-10-q-2025-08-27": "Q2 2026",  # "Second Quarter of Fiscal Year 2026 Summary"
    "tsla-10-q-2025-07-24": "Q2 2025",
    "xom-10-q-2025-08-04": "Q2 2025",
}


@pytest.mark.parametrize("name", sorted(TEN_QS))
def test_real_10q_with_its_ixbrl_period_facts_removed_then_its_text_gives_the_same_quarter(
    tmp_path: Path, name: str
) -> None:
    original = SHARED_DATA / "filings" / f"{name}.html"
    if not original.exists():
        pytest.skip(f"{original} is absent (set TILLER_SHARED_DATA)")
    [with_facts] = load_file(original)
    data = original.read_bytes()
    without = re.sub(rb"dei:DocumentFiscal(Year|Period)Focus", rb"x:Gone\1", data)
    assert without != data
    copy = tmp_path / original.name  # the test's temp folder, never the repository
    copy.write_bytes(without)

    [from_text] = load_file(copy)

    assert with_facts.fiscal_period == TEN_QS[name]
    assert with_facts.metadata_sources["fiscal_period"] == "document"
    assert from_text.fiscal_period == TEN_QS[name]
    assert from_text.metadata_sources["fiscal_period"] == "document text"


def test_pdf_10q_then_its_quarter_is_read_from_its_pages(tmp_path: Path) -> None:
    pages = [
        [
            "UNITED STATES SECURITIES AND EXCHANGE COMMISSION",
            "FORM 10-Q",
            "For the quarterly period ended June 28, 2025",
            "Acme Widgets, Inc.",
            "(Exact name of registrant as specified in its charter)",
        ],
        [
            "PART I",
            "Item 1. Financial Statements",
            "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (In millions)",
            "Three Months Ended Nine Months Ended",
            "June 28, 2025 June 29, 2024 June 28, 2025 June 29, 2024",
            "Net sales $ 94 $ 85 $ 313 $ 296",
            "Read with the Annual Report on Form 10-K for the fiscal year ended "
            "September 28, 2024.",
        ],
    ]
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "acme-10-q-2025-08-01.pdf"
    pdf.output(str(path))

    [document] = load_file(path)

    assert document.fiscal_period == "Q3 2025"
    assert document.metadata_sources["fiscal_period"] == "document text"
    assert document.title == "Acme Widgets, Inc. 10-Q Q3 2025"
