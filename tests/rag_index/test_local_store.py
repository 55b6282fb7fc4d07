"""What only the embedded store promises: its ANN path, its caches, its files, and
readers that never see half a write."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ConfigError, DataError
from rag_index import _local, _search, _sqlite
from rag_index._hnsw import Hnsw
from rag_index.stores import LocalStore
from rag_index.types import Filters
from tests.rag_index.store_builders import clustered_vectors, document, unit_vectors, with_vectors

DIM = 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    opened = LocalStore(tmp_path / "kb", DIM)
    yield opened
    opened.close()


def _ids(hits: list) -> list[str]:
    return [hit.chunk.chunk_id for hit in hits]


class _Spy:
    """Counts calls of one ``Hnsw`` method (the graph walk, or a full build)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str = "search") -> None:
        self.calls = 0
        original = getattr(Hnsw, name).__func__ if name == "build" else getattr(Hnsw, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(Hnsw, name, classmethod(spy) if name == "build" else spy)


def _clustered_store(path: Path, n: int, dim: int, **options: Any) -> LocalStore:
    rng = np.random.default_rng(0)
    vectors = clustered_vectors(rng, n, dim)
    store = LocalStore(path, dim, **options)
    per_doc = 10
    items = []
    for d in range(n // per_doc):
        tickers = ("AAPL",) if d % 2 else ("MSFT",)
        form = "8-K" if d % 10 == 0 else "10-K"
        texts = [f"text {d} {i}" for i in range(per_doc)]
        record, chunks = document(f"d{d}", texts, tickers=tickers, form=form)
        items.append((record, chunks, vectors[d * per_doc : (d + 1) * per_doc]))
    store.upsert_documents(items)
    return store


# ANN path ---------------------------------------------------------------------------


def test_ann_search_when_index_is_built_then_recall_at_10_is_at_least_95_percent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dim = 64
    store = _clustered_store(tmp_path / "kb", 4000, dim, ann_threshold=1000)
    store.build_index()
    spy = _Spy(monkeypatch)
    queries = clustered_vectors(np.random.default_rng(1), 60, dim)

    for filters in (None, Filters(tickers=("AAPL",))):
        found = 0
        for query in queries:
            approximate = set(_ids(store.dense_search(query, 10, filters)))
            exact = set(_ids(store.search_exact(query, 10, filters)))
            found += len(approximate & exact)
        assert found / (10 * len(queries)) >= 0.95

    assert spy.calls == 2 * len(queries)
    store.close()


def test_ann_search_when_filter_keeps_few_rows_then_exact_search_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _clustered_store(tmp_path / "kb", 2000, DIM, ann_threshold=500)
    store.build_index()
    spy = _Spy(monkeypatch)
    query = unit_vectors(np.random.default_rng(2), 1, DIM)[0]
    tenth = Filters(forms=("8-K",))

    store.dense_search(query, 5, Filters(tickers=("AAPL",)))  # half the rows: the graph
    hits = store.dense_search(query, 5, tenth)

    assert spy.calls == 1
    assert _ids(hits) == _ids(store.search_exact(query, 5, tenth))
    assert {h.chunk.form for h in hits} == {"8-K"}
    store.close()


def test_dense_search_when_store_is_below_the_threshold_then_no_graph_is_built(
    store: LocalStore,
) -> None:
    rng = np.random.default_rng(3)
    store.upsert_document(*with_vectors(rng, document("a", ["x"] * 5), DIM))

    store.build_index()
    store.dense_search(unit_vectors(rng, 1, DIM)[0], 3)

    assert not list((store.path / "cache").glob("hnsw.*"))


def test_ann_after_a_small_write_then_the_old_graph_is_updated_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _clustered_store(tmp_path / "kb", 1500, DIM, ann_threshold=100)
    store.build_index()
    rng = np.random.default_rng(4)
    near_gone = unit_vectors(rng, 1, DIM)[0]
    gone = store.dense_search(near_gone, 1)[0].chunk
    record, chunks = document("new", ["fresh"])
    vector = unit_vectors(rng, 1, DIM)
    walks, builds = _Spy(monkeypatch), _Spy(monkeypatch, "build")
    exact_calls: list[int] = []

    def counted_exact(*args: Any) -> Any:
        exact_calls.append(1)
        return _search.exact_dense(*args)

    monkeypatch.setattr(_local, "exact_dense", counted_exact)

    store.upsert_document(record, chunks, vector)
    store.delete_document(gone.doc_id)

    assert _ids(store.dense_search(vector[0], 1)) == ["new:0"]
    # The deleted row is still in the graph, nearest to this query: the walk must skip it.
    assert store.dense_search(near_gone, 1)[0].chunk.doc_id != gone.doc_id
    store.build_index()
    assert _ids(store.dense_search(vector[0], 1)) == ["new:0"]
    assert (walks.calls, len(exact_calls), builds.calls) == (3, 0, 0)
    assert len(list((store.path / "cache").glob("hnsw.*"))) == 1
    store.close()


def test_ann_when_most_of_the_graph_was_deleted_then_build_index_builds_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _clustered_store(tmp_path / "kb", 1000, DIM, ann_threshold=100)
    store.build_index()
    builds = _Spy(monkeypatch, "build")
    for d in range(40):  # 400 of 1000 rows
        store.delete_document(f"d{d}")

    store.build_index()

    assert builds.calls == 1
    query = unit_vectors(np.random.default_rng(5), 1, DIM)[0]
    approximate = set(_ids(store.dense_search(query, 10)))
    assert len(approximate & set(_ids(store.search_exact(query, 10)))) >= 9
    store.close()


# Caches and generations -------------------------------------------------------------


def test_search_after_write_sees_the_write_and_old_cache_files_are_removed(
    store: LocalStore,
) -> None:
    rng = np.random.default_rng(5)
    store.upsert_document(*with_vectors(rng, document("a", ["alpha revenue"]), DIM))
    assert _ids(store.lexical_search("revenue", 5)) == ["a:0"]
    first = sorted(p.name for p in (store.path / "cache").iterdir())

    store.upsert_document(*with_vectors(rng, document("b", ["beta revenue"]), DIM))
    assert sorted(_ids(store.lexical_search("revenue", 5))) == ["a:0", "b:0"]
    store.delete_document("a")
    assert _ids(store.lexical_search("revenue", 5)) == ["b:0"]

    now = sorted(p.name for p in (store.path / "cache").iterdir())
    assert len(now) == len(first) == 2  # columns + bm25 of the latest generation only
    assert set(now).isdisjoint(first)


def test_second_instance_on_the_same_folder_sees_writes_of_the_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    writer = LocalStore(tmp_path / "kb", DIM)
    reader = LocalStore(tmp_path / "kb", DIM)
    writer.upsert_document(*with_vectors(rng, document("a", ["alpha revenue"]), DIM))
    assert _ids(reader.lexical_search("revenue", 5)) == ["a:0"]

    record, chunks, vectors = with_vectors(rng, document("b", ["beta revenue"]), DIM)
    writer.upsert_document(record, chunks, vectors)

    assert sorted(_ids(reader.lexical_search("revenue", 5))) == ["a:0", "b:0"]
    assert _ids(reader.dense_search(vectors[0], 1)) == ["b:0"]
    writer.close()
    reader.close()


def test_reader_during_repeated_replacements_sees_one_whole_version_at_a_time(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(7)
    writer = LocalStore(tmp_path / "kb", DIM)
    reader = LocalStore(tmp_path / "kb", DIM)
    writer.upsert_document(*with_vectors(rng, document("a", ["v0 marker"] * 4), DIM))
    reader.lexical_search("marker", 50)  # import bm25s before the race starts
    seen: list[set[str]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            hits = reader.lexical_search("marker", 50)
            seen.append({h.chunk.text for h in hits} | {f"n={len(hits)}"})

    thread = threading.Thread(target=read)
    thread.start()
    for version in range(1, 30):
        n = 2 + version % 5
        writer.upsert_document(*with_vectors(rng, document("a", [f"v{version} marker"] * n), DIM))
    done.set()
    thread.join()

    assert seen
    for snapshot in seen:
        texts = {t for t in snapshot if not t.startswith("n=")}
        count = int(next(t for t in snapshot if t.startswith("n="))[2:])
        assert len(texts) == 1
        version = int(next(iter(texts)).split()[0][1:])
        assert count == (4 if version == 0 else 2 + version % 5)
    writer.close()
    reader.close()


_WRITER = """
import sys
import numpy as np
from pathlib import Path
from rag_index.stores import LocalStore
from tests.rag_index.store_builders import document, with_vectors

store = LocalStore(Path(sys.argv[1]), int(sys.argv[2]))
rng = np.random.default_rng(0)
for version in range(1, 20):
    texts = [f"v{version} marker"] * (2 + version % 5)
    store.upsert_document(*with_vectors(rng, document("a", texts), store.dim))
store.close()
"""


def test_reader_process_sees_whole_versions_while_another_process_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    reader = LocalStore(tmp_path / "kb", DIM)
    reader.upsert_document(*with_vectors(rng, document("a", ["v0 marker"] * 4), DIM))
    reader.lexical_search("marker", 50)
    query = unit_vectors(rng, 1, DIM)[0]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path / "kb"), str(DIM)], env=env
    )
    versions = set()
    while writer.poll() is None:
        lexical = reader.lexical_search("marker", 50)
        dense = reader.dense_search(query, 50)
        for hits in (lexical, dense):
            texts = {h.chunk.text for h in hits}
            assert len(texts) == 1
            version = int(next(iter(texts)).split()[0][1:])
            assert len(hits) == (4 if version == 0 else 2 + version % 5)
            versions.add(version)

    assert writer.returncode == 0
    final = reader.lexical_search("marker", 50)
    assert {h.chunk.text for h in final} == {"v19 marker"}
    assert versions
    reader.close()


def test_unreadable_cache_file_is_rebuilt_with_a_warning(store: LocalStore) -> None:
    rng = np.random.default_rng(8)
    record, chunks, vectors = with_vectors(rng, document("a", ["x", "y"]), DIM)
    store.upsert_document(record, chunks, vectors)
    store.build_index()
    store.close()
    for cached in (store.path / "cache").glob("vectors.*"):
        cached.write_bytes(b"not a numpy file")

    again = LocalStore(store.path, DIM)
    with pytest.warns(UserWarning, match="unreadable search cache"):
        hits = again.dense_search(vectors[1], 1)

    assert _ids(hits) == ["a:1"]
    again.close()


# Crash safety and files -------------------------------------------------------------


def test_upsert_when_it_fails_mid_write_then_the_old_version_is_intact(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(9)
    store.upsert_document(*with_vectors(rng, document("a", ["old text"] * 3), DIM))
    original = _sqlite._chunk_row
    calls = 0

    def failing(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk unplugged")
        return original(*args)

    monkeypatch.setattr(_sqlite, "_chunk_row", failing)

    with pytest.raises(OSError, match="unplugged"):
        store.upsert_document(*with_vectors(rng, document("a", ["new text"] * 3), DIM))

    assert calls == 2
    assert {h.chunk.text for h in store.lexical_search("text", 10)} == {"old text"}
    assert store.count_chunks() == 3


def test_upsert_when_chunk_id_is_taken_by_another_document_then_data_error_nothing_written(
    store: LocalStore,
) -> None:
    rng = np.random.default_rng(10)
    store.upsert_document(*with_vectors(rng, document("a", ["one"]), DIM))
    record, chunks = document("b", ["two", "three"])
    clash = [chunks[0], chunks[1].__class__(**{**chunks[1].__dict__, "chunk_id": "a:0"})]

    with pytest.raises(DataError, match="chunk id is already used"):
        store.upsert_document(record, clash, unit_vectors(rng, 2, DIM))

    assert store.get_document("b") is None
    assert store.count_chunks() == 1


def test_upsert_documents_is_all_or_nothing(store: LocalStore) -> None:
    rng = np.random.default_rng(11)
    good = with_vectors(rng, document("a", ["fine"]), DIM)
    bad_record, bad_chunks = document("b", ["broken"])

    with pytest.raises(DataError):
        store.upsert_documents([good, (bad_record, bad_chunks, np.full((1, DIM), np.nan))])

    assert store.count_chunks() == 0
    assert store.upsert_documents([good]) == 1


def test_open_when_folder_is_missing_then_it_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "kb"

    LocalStore(path, DIM).close()

    assert (path / _sqlite.DB_NAME).is_file()


def test_open_when_database_is_corrupt_then_data_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kb"
    path.mkdir()
    (path / _sqlite.DB_NAME).write_bytes(b"garbage, not SQLite" * 100)

    with pytest.raises(DataError, match=r"kb\.sqlite3 is not a readable.*ingest again"):
        LocalStore(path, DIM)


def test_open_when_path_is_a_file_then_config_error(tmp_path: Path) -> None:
    (tmp_path / "kb").write_text("x")

    with pytest.raises(ConfigError, match="is a file"):
        LocalStore(tmp_path / "kb", DIM)


def test_open_when_schema_version_differs_then_data_error(tmp_path: Path) -> None:
    LocalStore(tmp_path / "kb", DIM).close()
    with sqlite3.connect(tmp_path / "kb" / _sqlite.DB_NAME) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")

    with pytest.raises(DataError, match="schema version 99"):
        LocalStore(tmp_path / "kb", DIM)


def test_store_after_close_refuses_work_with_config_error(store: LocalStore) -> None:
    store.close()

    with pytest.raises(ConfigError, match="closed"):
        store.count_chunks()


def test_dense_search_strategies_agree_on_a_small_store(store: LocalStore) -> None:
    rng = np.random.default_rng(12)
    record, chunks, vectors = with_vectors(rng, document("a", ["p"] * 50), DIM)
    store.upsert_document(record, chunks, vectors)

    exact = _ids(store.dense_search(vectors[7], 5, strategy="exact"))
    approximate = _ids(store.dense_search(vectors[7], 5, strategy="ann"))

    assert exact[0] == approximate[0] == "a:7"
    with pytest.raises(ConfigError, match="strategy"):
        store.dense_search(vectors[7], 5, strategy="fast")  # type: ignore[arg-type]
