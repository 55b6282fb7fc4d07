"""Retrieval speed of the embedded store: ingestion throughput and query latency.

    .venv/bin/python bench/rag_speed.py [--sizes 10000,100000] [--queries 200]

1. Ingestion: real filings from ../shared/data/filings (load, chunk, embed with the
   bundled MiniLM, store), reported as chunks/s and words/s, embedding included.
2. Queries at 10k and 100k chunks. Embedding 100k real passages would take ~40 min
   here, so the store is filled with synthetic chunks derived from the real ones: each
   vector is a real passage vector mixed with another and with noise (renormalised), so
   the neighbourhood structure stays text-like rather than uniform random, and each text
   is a shuffle of real sentences (so BM25 sees real term statistics). Metadata (ticker,
   form, date) is drawn at random.

Reported per size, for a set of real questions (their embedding included where said):
   - hybrid end to end: embed the query + BM25 + dense + RRF (the `tiller kb search` path);
   - dense only (auto strategy: HNSW above the store's threshold), exact, and the
     reference: a plain numpy brute-force (``matrix @ q`` + argpartition) over the same
     vectors; ratio = numpy reference / ours (>1 means ours is faster);
   - recall@10 of the ANN path against exact search;
   - the same with a point-in-time filter keeping ~70 % of the rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag_index.chunking import embedding_text
from rag_index.embedder import SentenceTransformerEmbedder
from rag_index.ingest import ingest_path
from rag_index.retriever import reciprocal_rank_fusion
from rag_index.stores import LocalStore
from rag_index.types import Chunk, DocumentRecord, Filters

SHARED = Path(
    os.environ.get("TILLER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
INGEST_FILES = ("aapl-10-k-2024-11-01.html", "ibm-10-k-2025-02-25.html", "wfc-10-k-2025-02-25.html")
QUESTIONS = (
    "What risks does the company describe about its supply chain?",
    "How many employees did the company have at year end?",
    "share repurchase program authorization",
    "cybersecurity risk management and governance",
    "effective tax rate changes",
    "competition in the smartphone market",
    "goodwill impairment testing",
    "interest rate risk on the investment portfolio",
    "litigation and legal proceedings",
    "revenue recognition for subscriptions",
    "foreign currency exchange rate exposure",
    "dividends declared per share",
    "capital expenditures outlook",
    "net interest income sensitivity",
    "artificial intelligence investments",
    "credit losses allowance methodology",
)
TICKERS = ("AAPL", "IBM", "WFC", "MSFT", "KO", "XOM", "NVDA", "TSLA")
FORMS = ("10-K", "10-Q", "8-K")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def ingest_real(
    embedder: SentenceTransformerEmbedder, folder: Path
) -> tuple[LocalStore, dict[str, float]]:
    staging = Path(tempfile.mkdtemp(prefix="rag-speed-src-"))
    words = 0
    for name in INGEST_FILES:
        source = SHARED / "filings" / name
        (staging / name).symlink_to(source)
    from knowledge_base import load_path

    for document in load_path(staging).documents:
        words += len(document.text.split())
    store = LocalStore(folder / "real", embedder.dim)
    started = time.perf_counter()
    report = ingest_path(staging, store, embedder)
    seconds = time.perf_counter() - started
    if report.errors:
        raise SystemExit(f"ingest failed: {report.errors}")
    return store, {
        "documents": len(report.added),
        "chunks": report.chunks,
        "words": words,
        "seconds": seconds,
    }


def synthesise(
    real_chunks: list[Chunk], real_vectors: np.ndarray, n: int, seed: int
) -> list[tuple[DocumentRecord, list[Chunk], np.ndarray]]:
    rng = np.random.default_rng(seed)
    sentences = [s for c in real_chunks for s in c.text.split(". ") if len(s.split()) > 4]
    start = datetime(2015, 1, 1, tzinfo=UTC)
    per_doc = 100
    items = []
    for d in range(n // per_doc):
        doc_id = f"synthetic-{d}"
        ticker = TICKERS[d % len(TICKERS)]
        form = FORMS[d % len(FORMS)]
        published = start + timedelta(days=int(rng.integers(0, 365 * 10)))
        i = rng.integers(0, len(real_vectors), per_doc)
        j = rng.integers(0, len(real_vectors), per_doc)
        w = rng.uniform(0.5, 0.9, (per_doc, 1)).astype(np.float32)
        vectors = w * real_vectors[i] + (1 - w) * real_vectors[j]
        vectors += rng.normal(0, 0.02, vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        chunks = []
        for o in range(per_doc):
            picks = rng.integers(0, len(sentences), 6)
            text = ". ".join(sentences[p] for p in picks)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc_id}:{o}",
                    doc_id=doc_id,
                    collection="default",
                    ordinal=o,
                    text=text,
                    start=0,
                    end=len(text),
                    section=("Part I", "Item 1A. Risk Factors"),
                    title=f"{ticker} {form} synthetic {d}",
                    tickers=(ticker,),
                    form=form,
                    published_at=published,
                    source=f"synthetic/{d}",
                    kind="filing",
                )
            )
        record = DocumentRecord(
            doc_id=doc_id,
            collection="default",
            source=f"synthetic/{d}",
            kind="filing",
            sha256="0" * 64,
            title=chunks[0].title,
            tickers=(ticker,),
            company=None,
            form=form,
            fiscal_period=None,
            published_at=published,
            url=None,
            n_chunks=per_doc,
        )
        items.append((record, chunks, vectors.astype(np.float32)))
    return items


def numpy_reference(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def measure(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def run_size(
    n: int,
    folder: Path,
    embedder: SentenceTransformerEmbedder,
    real_chunks: list[Chunk],
    real_vectors: np.ndarray,
    n_queries: int,
) -> dict[str, float]:
    store = LocalStore(folder / f"synthetic-{n}", embedder.dim, ann_threshold=50_000)
    items = synthesise(real_chunks, real_vectors, n, seed=n)
    t0 = time.perf_counter()
    store.upsert_documents(items)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.build_index()
    index_s = time.perf_counter() - t0
    matrix = np.concatenate([v for _, _, v in items])
    questions = [
        QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else f" {i}")
        for i in range(n_queries)
    ]
    vectors = embedder.embed(questions)
    as_of = Filters(collection="default", as_of=datetime(2022, 1, 1, tzinfo=UTC))
    everything = Filters(collection="default")
    depth = 50

    def hybrid(q: str, flt: Filters) -> None:
        v = embedder.embed_query(q)
        lexical = store.lexical_search(q, depth, flt)
        dense = store.dense_search(v, depth, flt)
        reciprocal_rank_fusion([dense, lexical], 10)

    row = {"chunks": n, "bulk load s": load_s, "index build s": index_s}
    for label, flt in (("", everything), (" as_of", as_of)):
        e2e = [measure(lambda q=q, f=flt: hybrid(q, f), 1)[0] for q in questions]
        auto = [measure(lambda v=v, f=flt: store.dense_search(v, 10, f), 1)[0] for v in vectors]
        exact = [measure(lambda v=v, f=flt: store.search_exact(v, 10, f), 1)[0] for v in vectors]
        lexical = [
            measure(lambda q=q, f=flt: store.lexical_search(q, depth, f), 1)[0] for q in questions
        ]
        recalls = []
        for v in vectors:
            got = {h.chunk.chunk_id for h in store.dense_search(v, 10, flt)}
            want = {h.chunk.chunk_id for h in store.search_exact(v, 10, flt)}
            recalls.append(len(got & want) / len(want))
        row[f"hybrid e2e p50{label}"] = percentile(e2e, 50)
        row[f"hybrid e2e p99{label}"] = percentile(e2e, 99)
        row[f"dense p50{label}"] = percentile(auto, 50)
        row[f"dense p99{label}"] = percentile(auto, 99)
        row[f"exact p50{label}"] = percentile(exact, 50)
        row[f"bm25 p50{label}"] = percentile(lexical, 50)
        row[f"recall@10 ANN/exact{label}"] = float(np.mean(recalls))
    reference = [measure(lambda v=v: numpy_reference(matrix, v, 10), 1)[0] for v in vectors]
    row["numpy brute force p50"] = percentile(reference, 50)
    row["ratio numpy/ours dense p50"] = row["numpy brute force p50"] / row["dense p50"]
    embed_ms = measure(lambda: embedder.embed_query("supply chain risks"), 50)
    row["query embedding p50"] = statistics.median(embed_ms)
    store.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the embedder")
    args = parser.parse_args()
    if not (SHARED / "filings").is_dir():
        raise SystemExit(f"{SHARED / 'filings'} is absent (set TILLER_SHARED_DATA)")
    import torch

    torch.set_num_threads(args.threads)
    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory(prefix="rag-speed-") as tmp:
        folder = Path(tmp)
        store, ingest = ingest_real(embedder, folder)
        print(
            f"ingest (load + chunk + embed + store, torch threads={args.threads}): "
            f"{ingest['documents']} filings, {ingest['words']:,} words, "
            f"{ingest['chunks']:,} chunks "
            f"in {ingest['seconds']:.1f} s = {ingest['chunks'] / ingest['seconds']:.1f} chunks/s, "
            f"{ingest['words'] / ingest['seconds']:,.0f} words/s"
        )
        real_chunks = []
        for record in store.documents(None):
            real_chunks.extend(store.chunks_of(record.doc_id, record.collection))
        real_vectors = embedder.embed([embedding_text(c) for c in real_chunks[:1500]])
        real_chunks = real_chunks[: len(real_vectors)]
        store.close()
        for n in (int(s) for s in args.sizes.split(",")):
            row = run_size(n, folder, embedder, real_chunks, real_vectors, args.queries)
            print(f"\n{n:,} chunks ({args.queries} queries; times in ms unless marked s)")
            for key, value in row.items():
                if key == "chunks":
                    continue
                print(f"  {key:34} {value:10.3f}")


if __name__ == "__main__":
    main()
