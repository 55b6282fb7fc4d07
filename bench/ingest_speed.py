"""Ingestion speed of PDF filings, per stage: before (torch) and after (ONNX int8, overlap).

    .venv/bin/python bench/ingest_speed.py [--files aapl-10-k-2024-11-01,...|all] [--pdf-dir DIR]

The shared filings (``../shared/data/filings`` or ``$TILLER_SHARED_DATA/filings``) are
printed to PDF with Chromium as bench/pdf_outline.py does (reused from ``--pdf-dir``), then
ingested twice into fresh ``LocalStore``s in a scratch folder:

- before: what ``tiller kb ingest`` did until issue 14 §3: one process, each file parsed
  (pypdf), chunked, embedded by sentence-transformers on torch (its default threads,
  batches of 64), stored; each stage timed;
- after: the product's path now: the same stages with the int8 ONNX Runtime model in
  batches of 16, each stage timed the same way, and then end to end with ``ingest_path``
  as the CLI runs it, a second process parsing the next files while this one embeds.

Printed: passages per second of each stage (passages / the stage's seconds), end to end,
and after/before ratios; the cosine between the two backends' vectors of every passage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge_base import load_file
from rag_index.chunking import chunk_document, embedding_text
from rag_index.embedder import SentenceTransformerEmbedder
from rag_index.ingest import document_record, ingest_path
from rag_index.stores import LocalStore

DEFAULT_FILES = (
    "aapl-10-k-2024-11-01",
    "ibm-10-k-2025-02-25",
    "wfc-10-k-2025-02-25",
    "bke-8-k-ex99-1",
    "jwn-8-k",
)
STAGES = ("parse", "chunk", "embed", "store")


def _filings() -> Path:
    root = os.environ.get(
        "TILLER_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    return Path(root) / "filings"


def _pdfs(names: list[str], pdf_dir: Path) -> list[Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    pdf_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        pdf = pdf_dir / f"{name}.pdf"
        if not pdf.exists():
            if chromium is None:
                sys.exit("chromium is not installed (apt-get install chromium)")
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 f"--print-to-pdf={pdf}", str(_filings() / f"{name}.html")],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
        out.append(pdf)
    return out


def staged(
    pdfs: list[Path], embedder: SentenceTransformerEmbedder, folder: Path
) -> tuple[dict[str, float], int, np.ndarray]:
    """Seconds per stage, passages, and the vectors, one file after another."""
    seconds = dict.fromkeys(STAGES, 0.0)
    store = LocalStore(folder, embedder.dim)
    passages = 0
    vectors = []
    for pdf in pdfs:
        t0 = time.perf_counter()
        [document] = load_file(pdf)
        t1 = time.perf_counter()
        chunks = chunk_document(document)
        t2 = time.perf_counter()
        v = embedder.embed([embedding_text(c) for c in chunks])
        t3 = time.perf_counter()
        store.upsert_document(document_record(document, "default", len(chunks)), chunks, v)
        t4 = time.perf_counter()
        for stage, spent in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            seconds[stage] += spent
        passages += len(chunks)
        vectors.append(v)
        print(f"  {pdf.stem:24s} {len(chunks):5d} passages  parse {t1 - t0:5.1f} s  "
              f"chunk {t2 - t1:4.1f} s  embed {t3 - t2:6.1f} s  store {t4 - t3:4.2f} s",
              flush=True)  # fmt: skip
    store.close()
    return seconds, passages, np.concatenate(vectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default=",".join(DEFAULT_FILES), help="names or 'all'")
    parser.add_argument(
        "--pdf-dir", type=Path, default=Path(tempfile.gettempdir()) / "tiller-filing-pdfs"
    )
    args = parser.parse_args()
    if not _filings().is_dir():
        sys.exit(f"{_filings()} is absent (set TILLER_SHARED_DATA)")
    names = (
        sorted(p.stem for p in _filings().glob("*.html"))
        if args.files == "all"
        else args.files.split(",")
    )
    pdfs = _pdfs(names, args.pdf_dir)
    import torch

    print(f"{len(pdfs)} PDFs, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    before_embedder = SentenceTransformerEmbedder(backend="torch", batch_size=64)
    after_embedder = SentenceTransformerEmbedder(backend="onnx")
    for embedder in (before_embedder, after_embedder):  # load (and export) untimed
        embedder.embed(["warm up"])
    load_file(pdfs[0])  # imports the loaders untimed
    chunk_document(load_file(pdfs[-1])[0])
    with tempfile.TemporaryDirectory(prefix="ingest-speed-") as tmp:
        print("before: torch, batch 64, one process")
        before, n, v_before = staged(pdfs, before_embedder, Path(tmp) / "before")
        print(f"after: {after_embedder.backend}, batch {after_embedder.batch_size}")
        after, n_after, v_after = staged(pdfs, after_embedder, Path(tmp) / "after")
        assert n == n_after
        print("after, end to end: ingest_path, a second process parsing")
        store = LocalStore(Path(tmp) / "e2e", after_embedder.dim)
        staging = Path(tmp) / "pdfs"
        staging.mkdir()
        for pdf in pdfs:
            (staging / pdf.name).symlink_to(pdf)
        t0 = time.perf_counter()
        report = ingest_path(staging, store, after_embedder, parallel=True)
        e2e = time.perf_counter() - t0
        store.close()
        assert report.chunks == n and not report.errors, report.errors
    cosine = (v_before * v_after).sum(axis=1)
    print(f"\n{n:,} passages from {len(pdfs)} PDFs; passages/s per stage")
    print(f"  {'stage':12s} {'before':>10s} {'after':>10s} {'ratio':>7s}")
    for stage in STAGES:
        b, a = n / before[stage], n / after[stage]
        print(f"  {stage:12s} {b:10.1f} {a:10.1f} {a / b:6.2f}x")
    b_total = n / sum(before.values())
    a_staged = n / sum(after.values())
    a_e2e = n / e2e
    print(f"  {'all, one process':22s} before {b_total:6.1f}  after {a_staged:6.1f} "
          f"({a_staged / b_total:.2f}x)")  # fmt: skip
    print(f"  {'after, parse overlapped':22s}        {a_e2e:13.1f} ({a_e2e / b_total:.2f}x)")
    print(f"cosine after vs before: min {cosine.min():.4f}  p1 {np.percentile(cosine, 1):.4f}  "
          f"mean {cosine.mean():.5f}")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
