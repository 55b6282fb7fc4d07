"""PDF files → ``Document`` (pypdf text extraction, one line per block, page by page).

Headings are found as in HTML filings ("PART I", "Item 1A. Risk Factors"); metadata comes
from the PDF's info dictionary (its title), the cover page (registrant name, "FORM 10-K")
and the file-name convention. A PDF's creation date is not its filing date and is not
used. Scanned PDFs (no text layer) and encrypted PDFs are refused with the fix.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from core.errors import DataError
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
from knowledge_base.document import Document, DocumentKind
from knowledge_base.sanitize import clean_line

_PAGE_NUMBER = re.compile(r"^(?:page\s+)?-?\s*\d{1,3}\s*(?:of\s+\d+)?\s*[-.]?$", re.IGNORECASE)


def load_pdf(path: Path, data: bytes) -> Document:
    source = str(path)
    if not data.startswith(b"%PDF-"):
        raise DataError(f"{source}: not a PDF (it does not start with %PDF-); check the file")
    if b"%%EOF" not in data[-2048:]:
        raise DataError(
            f"{source}: the PDF is truncated (no %%EOF marker at its end); download it again"
        )
    reader, pages = _read(data, source)
    blocks = _blocks(pages)
    if not blocks:
        raise DataError(
            f"{source}: the PDF has no text layer (a scanned image?); run OCR on it first "
            "or load the filing's HTML version"
        )
    info_title = None
    try:
        info_title = reader.metadata.title if reader.metadata else None
    except PyPdfError:
        info_title = None
    named = parse_file_name(path)
    head = "\n".join(block.text for block in blocks[:200])
    company = cover_page_company(head)
    stated_form = cover_page_form(head)
    form = stated_form or named.form
    own_title = meaningful_title(str(info_title) if info_title else None)
    meta = Meta(
        title=own_title or compose_title(company, form, None, _first_line(blocks)),
        tickers=(named.ticker,) if named.ticker else (),
        company=company,
        form=form,
        published_at=named.filed,
    )
    # A PDF states no ticker or filing date of its own (its creation date is not one).
    from_name = ["tickers", "published_at"]
    if form and not stated_form:
        from_name += ["form"] + (["title"] if company and not own_title else [])
    kind: DocumentKind = "filing" if form else "document"
    return file_document(path, data, blocks, sec_headings(blocks), meta, kind, from_name)


def _read(data: bytes, source: str) -> tuple[PdfReader, list[str]]:
    # pypdf logs a warning for every oddity it repairs; the load either works or raises.
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DataError(
                f"{source}: the PDF is password-protected; save an unprotected copy to load it"
            )
        return reader, [page.extract_text() or "" for page in reader.pages]
    except DataError:
        raise
    # pypdf reports damage in a file with whatever exception its parser hits (KeyError,
    # AttributeError, zlib.error, ...): each is this file's problem, reported for it.
    except Exception as exc:
        raise DataError(
            f"{source}: cannot read the PDF ({type(exc).__name__}: {exc}); "
            "it may be damaged, download it again"
        ) from exc
    finally:
        logger.setLevel(level)


def _blocks(pages: list[str]) -> list[Block]:
    """Each page's lines, one block per line, pages separated by a blank line."""
    blocks: list[Block] = []
    for number, page in enumerate(pages):
        for raw in page.splitlines():
            line = clean_line(raw)
            if line and not _PAGE_NUMBER.match(line):
                blocks.append(Block(line, number))
    return blocks


def _first_line(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks[:20] if sum(c.isalpha() for c in b.text) >= 8), None)
