"""PDFs cited by page, without running headers, with metadata read from their own pages
(cover page, signature page, dateline) or supplied by the user. PDFs written with fpdf2."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fpdf import FPDF

from knowledge_base import SuppliedMetaWarning, load_file, supplied_meta, with_supplied
from rag_index.answer import cite_text
from rag_index.chunking import chunk_document

COVER = [
    "UNITED STATES SECURITIES AND EXCHANGE COMMISSION",
    "FORM 10-K",
    "For the fiscal year ended September 28, 2024",
    "Acme Widgets, Inc.",
    "(Exact name of registrant as specified in its charter)",
    "Securities registered pursuant to Section 12(b) of the Act:",
    "Title of each class Trading symbol(s) Name of each exchange on which registered",
    "Common Stock, $0.01 par value per share ACME The Nasdaq Stock Market LLC",
    "1.500% Notes due 2030 ACME30 The Nasdaq Stock Market LLC",
    "Securities registered pursuant to Section 12(g) of the Act: None",
]
SIGNATURES = ["SIGNATURES", "Pursuant to the requirements ...", "Date: November 1, 2024"]


def write_pdf(path: Path, pages: list[list[str]], header: str | None = None) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        page = ([header.format(n=number)] if header else []) + lines
        for line in page:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def body_page(topic: str) -> list[str]:
    return [f"The {topic} business grew in every region this year." for _ in range(3)]


def test_pdf_passages_then_each_carries_its_pages_and_citation_shows_the_page(
    tmp_path: Path,
) -> None:
    pages = [COVER, ["PART I", "Item 1. Business", *body_page("widget")], body_page("gadget")]
    [document] = load_file(write_pdf(tmp_path / "report.pdf", pages))

    chunks = chunk_document(document)

    [item] = [c for c in chunks if c.section == ("Part I", "Item 1. Business")]
    assert document.text[item.start : item.end] == item.text
    assert item.pages == (2, 3)
    assert "pp. 2–3" in cite_text(item)
    gadget = item.start + item.text.index("gadget")
    widget = item.start + item.text.index("widget")
    assert item.pages_at(widget, widget + 6) == (2,)
    assert item.pages_at(gadget, gadget + 6) == (3,)
    assert "p. 3 " in cite_text(item, item.pages_at(gadget, gadget + 6))


def test_pdf_running_header_on_every_page_then_it_is_not_in_the_text(tmp_path: Path) -> None:
    pages = [body_page("widget"), body_page("gadget"), body_page("gizmo")]
    path = write_pdf(
        tmp_path / "report.pdf", pages, header="Acme Widgets, Inc. | 2024 Form 10-K | {n}"
    )

    [document] = load_file(path)

    assert "2024 Form 10-K" not in document.text
    assert "The gizmo business grew" in document.text
    assert document.pages_of(0, len(document.text)) == (1, 2, 3)


def test_pdf_cover_page_then_company_symbol_form_and_fiscal_year_come_from_it(
    tmp_path: Path,
) -> None:
    path = write_pdf(tmp_path / "annual.pdf", [COVER, body_page("widget"), SIGNATURES])

    [document] = load_file(path)

    assert (document.company, document.tickers) == ("Acme Widgets, Inc.", ("ACME",))
    assert (document.form, document.fiscal_period) == ("10-K", "FY2024")
    assert document.published_at == datetime(2024, 11, 1, 21, 30, tzinfo=UTC)  # 17:30 NY
    assert document.metadata_sources == {
        "title": "cover page",
        "tickers": "cover page",
        "company": "cover page",
        "form": "cover page",
        "fiscal_period": "cover page",
        "published_at": "signature page",
    }
    assert document.missing == ()


def test_pdf_signed_before_the_file_names_filing_date_then_the_later_filing_date_is_kept(
    tmp_path: Path,
) -> None:
    path = write_pdf(tmp_path / "acme-10-k-2024-11-04.pdf", [COVER, SIGNATURES])

    [document] = load_file(path)

    # Signed on 1 November, on EDGAR on the 4th: it was not public before the 4th.
    assert document.published_at == datetime(2024, 11, 4, 22, 30, tzinfo=UTC)
    assert document.metadata_sources["published_at"] == "filename"
    assert document.metadata_sources["tickers"] == "cover page"


def test_pdf_earnings_release_then_its_dateline_is_its_date(tmp_path: Path) -> None:
    release = [
        "Acme Reports Fourth Quarter Results",
        "SPRINGFIELD, Ill. -- October 30, 2024 -- Acme Widgets, Inc. today announced sales.",
    ]
    [document] = load_file(write_pdf(tmp_path / "release.pdf", [release]))

    assert document.published_at == datetime(2024, 10, 30, 21, 30, tzinfo=UTC)
    assert document.metadata_sources["published_at"] == "document"


def test_pdf_without_ticker_or_date_when_user_supplies_them_then_recorded_as_users(
    tmp_path: Path,
) -> None:
    [document] = load_file(write_pdf(tmp_path / "notes.pdf", [body_page("widget")]))
    supplied = supplied_meta(["acme"], "10-k", "2024-11-01")
    assert supplied is not None

    given = with_supplied(document, supplied)

    assert (given.tickers, given.form) == (("ACME",), "10-K")
    assert given.published_at == datetime(2024, 11, 1, 21, 30, tzinfo=UTC)
    assert {given.metadata_sources[f] for f in ("tickers", "form", "published_at")} == {"user"}
    assert "published_at" not in given.missing


def test_pdf_cover_page_states_the_symbol_when_user_gives_another_then_the_cover_wins(
    tmp_path: Path,
) -> None:
    [document] = load_file(write_pdf(tmp_path / "annual.pdf", [COVER, SIGNATURES]))
    supplied = supplied_meta(["WRONG"], None, None)
    assert supplied is not None

    with pytest.warns(SuppliedMetaWarning, match="--ticker WRONG was not used"):
        assert with_supplied(document, supplied).tickers == ("ACME",)


def test_supplied_date_in_the_future_then_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="in the future"):
        supplied_meta([], None, "2099-01-01")


def test_pdf_cover_when_a_symbol_row_wraps_before_its_exchange_then_the_equity_symbol_is_read(
    tmp_path: Path,
) -> None:
    cover = [
        "FORM 10-K",
        "Acme Bank & Company",
        "(Exact name of registrant as specified in its charter)",
        "Securities registered pursuant to Section 12(b) of the Act:",
        "Common Stock, par value $1-2/3 ACMB",
        "New York Stock",
        "Exchange",
        "7.5% Non-Cumulative Perpetual Preferred Stock, Series L ACMB.PRL NYSE",
        "Indicate by check mark whether the registrant is a well-known seasoned issuer.",
    ]

    [document] = load_file(write_pdf(tmp_path / "bank.pdf", [cover]))

    assert document.tickers == ("ACMB",)
    assert document.metadata_sources["tickers"] == "cover page"


def test_pdf_ingested_then_its_record_has_the_section_outline_with_pages(tmp_path: Path) -> None:
    from rag_index.ingest import document_record

    pages = [COVER, ["PART I", "Item 1. Business", *body_page("widget")], body_page("gadget")]
    [document] = load_file(write_pdf(tmp_path / "report.pdf", pages))

    record = document_record(document, "default", 1)

    assert record.pages == 3
    assert record.outline == ((("Part I",), 2), (("Part I", "Item 1. Business"), 2))


def test_pdf_heading_whose_words_ran_together_then_the_standard_titles_spaces_come_back() -> None:
    from knowledge_base._outline import Block, sec_headings

    blocks = [
        Block("PART III", 0),
        Block("ITEM 14. PRINCIPALACCOUNTANT FEES AND SERVICES", 0),
        Block("The information required by this item is incorporated by reference.", 0),
        Block("ITEM 15. EXHIBITSAND FINANCIAL STATEMENT SCHEDULES", 1),
        Block("ITEM 16. FORM10-KSUMMARY", 1),
    ]
    titles = [path[-1] for _, path in sec_headings(blocks)]

    assert titles == [
        "Part III",
        "Item 14. Principal Accountant Fees and Services",
        "Item 15. Exhibits and Financial Statement Schedules",
        "Item 16. FORM10-KSUMMARY",  # not a title the regulation fixes: left as it is
    ]
