"""What a loader produces: one cleaned document, its section outline and its metadata.

The contract every loader keeps:

- ``Document.text`` is the cleaned text a person would read (invisible Unicode removed,
  XBRL noise stripped, tables rendered as text). Every character span in Tiller — a
  section, a chunk, a citation — indexes into exactly this string.
- ``sections`` are non-overlapping, ordered spans of ``text``, each with its heading path
  (``("Part I", "Item 1A. Risk Factors")``). Text before the first heading belongs to a
  section with an empty path. Together the sections cover ``text`` from start to end.
- Metadata that could not be found is left ``None`` (or empty) and named in ``missing``;
  it is never guessed. ``metadata_sources`` says where each field that *was* found came
  from: ``"document"`` (its own structured statements: iXBRL facts, a front matter, a
  news item's fields, a PDF's title, a release's dateline), ``"cover page"`` or
  ``"signature page"`` (read from that page of a filing's text), ``"document text"`` (read
  from the body of its text: a 10-Q's fiscal quarter from its statements' column headings
  and the fiscal-year dates it names), ``"filename"`` (only the file-name convention
  ``<ticker>-<form>-<YYYY-MM-DD>.<ext>`` says so, whatever the file contains) or
  ``"user"`` (given at ingestion, e.g. ``tiller kb ingest --ticker``, because the
  document does not state it). Citations show the file-name kind, so a reader knows
  which facts rest on a file's name alone.
- ``page_starts`` (paginated sources such as PDFs): the offset in ``text`` at which each
  page starts, page 1 first; empty for sources without pages. ``pages_of`` maps a span
  to the pages it lies on.
"""

from __future__ import annotations

import bisect
import hashlib
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from core.errors import DataError

DocumentKind = Literal["filing", "news", "primer", "document"]
MetaSource = Literal[
    "document", "cover page", "signature page", "document text", "filename", "user"
]

# Metadata fields a loader reports as missing when it cannot establish them.
META_FIELDS = ("title", "tickers", "company", "form", "fiscal_period", "published_at")
# The fields whose origin ``metadata_sources`` records (when they are set).
SOURCED_FIELDS = (*META_FIELDS, "url")


@dataclass(frozen=True)
class Section:
    """A span ``[start, end)`` of the document's text under a heading path."""

    path: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One document as indexed.

    ``doc_id`` identifies the *source* (a file, a news item), not its content, so
    re-ingesting a changed file replaces it; ``sha256`` (of the raw source bytes, or of a
    news item's canonical JSON) tells whether it changed.
    """

    doc_id: str
    source: str
    kind: DocumentKind
    text: str
    sections: tuple[Section, ...]
    sha256: str
    title: str | None = None
    tickers: tuple[str, ...] = ()
    company: str | None = None
    form: str | None = None
    fiscal_period: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    missing: tuple[str, ...] = field(default=())
    # field name → where it came from, for every field of SOURCED_FIELDS that is set.
    metadata_sources: dict[str, MetaSource] = field(default_factory=dict, hash=False)
    page_starts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise DataError(f"{self.source}: published_at must be timezone-aware (UTC)")
        position = 0
        for section in self.sections:
            if section.start != position or section.end < section.start:
                raise DataError(
                    f"{self.source}: sections must cover the text in order without gaps "
                    f"(section {section.path} starts at {section.start}, expected {position})"
                )
            position = section.end
        if position != len(self.text):
            raise DataError(
                f"{self.source}: sections end at {position} but the text has {len(self.text)} "
                "characters"
            )

    def section_text(self, section: Section) -> str:
        return self.text[section.start : section.end]

    def pages_of(self, start: int, end: int) -> tuple[int, ...]:
        """The 1-based page numbers the span ``[start, end)`` lies on (empty when the
        document has no pages)."""
        return pages_of(self.page_starts, start, end)


def pages_of(page_starts: tuple[int, ...], start: int, end: int) -> tuple[int, ...]:
    """The 1-based pages that ``[start, end)`` overlaps, given each page's start offset."""
    if not page_starts:
        return ()
    first = bisect.bisect_right(page_starts, start)
    last = bisect.bisect_right(page_starts, max(start, end - 1))
    return tuple(range(max(first, 1), max(last, 1) + 1))


def make_doc_id(source_key: str) -> str:
    """A stable id for a source: a resolved file path, or ``news:<item id>``."""
    return hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:24]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LoadError:
    """A file (or one item of a file) that could not be loaded, and why."""

    source: str
    error: str


@dataclass
class LoadReport:
    """What loading a path produced: documents, plus one error per bad file or item."""

    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


@dataclass(frozen=True)
class SuppliedMeta:
    """Metadata a person gives at ingestion (``tiller kb ingest --ticker --form
    --published-at``) for documents that do not state it."""

    tickers: tuple[str, ...] = ()
    form: str | None = None
    published_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise DataError("--published-at must carry a timezone (e.g. 2024-11-01T21:30:00Z)")


class SuppliedMetaWarning(UserWarning):
    """Metadata given at ingestion that disagrees with what a document states (kept) or
    with what its file name says (replaced): usually a typo or the wrong file."""


_SHOWN = {"tickers": "--ticker", "form": "--form", "published_at": "--published-at"}
_NEW_YORK = ZoneInfo("America/New_York")


def _shown(name: str, value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, datetime):  # a filing's day is New York's
        return value.astimezone(_NEW_YORK).date().isoformat()
    return str(value)


def _agrees(name: str, given: object, found: object) -> bool:
    if not found:
        return True
    if isinstance(given, tuple) and isinstance(found, tuple):
        return set(given) <= set(found)  # --ticker GOOGL for a filing listing GOOGL, GOOG
    return _shown(name, given) == _shown(name, found)


def supplied_conflicts(document: Document, supplied: SuppliedMeta) -> list[str]:
    """Where ``supplied`` disagrees with ``document``, as sentences a person can act on:
    a field the document states itself is kept, one only its file name gave is
    replaced."""
    found: list[str] = []
    for name, given in (
        ("tickers", supplied.tickers),
        ("form", supplied.form),
        ("published_at", supplied.published_at),
    ):
        current = getattr(document, name)
        if not given or _agrees(name, given, current):
            continue
        source = document.metadata_sources.get(name, "filename")
        option, theirs, ours = _SHOWN[name], _shown(name, current), _shown(name, given)
        if source in ("filename", "user"):
            found.append(f"{document.source}: {option} {ours} replaces {theirs} from the file name")
        else:
            found.append(
                f"{document.source}: {option} {ours} was not used: the {source} states "
                f"{theirs}, which is kept; check the file, or leave {option} out"
            )
    return found


def with_supplied(document: Document, supplied: SuppliedMeta) -> Document:
    """``document`` with ``supplied`` filling each field it lacks or knows only from its
    file name (recorded as ``"user"``). What the document states itself is kept: a
    person's word does not overrule the filing's cover page. A disagreement either way
    is a ``SuppliedMetaWarning`` (see ``supplied_conflicts``), never silent."""
    for conflict in supplied_conflicts(document, supplied):
        warnings.warn(conflict, SuppliedMetaWarning, stacklevel=2)
    changes: dict[str, object] = {}
    sources = dict(document.metadata_sources)
    for name, value in (
        ("tickers", supplied.tickers),
        ("form", supplied.form),
        ("published_at", supplied.published_at),
    ):
        if value and sources.get(name, "filename") in ("filename", "user"):
            changes[name] = value
            sources[name] = "user"
    if not changes:
        return document
    missing = tuple(name for name in document.missing if name not in changes)
    return replace(document, **changes, missing=missing, metadata_sources=sources)  # type: ignore[arg-type]
