"""Metadata shared by the loaders: the file-name convention, dates, titles, ``missing``.

Sources, in order of preference: the document's own statements (iXBRL ``dei:`` facts, a
markdown front matter, a PDF's info dictionary, a filing's cover page), then the
project's file-name convention ``<ticker>-<form>-<YYYY-MM-DD>[-anything].<ext>`` (as
written by ``tiller kb fetch-filings``), e.g. ``aapl-10-k-2024-11-01.html``. Nothing else: what
neither states is left empty and named in ``Document.missing``. What only the file name
states is recorded as such in ``Document.metadata_sources`` (``"filename"``): the name is a
convention, not evidence, and a reader must be able to tell the two apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from knowledge_base._outline import Block, assemble, sections_from
from knowledge_base.document import (
    META_FIELDS,
    SOURCED_FIELDS,
    Document,
    DocumentKind,
    MetaSource,
    make_doc_id,
    sha256_bytes,
)
from knowledge_base.sanitize import clean_line

_NEW_YORK = ZoneInfo("America/New_York")

# ``<ticker>-<form slug>-<YYYY-MM-DD>[-accession]``: the form slug is EDGAR's form with
# "/" and spaces as "-" ("10-k-a" is 10-K/A, "def-14a" is DEF 14A) and has a digit, so
# "my-notes-2024-01-01.md" is not taken for a filing.
_DATED_NAME = re.compile(
    r"^(?P<ticker>[a-z][a-z0-9.]{0,9})-(?P<form>[a-z0-9][a-z0-9-]*?)-"
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:-.*)?$",
    re.IGNORECASE,
)
# Without a date, only a known form right after the ticker counts ("bke-8-k-ex99-1").
_UNDATED_NAME = re.compile(
    r"^(?P<ticker>[a-z][a-z0-9.]{0,9})-(?P<form>(?:10-k|10-q|8-k|6-k|20-f|40-f)(?:-a)?)(?:-.*)?$",
    re.IGNORECASE,
)
_GENERIC_TITLE = re.compile(
    r"^(?:document|untitled\b.*|microsoft word\b.*|[a-z]{1,6}-\d{8}|.*\.(?:html?|docx?|pdf)"
    r"|\d{1,2}-[a-z]|10-[kq])$",
    re.IGNORECASE,
)


# The metadata that can be expected of each kind of document: a primer has no form, a news
# item no fiscal period. Only these are named in ``missing`` when absent.
_EXPECTED: dict[str, tuple[str, ...]] = {
    "filing": META_FIELDS,
    "news": ("title", "tickers", "published_at"),
    "primer": ("title", "published_at"),
    "document": ("title", "published_at"),
}
_COVER_FORM = re.compile(
    r"^[\s|]*FORM\s+((?:10-K|10-Q|8-K|20-F|6-K|40-F)(?:/A)?)[\s|]*$",
    re.IGNORECASE | re.MULTILINE,
)
_EQUITY = re.compile(r"\b(?:common|capital|ordinary)\b", re.IGNORECASE)
_NOT_EQUITY = re.compile(
    r"\b(?:preferred|depositary|notes?|debentures?|warrants?)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Meta:
    """A document's metadata as established by a loader (empty when unknown)."""

    title: str | None = None
    tickers: tuple[str, ...] = ()
    company: str | None = None
    form: str | None = None
    fiscal_period: str | None = None
    published_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class FileNameFacts:
    """What the file-name convention states (each part may be absent)."""

    ticker: str | None = None
    form: str | None = None
    filed: datetime | None = None


def public_by(day: date) -> datetime:
    """When a document dated ``day`` was certainly public: 17:30 New York time that day.

    EDGAR gives a filing accepted after 17:30 ET the next business day's date, so a
    filing dated D was public by D 17:30 ET at the latest, but possibly not before. The
    date alone says no more; stamping midnight would let an ``--as-of D`` search see a
    filing that appeared that evening. This stamp never shows a document early."""
    return datetime(day.year, day.month, day.day, 17, 30, tzinfo=_NEW_YORK).astimezone(UTC)


def parse_file_name(path: Path) -> FileNameFacts:
    """``aapl-10-k-2024-11-01.html`` → AAPL, 10-K, public by 2024-11-01 17:30 ET. A name
    that does not follow the convention states nothing."""
    match = _DATED_NAME.match(path.stem)
    if match is not None and not any(ch.isdigit() for ch in match.group("form")):
        match = None
    match = match or _UNDATED_NAME.match(path.stem)
    if match is None:
        return FileNameFacts()
    filed = None
    if "date" in match.groupdict():
        try:
            day = date.fromisoformat(match.group("date"))
        except ValueError:
            return FileNameFacts()
        filed = public_by(day)
    return FileNameFacts(
        ticker=match.group("ticker").upper(), form=_unslug(match.group("form")), filed=filed
    )


def _unslug(slug: str) -> str:
    form = slug.upper()
    if form.startswith("DEF-"):
        form = "DEF " + form[4:]
    return form[:-2] + "/A" if form.endswith("-A") else form


def fiscal_period(year: str | None, period: str | None) -> str | None:
    """``("2024", "FY")`` → ``FY2024``; ``("2025", "Q3")`` → ``Q3 2025``."""
    year = (year or "").strip()
    period = (period or "").strip().upper()
    if not re.fullmatch(r"\d{4}", year) or not period:
        return None
    return f"FY{year}" if period == "FY" else f"{period} {year}"


def compose_title(
    company: str | None, form: str | None, period: str | None, fallback: str | None
) -> str | None:
    """ "Apple Inc. 10-K FY2024" when the company and form are known, else ``fallback``."""
    if company and form:
        return " ".join(part for part in (company, form, period) if part)
    return fallback


def meaningful_title(title: str | None) -> str | None:
    """A document's own title, unless it is a placeholder such as "Document" or
    "aapl-20240928" (a Workiva file stem)."""
    title = clean_line(title or "")
    if not title or _GENERIC_TITLE.match(title):
        return None
    return title


# A publication date later than this after the moment of loading is a typo (2099), not
# news: it would sit after every real document and win every point-in-time query.
FUTURE_TOLERANCE = timedelta(days=1)


def future_date_problem(published_at: datetime | None, now: datetime) -> str | None:
    """Why ``published_at`` cannot be right, or None when it can."""
    if published_at is None or published_at <= now + FUTURE_TOLERANCE:
        return None
    return (
        f"published_at {published_at.isoformat()} is in the future (now is "
        f"{now.isoformat(timespec='seconds')}); fix the date"
    )


def parse_published(value: str, *, require_time: bool) -> datetime:
    """An ISO 8601 date or time as aware UTC.

    A date alone (``2024-11-01``) is UTC midnight unless ``require_time``. A time must carry
    its offset (``Z`` or ``+02:00``): a naive time is refused rather than guessed.
    Raises ``ValueError`` with the fix in the message.
    """
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        if require_time:
            raise ValueError(
                f"published_at {value!r} is a date without a time; give the time with its "
                "offset, e.g. 2024-11-01T14:30:00Z"
            )
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                f"published_at {value!r} is not an ISO 8601 date ({exc}); use e.g. 2024-11-01"
            ) from exc
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(
            f"published_at {value!r} is not an ISO 8601 time; use e.g. 2024-11-01T14:30:00Z"
        ) from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(
            f"published_at {value!r} has no timezone; add 'Z' for UTC or an offset like +00:00"
        )
    return parsed.astimezone(UTC)


def cover_page_company(text: str) -> str | None:
    """The registrant's name as a filing's cover page states it: the line just above
    "(Exact name of registrant as specified in its charter)"."""
    match = re.search(r"\(?\s*exact name of registrant", text[:20_000], re.IGNORECASE)
    if match is None:
        return None
    lines = [ln.strip(" |") for ln in text[: match.start()].splitlines()]
    lines = [ln for ln in lines if ln]
    name = lines[-1] if lines else ""
    return name if 1 < len(name) <= 120 and any(c.isalpha() for c in name) else None


def cover_page_form(text: str) -> str | None:
    """ "FORM 10-K" / "Form 8-K" as a filing's cover page states it, near the start, on a
    line of its own. A sentence that mentions a form ("The Form 10-K is the annual
    report ...") is not a cover page."""
    match = _COVER_FORM.search(text[:5_000])
    return match.group(1).upper() if match else None


def normalise_tickers(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Upper-case, trimmed, de-duplicated (first occurrence kept)."""
    seen: dict[str, None] = {}
    for value in values:
        ticker = clean_line(value).upper()
        if ticker:
            seen.setdefault(ticker, None)
    return tuple(seen)


def first_fact(facts: dict[str, list[tuple[str, str]]], name: str) -> str | None:
    """The first non-empty value of an iXBRL fact such as ``dei:DocumentType``."""
    return next((value for _, value in facts.get(name, []) if value), None)


def ixbrl_tickers(facts: dict[str, list[tuple[str, str]]]) -> tuple[str, ...]:
    """``dei:TradingSymbol`` values, keeping the equity listings when the filing says
    which they are (a ``dei:Security12bTitle`` in the same context naming common or
    capital stock); notes and preferred shares (KO26, WFC.PRL) are then left out."""
    titles = dict(facts.get("dei:Security12bTitle", []))
    symbols = [(ctx, value) for ctx, value in facts.get("dei:TradingSymbol", []) if value]
    equity = [
        value
        for ctx, value in symbols
        if _EQUITY.search(titles.get(ctx, "")) and not _NOT_EQUITY.search(titles.get(ctx, ""))
    ]
    return normalise_tickers(equity or [value for _, value in symbols])


def missing_fields(meta: Meta, kind: DocumentKind) -> tuple[str, ...]:
    """The metadata expected of ``kind`` that ``meta`` lacks."""
    return tuple(name for name in _EXPECTED[kind] if not getattr(meta, name))


def metadata_sources(
    meta: Meta, from_name: Iterable[str] = (), stated: Mapping[str, MetaSource] | None = None
) -> dict[str, MetaSource]:
    """Where each field ``meta`` has came from: ``"filename"`` for those in ``from_name``
    (only the file-name convention states them), the source ``stated`` names (``"cover
    page"``, ``"signature page"``, ``"user"``) for those it lists, ``"document"`` for the
    rest."""
    named = set(from_name)
    stated = stated or {}
    return {
        name: "filename" if name in named else stated.get(name, "document")
        for name in SOURCED_FIELDS
        if getattr(meta, name)
    }


def file_document(
    path: Path,
    data: bytes,
    blocks: list[Block],
    headings: list[tuple[int, tuple[str, ...]]],
    meta: Meta,
    kind: DocumentKind,
    from_name: Iterable[str] = (),
    stated: Mapping[str, MetaSource] | None = None,
    pages: int = 0,
) -> Document:
    """The ``Document`` of a file: id from its resolved path, hash of its raw bytes.
    ``from_name``: the fields of ``meta`` that only the file name states; ``stated``: the
    source of fields the document states somewhere more precise than "document".
    ``pages``: the page count of a paginated source, whose blocks' ``group`` is their
    0-based page."""
    text, starts = assemble(blocks)
    meta = replace(
        meta,
        title=clean_line(meta.title or "") or None,
        company=clean_line(meta.company or "") or None,
    )
    return Document(
        doc_id=make_doc_id(str(path.resolve())),
        source=str(path),
        kind=kind,
        text=text,
        sections=sections_from(text, starts, headings),
        sha256=sha256_bytes(data),
        title=meta.title,
        tickers=meta.tickers,
        company=meta.company,
        form=meta.form,
        fiscal_period=meta.fiscal_period,
        published_at=meta.published_at,
        url=meta.url,
        missing=missing_fields(meta, kind),
        metadata_sources=metadata_sources(meta, from_name, stated),
        page_starts=_page_starts(blocks, starts, pages, len(text)),
    )


def _page_starts(blocks: list[Block], starts: list[int], pages: int, end: int) -> tuple[int, ...]:
    """Where each of ``pages`` pages starts in the text; a page without text starts where
    the next page with text does (so no span is ever placed on it)."""
    found = [end] * pages
    for block, start in zip(reversed(blocks), reversed(starts), strict=True):
        if block.group < pages:
            found[block.group] = start
    for page in range(pages - 2, -1, -1):
        found[page] = min(found[page], found[page + 1])
    if found:
        found[0] = 0  # the separator before a page belongs to the page before it
    return tuple(found)
