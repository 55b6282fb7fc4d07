"""HTML → blocks of visible text, with SEC inline-XBRL noise removed.

What is dropped: ``<head>``, scripts and styles, anything hidden with ``display:none``
(where iXBRL keeps its hidden facts), the ``ix:header`` (contexts, units, references) and
the SGML envelope (``<DOCUMENT><TYPE>EX-99.1 ...<TEXT>``) of documents taken from an
EDGAR submission. iXBRL tags around visible facts are unwrapped: their text stays.

Tables become one line per row, cells joined by " | ", empty (spacer) cells dropped, and
the cells SEC filings split a number into are rejoined: "$ | 1,234" → "$1,234",
"(12 | )" → "(12)", "5.2 | %" → "5.2%". Bare page numbers between paragraphs are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree, html

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
    first_fact,
    fiscal_period,
    ixbrl_tickers,
    meaningful_title,
    parse_file_name,
)
from knowledge_base._outline import Block, markdown_headings, sec_headings
from knowledge_base._statements import annotate_statements
from knowledge_base._tables import join_cells
from knowledge_base.document import Document, DocumentKind, MetaSource
from knowledge_base.sanitize import clean_line

_SKIP = frozenset(
    {"head", "script", "style", "title", "noscript", "template", "ix:header", "img", "svg"}
)
_BLOCK = frozenset(
    {"html", "body", "div", "p", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "pre", "center"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article", "header", "footer"}
    | {"nav", "aside", "address", "figure", "figcaption", "caption", "main", "form", "fieldset"}
    | {"legend", "document", "text", "page"}
)
_HEADING_LEVEL = {f"h{n}": n for n in range(1, 7)}
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# A superscript: <sup>, or text raised by its style (Workiva: "position:relative;
# top:-3.15pt"), holding only a footnote mark ("1", "(2)", "1,2", "*").
_RAISED = re.compile(
    r"vertical-align\s*:\s*super"
    r"|position\s*:\s*relative\s*;(?:.*;)?\s*(?<![\w-])top\s*:\s*-\s*\d"
    r"|(?<![\w-])top\s*:\s*-\s*\d[^;]*;(?:.*;)?\s*position\s*:\s*relative",
    re.IGNORECASE,
)
_FOOTNOTE_MARK = re.compile(r"\s*(?:\(?\d{1,2}(?:\s*,\s*\d{1,2})*\)?|\*{1,3})\s*")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?-?\s*\d{1,3}\s*[-.]?$", re.IGNORECASE)
_BOILERPLATE = re.compile(r"^(?:for immediate release|news release|press release|exhibit\b)", re.I)
_SGML_TYPE = re.compile(rb"<TYPE>\s*([^\s<]+)", re.IGNORECASE)
_SGML_TEXT = re.compile(rb"<TEXT>", re.IGNORECASE)


@dataclass
class ParsedHtml:
    """The visible text as blocks, plus what the markup states about the document."""

    blocks: list[Block]
    title: str | None
    facts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name → (ctx, text)
    sgml_type: str | None = None


def parse_html(data: bytes, source: str) -> ParsedHtml:
    """Parse an HTML or iXBRL file's bytes. Raises ``DataError`` when there is nothing to
    read (empty, binary, or no visible text)."""
    if not data.strip():
        raise DataError(f"{source}: the file is empty; re-download or remove it")
    if b"\x00" in data[:4096]:
        raise DataError(
            f"{source}: this is not an HTML text file (it contains binary data); "
            "check the file's extension"
        )
    data, sgml_type = _strip_sgml_envelope(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    parser = html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = html.fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise DataError(f"{source}: cannot parse the HTML ({exc}); is it an HTML file?") from exc
    collector = _Collector()
    collector.walk(root)
    collector.flush()
    if not collector.blocks:
        raise DataError(
            f"{source}: no visible text found in the HTML; if the filing is a scanned image "
            "or an XBRL instance (.xml), load its HTML or PDF rendering instead"
        )
    return ParsedHtml(
        blocks=collector.blocks,
        title=root.findtext(".//title"),
        facts=_facts(root),
        sgml_type=sgml_type,
    )


def _strip_sgml_envelope(data: bytes) -> tuple[bytes, str | None]:
    """An EDGAR ``<DOCUMENT>`` envelope: its ``<TYPE>`` (e.g. EX-99.1) and the HTML after
    ``<TEXT>``."""
    head = data[:2048]
    if not head.lstrip().upper().startswith(b"<DOCUMENT>"):
        return data, None
    type_match = _SGML_TYPE.search(head)
    text_match = _SGML_TEXT.search(data)
    body = data[text_match.end() :] if text_match else data
    return body, type_match.group(1).decode("ascii", "replace") if type_match else None


def _facts(root: html.HtmlElement) -> dict[str, list[tuple[str, str]]]:
    facts: dict[str, list[tuple[str, str]]] = {}
    for element in root.iter("ix:nonnumeric"):
        name = element.get("name", "")
        if name.startswith("dei:"):
            value = clean_line("".join(element.itertext()))
            facts.setdefault(name, []).append((element.get("contextref", ""), value))
    return facts


def _is_hidden(element: html.HtmlElement) -> bool:
    style = element.get("style")
    return bool(style and "none" in style and _HIDDEN.search(style))


def _is_footnote_mark(element: html.HtmlElement) -> bool:
    """A superscript footnote reference ("Net Income Per Share¹"): glued to the word
    before it, it would make "Share1", a word no question contains; a PDF's text has it
    apart or not at all."""
    raised = element.tag == "sup" or bool(_RAISED.search(element.get("style") or ""))
    return raised and _FOOTNOTE_MARK.fullmatch(element.text_content() or "") is not None


class _Collector:
    """Walks the tree, gathering inline text into the current block."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.group = 0
        self._buffer: list[str] = []

    def walk(self, element: html.HtmlElement) -> None:
        tag = element.tag
        if not isinstance(tag, str) or tag in _SKIP or _is_hidden(element):
            return
        if _is_footnote_mark(element):
            return
        if tag == "table":
            self.table(element)
            return
        block = tag in _BLOCK
        if block:
            self.flush()
        if element.text:
            self._buffer.append(element.text)
        for child in element:
            self.walk(child)
            if child.tail:
                self._buffer.append(child.tail)
        if block:
            self.flush(_HEADING_LEVEL.get(tag, 0))

    def flush(self, level: int = 0) -> None:
        if not self._buffer:
            return
        line = clean_line("".join(self._buffer))
        self._buffer.clear()
        if line and not _PAGE_NUMBER.match(line):
            self.group += 1
            self.blocks.append(Block(line, self.group, level=level))

    def table(self, table: html.HtmlElement) -> None:
        self.flush()
        self.group += 1
        for row in _rows(table):
            line = join_cells([_cell_text(cell) for cell in row])
            if line:
                self.blocks.append(Block(line, self.group, in_table=True))
        self.group += 1


class _CellCollector(_Collector):
    """Inside a table cell every block boundary (and a nested table) is just a space."""

    def flush(self, level: int = 0) -> None:
        self._buffer.append(" ")

    def table(self, table: html.HtmlElement) -> None:
        self._buffer.append(" ")
        for row in _rows(table):
            for cell in row:
                self.walk(cell)
                self._buffer.append(" ")

    def text(self) -> str:
        return clean_line("".join(self._buffer))


def _rows(table: html.HtmlElement) -> list[list[html.HtmlElement]]:
    rows: list[list[html.HtmlElement]] = []
    for child in table:
        if not isinstance(child.tag, str) or _is_hidden(child):
            continue
        if child.tag in ("thead", "tbody", "tfoot"):
            rows.extend(_rows(child))
        elif child.tag == "tr":
            cells = [c for c in child if c.tag in ("td", "th") and not _is_hidden(c)]
            rows.append(cells)
    return rows


def _cell_text(cell: html.HtmlElement) -> str:
    collector = _CellCollector()
    collector.walk(cell)
    return collector.text()


def load_html(path: Path, data: bytes) -> Document:
    """An SEC filing (iXBRL or plain EDGAR HTML) or any HTML page as a ``Document``."""
    parsed = parse_html(data, str(path))
    parsed.blocks = annotate_statements(parsed.blocks, cells=True)
    facts = parsed.facts
    named = parse_file_name(path)
    head_text = "\n".join(block.text for block in parsed.blocks[:200])
    company = first_fact(facts, "dei:EntityRegistrantName") or cover_page_company(head_text)
    stated_form = first_fact(facts, "dei:DocumentType") or parsed.sgml_type
    stated_form = stated_form or cover_page_form(head_text)
    form = stated_form or named.form
    stated: dict[str, MetaSource] = {}
    if company and not first_fact(facts, "dei:EntityRegistrantName"):
        stated["company"] = "cover page"
    if stated_form and not (first_fact(facts, "dei:DocumentType") or parsed.sgml_type):
        stated["form"] = "cover page"
    period = fiscal_period(
        first_fact(facts, "dei:DocumentFiscalYearFocus"),
        first_fact(facts, "dei:DocumentFiscalPeriodFocus"),
    )
    text = "\n".join(block.text for block in parsed.blocks)
    if not period:  # plain EDGAR HTML: a 10-K's cover page, a 10-Q's statements and notes
        period, period_source = fiscal_period_stated(form, head_text, text)
        stated.update({"fiscal_period": period_source} if period and period_source else {})
    stated_tickers = ixbrl_tickers(facts)
    if not stated_tickers:  # plain EDGAR HTML: the cover page's Section 12(b) table
        stated_tickers = cover_page_tickers(head_text.replace(" | ", " "))
        stated.update({"tickers": "cover page"} if stated_tickers else {})
    tickers = stated_tickers or ((named.ticker,) if named.ticker else ())
    # The same dates as a PDF of the filing gives: its signature page or a release's
    # dateline, never earlier than EDGAR's date in the file name.
    published_at, date_source = later_of_filed(named.filed, stated_date(text, head_text, form))
    if date_source:
        stated["published_at"] = date_source
    # An 8-K has no fiscal period; the event date tells two of a company's 8-Ks apart.
    event = first_fact(facts, "dei:DocumentPeriodEndDate") if form and "8-K" in form else None
    fallback = meaningful_title(parsed.title) or _headline(parsed.blocks)
    meta = Meta(
        title=compose_title(company, form, period or event, fallback),
        tickers=tickers,
        company=company,
        form=form,
        fiscal_period=period,
        published_at=published_at,
    )
    from_name = [
        name
        for name, only_named in (
            ("form", form and not stated_form),
            ("title", form and not stated_form and company),
            ("tickers", tickers and not stated_tickers),
            ("published_at", published_at and not date_source),
        )
        if only_named
    ]
    kind: DocumentKind = "filing" if form else "document"
    headings = sec_headings(parsed.blocks) if form else []
    if not headings:
        headings = markdown_headings(parsed.blocks)
    return file_document(path, data, parsed.blocks, headings, meta, kind, from_name, stated)


def _headline(blocks: list[Block]) -> str | None:
    """The first line that reads like a heading: what a person would call the document."""
    for block in blocks[:40]:
        text = block.text
        letters = sum(ch.isalpha() for ch in text)
        if block.in_table or letters < 12 or len(text) > 200 or _BOILERPLATE.match(text):
            continue
        return text
    return None
