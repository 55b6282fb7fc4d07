"""The knowledge base as the CLI, the API and the agents use it: one object that owns
the store, the embedder and the retriever, keeps the bundled primers ingested, and
answers searches and questions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.settings import Settings
from rag_index.answer import Answer, extractive_answer, llm_answer
from rag_index.embedder import default_embedder
from rag_index.ingest import IngestReport, Progress, ingest_path
from rag_index.retriever import Mode, Retriever
from rag_index.stores import open_store
from rag_index.types import (
    DEFAULT_COLLECTION,
    DocumentRecord,
    Embedder,
    Filters,
    ScoredChunk,
    VectorStore,
)

if TYPE_CHECKING:
    from core.llm import LLMSession
    from knowledge_base.document import SuppliedMeta

PRIMERS_DIR = Path(__file__).resolve().parents[1] / "knowledge_base" / "primers"
PRIMERS_COLLECTION = "primers"
NEWS_DIR = Path(__file__).resolve().parents[1] / "knowledge_base" / "news"
NEWS_COLLECTION = "news"


@dataclass
class KnowledgeBase:
    store: VectorStore
    embedder: Embedder
    settings: Settings | None = None

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBase:
        embedder = default_embedder(settings)
        return cls(open_store(settings, embedder), embedder, settings)

    @property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(
        self,
        path: Path,
        collection: str = DEFAULT_COLLECTION,
        progress: Progress | None = None,
        supplied: SuppliedMeta | None = None,
    ) -> IngestReport:
        """``supplied``: what ``tiller kb ingest --ticker --form --published-at`` gives
        for documents that do not state it (see ``knowledge_base.with_supplied``)."""
        report = ingest_path(
            path, self.store, self.embedder, collection, progress=progress, supplied=supplied
        )
        self._prepare(report)
        return report

    def ensure_primers(self, progress: Progress | None = None) -> IngestReport:
        """Ingest the bundled primers (a no-op when they are in and unchanged)."""
        report = ingest_path(
            PRIMERS_DIR, self.store, self.embedder, PRIMERS_COLLECTION, progress=progress
        )
        self._prepare(report)
        return report

    def ensure_bundled_news(self, progress: Progress | None = None) -> IngestReport:
        """Ingest the bundled news items (dated summaries of 2012-13 company announcements
        for the bundled stocks; see knowledge_base/news/README.md)."""
        report = ingest_path(
            NEWS_DIR / "equities-2012-2013.jsonl", self.store, self.embedder, NEWS_COLLECTION,
            progress=progress,
        )  # fmt: skip
        self._prepare(report)
        return report

    def _prepare(self, report: IngestReport) -> None:
        """Build the search structures after a write, so the first query is fast."""
        build = getattr(self.store, "build_index", None)
        if (report.added or report.replaced) and build is not None:
            build()

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        return self.store.documents(collection)

    def search(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> list[ScoredChunk]:
        """Search every collection unless ``filters`` name one."""
        return self.retriever.search(query, k, filters or Filters(collection=None), mode)

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        *,
        k: int = 6,
        use_llm: bool | None = None,
        llm: LLMSession | None = None,
    ) -> Answer:
        """Answer from the retrieved passages: with ``llm`` (injected by the caller, who
        owns its budget and recording) a checked LLM answer, else an extractive one.
        ``use_llm=False`` forces extractive; ``use_llm=True`` without ``llm`` is a
        ``ConfigError`` naming the settings to set."""
        wants_llm = llm is not None if use_llm is None else use_llm
        if wants_llm and llm is None:
            raise ConfigError(
                "no LLM is configured: set TILLER_LLM_BASE_URL (e.g. "
                "http://localhost:11434/v1) and TILLER_LLM_MODEL"
            )
        hits = self.search(question, k, filters)
        if wants_llm and llm is not None:
            session = llm
            answer = llm_answer(
                question, hits, lambda m: session.complete(m, purpose="ask"), self.embedder
            )
            answer.model = session.model
        else:
            answer = extractive_answer(question, hits, self.embedder)
            answer.model = self.embedder.name
        answer.as_of = filters.as_of if filters else None
        return answer
