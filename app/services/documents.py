"""The knowledge base's documents and passages as every surface reads them: ingest,
list, search (one query or a JSON Lines batch) and fetch filings. Questions with cited
answers are ``app.services.knowledge``.

Filters are read here, once: tickers and forms match in capitals, times are UTC, and a
batch line's own filters replace the command's for that line only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel

from app.services.outcome import ErrorDetail, data_error
from core.errors import ConfigError, TillerError
from core.timeutil import parse_utc

if TYPE_CHECKING:
    from rag_index.service import KnowledgeBase
    from rag_index.types import DocumentRecord, Filters, ScoredChunk

Mode = Literal["hybrid", "dense", "lexical"]


class SearchFilters(BaseModel):
    """Restrictions applied inside a search. ``collection`` None: every collection."""

    model_config = ConfigDict(extra="forbid")

    collection: str | None = None
    tickers: list[str] = []
    forms: list[str] = []
    as_of: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(
        cls, collection: str | None = None, tickers: list[str] | None = None,
        forms: list[str] | None = None, *, as_of: str | None = None, start: str | None = None,
        end: str | None = None, prefix: str = "--",
    ) -> SearchFilters:  # fmt: skip
        """From text as people type it (times in ISO 8601, UTC when no zone is given)."""

        def when(value: str | None, name: str) -> datetime | None:
            return parse_utc(value, name=f"{prefix}{name}") if value else None

        return cls(collection=collection, tickers=list(tickers or ()), forms=list(forms or ()),
                   as_of=when(as_of, "as-of" if prefix else "as_of"), start=when(start, "start"),
                   end=when(end, "end"))  # fmt: skip

    def to_filters(self) -> Filters:
        from rag_index.types import Filters

        return Filters(
            collection=self.collection, tickers=tuple(t.upper() for t in self.tickers),
            forms=tuple(f.upper() for f in self.forms), as_of=self.as_of, start=self.start,
            end=self.end,
        )  # fmt: skip


class OutlineEntry(BaseModel):
    section: list[str]
    page: int


class DocumentView(BaseModel):
    """A stored document's metadata; ``metadata_sources`` says where each field came from
    (document, cover page, signature page, document text, filename, user)."""

    doc_id: str
    collection: str
    title: str | None
    tickers: list[str]
    company: str | None
    form: str | None
    fiscal_period: str | None
    published_at: datetime | None
    source: str
    url: str | None
    kind: str
    sha256: str
    passages: int
    missing: list[str]
    metadata_sources: dict[str, str]
    pages: int | None
    outline: list[OutlineEntry]


class DocumentList(RootModel[list[DocumentView]]):
    pass


class FoundMetadata(BaseModel):
    """What ingestion established about one document written, and where."""

    source: str
    company: str | None
    tickers: list[str]
    form: str | None
    fiscal_period: str | None
    published_at: datetime | None
    pages: int | None
    missing: list[str]
    metadata_sources: dict[str, str]


class IngestFailure(BaseModel):
    source: str
    error: str


class IngestView(BaseModel):
    """``error`` is set when any file or line was refused (the rest is still written)."""

    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    errors: list[IngestFailure]
    chunks_written: int
    seconds: float
    metadata: list[FoundMetadata]
    # --ticker/--form/--published-at that disagree with a document (which value was kept).
    warnings: list[str] = []
    error: ErrorDetail | None = None


class HitView(BaseModel):
    """One passage found: its text, score and where it comes from (``page`` reads
    "p. 47" or "pp. 46–47" for a paginated source)."""

    text: str
    score: float
    chunk_id: str
    doc_id: str
    title: str | None
    ticker: str | None
    tickers: list[str]
    form: str | None
    date: datetime | None
    section: str | None
    section_path: list[str]
    pages: list[int]
    page: str | None
    start: int
    end: int
    source: str | None
    collection: str | None
    metadata_sources: dict[str, str]
    from_filename: list[str]
    cited_as: str  # title · section · page · date · span, as a reader sees it


class HitList(RootModel[list[HitView]]):
    pass


class BatchLineView(BaseModel):
    """One line of a ``--queries`` file answered: its hits, or why the line was refused."""

    id: Any = None
    line: int | None = None
    hits: list[HitView] | None = None
    error: str | None = None


class FilingView(BaseModel):
    path: str
    ticker: str
    form: str
    filing_date: date
    report_date: date | None
    accession: str
    url: str
    status: str


class FilingList(RootModel[list[FilingView]]):
    pass


def _document(r: DocumentRecord) -> DocumentView:
    return DocumentView(
        doc_id=r.doc_id, collection=r.collection, title=r.title, tickers=list(r.tickers),
        company=r.company, form=r.form, fiscal_period=r.fiscal_period,
        published_at=r.published_at, source=r.source, url=r.url, kind=r.kind, sha256=r.sha256,
        passages=r.n_chunks, missing=list(r.missing), metadata_sources=dict(r.metadata_sources),
        pages=r.pages or None,
        outline=[OutlineEntry(section=list(path), page=page) for path, page in r.outline],
    )  # fmt: skip


def _hits(hits: list[ScoredChunk]) -> list[HitView]:
    from rag_index.answer import cite_text
    from rag_index.types import chunk_to_json

    return [HitView.model_validate({**chunk_to_json(h), "cited_as": cite_text(h.chunk)})
            for h in hits]  # fmt: skip


def documents(kb: KnowledgeBase, collection: str | None = None) -> DocumentList:
    return DocumentList([_document(r) for r in kb.documents(collection)])


def ingest(
    kb: KnowledgeBase, path: Path, collection: str, *, tickers: list[str] | None = None,
    form: str | None = None, published_at: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestView:  # fmt: skip
    """Load, chunk, embed and store ``path``. ``tickers``/``form``/``published_at`` fill
    only what a document does not state (recorded as given by the user); where they
    disagree with a document, ``warnings`` says so and which value was kept."""
    import warnings

    from knowledge_base import SuppliedMetaWarning

    supplied = supplied_meta(tickers, form, published_at)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SuppliedMetaWarning)
        report = kb.ingest(path, collection, progress, supplied)
    said = [str(w.message) for w in caught if issubclass(w.category, SuppliedMetaWarning)]
    for other in caught:  # anything else is passed on as it came
        if not issubclass(other.category, SuppliedMetaWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    data = {**report.to_json(), "warnings": list(dict.fromkeys(said))}
    refused = f"{len(report.errors)} file(s) or line(s) refused, see 'errors'"
    return IngestView.model_validate(
        {**data, "error": data_error(refused) if report.errors else None}
    )


def supplied_meta(tickers: list[str] | None, form: str | None, published_at: str | None) -> Any:
    """What the person gave for documents that do not state it (checked: a future or
    unreadable date is refused)."""
    from knowledge_base import supplied_meta as _supplied

    try:
        return _supplied(tickers or (), form, published_at)
    except ValueError as exc:
        raise ConfigError(f"--published-at: {exc}") from None


def search(
    kb: KnowledgeBase, query: str, k: int = 10, filters: SearchFilters | None = None,
    mode: str = "hybrid",
) -> HitList:  # fmt: skip
    if not query.strip():
        raise ConfigError("the query is empty: give a few words to search for")
    chosen = (filters or SearchFilters()).to_filters()
    return HitList(_hits(kb.search(query, k, chosen, mode)))  # type: ignore[arg-type]


BATCH_KEYS = frozenset(
    {"id", "query", "k", "collection", "ticker", "tickers", "form", "forms", "as_of", "start",
     "end", "mode"}
)  # fmt: skip


def search_line(
    kb: KnowledgeBase, line: str, number: int, base: SearchFilters, k: int, mode: str
) -> BatchLineView:
    """One line of a batch: ``{"id", "query", optional k, mode and filters}``. Its own
    filters replace ``base``'s; a bad line is answered with an ``error``, not raised."""
    view = BatchLineView(line=number)
    try:
        item = json.loads(line)
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            raise ConfigError('each line must be an object with a "query" string')
        view = BatchLineView(id=item.get("id", number))
        unknown = set(item) - BATCH_KEYS
        if unknown:
            raise ConfigError(f"unknown keys {sorted(unknown)}; allowed: {sorted(BATCH_KEYS)}")
        tickers = _listify(item.get("tickers", item.get("ticker")))
        forms = _listify(item.get("forms", item.get("form")))
        own = SearchFilters.parse(
            item.get("collection", base.collection), tickers or base.tickers,
            forms or base.forms, as_of=item.get("as_of"), start=item.get("start"),
            end=item.get("end"), prefix="",
        )  # fmt: skip
        merged = own.model_copy(update={
            "as_of": own.as_of or base.as_of, "start": own.start or base.start,
            "end": own.end or base.end,
        })  # fmt: skip
        hits = kb.search(item["query"], int(item.get("k", k)), merged.to_filters(),
                         item.get("mode", mode))  # fmt: skip
        view.hits = _hits(hits)
    except (json.JSONDecodeError, TillerError, ValueError, TypeError) as exc:
        view.error = f"line {number}: {exc}"
    return view


def _listify(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"expected a string or a list of strings, got {value!r}")


def fetch_filings(
    settings: Any, ticker: str, *, form: str = "10-K", limit: int = 1, dest: Path | None = None
) -> FilingList:
    """Download filings from SEC EDGAR (needs the network and TILLER_SEC_USER_AGENT)."""
    from knowledge_base.edgar import fetch_filings as _fetch

    results = _fetch(settings, ticker, form=form, limit=limit, dest=dest)
    return FilingList([FilingView.model_validate(r.to_json()) for r in results])
