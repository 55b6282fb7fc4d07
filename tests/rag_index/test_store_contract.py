"""The VectorStore contract, checked against every backend.

The embedded store always runs; Weaviate runs when TILLER_WEAVIATE_URL points at a
server (each test uses its own Weaviate collections and deletes them afterwards).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError, DataError
from rag_index._text import tokenize
from rag_index.stores import LocalStore, WeaviateStore
from rag_index.types import Chunk, Filters, VectorStore
from tests.rag_index.store_builders import (
    FORMS,
    T0,
    TICKERS,
    Upsert,
    document,
    flatten,
    random_corpus,
    unit_vectors,
    with_vectors,
)

WEAVIATE_URL = os.environ.get("TILLER_WEAVIATE_URL")
DIM = 32


@dataclass
class Backend:
    """Opens a store of one backend; ``reopen`` gives a new handle on the same data."""

    name: str
    open: Callable[[int], VectorStore]
    exact_dense: bool  # Weaviate's HNSW is approximate even on small collections


def _local(tmp: Path) -> Backend:
    return Backend("local", lambda dim: LocalStore(tmp / "kb", dim), exact_dense=True)


def _weaviate_store(name: str, dim: int) -> WeaviateStore:
    assert WEAVIATE_URL is not None
    grpc = int(os.environ.get("TILLER_WEAVIATE_GRPC_PORT", "50051"))
    key = os.environ.get("TILLER_WEAVIATE_API_KEY")
    return WeaviateStore(WEAVIATE_URL, grpc, key, dim, collection_name=name)


def _weaviate(name: str, opened: list[WeaviateStore]) -> Backend:
    def open_store(dim: int) -> VectorStore:
        store = _weaviate_store(name, dim)
        opened.append(store)
        return store

    return Backend("weaviate", open_store, exact_dense=False)


BACKENDS = [
    "local",
    pytest.param(
        "weaviate",
        marks=pytest.mark.skipif(
            WEAVIATE_URL is None, reason="set TILLER_WEAVIATE_URL to run against a Weaviate server"
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from _backend(request.param, tmp_path)


def _backend(name: str, tmp: Path) -> Iterator[Backend]:
    if name == "local":
        yield _local(tmp)
        return
    opened: list[WeaviateStore] = []
    name = f"TillerTest{uuid.uuid4().hex[:12]}Chunk"
    yield _weaviate(name, opened)
    for store in opened:
        store.close()
    if opened:  # a fresh handle: the test may have closed its own
        cleaner = _weaviate_store(name, opened[0].dim)
        cleaner.destroy()
        cleaner.close()


@pytest.fixture
def store(backend: Backend) -> Iterator[VectorStore]:
    opened = backend.open(DIM)
    yield opened
    opened.close()


def _ids(hits: list) -> list[str]:
    return [hit.chunk.chunk_id for hit in hits]


def _texts(n: int, marker: str) -> list[str]:
    return [f"{marker} passage {i} about revenue" for i in range(n)]


# Upsert, replace, delete -----------------------------------------------------------


def test_upsert_when_same_document_is_upserted_twice_then_it_is_stored_once(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(1)
    upsert = with_vectors(rng, document("a", _texts(4, "first")), DIM)

    store.upsert_document(*upsert)
    store.upsert_document(*upsert)

    assert store.count_chunks() == 4
    assert [d.doc_id for d in store.documents()] == ["a"]


def test_upsert_when_document_changes_then_new_chunks_replace_all_old_ones(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(2)
    store.upsert_document(*with_vectors(rng, document("a", _texts(5, "old")), DIM))
    store.upsert_document(*with_vectors(rng, document("b", _texts(2, "other")), DIM))

    new = with_vectors(rng, document("a", _texts(3, "new"), sha256="1" * 64), DIM)
    store.upsert_document(*new)

    assert store.count_chunks() == 5
    hits = store.lexical_search("old", 10)
    assert hits == []
    assert sorted(_ids(store.lexical_search("new", 10))) == ["a:0", "a:1", "a:2"]
    record = store.get_document("a")
    assert record is not None
    assert (record.sha256, record.n_chunks) == ("1" * 64, 3)


def test_delete_document_removes_its_chunks_and_record_and_says_whether_it_existed(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(3)
    store.upsert_document(*with_vectors(rng, document("a", _texts(3, "gone")), DIM))
    store.upsert_document(*with_vectors(rng, document("b", _texts(2, "kept")), DIM))

    assert store.delete_document("a") is True
    assert store.delete_document("a") is False

    assert store.get_document("a") is None
    assert store.count_chunks() == 2
    assert store.lexical_search("gone", 10) == []
    assert {h.chunk.doc_id for h in store.dense_search(unit_vectors(rng, 1, DIM)[0], 10)} == {"b"}


def test_get_document_returns_the_record_as_upserted(store: VectorStore) -> None:
    rng = np.random.default_rng(4)
    published = datetime(2024, 2, 29, 21, 5, 7, 123456, tzinfo=UTC)
    record, chunks = document(
        "a", ["alpha beta gamma"], tickers=("AAPL", "msft"), published_at=published
    )
    store.upsert_document(record, chunks, unit_vectors(rng, 1, DIM))

    assert store.get_document("a") == record
    assert store.get_document("a", collection="elsewhere") is None
    assert store.chunks_of("a") == chunks  # type: ignore[attr-defined]
    assert store.chunks_of("missing") == []  # type: ignore[attr-defined]
    hit = store.lexical_search("beta", 1)[0]
    assert hit.chunk == chunks[0]


def test_collections_are_isolated_for_counts_listing_search_and_delete(store: VectorStore) -> None:
    rng = np.random.default_rng(5)
    store.upsert_document(*with_vectors(rng, document("a", _texts(3, "shared")), DIM))
    store.upsert_document(
        *with_vectors(rng, document("a", _texts(2, "shared"), collection="eval"), DIM)
    )

    assert (store.count_chunks(), store.count_chunks("default"), store.count_chunks("eval")) == (
        5,
        3,
        2,
    )
    assert [d.collection for d in store.documents("eval")] == ["eval"]
    assert len(store.documents()) == 2
    in_eval = store.lexical_search("shared", 10, Filters(collection="eval"))
    assert {h.chunk.collection for h in in_eval} == {"eval"}
    assert len(store.lexical_search("shared", 10, Filters(collection=None))) == 5

    store.delete_document("a", collection="eval")

    assert (store.count_chunks("default"), store.count_chunks("eval")) == (3, 0)


def test_empty_store_answers_searches_with_no_hits(store: VectorStore) -> None:
    rng = np.random.default_rng(6)
    assert store.dense_search(unit_vectors(rng, 1, DIM)[0], 5) == []
    assert store.lexical_search("revenue", 5) == []
    assert store.count_chunks() == 0
    assert store.documents() == []


# Validation and crash safety ----------------------------------------------------------


def test_upsert_when_vectors_do_not_match_the_chunks_then_data_error_and_nothing_written(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(7)
    record, chunks = document("a", _texts(3, "x"))

    with pytest.raises(DataError, match=r"shape \(2, 32\).*\(3, 32\)"):
        store.upsert_document(record, chunks, unit_vectors(rng, 2, DIM))
    with pytest.raises(DataError, match="shape"):
        store.upsert_document(record, chunks, unit_vectors(rng, 3, DIM + 1))

    assert store.count_chunks() == 0
    assert store.get_document("a") is None


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda v: v * np.float32(np.nan), id="nan"),
        pytest.param(lambda v: v * 3, id="not-normalised"),
        pytest.param(lambda v: v.astype(str).astype(object) + "x", id="not-numeric"),
    ],
)
def test_upsert_when_vectors_are_unusable_then_data_error_and_old_version_is_intact(
    store: VectorStore, spoil: Callable[[np.ndarray], np.ndarray]
) -> None:
    rng = np.random.default_rng(8)
    store.upsert_document(*with_vectors(rng, document("a", _texts(3, "old")), DIM))
    record, chunks, vectors = with_vectors(rng, document("a", _texts(3, "new")), DIM)

    with pytest.raises(DataError, match="document 'a'"):
        store.upsert_document(record, chunks, spoil(vectors))

    assert sorted(_ids(store.lexical_search("old", 10))) == ["a:0", "a:1", "a:2"]
    assert store.count_chunks() == 3


def test_upsert_when_a_chunk_belongs_to_another_document_then_data_error(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(9)
    record, _ = document("a", ["one"])
    _, stray = document("b", ["two"])

    with pytest.raises(DataError, match="belongs to document 'b'"):
        store.upsert_document(record, stray, unit_vectors(rng, 1, DIM))
    assert store.count_chunks() == 0


def test_upsert_when_published_at_is_naive_then_data_error(store: VectorStore) -> None:
    rng = np.random.default_rng(10)
    record, chunks = document("a", ["one"], published_at=datetime(2024, 1, 1))

    with pytest.raises(DataError, match="no timezone"):
        store.upsert_document(record, chunks, unit_vectors(rng, 1, DIM))


def test_search_when_arguments_are_invalid_then_config_error(store: VectorStore) -> None:
    rng = np.random.default_rng(11)
    store.upsert_document(*with_vectors(rng, document("a", ["revenue"]), DIM))

    with pytest.raises(ConfigError, match="all zeros"):
        store.dense_search(np.zeros(DIM, dtype=np.float32), 3)
    with pytest.raises(ConfigError, match=r"expected \(32,\)"):
        store.dense_search(unit_vectors(rng, 1, DIM + 1)[0], 3)
    with pytest.raises(ConfigError, match="k must be"):
        store.lexical_search("revenue", 0)
    with pytest.raises(ConfigError, match="timezone"):
        store.lexical_search("revenue", 3, Filters(as_of=datetime(2024, 1, 1)))


def test_open_when_store_was_built_with_another_dimension_then_config_error_says_how_to_fix(
    backend: Backend,
) -> None:
    rng = np.random.default_rng(12)
    first = backend.open(DIM)
    first.upsert_document(*with_vectors(rng, document("a", ["x"]), DIM))
    first.close()

    with pytest.raises(ConfigError, match=r"32-dimensional.*gives 384.*another model"):
        backend.open(384)


def test_reopen_after_close_then_documents_chunks_and_search_survive(backend: Backend) -> None:
    rng = np.random.default_rng(13)
    corpus = random_corpus(rng, n_docs=10, chunks_per_doc=3, dim=DIM)
    query = unit_vectors(rng, 1, DIM)[0]
    first = backend.open(DIM)
    for upsert in corpus:
        first.upsert_document(*upsert)
    before = _ids(first.dense_search(query, 5, Filters(collection=None)))
    first.close()

    again = backend.open(DIM)

    assert again.count_chunks() == 30
    assert sorted(d.doc_id for d in again.documents()) == [r.doc_id for r, _, _ in corpus]
    assert _ids(again.dense_search(query, 5, Filters(collection=None))) == before
    assert _ids(again.lexical_search("quokka7", 1, Filters(collection=None))) == ["doc0007:0"]
    again.close()


# Search ---------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [16, 384])
def test_dense_search_returns_the_brute_force_top_k_with_cosine_scores(
    backend: Backend, dim: int
) -> None:
    rng = np.random.default_rng(dim)
    corpus = random_corpus(rng, n_docs=60, chunks_per_doc=5, dim=dim, collections=("default",))
    chunks, vectors = flatten(corpus)
    store = backend.open(dim)
    for upsert in corpus:
        store.upsert_document(*upsert)

    for query in unit_vectors(rng, 5, dim):
        hits = store.dense_search(query, 10)

        scores = vectors @ query
        expected = [chunks[i].chunk_id for i in np.argsort(-scores)[:10]]
        if backend.exact_dense:
            assert _ids(hits) == expected
        else:
            assert len(set(_ids(hits)) & set(expected)) >= 9
        by_id = {c.chunk_id: float(s) for c, s in zip(chunks, scores, strict=True)}
        for hit in hits:
            assert hit.score == pytest.approx(by_id[hit.chunk.chunk_id], abs=1e-4)
    store.close()


def test_dense_search_when_query_is_not_unit_length_then_scores_are_still_cosines(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(14)
    record, chunks, vectors = with_vectors(rng, document("a", ["x", "y"]), DIM)
    store.upsert_document(record, chunks, vectors)

    hits = store.dense_search(vectors[1] * 7.5, 1)

    assert _ids(hits) == ["a:1"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_lexical_search_ranks_the_chunk_with_the_rare_term_first(store: VectorStore) -> None:
    rng = np.random.default_rng(15)
    for upsert in random_corpus(rng, n_docs=40, chunks_per_doc=4, dim=DIM):
        store.upsert_document(*upsert)

    hits = store.lexical_search("liquidity quokka23 revenue", 5, Filters(collection=None))

    assert hits[0].chunk.chunk_id == "doc0023:0"
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_lexical_search_when_query_has_no_indexable_term_then_returns_nothing(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(16)
    store.upsert_document(*with_vectors(rng, document("a", ["the revenue of the firm"]), DIM))

    assert store.lexical_search("the of and", 5) == []
    assert store.lexical_search("   ", 5) == []
    assert store.lexical_search("zzzunseen", 5) == []


def test_filters_apply_inside_search_when_only_3_of_1000_chunks_match(
    store: VectorStore,
) -> None:
    rng = np.random.default_rng(17)
    for d in range(100):
        tickers = ("RARE",) if d in (13, 57, 91) else ("AAPL",)
        texts = [f"revenue growth paragraph {i}" for i in range(10 if d not in (13, 57, 91) else 1)]
        store.upsert_document(*with_vectors(rng, document(f"d{d}", texts, tickers=tickers), DIM))
    wanted = {"d13:0", "d57:0", "d91:0"}
    only_rare = Filters(tickers=("rare",))

    dense = store.dense_search(unit_vectors(rng, 1, DIM)[0], 3, only_rare)
    lexical = store.lexical_search("revenue growth", 3, only_rare)

    assert set(_ids(dense)) == wanted
    assert set(_ids(lexical)) == wanted
    assert len(store.dense_search(unit_vectors(rng, 1, DIM)[0], 50, only_rare)) == 3


def test_as_of_never_returns_later_documents_nor_ones_of_unknown_date(store: VectorStore) -> None:
    rng = np.random.default_rng(18)
    as_of = datetime(2023, 6, 30, 16, 0, tzinfo=UTC)
    cases = {
        "before": as_of - timedelta(days=300),
        "exactly": as_of,
        "after": as_of + timedelta(microseconds=1),
        "unknown": None,
    }
    for name, published in cases.items():
        built = document(name, ["quarterly revenue outlook"], published_at=published)
        store.upsert_document(*with_vectors(rng, built, DIM))

    filters = Filters(as_of=as_of)
    dense = store.dense_search(unit_vectors(rng, 1, DIM)[0], 10, filters)
    lexical = store.lexical_search("revenue", 10, filters)

    assert sorted(h.chunk.doc_id for h in dense) == ["before", "exactly"]
    assert sorted(h.chunk.doc_id for h in lexical) == ["before", "exactly"]


# Filters against the reference semantics (Filters.matches) ------------------------------

_MOMENT = st.one_of(
    st.none(),
    st.integers(-30, 5 * 365 + 30).map(lambda d: T0 + timedelta(days=d)),
)
_FILTERS = st.builds(
    Filters,
    collection=st.sampled_from(["default", "other", None, "absent"]),
    tickers=st.lists(st.sampled_from([*TICKERS, "aapl", "ZZZZ"]), max_size=2, unique=True).map(
        tuple
    ),
    forms=st.lists(st.sampled_from([*FORMS, "10-k", "S-1"]), max_size=2, unique=True).map(tuple),
    start=_MOMENT,
    end=_MOMENT,
    as_of=_MOMENT,
)


@pytest.fixture(scope="module", params=BACKENDS)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VectorStore, list[Chunk], np.ndarray, Backend]]:
    rng = np.random.default_rng(19)
    corpus: list[Upsert] = random_corpus(rng, n_docs=80, chunks_per_doc=4, dim=DIM)
    chunks, vectors = flatten(corpus)
    for backend in _backend(request.param, tmp_path_factory.mktemp("filled")):
        store = backend.open(DIM)
        for upsert in corpus:
            store.upsert_document(*upsert)
        yield store, chunks, vectors, backend
        store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filters=_FILTERS, seed=st.integers(0, 2**16))
def test_filtered_searches_return_exactly_what_filters_matches_allows(
    filled: tuple[VectorStore, list[Chunk], np.ndarray, Backend], filters: Filters, seed: int
) -> None:
    store, chunks, vectors, backend = filled
    allowed = [i for i, chunk in enumerate(chunks) if filters.matches(chunk)]
    query = unit_vectors(np.random.default_rng(seed), 1, DIM)[0]

    dense = store.dense_search(query, len(chunks), filters)
    lexical = store.lexical_search("revenue", len(chunks), filters)

    by_score = sorted(allowed, key=lambda i: -float(vectors[i] @ query))
    if backend.exact_dense:
        assert _ids(dense) == [chunks[i].chunk_id for i in by_score]
    else:
        assert set(_ids(dense)) <= {chunks[i].chunk_id for i in allowed}
    with_term = {chunks[i].chunk_id for i in allowed if "revenue" in tokenize(chunks[i].text)}
    assert set(_ids(lexical)) == with_term


def test_k_larger_than_the_matches_returns_every_match(store: VectorStore) -> None:
    rng = np.random.default_rng(20)
    store.upsert_document(*with_vectors(rng, document("a", _texts(4, "revenue")), DIM))
    store.upsert_document(*with_vectors(rng, document("b", ["nothing here"], tickers=()), DIM))

    dense = store.dense_search(unit_vectors(rng, 1, DIM)[0], 100, Filters(tickers=("AAPL",)))
    lexical = store.lexical_search("revenue", 100)

    assert sorted(_ids(dense)) == ["a:0", "a:1", "a:2", "a:3"]
    assert sorted(_ids(lexical)) == ["a:0", "a:1", "a:2", "a:3"]
