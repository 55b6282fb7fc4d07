"""The ONNX Runtime embedder (int8 MiniLM exported from the bundled weights) against the
torch one it replaces, its fallback, and the ingest that parses in a second process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from knowledge_base import load_path
from rag_index.chunking import chunk_document, embedding_text
from rag_index.embedder import SentenceTransformerEmbedder
from rag_index.ingest import ingest_path
from rag_index.service import PRIMERS_DIR
from rag_index.stores import LocalStore
from tests.conftest import MODEL_CACHE


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """Real passages as the embedder sees them: the bundled primers, chunked."""
    texts = [
        embedding_text(chunk)
        for document in load_path(PRIMERS_DIR).documents
        for chunk in chunk_document(document)
    ]
    assert len(texts) >= 40
    return texts[::2][:60]


@pytest.fixture(scope="module")
def onnx_embedder() -> SentenceTransformerEmbedder:
    model = SentenceTransformerEmbedder(backend="onnx", cache_dir=MODEL_CACHE, threads=1)
    model.embed(["warm up"])
    return model


def test_int8_onnx_vectors_stay_within_cosine_0_99_of_torch(
    passages: list[str], onnx_embedder: SentenceTransformerEmbedder
) -> None:
    import torch

    torch.set_num_threads(1)
    reference = SentenceTransformerEmbedder(backend="torch").embed(passages)
    mine = onnx_embedder.embed(passages)
    assert onnx_embedder.backend == "onnx-int8"
    assert mine.shape == reference.shape == (len(passages), 384)
    assert mine.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-4)
    cosine = (mine * reference).sum(axis=1)
    assert cosine.min() >= 0.99, f"lowest cosine {cosine.min():.4f}"
    # Each passage's nearest neighbour among the torch vectors is its own torch vector.
    assert (np.argmax(mine @ reference.T, axis=1) == np.arange(len(passages))).all()


def test_a_passage_vector_depends_on_its_batch_only_within_the_tolerance(
    passages: list[str], onnx_embedder: SentenceTransformerEmbedder
) -> None:
    """Dynamic quantisation scales activations per batch, so a passage embedded with
    others and alone (as a query is) differs slightly, never beyond the tolerance; the
    result is returned in input order whatever the length sort inside."""
    together = onnx_embedder.embed(passages[:12])
    alone = np.stack([onnx_embedder.embed([text])[0] for text in reversed(passages[:12])])[::-1]
    cosine = (together * alone).sum(axis=1)
    assert cosine.min() >= 0.99, f"lowest cosine {cosine.min():.4f}"
    assert (np.argmax(together @ alone.T, axis=1) == np.arange(12)).all()
    np.testing.assert_array_equal(onnx_embedder.embed(passages[:12]), together)


def test_the_export_is_made_once_and_reused(onnx_embedder: SentenceTransformerEmbedder) -> None:
    graphs = list(MODEL_CACHE.glob("model-*/model-int8.onnx"))
    assert graphs
    stamps = {g: g.stat().st_mtime_ns for g in graphs}
    again = SentenceTransformerEmbedder(backend="onnx", cache_dir=MODEL_CACHE, threads=1)
    again.embed(["a second process opens the cached graph"])
    assert {g: g.stat().st_mtime_ns for g in graphs} == stamps
    assert not list(MODEL_CACHE.glob("model-*/.export-*")), "a scratch folder was left"


def test_without_onnxruntime_auto_falls_back_to_torch_and_onnx_says_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as when absent
    auto = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert auto.embed(["fallback"]).shape == (1, 384)
    assert auto.backend == "torch"
    assert not list(tmp_path.iterdir()), "nothing was exported"
    with pytest.raises(ConfigError, match="TILLER_EMBEDDING_BACKEND=torch"):
        SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path).embed(["x"])


def test_an_unknown_backend_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLER_EMBEDDING_BACKEND", "tensorrt")
    with pytest.raises(ConfigError, match="auto, onnx, bf16, torch"):
        SentenceTransformerEmbedder()


class Recorder:
    """A progress sink that follows passages, as the CLI's bar does."""

    def __init__(self) -> None:
        self.files: list[tuple[int, int]] = []
        self.shares: list[float] = []
        self.written: list[int] = []

    def __call__(self, done: int, total: int, label: str) -> None:
        self.files.append((done, total))

    def passages(self, written: int, seconds: float, share: float) -> None:
        assert seconds >= 0
        self.written.append(written)
        self.shares.append(share)


def test_parsing_in_a_second_process_stores_what_one_process_does(
    tmp_path: Path, onnx_embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("crypto-fundamentals.md", "market-microstructure-and-orders.md"):
        shutil.copy(PRIMERS_DIR / name, folder / name)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    serial = LocalStore(tmp_path / "serial", 384)
    parallel = LocalStore(tmp_path / "parallel", 384)
    in_order = Recorder()
    one = ingest_path(folder, serial, onnx_embedder, progress=in_order, parallel=False)
    assert in_order.shares == sorted(in_order.shares) and in_order.shares[-1] == 1.0
    assert in_order.written[-1] == one.chunks
    recorder = Recorder()
    two = ingest_path(folder, parallel, onnx_embedder, progress=recorder, parallel=True)
    assert sorted(two.added) == sorted(one.added) and two.chunks == one.chunks > 0
    assert [e.source for e in two.errors] == [e.source for e in one.errors]
    assert [e.source for e in two.errors] == [str(folder / "broken.pdf")]
    for a, b in zip(serial.documents(None), parallel.documents(None), strict=True):
        assert (a.doc_id, a.n_chunks, a.title) == (b.doc_id, b.n_chunks, b.title)
        assert [c.text for c in serial.chunks_of(a.doc_id, a.collection)] == [
            c.text for c in parallel.chunks_of(b.doc_id, b.collection)
        ]
    n_files = len(list(folder.iterdir()))
    assert recorder.files == [(i, n_files) for i in range(1, n_files + 1)]
    assert recorder.shares == sorted(recorder.shares) and recorder.shares[-1] == 1.0
    assert recorder.written[-1] == two.chunks
    # Unchanged on a second run, through the second process too.
    again = ingest_path(folder, parallel, onnx_embedder, parallel=True)
    assert sorted(again.unchanged) == sorted(one.added) and again.chunks == 0
    serial.close()
    parallel.close()
