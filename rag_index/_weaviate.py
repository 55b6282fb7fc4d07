"""A ``VectorStore`` on a Weaviate server (weaviate-client v4), for a shared deployment.

Two Weaviate collections: ``TillerChunk`` (one object per chunk, with its self-provided
vector, cosine HNSW index) and ``TillerDocument`` (one object per ``DocumentRecord``).
Object ids are UUIDv5 of ``(collection, chunk_id)`` / ``(collection, doc_id)``, so a
re-upsert overwrites instead of duplicating. Filters are Weaviate ``where`` filters
passed to ``near_vector`` / ``bm25``, so they apply inside the search.

Weaviate has no multi-object transactions, so ``upsert_document`` is ordered to fail
safe rather than atomic: (1) write the new chunks (overwriting same-id ones), (2) delete
the document's chunks not written in this upsert, (3) write the document record last.
If it stops part way, searches may briefly see new chunks beside leftover old ones, and
the document record still carries the old ``sha256``, so the next ingest sees the
document as changed and redoes it. The client (~2.5 s to import) is imported on first use.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from core.errors import ConfigError, DataError, UnavailableError
from rag_index._records import FilterSpec, check_k, check_query, check_upsert
from rag_index._text import tokenize
from rag_index._weaviate_schema import (
    SCHEMA,
    SEARCHABLE,
    VECTOR,
    chunk_from_properties,
    chunk_to_properties,
    create_arguments,
    document_from_properties,
    document_to_properties,
    where_filter,
)
from rag_index.types import DEFAULT_COLLECTION, Chunk, DocumentRecord, Filters, ScoredChunk

BATCH = 200
_MARK = re.compile(r"tiller-schema=(\d+) dim=(\d+)")


class WeaviateStore:
    """Chunks and documents in a Weaviate server at ``url`` (REST) and ``grpc_port``."""

    def __init__(
        self,
        url: str,
        grpc_port: int = 50051,
        api_key: str | None = None,
        dim: int = 384,
        collection_name: str = "TillerChunk",
        *,
        timeout_s: float = 30.0,
    ) -> None:
        import weaviate
        from weaviate.classes.init import AdditionalConfig, Auth, Timeout

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"TILLER_WEAVIATE_URL must look like http://host:8080, got {url!r}")
        secure = parts.scheme == "https"
        self.url = url
        self.dim = dim
        self.collection_name = collection_name
        self.documents_name = collection_name.removesuffix("Chunk") + "Document"
        with self._calling(f"connect (gRPC port {grpc_port})"):
            self._client = weaviate.connect_to_custom(
                http_host=parts.hostname,
                http_port=parts.port or (443 if secure else 80),
                http_secure=secure,
                grpc_host=parts.hostname,
                grpc_port=grpc_port,
                grpc_secure=secure,
                auth_credentials=Auth.api_key(api_key) if api_key else None,
                additional_config=AdditionalConfig(
                    timeout=Timeout(init=min(timeout_s, 10), query=timeout_s, insert=timeout_s)
                ),
            )
        try:
            self._chunks = self._ensure(create_arguments(self.collection_name, dim, chunks=True))
            self._documents = self._ensure(create_arguments(self.documents_name, dim, chunks=False))
        except BaseException:
            self._client.close()
            raise

    def __repr__(self) -> str:
        return f"WeaviateStore({self.url!r}, collection_name={self.collection_name!r})"

    # Schema -------------------------------------------------------------------------

    def _ensure(self, arguments: dict[str, Any]) -> Any:
        from weaviate.exceptions import WeaviateBaseError

        name = arguments["name"]
        with self._calling(f"open collection {name}"):
            if not self._client.collections.exists(name):
                try:
                    self._client.collections.create(**arguments)
                except WeaviateBaseError:
                    if not self._client.collections.exists(name):  # lost a creation race?
                        raise
            collection = self._client.collections.get(name)
            description = collection.config.get().description or ""
        mark = _MARK.search(description)
        if mark is None:
            raise ConfigError(
                f"Weaviate collection {name} at {self.url} was not created by Tiller; "
                "pick another collection name"
            )
        schema, stored_dim = int(mark.group(1)), int(mark.group(2))
        if schema != SCHEMA:
            raise DataError(
                f"Weaviate collection {name} has Tiller schema {schema}, this Tiller needs "
                f"{SCHEMA}; ingest again into a new collection"
            )
        if stored_dim != self.dim:
            raise ConfigError(
                f"Weaviate collection {name} holds {stored_dim}-dimensional vectors but the "
                f"embedding model gives {self.dim}: it was built with another model. Use that "
                "model again (TILLER_EMBEDDING_MODEL) or ingest into a new collection"
            )
        self._add_properties(collection, arguments["properties"])
        return collection

    def _add_properties(self, collection: Any, properties: list[Any]) -> None:
        """Properties added to the schema since the collection was created (they are
        optional on read, so older objects still load)."""
        with self._calling(f"update collection {collection.name}"):
            present = {p.name for p in collection.config.get().properties}
            for prop in properties:
                if prop.name not in present:
                    collection.config.add_property(prop)

    def destroy(self) -> None:
        """Delete both Weaviate collections and everything in them (tests, resets)."""
        with self._calling("delete collections"):
            self._client.collections.delete([self.collection_name, self.documents_name])

    # Writes -------------------------------------------------------------------------

    def upsert_document(
        self, document: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        from weaviate.classes.data import DataObject
        from weaviate.classes.query import Filter

        matrix = check_upsert(document, chunks, vectors, self.dim)
        write_id = uuid.uuid4().hex
        objects = [
            DataObject(
                properties=chunk_to_properties(chunk, write_id),
                uuid=self._uuid(chunk.collection, chunk.chunk_id),
                vector={VECTOR: vector.tolist()},
            )
            for chunk, vector in zip(chunks, matrix, strict=True)
        ]
        with self._calling(f"upsert document {document.doc_id!r}"):
            for at in range(0, len(objects), BATCH):
                _raise_on_errors(self._chunks.data.insert_many(objects[at : at + BATCH]))
            stale = self._of_document(document.collection, document.doc_id) & Filter.by_property(
                "write_id"
            ).not_equal(write_id)
            self._delete_all(stale)
            record = DataObject(
                properties=document_to_properties(document),
                uuid=self._uuid(document.collection, document.doc_id, kind="document"),
            )
            _raise_on_errors(self._documents.data.insert_many([record]))

    def delete_document(self, doc_id: str, collection: str = DEFAULT_COLLECTION) -> bool:
        key = self._uuid(collection, doc_id, kind="document")
        with self._calling(f"delete document {doc_id!r}"):
            existed = bool(self._documents.data.exists(key))
            deleted = self._delete_all(self._of_document(collection, doc_id))
            self._documents.data.delete_by_id(key)
        return existed or deleted > 0

    def _delete_all(self, where: Any) -> int:
        # A server deletes at most QUERY_MAXIMUM_RESULTS objects per call: repeat.
        total = 0
        while True:
            result = self._chunks.data.delete_many(where=where)
            total += result.successful
            if result.failed:
                raise UnavailableError(
                    f"Weaviate at {self.url} failed to delete {result.failed} chunks; retry"
                )
            if result.successful == 0 or result.matches <= result.successful:
                return total

    # Reads --------------------------------------------------------------------------

    def get_document(
        self, doc_id: str, collection: str = DEFAULT_COLLECTION
    ) -> DocumentRecord | None:
        key = self._uuid(collection, doc_id, kind="document")
        with self._calling(f"get document {doc_id!r}"):
            found = self._documents.query.fetch_object_by_id(key)
        return document_from_properties(found.properties) if found is not None else None

    def chunks_of(self, doc_id: str, collection: str = DEFAULT_COLLECTION) -> list[Chunk]:
        """A document's chunks in order (empty if it is not stored)."""
        found: list[Chunk] = []
        with self._calling(f"read the chunks of {doc_id!r}"):
            while True:  # page: a server returns at most QUERY_MAXIMUM_RESULTS per call
                page = self._chunks.query.fetch_objects(
                    filters=self._of_document(collection, doc_id), limit=1000, offset=len(found)
                )
                found.extend(chunk_from_properties(o.properties) for o in page.objects)
                if len(page.objects) < 1000:
                    return sorted(found, key=lambda c: c.ordinal)

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        with self._calling("list documents"):
            records = [document_from_properties(o.properties) for o in self._documents.iterator()]
        if collection is not None:
            records = [r for r in records if r.collection == collection]
        return sorted(records, key=lambda r: (r.collection, r.doc_id))

    def count_chunks(self, collection: str | None = None) -> int:
        from weaviate.classes.query import Filter

        where = None if collection is None else Filter.by_property("collection").equal(collection)
        with self._calling("count chunks"):
            result = self._chunks.aggregate.over_all(filters=where, total_count=True)
        return int(result.total_count or 0)

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[ScoredChunk]:
        from weaviate.classes.query import MetadataQuery

        check_k(k)
        query, norm = check_query(vector, self.dim)
        with self._calling("dense search"):
            result = self._chunks.query.near_vector(
                near_vector=(query / norm).tolist(),
                target_vector=VECTOR,
                limit=k,
                filters=where_filter(FilterSpec.of(filters)),
                return_metadata=MetadataQuery(distance=True),
            )
        # Cosine distance is 1 - cosine similarity.
        return [
            ScoredChunk(chunk_from_properties(o.properties), 1.0 - float(o.metadata.distance))
            for o in result.objects
        ]

    def lexical_search(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[ScoredChunk]:
        from weaviate.classes.query import MetadataQuery

        check_k(k)
        if not tokenize(query):
            return []
        with self._calling("lexical search"):
            result = self._chunks.query.bm25(
                query=query,
                query_properties=SEARCHABLE,
                limit=k,
                filters=where_filter(FilterSpec.of(filters)),
                return_metadata=MetadataQuery(score=True),
            )
        return [
            ScoredChunk(chunk_from_properties(o.properties), float(o.metadata.score or 0.0))
            for o in result.objects
        ]

    def close(self) -> None:
        self._client.close()

    # Internals ----------------------------------------------------------------------

    def _uuid(self, collection: str, key: str, *, kind: str = "chunk") -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tiller:{kind}:{collection}\x1f{key}"))

    @staticmethod
    def _of_document(collection: str, doc_id: str) -> Any:
        from weaviate.classes.query import Filter

        return Filter.by_property("collection").equal(collection) & Filter.by_property(
            "doc_id"
        ).equal(doc_id)

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        from weaviate.exceptions import WeaviateBaseError, WeaviateInvalidInputError

        try:
            yield
        except WeaviateInvalidInputError as exc:
            raise ConfigError(f"Weaviate at {self.url} refused to {what}: {exc}") from exc
        except WeaviateBaseError as exc:
            raise UnavailableError(
                f"cannot {what} on Weaviate at {self.url}: {exc}. Is it running and reachable? "
                "Check TILLER_WEAVIATE_URL, TILLER_WEAVIATE_GRPC_PORT and TILLER_WEAVIATE_API_KEY"
            ) from exc


def _raise_on_errors(result: Any) -> None:
    if result.has_errors:
        first = next(iter(result.errors.values()))
        raise UnavailableError(
            f"Weaviate rejected {len(result.errors)} objects of a batch write: {first.message}"
        )
