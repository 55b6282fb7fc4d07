"""News and social items from JSON Lines: one item per line, one ``Document`` per item.

Each line is an object::

    {"id": "rt-2024-11-01-aapl", "published_at": "2024-11-01T20:31:00Z",
     "source": "Reuters", "tickers": ["AAPL"], "title": "...", "text": "...",
     "url": "https://..."}

``id`` and ``text`` are required. ``published_at`` must carry its timezone (``Z`` or an
offset): a news item's time decides what a point-in-time query may see, so a naive time
or a bare date is refused rather than guessed. An item without ``published_at`` loads
with it named in ``missing``. A bad line is reported with its line number and the
other lines still load.

A document's ``doc_id`` is ``make_doc_id("news:" + id)`` and its ``sha256`` is the hash
of the item's canonical JSON (sorted keys), so editing one item replaces only that item.
Its ``source`` is ``<file>#<id>``; the publisher named in the item's ``source`` field
is kept in the title ("Apple beats estimates (Reuters)") since a reader weighs news by
who published it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from knowledge_base._filing_meta import (
    Meta,
    future_date_problem,
    metadata_sources,
    missing_fields,
    normalise_tickers,
    parse_published,
)
from knowledge_base.document import (
    Document,
    LoadError,
    LoadReport,
    Section,
    make_doc_id,
    sha256_bytes,
)
from knowledge_base.sanitize import clean_line, clean_text


class _BadItemError(ValueError):
    """One line that cannot become a document; the message says why and how to fix it."""


def load_news(path: Path, data: bytes) -> LoadReport:
    report = LoadReport()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.errors.append(
            LoadError(str(path), f"not valid UTF-8 at byte {exc.start}; re-save it as UTF-8")
        )
        return report
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = _item_document(path, line)
            if document.doc_id in first_line:
                raise _BadItemError(
                    f"duplicate id (first on line {first_line[document.doc_id]}); "
                    "give every item its own id"
                )
        except _BadItemError as exc:
            report.errors.append(LoadError(f"{path}:{number}", f"line {number}: {exc}"))
            continue
        first_line[document.doc_id] = number
        report.documents.append(document)
    if not report.documents and not report.errors:
        report.errors.append(
            LoadError(str(path), "the file has no news items; write one JSON object per line")
        )
    return report


def _item_document(path: Path, line: str) -> Document:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadItemError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise _BadItemError(f"expected a JSON object {{...}}, got {type(item).__name__}")
    item_id = item.get("id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise _BadItemError('missing "id": give each item a unique string id')
    body = clean_text(_string(item, "text") or "")
    if not body:
        raise _BadItemError(f'item {item_id!r} has no "text"; add the article text')
    published = _string(item, "published_at")
    try:
        published_at = parse_published(published, require_time=True) if published else None
    except ValueError as exc:
        raise _BadItemError(f"item {item_id!r}: {exc}") from None
    problem = future_date_problem(published_at, datetime.now(UTC))
    if problem:
        raise _BadItemError(f"item {item_id!r}: {problem}")
    title = clean_line(_string(item, "title") or "")
    publisher = clean_line(_string(item, "source") or "")
    if title and publisher:
        title = f"{title} ({publisher})"
    meta = Meta(
        title=title or None,
        tickers=normalise_tickers(_tickers(item, item_id)),
        published_at=published_at,
        url=clean_line(_string(item, "url") or "") or None,
    )
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return Document(
        doc_id=make_doc_id("news:" + item_id.strip()),
        source=f"{path}#{item_id.strip()}",
        kind="news",
        text=body,
        sections=(Section(path=(), start=0, end=len(body)),),
        sha256=sha256_bytes(canonical.encode("utf-8")),
        title=meta.title,
        tickers=meta.tickers,
        published_at=meta.published_at,
        url=meta.url,
        missing=missing_fields(meta, "news"),
        metadata_sources=metadata_sources(meta),
    )


def _string(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadItemError(f'"{key}" must be a string, got {type(value).__name__}')
    return value


def _tickers(item: dict[str, Any], item_id: str) -> list[str]:
    value = item.get("tickers")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise _BadItemError(f'item {item_id!r}: "tickers" must be a list of strings like ["AAPL"]')
    return value
