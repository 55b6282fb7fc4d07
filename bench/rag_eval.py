"""Retrieval quality on real SEC filings: lexical vs dense vs hybrid, on our own questions.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rag_eval.py [--store DIR] [--json] [--show-misses]

The filings in ``../shared/data/filings`` (or ``$TILLER_SHARED_DATA/filings``) are ingested
with the product's own path (``ingest_path``: load, chunk, embed with the bundled
all-MiniLM-L6-v2) into an embedded ``LocalStore`` in a scratch folder, never the user's
``~/.tiller``. ``--store DIR`` keeps that folder between runs: a manifest records the
filings' hashes, the embedding model and a hash of the loader, chunker, tokenizer and
store-schema source, and while they all match the next run reuses the store instead of
spending minutes embedding again (``--rebuild`` forces a fresh one). Torch runs on
``TILLER_TORCH_THREADS`` threads (default 2); on a 2-core machine busy with other work, 1
is much faster (OpenMP threads that wait for each other's core).

Questions (``bench/rag_eval_questions.jsonl``) were written by hand, each about one passage
of one filing: ``file`` names the filing and ``answers`` lists short phrases that occur
verbatim in the passage that answers it. A retrieved chunk is *relevant* when it comes
from that filing (any rendering of it: the Apple 10-K is also shipped as Markdown, and
both copies count) and its text, whitespace-normalised and case-folded, contains one of
the phrases. Every question is run in three modes (``lexical`` = BM25, ``dense`` =
cosine over MiniLM vectors, ``hybrid`` = the two fused by reciprocal rank, as
``Retriever`` does) and two variants: over the whole index, and with the question's
ticker as a filter inside the search (what an agent asking about one company does).

Reported per mode and variant: recall@1/5/10 (share of questions with a relevant chunk in
the top k; one answer passage per question, so this is the hit rate) and MRR@10 (mean of
1/rank of the first relevant chunk, 0 when none is in the top 10), by question kind too,
plus a paired bootstrap interval for hybrid's MRR minus each single mode's, so a
difference is read against the noise of ~50 questions.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.errors import DataError  # noqa: E402
from rag_index._query import QueryWords  # noqa: E402
from rag_index.chunking import CHUNKER_VERSION  # noqa: E402
from rag_index.embedder import SentenceTransformerEmbedder  # noqa: E402
from rag_index.retriever import Mode, Retriever  # noqa: E402
from rag_index.types import (  # noqa: E402
    Chunk,
    DocumentRecord,
    Filters,
    ScoredChunk,
    VectorStore,
)

QUESTIONS = ROOT / "bench" / "rag_eval_questions.jsonl"
# ``--query``: Retriever settings for how a question is read (``rag_index._query``).
_NO_BOOSTS: dict[str, Any] = {"company_weight": 0.0, "section_weight": 0.0}
QUERY_READINGS: dict[str, dict[str, Any]] = {
    "asked": {"finance_words": False, **_NO_BOOSTS},
    "finance": {"query_words": QueryWords(units=False, fiscal_dates=False), **_NO_BOOSTS},
    "product": {},
}
MANIFEST = "rag_eval_manifest.json"
CHUNK_TEXTS = "rag_eval_chunks.json.gz"  # normalised chunk texts per filing, for coverage
MANIFEST_VERSION = 1
CUTOFFS = (1, 5, 10)
VARIANTS = ("all", "ticker")
MODES_ORDER: tuple[Mode, ...] = ("lexical", "dense", "hybrid")
# Source whose change alters what is stored (text, sections, chunks, vectors, terms): a
# change to any of them makes a cached store stale.
FINGERPRINTED = (
    "knowledge_base/*.py",
    "rag_index/chunking.py",
    "rag_index/ingest.py",
    "rag_index/embedder.py",
    "rag_index/_text.py",
    "rag_index/_sqlite.py",
)
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u200b": "",
    }
)


def normalise(text: str) -> str:
    """Case-folded text with one space between words and typographic quotes/dashes
    made plain, so an answer phrase matches however the loader rendered the passage."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return " ".join(text.split()).casefold()


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Question:
    id: str
    query: str
    file: str
    answers: tuple[str, ...]
    ticker: str | None
    kind: str

    @property
    def filing(self) -> str:
        """The filing regardless of rendering: ``aapl-10-k-2024-11-01``."""
        return Path(self.file).stem.casefold()

    @property
    def needles(self) -> tuple[str, ...]:
        return tuple(normalise(a) for a in self.answers)


def load_questions(path: Path) -> list[Question]:
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = Question(
                id=str(row["id"]),
                query=str(row["query"]),
                file=str(row["file"]),
                answers=tuple(str(a) for a in row["answers"]),
                ticker=str(row["ticker"]).upper() if row.get("ticker") else None,
                kind=str(row.get("kind") or "other"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a question line ({exc})") from None
        if not question.answers or not all(a.strip() for a in question.answers):
            raise SystemExit(f"{path}:{number}: {question.id} has no answer phrase")
        if question.id in seen:
            raise SystemExit(f"{path}:{number}: duplicate id {question.id}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise SystemExit(f"{path}: no questions")
    return questions


def is_relevant(question: Question, chunk: Chunk, text: str) -> bool:
    """``text`` is ``normalise(chunk.text)`` (computed once per chunk by the caller)."""
    if Path(chunk.source).stem.casefold() != question.filing:
        return False
    return any(needle in text for needle in question.needles)


# --------------------------------------------------------------------------- the store


def local_store(path: Path, dim: int) -> VectorStore:
    from rag_index.stores import LocalStore

    store: VectorStore = LocalStore(path, dim)
    return store


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(filings: Path, model: str) -> dict[str, Any]:
    """What a cached store must have been built from to be reused."""
    code = hashlib.sha256()
    for pattern in FINGERPRINTED:
        for source in sorted(ROOT.glob(pattern)):
            code.update(source.relative_to(ROOT).as_posix().encode())
            code.update(source.read_bytes())
    return {
        "version": MANIFEST_VERSION,
        "filings_dir": str(filings.resolve()),
        "files": {p.name: file_sha256(p) for p in sorted(filings.iterdir()) if p.is_file()},
        "model": model,
        "chunker_version": CHUNKER_VERSION,
        "code_sha256": code.hexdigest(),
    }


class RecordingStore:
    """Passes everything to the real store and keeps, per filing, the normalised text of
    every chunk written, so each question's relevant chunks can be counted (a question
    whose answer phrase ends up split across two chunks cannot be answered)."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.texts: dict[str, list[str]] = {}

    def upsert_document(
        self, document: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        self.inner.upsert_document(document, chunks, vectors)
        filing = Path(document.source).stem.casefold()
        self.texts.setdefault(filing, []).extend(normalise(c.text) for c in chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def count_relevant(questions: Sequence[Question], texts: dict[str, list[str]]) -> dict[str, int]:
    """Per question, how many indexed chunks answer it (0: an answer phrase was split
    across chunks or lost by the loader, so no ranking can find it)."""
    return {
        q.id: sum(any(needle in text for needle in q.needles) for text in texts.get(q.filing, []))
        for q in questions
    }


@dataclass
class StoreInfo:
    path: Path
    cached: bool
    ingest_seconds: float
    built_at: str
    documents: int
    chunks: int
    errors: list[dict[str, str]]
    relevant_chunks: dict[str, int]  # question id -> chunks in the index that answer it


def _wipe(path: Path) -> None:
    """Empty a store folder, but only one this script made (it holds our manifest)."""
    if not path.exists():
        return
    entries = list(path.iterdir())
    if entries and not (path / MANIFEST).exists():
        raise SystemExit(
            f"{path} is not empty and was not made by rag_eval.py (no {MANIFEST}); "
            "give --store an empty or new folder"
        )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def open_or_build(
    path: Path,
    filings: Path,
    embedder: SentenceTransformerEmbedder,
    questions: list[Question],
    *,
    rebuild: bool,
    log: Callable[[str], None],
) -> tuple[VectorStore, StoreInfo]:
    from rag_index.ingest import ingest_path

    wanted = fingerprint(filings, embedder.name)
    manifest_path = path / MANIFEST
    if manifest_path.exists() and not rebuild:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        texts_path = path / CHUNK_TEXTS
        if (
            manifest.get("complete")
            and manifest.get("fingerprint") == wanted
            and texts_path.exists()
        ):
            try:
                store = local_store(path, embedder.dim)
            except DataError as exc:  # e.g. written by an older schema of the store
                log(f"cannot reuse the store in {path}: {exc}")
            else:
                log(f"reusing the store in {path} (built {manifest['built_at']})")
                with gzip.open(texts_path, "rt", encoding="utf-8") as handle:
                    texts = json.load(handle)
                return store, StoreInfo(
                    path=path,
                    cached=True,
                    ingest_seconds=float(manifest["ingest_seconds"]),
                    built_at=str(manifest["built_at"]),
                    documents=int(manifest["documents"]),
                    chunks=store.count_chunks(None),
                    errors=list(manifest["errors"]),
                    relevant_chunks=count_relevant(questions, texts),
                )
        log(f"the store in {path} is stale, incomplete or unreadable: rebuilding it")
    _wipe(path)
    path.mkdir(parents=True, exist_ok=True)
    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = {"complete": False, "fingerprint": wanted, "built_at": built_at}
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")

    store = local_store(path, embedder.dim)
    recorder = RecordingStore(store)

    def progress(done: int, total: int, label: str) -> None:
        log(f"  [{done}/{total}] {label[:90]}")

    log(f"ingesting {filings} into {path} (the first run embeds every chunk: minutes)")
    started = time.perf_counter()
    report = ingest_path(filings, recorder, embedder, progress=progress)
    seconds = time.perf_counter() - started
    errors = [{"source": e.source, "error": e.error} for e in report.errors]
    for error in errors:
        log(f"  load error: {error['source']}: {error['error']}")
    with gzip.open(path / CHUNK_TEXTS, "wt", encoding="utf-8") as handle:
        json.dump(recorder.texts, handle)
    documents = len(report.added) + len(report.replaced) + len(report.unchanged)
    manifest.update(
        complete=True,
        ingest_seconds=round(seconds, 2),
        documents=documents,
        chunks=report.chunks,
        errors=errors,
    )
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    info = StoreInfo(
        path=path,
        cached=False,
        ingest_seconds=seconds,
        built_at=built_at,
        documents=documents,
        chunks=store.count_chunks(None),
        errors=errors,
        relevant_chunks=count_relevant(questions, recorder.texts),
    )
    return store, info


# --------------------------------------------------------------------------- evaluation


@dataclass
class Outcome:
    question: Question
    rank: int | None  # 1-based rank of the first relevant chunk within k, else None
    seconds: float
    top: list[ScoredChunk] = field(default_factory=list)


def filters_for(question: Question, variant: str) -> Filters:
    if variant == "ticker" and question.ticker:
        return Filters(tickers=(question.ticker,))
    return Filters()


def run(
    retriever: Retriever,
    questions: Iterable[Question],
    mode: Mode,
    variant: str,
    k: int,
    texts: dict[str, str],
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for question in questions:
        started = time.perf_counter()
        hits = retriever.search(
            question.query, k=k, filters=filters_for(question, variant), mode=mode
        )
        seconds = time.perf_counter() - started
        rank = None
        for position, hit in enumerate(hits, start=1):
            chunk = hit.chunk
            text = texts.get(chunk.chunk_id)
            if text is None:
                text = texts[chunk.chunk_id] = normalise(chunk.text)
            if is_relevant(question, chunk, text):
                rank = position
                break
        outcomes.append(Outcome(question, rank, seconds, list(hits[:3])))
    return outcomes


def metrics(outcomes: Sequence[Outcome], k: int) -> dict[str, float]:
    n = len(outcomes)
    out: dict[str, float] = {"n": float(n)}
    for cutoff in CUTOFFS:
        if cutoff <= k:
            out[f"recall@{cutoff}"] = (
                sum(o.rank is not None and o.rank <= cutoff for o in outcomes) / n
            )
    out[f"mrr@{k}"] = sum(1.0 / o.rank for o in outcomes if o.rank is not None) / n
    out["ms_per_query"] = 1000.0 * sum(o.seconds for o in outcomes) / n
    return out


def reciprocal_ranks(outcomes: Sequence[Outcome]) -> np.ndarray:
    return np.array([0.0 if o.rank is None else 1.0 / o.rank for o in outcomes])


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``a - b`` and its 95 % percentile interval over questions resampled."""
    diff = a - b
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


# --------------------------------------------------------------------------- report


def command_line() -> str:
    env = [
        f"{name}={shlex.quote(os.environ[name])}"
        for name in (
            "HF_HUB_OFFLINE",
            "TILLER_TORCH_THREADS",
            "TILLER_SHARED_DATA",
            "TILLER_EMBEDDING_MODEL",
        )
        if name in os.environ
    ]
    argv = getattr(sys, "orig_argv", [sys.executable, *sys.argv])
    return " ".join([*env, shlex.join(argv)])


def _fmt_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            h.ljust(w) if i < 2 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return lines


def _snippet(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render_text(
    result: dict[str, Any], outcomes: dict[tuple[str, str], list[Outcome]], show_misses: bool
) -> str:
    k = result["k"]
    mrr = f"mrr@{k}"
    out: list[str] = []
    out.append(f"command: {result['command']}")
    out.append(
        f"python {result['python']}, torch threads {result['torch_threads']}, "
        f"model {result['model']}, chunker v{result['chunker_version']}, "
        f"query read: {result['query']}"
    )
    store = result["store"]
    seconds = f"{store['ingest_seconds']:.1f} s"
    if store["cached"]:
        how = f"{seconds} when built {store['built_at']}; reused from {store['path']}"
    else:
        how = f"{seconds} into {store['path']}"
    out.append(f"filings: {result['filings']}")
    out.append(f"indexed: {store['documents']} documents, {store['chunks']} chunks; ingest {how}")
    if store["errors"]:
        out.append(f"load errors: {len(store['errors'])} (see --json)")
    answerable = result["answerable"]
    out.append(
        f"questions: {result['n_questions']} "
        f"({answerable} with at least one relevant chunk in the index)"
    )
    unanswerable = [qid for qid, n in result["relevant_chunks"].items() if n == 0]
    if unanswerable:
        out.append(
            "  no relevant chunk (answer phrase split or lost by the loader): "
            + ", ".join(unanswerable)
        )
    out.append("")
    header = ["variant", "mode", *[f"R@{c}" for c in CUTOFFS if c <= k], f"MRR@{k}", "ms/query"]
    rows = []
    for variant in result["variants"]:
        for mode in result["modes"]:
            m = result["results"][variant][mode]
            rows.append(
                [
                    variant,
                    mode,
                    *[f"{m[f'recall@{c}']:.3f}" for c in CUTOFFS if c <= k],
                    f"{m[mrr]:.3f}",
                    f"{m['ms_per_query']:.1f}",
                ]
            )
    out.extend(_fmt_table(header, rows))
    out.append("")
    out.append(f"MRR@{k} by question kind (variant 'all'; n = questions of that kind):")
    kinds = result["by_kind"]
    header = ["kind", "n", *result["modes"]]
    rows = [
        [kind, str(v["n"]), *[f"{v[mode]:.3f}" for mode in result["modes"]]]
        for kind, v in kinds.items()
    ]
    out.extend(_fmt_table(header, rows))
    out.append("")
    out.append(f"hybrid minus single mode, MRR@{k}, mean and 95% paired-bootstrap interval:")
    for variant, comparisons in result["bootstrap"].items():
        for other, (mean, low, high) in comparisons.items():
            out.append(f"  {variant:7} hybrid - {other:8} {mean:+.3f}  [{low:+.3f}, {high:+.3f}]")
    if show_misses:
        for (variant, mode), items in outcomes.items():
            missed = [o for o in items if o.rank is None]
            if not missed:
                continue
            out.append("")
            out.append(f"misses, {variant}/{mode} ({len(missed)}):")
            for o in missed:
                out.append(f"  {o.question.id} [{o.question.ticker}] {o.question.query}")
                for hit in o.top[:2]:
                    name = Path(hit.chunk.source).name
                    section = " > ".join(hit.chunk.section)[:60]
                    out.append(f"      {name} | {section} | {_snippet(hit.chunk.text)}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def default_filings() -> Path:
    shared = Path(os.environ.get("TILLER_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / "filings"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--filings", type=Path, default=None, help="folder of filings (default: shared data)"
    )
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument(
        "--store", type=Path, default=None, help="keep the ingested store here between runs"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="re-ingest even if the store is current"
    )
    parser.add_argument("--k", type=int, default=10, help="results per search (MRR is over these)")
    parser.add_argument(
        "--model", default=None, help="sentence-transformers model (default: bundled MiniLM)"
    )
    parser.add_argument("--rrf-k", type=float, default=60.0, help="reciprocal rank fusion constant")
    parser.add_argument(
        "--candidates", type=int, default=50, help="hybrid: results taken from each search"
    )
    parser.add_argument(
        "--lexical-weight", type=float, default=0.5, help="hybrid: BM25's weight in RRF (dense: 1)"
    )
    parser.add_argument(
        "--query",
        choices=tuple(QUERY_READINGS),
        default="product",
        help="how the retriever reads the question: as asked (no finance words, no boosts), "
        "the finance words before issue 14 §2's query work, or the product's defaults",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of tables"
    )
    parser.add_argument(
        "--show-misses", action="store_true", help="list each mode's misses with its top hits"
    )
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    threads = int(os.environ.get("TILLER_TORCH_THREADS", "2"))
    torch.set_num_threads(threads)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    filings = (args.filings or default_filings()).resolve()
    if not filings.is_dir():
        raise SystemExit(f"{filings}: no such folder (set TILLER_SHARED_DATA or pass --filings)")
    questions = load_questions(args.questions)
    missing = sorted({q.file for q in questions if not (filings / q.file).exists()})
    if missing:
        raise SystemExit(f"questions name filings absent from {filings}: {', '.join(missing)}")

    embedder = SentenceTransformerEmbedder(args.model)
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if args.store is None:
        scratch = tempfile.TemporaryDirectory(prefix="tiller-rag-eval-")
        store_path = Path(scratch.name) / "store"
    else:
        store_path = args.store.resolve()
    try:
        store, info = open_or_build(
            store_path, filings, embedder, questions, rebuild=args.rebuild, log=log
        )
        try:
            retriever = Retriever(
                store, embedder, candidates=args.candidates, rrf_k=args.rrf_k,
                lexical_weight=args.lexical_weight, **QUERY_READINGS[args.query],
            )  # fmt: skip
            # Untimed: loads the model and lets the store build its lazy search caches.
            for variant in VARIANTS:
                for mode in MODES_ORDER:
                    question = questions[0]
                    retriever.search(
                        question.query, k=args.k, filters=filters_for(question, variant), mode=mode
                    )
            texts: dict[str, str] = {}
            outcomes: dict[tuple[str, str], list[Outcome]] = {}
            for variant in VARIANTS:
                for mode in MODES_ORDER:
                    log(f"searching: {variant}/{mode}")
                    outcomes[variant, mode] = run(
                        retriever, questions, mode, variant, args.k, texts
                    )
        finally:
            store.close()
    finally:
        if scratch is not None:
            scratch.cleanup()

    result = summarise(args, questions, info, outcomes, threads, embedder.name, filings)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(render_text(result, outcomes, args.show_misses))
    return 0


def summarise(
    args: argparse.Namespace,
    questions: list[Question],
    info: StoreInfo,
    outcomes: dict[tuple[str, str], list[Outcome]],
    threads: int,
    model: str,
    filings: Path,
) -> dict[str, Any]:
    k = args.k
    results = {
        variant: {mode: metrics(outcomes[variant, mode], k) for mode in MODES_ORDER}
        for variant in VARIANTS
    }
    by_kind: dict[str, dict[str, float]] = {}
    for kind in sorted({q.kind for q in questions}):
        row: dict[str, float] = {"n": sum(q.kind == kind for q in questions)}
        for mode in MODES_ORDER:
            picked = [o for o in outcomes["all", mode] if o.question.kind == kind]
            row[mode] = float(reciprocal_ranks(picked).mean())
        by_kind[kind] = row
    bootstrap = {
        variant: {
            other: paired_bootstrap(
                reciprocal_ranks(outcomes[variant, "hybrid"]),
                reciprocal_ranks(outcomes[variant, other]),
            )
            for other in ("lexical", "dense")
        }
        for variant in VARIANTS
    }
    per_question = [
        {
            "id": q.id,
            "ticker": q.ticker,
            "kind": q.kind,
            "file": q.file,
            "relevant_chunks": info.relevant_chunks.get(q.id, 0),
            "ranks": {
                f"{variant}/{mode}": outcomes[variant, mode][i].rank
                for variant in VARIANTS
                for mode in MODES_ORDER
            },
        }
        for i, q in enumerate(questions)
    ]
    return {
        "command": command_line(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch_threads": threads,
        "model": model,
        "chunker_version": CHUNKER_VERSION,
        "filings": str(filings),
        "questions_file": str(args.questions),
        "n_questions": len(questions),
        "answerable": sum(n > 0 for n in info.relevant_chunks.values()),
        "relevant_chunks": info.relevant_chunks,
        "k": k,
        "rrf_k": args.rrf_k,
        "candidates": args.candidates,
        "lexical_weight": args.lexical_weight,
        "query": args.query,
        "store": {
            "path": str(info.path),
            "cached": info.cached,
            "built_at": info.built_at,
            "ingest_seconds": round(info.ingest_seconds, 2),
            "documents": info.documents,
            "chunks": info.chunks,
            "errors": info.errors,
        },
        "variants": list(VARIANTS),
        "modes": list(MODES_ORDER),
        "results": results,
        "by_kind": by_kind,
        "bootstrap": bootstrap,
        "per_question": per_question,
    }


if __name__ == "__main__":
    raise SystemExit(main())
