"""Ingestion speed of PDF filings, per stage: before issue 14 §3 and after.

    .venv/bin/python bench/ingest_speed.py [--files aapl-10-k-2024-11-01,...|all] [--pdf-dir DIR]

The shared filings (``../shared/data/filings`` or ``$TILLER_SHARED_DATA/filings``) are
printed to PDF with Chromium as bench/pdf_outline.py does (reused from ``--pdf-dir``), then
ingested into fresh ``LocalStore``s in a scratch folder, each file parsed, chunked,
embedded and stored in one process with every stage timed:

- before: what ``tiller kb ingest`` did until issue 14 §3: text by pypdf (the ``dev``
  extra installs it), sentence-transformers on torch float32 (its default threads,
  batches of 64);
- int8: PDFium text, the int8 ONNX Runtime graph in batches of 16 (the first step);
- after: the product now: PDFium text, the ``auto`` embedder (bf16 torch for bulk calls
  when the CPU multiplies bf16 in hardware, else the int8 graph); and then end to end
  with ``ingest_path`` as the CLI runs it, a second process parsing the next files while
  this one embeds.

Printed: passages per second of each stage (passages / the stage's seconds), end to end,
ratios to before; the cosine between each variant's vectors and before's for every passage.
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

import knowledge_base._pdf as pdf_loader
from knowledge_base import load_file
from rag_index.chunking import chunk_document, embedding_text
from rag_index.embedder import SentenceTransformerEmbedder, ThreadChooser
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
PDFIUM_READ = pdf_loader._read


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


def _pypdf_read(data: bytes, source: str) -> tuple[list[str], str | None]:
    """The loader's text extraction as it was before PDFium (pypdf, page by page)."""
    import io
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data))
    title = reader.metadata.title if reader.metadata else None
    return [page.extract_text() or "" for page in reader.pages], title


class Variant:
    """One way of ingesting: its text extractor, embedder and store, and what each
    stage cost over the files given to it so far."""

    def __init__(
        self, name: str, extractor: str, embedder: SentenceTransformerEmbedder, folder: Path
    ) -> None:
        self.name, self.extractor, self.embedder = name, extractor, embedder
        self.store = LocalStore(folder, embedder.dim)
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.passages = 0
        self.vectors: list[np.ndarray] = []
        self.texts: list[str] = []
        self.backends: set[str] = set()

    def ingest(self, pdf: Path) -> None:
        pdf_loader._read = _pypdf_read if self.extractor == "pypdf" else PDFIUM_READ
        t0 = time.perf_counter()
        [document] = load_file(pdf)
        t1 = time.perf_counter()
        chunks = chunk_document(document)
        t2 = time.perf_counter()
        batch = [embedding_text(c) for c in chunks]
        v = self.embedder.embed(batch)
        t3 = time.perf_counter()
        self.store.upsert_document(document_record(document, "default", len(chunks)), chunks, v)
        t4 = time.perf_counter()
        pdf_loader._read = PDFIUM_READ
        for stage, spent in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            self.seconds[stage] += spent
        self.passages += len(chunks)
        self.vectors.append(v)
        self.texts += batch
        self.backends.add(str(self.embedder.backend))
        print(f"  {pdf.stem:24s} {self.name:7s} {len(chunks):5d} passages  parse {t1 - t0:5.2f} s"
              f"  chunk {t2 - t1:4.2f} s  embed {t3 - t2:6.2f} s  store {t4 - t3:4.2f} s",
              flush=True)  # fmt: skip

    def rate(self, stage: str | None = None) -> float:
        spent = self.seconds[stage] if stage else sum(self.seconds.values())
        return self.passages / spent


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

    from rag_index.embedder import native_bf16

    print(f"{len(pdfs)} PDFs, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"native bf16 {native_bf16()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    variants = {
        "before": ("pypdf", SentenceTransformerEmbedder(backend="torch", batch_size=64)),
        "int8": ("pdfium", SentenceTransformerEmbedder(backend="onnx")),
        "after": ("pdfium", SentenceTransformerEmbedder(backend="auto")),
    }
    for _, embedder in variants.values():  # load (and export) untimed
        embedder.embed(["warm up"] * 40)
        embedder.embed(["warm up"])
        embedder.bulk_threads = ThreadChooser()  # measured on real passages only
    for extractor in ("pypdf", "pdfium"):  # imports the loaders untimed
        pdf_loader._read = _pypdf_read if extractor == "pypdf" else PDFIUM_READ
        chunk_document(load_file(pdfs[-1])[0])
    pdf_loader._read = PDFIUM_READ
    with tempfile.TemporaryDirectory(prefix="ingest-speed-") as tmp:
        runs = [
            Variant(name, extractor, embedder, Path(tmp) / name)
            for name, (extractor, embedder) in variants.items()
        ]
        # File by file, each variant in turn: the machine's load drifts over minutes,
        # and this way it weighs on every variant alike.
        for pdf in pdfs:
            for run in runs:
                run.ingest(pdf)
        for run in runs:
            run.store.close()
        after = runs[-1]
        print("after, end to end: ingest_path, a second process parsing")
        store = LocalStore(Path(tmp) / "e2e", after.embedder.dim)
        staging = Path(tmp) / "pdfs"
        staging.mkdir()
        for pdf in pdfs:
            (staging / pdf.name).symlink_to(pdf)
        t0 = time.perf_counter()
        report = ingest_path(staging, store, after.embedder, parallel=True)
        e2e = time.perf_counter() - t0
        store.close()
        assert report.chunks == after.passages and not report.errors, report.errors
    before = runs[0]
    print(
        f"\npassages from {len(pdfs)} PDFs: "
        + ", ".join(f"{r.name} {r.passages:,} ({'+'.join(sorted(r.backends))})" for r in runs)
    )
    print("passages/s per stage")
    print(f"  {'stage':24s} {'before':>8s} {'int8':>8s} {'after':>8s} {'after/before':>13s}")
    for stage in STAGES:
        b, i, a = (r.rate(stage) for r in runs)
        print(f"  {stage:24s} {b:8.1f} {i:8.1f} {a:8.1f} {a / b:12.2f}x")
    b, i, a = (r.rate() for r in runs)
    print(f"  {'all, one process':24s} {b:8.1f} {i:8.1f} {a:8.1f} {a / b:12.2f}x")
    a_e2e = after.passages / e2e
    print(f"  {'after, parse overlapped':24s} {'':8s} {'':8s} {a_e2e:8.1f} {a_e2e / b:12.2f}x")
    print(f"bulk threads chosen: {after.embedder.bulk_threads.rates}")
    for run in runs[1:]:  # against float32 torch on the same passages
        cosine = (np.concatenate(run.vectors) * before.embedder.embed(run.texts)).sum(axis=1)
        print(f"cosine {run.name} vs float32 torch: min {cosine.min():.4f}  "
              f"p1 {np.percentile(cosine, 1):.4f}  mean {cosine.mean():.5f}")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
