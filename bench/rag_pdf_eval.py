"""Page-level retrieval on PDF filings, single-document and whole-store (issue 14 §2).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rag_pdf_eval.py [--dense] [--pdfs DIR]

The filings named in ``bench/rag_pdf_questions.jsonl`` are printed from
``../shared/data/filings`` to PDF by Chromium (cached in ``--pdfs``), loaded and chunked
by the product's own path (``ingest_path``) into a scratch ``LocalStore``, and every
question is searched twice: filtered to its filing's ticker and form (single document)
and over all of them (whole store).

Questions were written by hand before any run, each with a phrase of the passage that
answers it; the *evidence pages* are the PDF pages that phrase lies on. A hit is
relevant when it comes from the question's filing and lies on an evidence page. Kinds:
a statement figure for a fiscal year, a change between years, a named risk or segment,
"what did management say about X". Split ``tune`` may be read to choose a change;
``held`` (p01-p24) and ``held2`` (p25-p68, committed before any run with them) are
only ever scored.

Reported per split, search and retriever variant: recall@1/5/10 (share of questions
with a relevant hit in the top k) and MRR@10. Variants (``VARIANTS``): the question as
asked to BM25; the finance words before issue 14 §2's query work ("finance"); that plus
one reading of ``rag_index._query`` at a time; and the product's defaults. The company
and section boosts only act in hybrid mode. Without ``--dense`` only BM25 runs (vectors
are zeros); ``--dense`` adds the dense and hybrid modes with the bundled MiniLM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge_base import load_file  # noqa: E402
from rag_index._query import QueryWords  # noqa: E402
from rag_index.ingest import ingest_path  # noqa: E402
from rag_index.retriever import Retriever  # noqa: E402
from rag_index.stores import LocalStore  # noqa: E402
from rag_index.types import Filters  # noqa: E402

QUESTIONS = ROOT / "bench" / "rag_pdf_questions.jsonl"
CUTOFFS = (1, 5, 10)
SPLITS = ("tune", "held", "held2", "all")
_BEFORE = QueryWords(units=False, fiscal_dates=False)
_OFF = {"company_weight": 0.0, "section_weight": 0.0}
# Retriever settings per variant; "product" is ``Retriever``'s defaults.
VARIANTS: dict[str, dict[str, object]] = {
    "asked": {"finance_words": False, **_OFF},
    "finance": {"query_words": _BEFORE, **_OFF},
    "+units": {"query_words": QueryWords(fiscal_dates=False), **_OFF},
    "+fiscal": {"query_words": QueryWords(units=False), **_OFF},
    "+quarter": {"query_words": QueryWords(units=False, fiscal_dates=False, periods=True), **_OFF},
    "+company": {"query_words": _BEFORE, "company_weight": 1.0, "section_weight": 0.0},
    "+section": {"query_words": _BEFORE, "company_weight": 0.0, "section_weight": 0.25},
    "product": {},
}
# Variants that change nothing but the hybrid boosts are not repeated for one leg alone.
ONE_LEG = {"lexical": ("asked", "finance", "+units", "+fiscal", "+quarter", "product"),
           "dense": ("product",)}  # fmt: skip


class ZeroEmbedder:
    """Lexical-only runs: every vector is the same, so only BM25 ranks."""

    name = "zeros"
    dim = 8

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def print_pdfs(names: set[str], folder: Path) -> None:
    filings = Path(os.environ.get("TILLER_SHARED_DATA", ROOT.parent / "shared" / "data"))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    for name in sorted(names):
        pdf = folder / name
        if pdf.exists():
            continue
        if chromium is None:
            sys.exit("chromium is not installed (apt-get install chromium) to print filings")
        html = filings / "filings" / Path(name).with_suffix(".html").name
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             f"--print-to-pdf={pdf}", str(html)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip


def evidence_pages(questions: list[dict], folder: Path) -> dict[str, set[int]]:
    """Question id → the pages its answer phrase lies on (whitespace-insensitive)."""
    import re

    documents = {name: load_file(folder / name)[0] for name in {q["file"] for q in questions}}
    pages: dict[str, set[int]] = {}
    for q in questions:
        document = documents[q["file"]]
        pattern = re.compile(r"\s+".join(re.escape(w) for w in q["answer"].split()))
        found = {
            page
            for match in pattern.finditer(document.text)
            for page in document.pages_of(match.start(), match.end())
        }
        if not found:
            sys.exit(f"{q['id']}: answer phrase not in {q['file']}: {q['answer']!r}")
        pages[q["id"]] = found
    return pages


def rank(hits: list, q: dict, pages: set[int], doc_source: str) -> int | None:
    for position, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        if Path(chunk.source).name == doc_source and pages & set(chunk.pages):
            return position
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense", action="store_true", help="also dense and hybrid (slow)")
    parser.add_argument(
        "--pdfs", type=Path, default=Path(tempfile.gettempdir()) / "tiller-bench-pdfs"
    )
    parser.add_argument("--show-misses", action="store_true", help="tune questions only")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS)
    )
    args = parser.parse_args()
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line]
    args.pdfs.mkdir(parents=True, exist_ok=True)
    print_pdfs({q["file"] for q in questions}, args.pdfs)
    pages = evidence_pages(questions, args.pdfs)
    if args.dense:
        import torch

        from rag_index.embedder import SentenceTransformerEmbedder

        torch.set_num_threads(int(os.environ.get("TILLER_TORCH_THREADS", "1")))
        embedder: object = SentenceTransformerEmbedder()
    else:
        embedder = ZeroEmbedder()
    modes = ("lexical", "dense", "hybrid") if args.dense else ("lexical",)
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "pdfs"
        corpus.mkdir()
        for name in {q["file"] for q in questions}:
            shutil.copy(args.pdfs / name, corpus / name)
        with LocalStore(Path(scratch) / "store", embedder.dim) as store:  # type: ignore[attr-defined]
            report = ingest_path(corpus, store, embedder)  # type: ignore[arg-type]
            store.build_index()
            records = {Path(r.source).name: r for r in report.written}
            passages = sum(r.n_chunks for r in records.values())
            print(f"{len(records)} PDFs, {passages:,} passages, {len(questions)} questions")
            embedder = QueryCache(embedder)
            variants = [v for v in args.variants.split(",") if v]
            unknown = sorted(set(variants) - set(VARIANTS))
            if unknown:
                sys.exit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
            retrievers = {
                name: Retriever(store, embedder, **VARIANTS[name])  # type: ignore[arg-type]
                for name in variants
            }
            table(questions, pages, records, retrievers, modes, args.show_misses)


class QueryCache:
    """The embedder with each question embedded once across the variants."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[attr-defined]
        self.dim = inner.dim  # type: ignore[attr-defined]
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)  # type: ignore[attr-defined]

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.vectors:
            self.vectors[text] = self.inner.embed_query(text)  # type: ignore[attr-defined]
        return self.vectors[text]


def table(questions, pages, records, retrievers, modes, show) -> None:  # type: ignore[no-untyped-def]
    head = f"{'split':<7}{'search':<8}{'variant':<10}{'mode':<9}" + "".join(
        f"{'R@' + str(k):>7}" for k in CUTOFFS
    )
    print(head + f"{'MRR@10':>8}")
    reciprocal: dict[tuple[str, str, str, str], np.ndarray] = {}
    for split in SPLITS:
        chosen = [q for q in questions if split == "all" or q["split"] == split]
        for search in ("single", "store"):
            for mode in modes:
                for name, retriever in retrievers.items():
                    if mode in ONE_LEG and name not in ONE_LEG[mode]:
                        continue
                    ranks = []
                    for q in chosen:
                        record = records[q["file"]]
                        filters = None
                        if search == "single":
                            forms = (record.form,) if record.form else ()
                            filters = Filters(tickers=record.tickers, forms=forms)
                        hits = retriever.search(q["query"], 10, filters, mode=mode)
                        found = rank(hits, q, pages[q["id"]], q["file"])
                        ranks.append(found)
                        if show and split == "tune" and (found is None or found > 3):
                            print(f"  rank {found} {q['id']} {search} {name} {mode} {q['query']!r}")
                    recall = [np.mean([r is not None and r <= k for r in ranks]) for k in CUTOFFS]
                    reciprocal[split, search, name, mode] = np.array(
                        [1 / r if r else 0.0 for r in ranks]
                    )
                    mrr = reciprocal[split, search, name, mode].mean()
                    print(
                        f"{split:<7}{search:<8}{name:<10}{mode:<9}"
                        + "".join(f"{r:>7.2f}" for r in recall)
                        + f"{mrr:>8.3f}  (n={len(chosen)})",
                        flush=True,
                    )
    compare_to_finance(reciprocal)


def compare_to_finance(reciprocal: dict[tuple[str, str, str, str], np.ndarray]) -> None:
    """Each hybrid variant's MRR@10 minus the previous default's ("finance") over all
    questions, with a 95% paired-bootstrap interval (questions resampled together)."""
    rng = np.random.default_rng(0)
    printed = False
    for search in ("single", "store"):
        base = reciprocal.get(("all", search, "finance", "hybrid"))
        if base is None:
            continue
        for (split, where, name, mode), values in reciprocal.items():
            if (split, where, mode) != ("all", search, "hybrid") or name == "finance":
                continue
            if not printed:
                print("\nhybrid MRR@10 minus finance, all questions, 95% paired bootstrap:")
                printed = True
            diff = values - base
            draws = rng.integers(0, len(diff), size=(5000, len(diff)))
            low, high = np.percentile(diff[draws].mean(axis=1), [2.5, 97.5])
            print(f"  {search:<7}{name:<10}{diff.mean():+.3f}  [{low:+.3f}, {high:+.3f}]")


if __name__ == "__main__":
    main()
