"""Financial statement rows carry their columns' years and the table's scale, so a row
cut away from its headings still says what its numbers are."""

from __future__ import annotations

from knowledge_base._outline import Block
from knowledge_base._statements import annotate_statements


def _pdf(lines: str) -> list[str]:
    blocks = [Block(line, 0) for line in lines.strip().splitlines()]
    return [block.text for block in annotate_statements(blocks, cells=False)]


CASH_FLOWS = """
CONSOLIDATED STATEMENTS OF CASH FLOWS
(In millions)
Years ended
December 31,
2022
December 31,
2021
Cash and cash equivalents, beginning
balances $ 30,737 $ 24,977
Investing activities:
Purchases of property, plant and equipment (1,749) (1,603)
Proceeds from term debt, net — 5,228
See accompanying Notes to Consolidated Financial Statements.
Other (12) (10)
"""


def test_pdf_cash_flow_row_then_label_scale_and_each_year_with_its_value() -> None:
    lines = _pdf(CASH_FLOWS)

    assert (
        "Purchases of property, plant and equipment (in millions) | 2022: (1,749) | 2021: (1,603)"
        in lines
    )
    assert "Proceeds from term debt, net (in millions) | 2022: — | 2021: 5,228" in lines


def test_pdf_row_whose_label_wrapped_then_one_row_with_the_whole_label() -> None:
    lines = _pdf(CASH_FLOWS)

    assert (
        "Cash and cash equivalents, beginning balances (in millions) | 2022: $30,737 | "
        "2021: $24,977"
    ) in lines
    assert "Cash and cash equivalents, beginning" not in lines


def test_rows_after_the_statement_ends_then_left_as_they_were() -> None:
    assert _pdf(CASH_FLOWS)[-1] == "Other (12) (10)"


def test_per_share_rows_then_no_scale() -> None:
    lines = _pdf(
        "(In millions, except per-share amounts)\n2024 2023\nNet income $ 93,736 $ 96,995\n"
        "Earnings per share:\nDiluted $ 6.08 $ 6.13"
    )

    assert lines[2] == "Net income (in millions) | 2024: $93,736 | 2023: $96,995"
    assert lines[4] == "Diluted | 2024: $6.08 | 2023: $6.13"


def test_quarterly_columns_then_named_by_period_and_change_columns_kept() -> None:
    lines = _pdf(
        "(Dollars in thousands)\nThree Months Ended Nine Months Ended\n"
        "June 28, 2025 June 29, 2024 June 28, 2025 June 29, 2024\n"
        "Revenue $ 10 $ 9 $ 30 $ 27"
    )

    assert lines[-1] == (
        "Revenue (in thousands) | three months 2025: $10 | three months 2024: $9 | "
        "nine months 2025: $30 | nine months 2024: $27"
    )


def test_html_cells_with_change_columns_then_each_named() -> None:
    blocks = [
        Block("Net sales by segment (dollars in millions):", 1),
        Block("2024 | Change | 2023", 2, in_table=True),
        Block("Americas | $167,045 | 3% | $162,560", 2, in_table=True),
    ]

    rows = [b.text for b in annotate_statements(blocks, cells=True)]

    assert rows[-1] == "Americas (in millions) | 2024: $167,045 | change: 3% | 2023: $162,560"


def test_row_with_more_numbers_than_columns_then_unchanged() -> None:
    lines = _pdf("(In millions)\n2024 2023\nNote 3 shows 1 2 3")

    assert lines[-1] == "Note 3 shows 1 2 3"


def test_scale_in_prose_without_a_table_then_nothing_changes() -> None:
    text = (
        "Revenue was $5 (in millions) higher.\nThe board met 4 times in 2024 and 2023.\n"
        "Headcount 120 130"
    )

    assert _pdf(text) == text.splitlines()
