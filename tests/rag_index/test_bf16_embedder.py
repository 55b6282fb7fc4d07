"""The bf16 path for bulk embedding: when ``auto`` takes it, how close its vectors stay to
float32's, and how the thread count for it is chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rag_index.embedder as embedder_module
from knowledge_base import load_path
from rag_index.chunking import chunk_document, embedding_text
from rag_index.embedder import BULK, SentenceTransformerEmbedder, ThreadChooser, native_bf16
from rag_index.service import PRIMERS_DIR
from tests.conftest import MODEL_CACHE


@pytest.fixture(scope="module")
def passages() -> list[str]:
    texts = [
        embedding_text(chunk)
        for document in load_path(PRIMERS_DIR).documents
        for chunk in chunk_document(document)
    ]
    return texts[1::2][:48]


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 {flags}\n\n")
    return path


def test_cpu_flags_then_native_bf16_only_with_amx_or_avx512_bf16(tmp_path: Path) -> None:
    assert native_bf16(_cpuinfo(tmp_path, "avx2 avx512f amx_bf16 amx_tile"))
    assert native_bf16(_cpuinfo(tmp_path, "avx512f avx512_bf16"))
    assert not native_bf16(_cpuinfo(tmp_path, "avx2 avx512f avx512_vnni"))
    assert not native_bf16(tmp_path / "absent")  # macOS, Windows: no /proc/cpuinfo


def test_bf16_vectors_stay_within_cosine_0_999_of_float32(passages: list[str]) -> None:
    reference = SentenceTransformerEmbedder(backend="torch").embed(passages)
    bf16 = SentenceTransformerEmbedder(backend="bf16")
    mine = bf16.embed(passages)

    assert bf16.backend == "torch-bf16"
    assert mine.dtype == np.float32 and mine.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    cosine = (mine * reference).sum(axis=1)
    assert cosine.min() >= 0.999, f"lowest cosine {cosine.min():.5f}"


def test_auto_with_native_bf16_then_bulk_calls_bf16_and_questions_the_int8_graph(
    passages: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedder_module, "_native_bf16", lambda: True)
    auto = SentenceTransformerEmbedder(backend="auto", cache_dir=MODEL_CACHE)

    bulk = auto.embed(passages[:BULK])
    assert auto.backend == "torch-bf16"
    question = auto.embed([passages[0]])
    assert auto.backend == "onnx-int8"
    # The two paths embed the same passage close enough to search one with the other.
    assert float(bulk[0] @ question[0]) >= 0.99
    auto.embed(passages[: BULK - 1])
    assert auto.backend == "onnx-int8"


def test_auto_without_native_bf16_then_bulk_calls_stay_on_the_int8_graph(
    passages: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedder_module, "_native_bf16", lambda: False)
    auto = SentenceTransformerEmbedder(backend="auto", cache_dir=MODEL_CACHE)

    auto.embed(passages[:BULK])
    assert auto.backend == "onnx-int8"
    assert auto._bf16 is None, "the bf16 model was loaded though it would be emulated"


def test_bulk_threads_then_the_faster_count_runs_and_the_other_is_retried_now_and_then() -> None:
    chooser = ThreadChooser(cores=2)
    # Both counts are tried first, each on one batch.
    first, second = chooser.pick(), None
    assert first == (2, True)
    chooser.record(2, 10_000, 1.0)
    second = chooser.pick()
    assert second == (1, True)
    chooser.record(1, 40_000, 1.0)  # the machine is busy: one thread is 4x faster
    picks = [chooser.pick() for _ in range(ThreadChooser.EXPLORE * 3)]
    assert picks.count((2, True)) == 3 and picks.count((1, False)) == len(picks) - 3
    # The machine goes idle: two threads measure faster when retried, and take over.
    chooser.record(2, 100_000, 1.0)
    chooser.record(2, 100_000, 1.0)
    assert chooser.pick() == (2, False)


def test_one_core_then_one_thread_and_nothing_to_explore() -> None:
    chooser = ThreadChooser(cores=1)
    assert chooser.pick() == (1, True)
    chooser.record(1, 1_000, 1.0)
    assert {chooser.pick() for _ in range(25)} == {(1, False)}


def test_a_bulk_call_longer_than_a_slice_returns_every_vector_in_order(
    passages: list[str],
) -> None:
    bf16 = SentenceTransformerEmbedder(backend="bf16", batch_size=8)
    texts = (passages * 2)[: ThreadChooser.SLICE + 13]
    together = bf16.embed(texts)
    assert together.shape == (len(texts), 384)
    one_by_one = np.stack([bf16.embed([t])[0] for t in texts[-5:]])
    assert ((together[-5:] * one_by_one).sum(axis=1) >= 0.999).all()
    assert bf16.bulk_threads.rates, "the slices were timed"
