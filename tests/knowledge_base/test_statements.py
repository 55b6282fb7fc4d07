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


def test_dollar_dash_value_then_it_is_one_value_and_leaves_no_dollar_sign_in_the_label() -> None:
    # KO's held-for-sale table: the first row's first column is "$ —" (none).
    lines = _pdf(
        "balance sheets (in millions):\nDecember 31, 2024 2023\n"
        "Cash, cash equivalents and short-term investments $ — $ 37\n"
        "Marketable securities — 8"
    )

    assert lines[2] == (
        "Cash, cash equivalents and short-term investments (in millions) | 2024: $— | 2023: $37"
    )
    assert lines[3] == "Marketable securities (in millions) | 2024: — | 2023: 8"


def test_html_dollar_dash_cell_then_the_row_is_rewritten_like_the_others() -> None:
    blocks = [
        Block("assets held for sale (in millions):", 1),
        Block("December 31, | 2024 | 2023", 2, in_table=True),
        Block("Cash, cash equivalents and short-term investments | $— | $37", 2, in_table=True),
    ]

    rows = [b.text for b in annotate_statements(blocks, cells=True)]

    assert rows[-1] == (
        "Cash, cash equivalents and short-term investments (in millions) | 2024: $— | 2023: $37"
    )


def test_wide_row_with_dollar_dashes_under_two_year_headings_then_unchanged() -> None:
    # KO's pension assets by fair-value level: ten columns under "December 31, 2024 |
    # December 31, 2023". A "$ —" that ended the row's parsing left two values, which
    # matched the two years: eight numbers were kept in the label and the last two were
    # given years they do not belong to.
    row = "Cash and cash equivalents $ 203 $ 376 $ — $ — $ 579 $ 163 $ 212 $ — $ — $ 375"
    lines = _pdf(
        "pension plan assets (in millions):\nDecember 31, 2024 December 31, 2023\n"
        "Level 1 Level 2 Level 3 Other Total Level 1 Level 2 Level 3 Other Total\n" + row
    )

    assert lines[-1] == row


def test_second_panels_year_heading_then_it_starts_the_panel_and_is_no_row() -> None:
    # KO's revenue by line of business: one panel per year, each under "Year Ended
    # December 31, <year>". The second panel's heading was read as a row whose value is
    # its year ("Year Ended December 31, (in millions) | 2024: 2023").
    lines = _pdf(
        "line of business (in millions):\nYear Ended December 31, 2024\nTotal $ 47,061\n"
        "Year Ended December 31, 2023\nTotal $ 45,754"
    )

    assert lines[2:] == [
        "Total (in millions) | 2024: $47,061",
        "Year Ended December 31, 2023",
        "Total (in millions) | 2023: $45,754",
    ]


def test_line_ending_in_years_then_no_row_of_amounts() -> None:
    # Amounts above 999 carry a thousands comma; a bare year ends a date or prose.
    lines = _pdf(
        "(In millions)\nDecember 31, 2024\nCash $ 1,204\n"
        "Common stock, 427,757,100 issued and outstanding at December 31, 2024\n"
        "Tax years within the periods 2004 to 2014 and 2019 to 2023"
    )

    assert lines[2:] == [
        "Cash (in millions) | 2024: $1,204",
        "Common stock, 427,757,100 issued and outstanding at December 31, 2024",
        "Tax years within the periods 2004 to 2014 and 2019 to 2023",
    ]


HEDGES = """
The following table presents the pretax impact of cash flow hedges (in millions):
Gain (Loss) Recognized in OCI Financial Statement Line Item Impacted Gain (Loss) Reclassified
2024
Foreign currency contracts $ 457 Net operating revenues $ 84
Interest rate contracts (54) Interest expense (2)
Average Shares Outstanding — Basic 4,309
"""


def test_pdf_row_with_a_number_between_its_text_columns_then_left_as_it_was() -> None:
    # KO's cash-flow hedges: the gain in OCI, the line item, the gain reclassified. The
    # heading's year names only the last number; rewriting the row kept $457 in its label.
    lines = _pdf(HEDGES)

    assert lines[3:5] == [
        "Foreign currency contracts $ 457 Net operating revenues $ 84",
        "Interest rate contracts (54) Interest expense (2)",
    ]
    assert lines[5] == "Average Shares Outstanding — Basic | 2024: 4,309"


def test_html_row_with_a_value_cell_between_text_cells_then_left_as_it_was() -> None:
    blocks = [
        Block("cash flow hedges (in millions):", 1),
        Block("2024", 2, in_table=True),
        Block("Foreign currency contracts | $457 | Net operating revenues | $84", 2, in_table=True),
        Block("Total | $50", 2, in_table=True),
    ]

    rows = [b.text for b in annotate_statements(blocks, cells=True)]

    assert rows[2] == "Foreign currency contracts | $457 | Net operating revenues | $84"
    assert rows[3] == "Total (in millions) | 2024: $50"


def test_pdf_label_wrapped_after_a_word_no_label_ends_with_then_one_row() -> None:
    lines = _pdf(
        "(In millions)\n2024 2023 2022\n"
        "Total Comprehensive Income Attributable to Shareowners of\n"
        "The Coca-Cola Company $ 8,063 $ 11,334 $ 8,977\n"
        "Amortization of prior service cost\n(credit) 1 1 —"
    )

    assert lines[2:] == [
        "Total Comprehensive Income Attributable to Shareowners of The Coca-Cola Company "
        "(in millions) | 2024: $8,063 | 2023: $11,334 | 2022: $8,977",
        "Amortization of prior service cost (credit) (in millions) | 2024: 1 | 2023: 1 | 2022: —",
    ]


def test_pdf_row_after_a_line_with_its_own_amounts_then_not_joined_to_it() -> None:
    lines = _pdf("(In millions)\n2024 2023\nDeferred taxes 1,257 5 7\n(gain) on sale 3 4")

    assert lines[-1] == "(gain) on sale (in millions) | 2024: 3 | 2023: 4"


def test_stock_amount_row_mentioning_shares_in_parentheses_then_scaled() -> None:
    lines = _pdf(
        "(in thousands, except share data)\nJune 30, 2025 December 31, 2024\n"
        "Treasury stock at cost (31,228,532 and 25,953,460 shares) (18,392,942) (13,171,638)\n"
        "Weighted-average shares outstanding 424,926 427,757"
    )

    assert lines[2] == (
        "Treasury stock at cost (31,228,532 and 25,953,460 shares) (in thousands) | "
        "2025: (18,392,942) | 2024: (13,171,638)"
    )
    assert lines[3] == "Weighted-average shares outstanding | 2025: 424,926 | 2024: 427,757"
