"""PDF files → ``Document`` (PDFium text extraction, one line per block, page by page).

Every block keeps its page, so the document records where each page starts and every
passage can be cited by page. Running headers and footers (a line at the top or bottom
of most pages that differs at most in its numbers: "Apple Inc. | 2024 Form 10-K | 29", a
browser's print header) are dropped: they are not part of the text a person reads.

Headings are found as in HTML filings ("PART I", "Item 1A. Risk Factors"). Metadata comes
from the document's own pages: the cover page (registrant name, "FORM 10-K", the trading
symbols, "For the fiscal year ended ..."), the signature page's date, a release's
dateline; then the PDF's info dictionary (its title) and the file-name convention. A
PDF's creation date is not its filing date and is not used. Scanned PDFs (no text layer)
and encrypted PDFs are refused with the fix.

Text comes from PDFium (pypdfium2, the engine Chromium renders PDFs with): it reads a
10-K about 15 times faster than pypdf's pure-Python content-stream parser, which was half
of an ingest's time once embedding got fast (bench/ingest_speed.py), and gives the same
lines (bench/pdf_outline.py compares the outline and metadata with the HTML loader's).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pypdfium2

from core.errors import DataError
from knowledge_base._cover import (
    cover_page_tickers,
    fiscal_period_stated,
    later_of_filed,
    stated_date,
)
from knowledge_base._filing_meta import (
    Meta,
    compose_title,
    cover_page_company,
    cover_page_form,
    file_document,
    meaningful_title,
    parse_file_name,
)
from knowledge_base._outline import Block, sec_headings
from knowledge_base._statements import annotate_statements
from knowledge_base.document import Document, DocumentKind, MetaSource
from knowledge_base.sanitize import clean_line

# Lines this close to a page's top or bottom may be a running header or footer.
_EDGE = 3
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?-?\s*\d{1,3}\s*(?:of\s+\d+)?\s*[-.]?$", re.IGNORECASE)


def load_pdf(path: Path, data: bytes) -> Document:
    source = str(path)
    if not data.startswith(b"%PDF-"):
        raise DataError(f"{source}: not a PDF (it does not start with %PDF-); check the file")
    if b"%%EOF" not in data[-2048:]:
        raise DataError(
            f"{source}: the PDF is truncated (no %%EOF marker at its end); download it again"
        )
    pages, info_title = _read(data, source)
    blocks = annotate_statements(_blocks(pages), cells=False)
    if not blocks:
        raise DataError(
            f"{source}: the PDF has no text layer (a scanned image?); run OCR on it first "
            "or load the filing's HTML version"
        )
    meta, from_name, stated = _metadata(path, blocks, info_title)
    kind: DocumentKind = "filing" if meta.form else "document"
    headings = sec_headings(blocks)
    return file_document(
        path, data, blocks, headings, meta, kind, from_name, stated, pages=len(pages)
    )


def _metadata(
    path: Path, blocks: list[Block], info_title: object
) -> tuple[Meta, list[str], dict[str, MetaSource]]:
    """The document's metadata, the fields only its file name states, and where the
    others were read."""
    named = parse_file_name(path)
    head = "\n".join(block.text for block in blocks[:200])
    cover = "\n".join(block.text for block in blocks if block.group < 2)
    company = cover_page_company(head)
    stated_form = cover_page_form(head)
    form = stated_form or named.form
    tickers = cover_page_tickers(cover)
    period, period_from = fiscal_period_stated(form, cover, "\n".join(b.text for b in blocks))
    dated = stated_date("\n".join(block.text for block in blocks), head, form)
    stated: dict[str, MetaSource] = {}
    for name, value in (("company", company), ("form", stated_form), ("tickers", tickers)):
        if value:
            stated[name] = "cover page"
    if period and period_from:
        stated["fiscal_period"] = period_from
    own_title = meaningful_title(str(info_title) if info_title else None)
    title = own_title or compose_title(company, form, period, _first_line(blocks))
    if not own_title and company and stated_form:
        stated["title"] = "cover page"
    from_name: list[str] = []
    if not tickers and named.ticker:
        tickers, from_name = (named.ticker,), [*from_name, "tickers"]
    if form and not stated_form:
        from_name += ["form"] + (["title"] if company and not own_title else [])
    published_at, date_source = later_of_filed(named.filed, dated)
    if date_source:
        stated["published_at"] = date_source
    elif published_at:
        from_name = [*from_name, "published_at"]
    meta = Meta(
        title=title,
        tickers=tickers,
        company=company,
        form=form,
        fiscal_period=period,
        published_at=published_at,
    )
    return meta, from_name, stated


def _read(data: bytes, source: str) -> tuple[list[str], str | None]:
    """Each page's text and the info dictionary's title."""
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DataError(
                f"{source}: the PDF is password-protected; save an unprotected copy to load it"
            ) from None
        raise DataError(
            f"{source}: cannot read the PDF ({exc}); it may be damaged, download it again"
        ) from None
    try:
        pages = []
        for page in document:
            text_page = page.get_textpage()
            # PDFium ends lines with CR LF (splitlines() takes both) and joins a line
            # that ends in a hyphen to the next, marking the hyphen U+FFFE: in filings it
            # is a real one ("forward-" / "looking"), 194 times in the shared filings.
            text = text_page.get_text_range(errors="replace")
            pages.append(text.replace("\ufffe", "-"))
            text_page.close()
            page.close()
        title = document.get_metadata_dict(skip_empty=True).get("Title")
        return pages, title
    except pypdfium2.PdfiumError as exc:
        raise DataError(
            f"{source}: cannot read the PDF ({exc}); it may be damaged, download it again"
        ) from None
    finally:
        document.close()


def _blocks(pages: list[str]) -> list[Block]:
    """Each page's lines, one block per line (``group`` is the 0-based page), without
    page numbers and running headers/footers."""
    lines = [[clean_line(raw) for raw in page.splitlines()] for page in pages]
    lines = [[line for line in page if line] for page in lines]
    furniture = _furniture(lines)
    blocks: list[Block] = []
    for number, page in enumerate(lines):
        for at, line in enumerate(page):
            edge = at < _EDGE or at >= len(page) - _EDGE
            if _PAGE_NUMBER.match(line) or (edge and _shape(line) in furniture):
                continue
            blocks.append(Block(line, number))
    return blocks


def _furniture(pages: list[list[str]]) -> set[str]:
    """The shapes of lines at the top or bottom of at least half the pages (and of at
    least two): running headers and footers."""
    counts: Counter[str] = Counter()
    for page in pages:
        edges = page[:_EDGE] + page[max(_EDGE, len(page) - _EDGE) :]
        counts.update({_shape(line) for line in edges})
    least = max(2, (len(pages) + 1) // 2)
    return {shape for shape, count in counts.items() if count >= least}


def _shape(line: str) -> str:
    """A line with its numbers blanked: page 3's footer and page 4's share a shape."""
    return _DIGITS.sub("#", line)


def _first_line(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks[:20] if sum(c.isalpha() for c in b.text) >= 8), None)
