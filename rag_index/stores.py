"""Open the configured ``VectorStore``: the embedded store (default) or Weaviate.

``TILLER_VECTOR_STORE=local`` keeps everything in ``<state dir>/kb/<embedder>-c<chunker>``
(SQLite plus search caches): one folder per embedding model and chunker version.
``TILLER_VECTOR_STORE=weaviate`` needs ``TILLER_WEAVIATE_URL`` (and
``TILLER_WEAVIATE_GRPC_PORT`` / ``TILLER_WEAVIATE_API_KEY`` as the server requires).
Both backends import their heavy libraries (faiss, weaviate-client) on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import ConfigError
from rag_index._local import LocalStore
from rag_index._weaviate import WeaviateStore
from rag_index.chunking import CHUNKER_VERSION
from rag_index.types import VectorStore

if TYPE_CHECKING:
    from core.settings import Settings


class NamedEmbedder(Protocol):
    """What opening a store needs of the embedder: its vectors' size and a name safe
    for a folder (``SentenceTransformerEmbedder.slug``)."""

    @property
    def dim(self) -> int: ...

    @property
    def slug(self) -> str: ...


def store_folder(settings: Settings, embedder: NamedEmbedder) -> Path:
    """One embedded store per embedding model and chunker version: vectors of two models
    must never be compared, and changing either re-ingests into a fresh folder."""
    return settings.kb_path / f"{embedder.slug}-c{CHUNKER_VERSION}"


def open_store(settings: Settings, embedder: NamedEmbedder) -> VectorStore:
    """The store ``settings`` choose, for ``embedder``'s vectors. The one way every part
    of Tiller opens the knowledge base's store (``KnowledgeBase.open`` included).

    Raises ``ConfigError`` when the choice is incomplete or the store was built with a
    different embedding dimension, ``UnavailableError`` when Weaviate cannot be reached,
    and ``DataError`` when the local database file is unreadable.
    """
    dim = embedder.dim
    if settings.vector_store == "local":
        return LocalStore(store_folder(settings, embedder), dim)
    if settings.vector_store == "weaviate":
        if not settings.weaviate_url:
            raise ConfigError(
                "TILLER_VECTOR_STORE=weaviate needs TILLER_WEAVIATE_URL "
                "(e.g. http://localhost:8080); or set TILLER_VECTOR_STORE=local"
            )
        api_key = settings.weaviate_api_key
        return WeaviateStore(
            settings.weaviate_url,
            settings.weaviate_grpc_port,
            api_key.get_secret_value() if api_key is not None else None,
            dim,
        )
    raise ConfigError(
        f"TILLER_VECTOR_STORE must be 'local' or 'weaviate', got {settings.vector_store!r}"
    )


__all__ = ["LocalStore", "NamedEmbedder", "WeaviateStore", "open_store", "store_folder"]
