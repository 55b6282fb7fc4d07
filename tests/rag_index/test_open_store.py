"""Choosing and opening the store from settings, and the Weaviate adapter's offline parts
(what it would send to a server is checked with the client's own serialisers)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigError, UnavailableError
from core.settings import load_settings
from rag_index._records import FilterSpec
from rag_index._weaviate_schema import (
    chunk_from_properties,
    chunk_to_properties,
    create_arguments,
    document_from_properties,
    document_to_properties,
    where_filter,
)
from rag_index.chunking import CHUNKER_VERSION
from rag_index.stores import LocalStore, WeaviateStore, open_store, store_folder
from rag_index.types import Filters, VectorStore
from tests.rag_index.store_builders import document


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class _Named:
    """An embedder as far as opening a store cares: its vectors' size and its name."""

    dim: int = 16
    slug: str = "tiny-model"


def test_open_store_by_default_opens_the_embedded_store_of_the_embedder_under_kb_path(
    tmp_path: Path,
) -> None:
    # One folder per embedding model and chunker version, as the knowledge base has
    # always kept it: vectors of two models must never be compared. (open_store used to
    # open kb_path itself, a store the knowledge base never read.)
    settings = load_settings(home=tmp_path)

    store = open_store(settings, _Named())

    assert isinstance(store, LocalStore)
    assert isinstance(store, VectorStore)
    assert store.path == settings.kb_path / f"tiny-model-c{CHUNKER_VERSION}"
    assert store.path == store_folder(settings, _Named())
    store.close()
    other = open_store(settings, _Named(slug="other-model"))
    assert isinstance(other, LocalStore) and other.path != store.path
    other.close()


def test_open_store_when_weaviate_is_chosen_without_url_then_config_error_names_the_setting() -> (
    None
):
    settings = load_settings(vector_store="weaviate")

    with pytest.raises(ConfigError, match="TILLER_WEAVIATE_URL"):
        open_store(settings, _Named())


def test_open_store_when_weaviate_is_unreachable_then_unavailable_error_names_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = load_settings(vector_store="weaviate", weaviate_url=url)

    with pytest.raises(UnavailableError, match=url.replace(".", r"\.")):
        open_store(settings, _Named())


def test_weaviate_store_when_url_is_malformed_then_config_error() -> None:
    with pytest.raises(ConfigError, match="http://host:8080"):
        WeaviateStore("localhost:8080", 50051, None, 16)


def test_weaviate_filter_when_everything_is_restricted_then_it_lowers_to_one_and_of_six() -> None:
    from weaviate.collections.filters import _FilterToGRPC

    spec = FilterSpec.of(
        Filters(
            tickers=("aapl", "MSFT"),
            forms=("10-k",),
            start=datetime(2020, 1, 1, tzinfo=UTC),
            end=datetime(2024, 6, 1, tzinfo=UTC),
            as_of=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )

    lowered = where_filter(spec)

    parts = [(f.target, f.operator.value, f.value) for f in lowered.filters]
    assert parts == [
        ("collection", "Equal", "default"),
        ("tickers_upper", "ContainsAny", ["AAPL", "MSFT"]),
        ("form_upper", "ContainsAny", ["10-K"]),
        ("dated", "Equal", True),
        ("published_us", "GreaterThanEqual", 1_577_836_800_000_000),
        ("published_us", "LessThanEqual", 1_704_067_200_000_000),  # as_of is the tighter bound
    ]
    assert _FilterToGRPC.convert(lowered) is not None
    assert where_filter(FilterSpec.of(Filters(collection=None))) is None


def test_weaviate_collections_config_is_accepted_by_the_client_validation() -> None:
    from weaviate.collections.classes.config import _CollectionConfigCreate

    chunks = _CollectionConfigCreate(**create_arguments("TillerChunk", 384, chunks=True))._to_dict()
    documents = _CollectionConfigCreate(
        **create_arguments("TillerDocument", 384, chunks=False)
    )._to_dict()

    assert chunks["vectorConfig"]["default"]["vectorizer"] == {"none": {}}
    assert chunks["vectorConfig"]["default"]["vectorIndexConfig"]["distance"] == "cosine"
    assert "dim=384" in chunks["description"]
    assert {p["name"] for p in documents["properties"]} == {"collection", "record"}


def test_weaviate_properties_round_trip_chunks_and_documents() -> None:
    published = datetime(2024, 3, 1, 21, 30, 0, 5, tzinfo=UTC)
    record, chunks = document("a", ["alpha", "beta"], tickers=("aapl",), published_at=published)
    undated_record, undated = document("b", ["gamma"], form=None, published_at=None)

    for chunk in (*chunks, *undated):
        properties = chunk_to_properties(chunk, "write-1")
        assert chunk_from_properties(properties) == chunk
    assert "published_us" not in chunk_to_properties(undated[0], "w")
    assert chunk_to_properties(chunks[0], "w")["tickers_upper"] == ["AAPL"]
    for rec in (record, undated_record):
        assert document_from_properties(document_to_properties(rec)) == rec
