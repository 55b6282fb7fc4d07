"""Markdown and plain-text files → ``Document``.

Markdown may open with a front matter block between ``---`` lines::

    ---
    title: What a 10-K contains
    kind: primer
    tickers: [AAPL, MSFT]
    published_at: 2025-01-15
    ---

Keys read: title, tickers, company, form, fiscal_period, published_at (ISO date or time
with offset), kind (filing, news, primer, document) and url; a list is ``[A, B]`` or
``- A`` lines under the key. Unknown keys are ignored. The front matter is not part of
the text.

Sections: ``#`` headings nest by level. A file without any (Apple's 10-K converted to
markdown marks "PART I" and "Item 1A. Risk Factors" as plain lines) is outlined like a
filing, by its Part/Item headings. Plain-text files are outlined the same way. Inline
HTML wrappers some converters leave (``<div align='center'>``) are removed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import cast, get_args

from core.errors import DataError
from knowledge_base._filing_meta import (
    Meta,
    compose_title,
    cover_page_company,
    cover_page_form,
    file_document,
    normalise_tickers,
    parse_file_name,
    parse_published,
)
from knowledge_base._outline import Block, markdown_headings, sec_headings
from knowledge_base._tables import markdown_row
from knowledge_base.document import Document, DocumentKind
from knowledge_base.sanitize import clean_line, clean_text

_HEADING = re.compile(r"^(#{1,6})\s+\S")
_FENCE = re.compile(r"^(```|~~~)")
_HTML_TAG = re.compile(
    r"</?(?:div|span|p|br|font|center|b|i|u|sup|sub|small|strong|em|a)\b[^>]*>", re.IGNORECASE
)


def load_markdown(path: Path, data: bytes) -> Document:
    text = decode_text(data, str(path))
    fields, body = split_front_matter(text, str(path))
    blocks = _blocks(body, markdown=True)
    if not blocks:
        raise DataError(f"{path}: the file has no text after its front matter; add content")
    return _document(path, data, blocks, fields)


def load_text(path: Path, data: bytes) -> Document:
    blocks = _blocks(decode_text(data, str(path)), markdown=False)
    if not blocks:
        raise DataError(f"{path}: the file is empty; add text or remove it")
    return _document(path, data, blocks, {})


def decode_text(data: bytes, source: str) -> str:
    if b"\x00" in data[:4096]:
        raise DataError(
            f"{source}: this is not a text file (it contains binary data); "
            "check the file's extension"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source}: not valid UTF-8 at byte {exc.start}; re-save the file as UTF-8"
        ) from exc


def split_front_matter(text: str, source: str) -> tuple[dict[str, str | list[str]], str]:
    """The front matter's fields and the text after it (the whole text when absent)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    first = next((line for line in lines[1:] if line.strip()), "")
    if not re.match(r"^[A-Za-z_][\w-]*\s*:", first):
        return {}, text  # a thematic break ("---") opening the text, not front matter
    try:
        close = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise DataError(
            f"{source}: the front matter opened with '---' on line 1 is never closed; "
            "add a line '---' after it"
        ) from None
    fields: dict[str, str | list[str]] = {}
    key: str | None = None
    for number, line in enumerate(lines[1:close], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"^\s+-\s+(.*)$|^-\s+(.*)$", line)
        if item and key is not None:
            value = fields.get(key)
            listed = value if isinstance(value, list) else []
            listed.append(_unquote(item.group(1) or item.group(2)))
            fields[key] = listed
            continue
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if match is None:
            raise DataError(
                f"{source}: line {number} of the front matter is not 'key: value' ({line!r})"
            )
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith("[") and raw.endswith("]"):
            fields[key] = [_unquote(v) for v in raw[1:-1].split(",") if v.strip()]
        else:
            fields[key] = _unquote(raw)
    return fields, "\n".join(lines[close + 1 :])


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _blocks(text: str, *, markdown: bool) -> list[Block]:
    """One block per line; lines of a paragraph (no blank line between) share a group.
    Markdown table rows are rendered like HTML table rows."""
    blocks: list[Block] = []
    group = 0
    fenced = False
    for raw in _lines(clean_text(_HTML_TAG.sub("", text) if markdown else text), markdown):
        line = clean_line(raw) if not fenced else raw.rstrip()
        if not line:
            group += 1
            continue
        level = 0
        in_table = markdown and not fenced and line.startswith("|")
        if markdown and _FENCE.match(line):
            fenced = not fenced
        elif in_table:
            line = markdown_row(line) or ""
            if not line:
                continue
        elif markdown and not fenced:
            heading = _HEADING.match(line)
            level = len(heading.group(1)) if heading else 0
        blocks.append(Block(line, group, in_table=in_table, level=level))
    return blocks


def _lines(text: str, markdown: bool) -> list[str]:
    """The text's lines, with a markdown table row whose cell wraps onto the next lines
    (a converter's artefact) joined back into one line."""
    lines = text.split("\n")
    if not markdown:
        return lines
    joined: list[str] = []
    open_row = False
    for line in lines:
        if open_row and line.strip():
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
        row = joined[-1].strip()
        open_row = row.startswith("|") and not row.endswith("|")
    return joined


def _document(
    path: Path, data: bytes, blocks: list[Block], fields: dict[str, str | list[str]]
) -> Document:
    meta, kind = _front_matter_meta(fields, str(path))
    head = "\n".join(block.text for block in blocks[:200])
    company = meta.company or cover_page_company(head)
    meta = replace(meta, company=company)
    from_name: list[str] = []
    # Only a filing has a form: a primer about reading 10-Ks mentions "Form 10-K" on every
    # page and is still not one. The file-name convention is a filing's, so it is read
    # only when the front matter does not say the file is something else.
    if kind in (None, "filing"):
        meta, from_name = _with_file_name(meta, path, cover_page_form(head))
    first_heading = next((b.text.lstrip("#").strip() for b in blocks if b.level), None)
    if meta.title is None:
        title = compose_title(company, meta.form, meta.fiscal_period, first_heading)
        if company and "form" in from_name:  # the title names the file name's form
            from_name.append("title")
        meta = replace(meta, title=title)
    kind = kind or ("filing" if meta.form else "document")
    headings = markdown_headings(blocks)
    if not headings:
        headings = sec_headings(blocks)
    return file_document(path, data, blocks, headings, meta, kind, from_name)


def _with_file_name(meta: Meta, path: Path, cover_form: str | None) -> tuple[Meta, list[str]]:
    """``meta`` completed by the cover page's form and then the file-name convention, and
    the fields only the file name gave."""
    named = parse_file_name(path)
    form = meta.form or cover_form
    completed = replace(
        meta,
        form=form or named.form,
        tickers=meta.tickers or ((named.ticker,) if named.ticker else ()),
        published_at=meta.published_at or named.filed,
    )
    from_name = [
        name
        for name, own in (
            ("form", form),
            ("tickers", meta.tickers),
            ("published_at", meta.published_at),
        )
        if not own and getattr(completed, name)
    ]
    return completed, from_name


def _front_matter_meta(
    fields: dict[str, str | list[str]], source: str
) -> tuple[Meta, DocumentKind | None]:
    def text(key: str) -> str | None:
        value = fields.get(key)
        if isinstance(value, list):
            raise DataError(f"{source}: front matter '{key}' must be a single value, not a list")
        return clean_line(value) if value else None

    kind = text("kind")
    if kind is not None and kind not in get_args(DocumentKind):
        raise DataError(
            f"{source}: front matter kind {kind!r} is unknown; "
            f"use one of {', '.join(get_args(DocumentKind))}"
        )
    form = (text("form") or "").upper() or None
    if form is not None and kind not in (None, "filing"):
        raise DataError(
            f"{source}: front matter gives form {form!r} to a {kind}, but only a filing has "
            "a form; remove 'form' or set 'kind: filing'"
        )
    published = text("published_at")
    try:
        published_at = parse_published(published, require_time=False) if published else None
    except ValueError as exc:
        raise DataError(f"{source}: front matter {exc}") from exc
    tickers = fields.get("tickers") or []
    if isinstance(tickers, str):
        tickers = tickers.split(",")
    meta = Meta(
        title=text("title"),
        tickers=normalise_tickers(tickers),
        company=text("company"),
        form=form,
        fiscal_period=text("fiscal_period"),
        published_at=published_at,
        url=text("url"),
    )
    return meta, cast(DocumentKind | None, kind)
