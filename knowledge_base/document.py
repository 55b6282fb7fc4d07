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
  from: ``"document"`` (its own statements: iXBRL facts, a cover page, a front matter, a
  news item's fields, a PDF's title) or ``"filename"`` (only the file-name convention
  ``<ticker>-<form>-<YYYY-MM-DD>.<ext>`` says so, whatever the file contains). Citations
  show the second kind, so a reader knows which facts rest on a file's name alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from core.errors import DataError

DocumentKind = Literal["filing", "news", "primer", "document"]
MetaSource = Literal["document", "filename"]

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
