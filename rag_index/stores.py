"""Open the configured ``VectorStore``: the embedded store (default) or Weaviate.

``TILLER_VECTOR_STORE=local`` keeps everything in ``<state dir>/kb`` (SQLite plus search
caches). ``TILLER_VECTOR_STORE=weaviate`` needs ``TILLER_WEAVIATE_URL`` (and
``TILLER_WEAVIATE_GRPC_PORT`` / ``TILLER_WEAVIATE_API_KEY`` as the server requires).
Both backends import their heavy libraries (faiss, weaviate-client) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError
from rag_index._local import LocalStore
from rag_index._weaviate import WeaviateStore
from rag_index.types import VectorStore

if TYPE_CHECKING:
    from core.settings import Settings


def open_store(settings: Settings, dim: int) -> VectorStore:
    """The store ``settings`` choose, for vectors of ``dim`` dimensions.

    Raises ``ConfigError`` when the choice is incomplete or the store was built with a
    different embedding dimension, ``UnavailableError`` when Weaviate cannot be reached,
    and ``DataError`` when the local database file is unreadable.
    """
    if settings.vector_store == "local":
        return LocalStore(settings.kb_path, dim)
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


__all__ = ["LocalStore", "WeaviateStore", "open_store"]
