"""Sentiment benchmark: accuracy of the lexicon, embedding and hybrid scorers on the
held-out splits against a majority-class baseline, and their speed on 5,000
headlines at one and two torch threads.

    .venv/bin/python bench/sentiment.py [--n 5000] [--no-speed] [--splits test,hard,hard2]
        [--save run.npz] [--compare other-run.npz]

Data: ``tools/sentiment/data/labelled.jsonl``, written by the Tiller team (no public set
is available offline). train + dev: read while writing the lexicon, and what the
classifiers and the lexicon calibration are fitted on (so their numbers are optimistic);
calib: fits the temperatures (the embedding's pooled with train + dev's out-of-fold
predictions, see ``bench/sentiment_calibration.py``); test, hard and hard2: held out and
frozen by fingerprint (see ``tools/sentiment/README.md``). The baseline always predicts
the training split's most common label. ``--save`` writes every probability;
``--compare`` reads another run's file and prints the paired accuracy change per split
and model (how before/after runs of two commits are compared).

Accuracy intervals: 95% bootstrap over the split's sentences (2,000 resamples, seed 0);
"vs lexicon" is the paired bootstrap interval of the accuracy difference. ECE: 10
equal-width confidence bins. Speed: all labelled texts cycled to ``--n``, scored
with ``tools.sentiment.score`` in one call (the scorers batch internally), wall clock and
CPU time of the process; the lexicon starts with an empty token cache; "lexicon ×" is
how many times more texts per CPU-second the lexicon scores. Model load = importing
sentence-transformers and loading all-MiniLM-L6-v2, paid once per process (the CLI pays
it on every run).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from tools.sentiment import (  # noqa: E402
    LABELS,
    BundledMiniLM,
    Report,
    evaluate,
    load_labelled,
    load_scorer,
    score,
)
from tools.sentiment._data import SPLITS, Split  # noqa: E402
from tools.sentiment._lexicon import classify  # noqa: E402
from tools.sentiment._types import Scorer  # noqa: E402

SCORERS = ("lexicon", "embedding", "hybrid")
RESAMPLES = 2000


def bootstrap(correct: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Accuracy of each model on the same resamples of the test sentences."""
    n = len(next(iter(correct.values())))
    rows = np.random.default_rng(seed).integers(0, n, size=(RESAMPLES, n))
    return {name: c[rows].mean(axis=1) for name, c in correct.items()}


def interval(samples: np.ndarray) -> str:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return f"[{lo:.3f}, {hi:.3f}]"


def print_data() -> None:
    print("labelled set (team-written):")
    for split in SPLITS:
        counts = Counter(e.label for e in load_labelled(split))
        shares = ", ".join(f"{label} {counts[label]}" for label in LABELS)
        print(f"  {split:<6} {sum(counts.values()):>4} sentences: {shares}")


def accuracy_table(split: Split, scorers: dict[str, Scorer]) -> dict[str, np.ndarray]:
    """Print the split's table; return each scorer's probabilities (rows in file order)."""
    examples = load_labelled(split)
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    majority = Counter(e.label for e in load_labelled("train")).most_common(1)[0][0]
    baseline = np.zeros((len(texts), 3))
    baseline[:, LABELS.index(majority)] = 1.0
    reports: dict[str, Report] = {f"majority ({majority})": evaluate(baseline, labels)}
    correct: dict[str, np.ndarray] = {}
    probabilities_of: dict[str, np.ndarray] = {}
    for name, scorer in scorers.items():
        probabilities = probabilities_of[name] = scorer.predict_proba(texts)
        reports[name] = evaluate(probabilities, labels)
        truth = np.array([LABELS.index(label) for label in labels])
        correct[name] = probabilities.argmax(axis=1) == truth
    correct[next(iter(reports))] = np.array([label == majority for label in labels])
    samples = bootstrap(correct)
    print(f"\n{split} split, {len(texts)} sentences")
    head = f"{'model':<20}{'accuracy':>9}  {'95% CI':<16}{'vs lexicon (95% CI)':<22}"
    print(
        head + f"{'macro F1':>9}{'F1 neg':>8}{'F1 neu':>8}{'F1 pos':>8}{'log loss':>10}{'ECE':>7}"
    )
    for name, r in reports.items():
        diff = samples[name] - samples["lexicon"]
        versus = "-" if name == "lexicon" else f"{diff.mean():+.3f} {interval(diff)}"
        loss = "-" if name.startswith("majority") else f"{r.log_loss:.3f}"
        ece = "-" if name.startswith("majority") else f"{r.ece:.3f}"
        f1 = "".join(f"{f:>8.3f}" for f in r.f1)
        print(
            f"{name:<20}{r.accuracy:>9.3f}  {interval(samples[name]):<16}{versus:<22}"
            f"{r.macro_f1:>9.3f}{f1}{loss:>10}{ece:>7}"
        )
    print("confusion matrices (rows = truth, columns = prediction: neg, neu, pos)")
    for name in scorers:
        matrix = "  ".join("/".join(f"{c:>2}" for c in row) for row in reports[name].confusion)
        print(f"  {name:<10} {matrix}")
    print("reliability (confidence bin: n, mean confidence -> accuracy)")
    for name in scorers:
        print(f"  {name:<10} " + "  ".join(reliability(probabilities_of[name], labels)))
    return probabilities_of


def compare(before_path: Path, after: dict[str, np.ndarray]) -> None:
    """Paired bootstrap of the accuracy change, per split and model, against the
    probabilities another run saved with ``--save`` (same sentences, same order)."""
    before = np.load(before_path)
    print(f"\nchange against {before_path} (paired bootstrap, 95% CI)")
    for key, now in after.items():
        if key not in before.files:
            continue
        split = key.split("/")[0]
        examples = load_labelled(cast(Split, split))
        truth = np.array([LABELS.index(e.label) for e in examples])
        was = before[key]
        if was.shape != now.shape:
            print(f"  {key:<18} skipped: {was.shape} rows before, {now.shape} now")
            continue
        samples = bootstrap({"before": was.argmax(1) == truth, "after": now.argmax(1) == truth})
        diff = samples["after"] - samples["before"]
        ece_was = evaluate(was, [e.label for e in examples]).ece
        ece_now = evaluate(now, [e.label for e in examples]).ece
        print(
            f"  {key:<18} accuracy {(was.argmax(1) == truth).mean():.3f} -> "
            f"{(now.argmax(1) == truth).mean():.3f}  change {diff.mean():+.3f} {interval(diff)}"
            f"  ECE {ece_was:.3f} -> {ece_now:.3f}"
        )


def reliability(probabilities: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Per confidence bin (0.33-0.5, 0.5-0.7, 0.7-0.9, 0.9-1): how many predictions, their
    mean confidence and how many were right. Calibrated: the two numbers agree."""
    truth = np.array([LABELS.index(label) for label in labels])
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    cells = []
    for lo, hi in ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)):
        mask = (confidence >= lo) & (confidence < hi)
        if mask.any():
            cells.append(
                f"[{lo:.1f},{min(hi, 1):.1f}) {mask.sum()}: "
                f"{confidence[mask].mean():.2f}->{correct[mask].mean():.2f}"
            )
    return cells


def speed(n: int, scorers: dict[str, Scorer]) -> None:
    pool = [e.text for e in load_labelled()]
    texts = [pool[i % len(pool)] for i in range(n)]
    words = np.mean([len(t.split()) for t in texts])
    print(f"\nspeed: {n:,} headlines (mean {words:.1f} words), one score() call each")
    print(f"  load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  {'scorer':<22}{'texts/s':>9}{'wall s':>9}{'texts/CPU-s':>13}{'lexicon ×':>11}")
    rows: list[tuple[str, float, float, float]] = []
    for name in SCORERS:
        for threads in (1, 2) if name != "lexicon" else (1,):
            torch.set_num_threads(threads)
            if name == "lexicon":
                classify.cache_clear()
            wall, cpu = time.perf_counter(), time.process_time()
            results = score(texts, scorer=scorers[name])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert len(results) == n
            rows.append(
                (f"{name}, {threads} thread{'s' if threads > 1 else ''}", n / wall, wall, n / cpu)
            )
    lexicon_cpu = rows[0][3]
    for key, rate, wall, per_cpu in rows:
        print(
            f"  {key:<22}{rate:>9,.0f}{wall:>9.1f}{per_cpu:>13,.0f}{lexicon_cpu / per_cpu:>10.0f}×"
        )
    print(f"  load average after: {os.getloadavg()[0]:.1f}")
    print(
        "  texts/CPU-s counts CPU time of all threads, so it is robust to other processes\n"
        "  on a shared machine; wall texts/s (and any 2-thread gain) only mean something\n"
        "  when the load average is below the core count."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="headlines for the speed test")
    parser.add_argument("--no-speed", action="store_true", help="accuracy only")
    parser.add_argument(
        "--splits",
        default="test,hard,hard2,dev",
        help="comma-separated splits to score (held out: test, hard, hard2)",
    )
    parser.add_argument("--save", type=Path, help="write every probability to this .npz")
    parser.add_argument(
        "--compare", type=Path, help="a --save file of another run: paired accuracy change"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores, all-MiniLM-L6-v2 on CPU"
    )
    print_data()
    encoder = BundledMiniLM()
    began = time.perf_counter()
    encoder.embed(["warm up"])
    load_seconds = time.perf_counter() - began
    scorers = {name: load_scorer(name, encoder=encoder) for name in SCORERS}
    probabilities: dict[str, np.ndarray] = {}
    for name in args.splits.split(","):
        if name not in SPLITS:
            parser.error(f"unknown split {name!r}; choose from {', '.join(SPLITS)}")
        split = cast(Split, name)
        for scorer, rows in accuracy_table(split, scorers).items():
            probabilities[f"{split}/{scorer}"] = rows
        if split in ("dev", "calib", "train"):
            print(f"  ({split}: not held out (fitted or read for fixes), so optimistic)")
    if args.save:
        np.savez(args.save, **probabilities)  # type: ignore[arg-type]
    if args.compare:
        compare(args.compare, probabilities)
    if not args.no_speed:
        print(f"\nmodel load (import sentence-transformers + load MiniLM): {load_seconds:.1f} s")
        speed(args.n, scorers)


if __name__ == "__main__":
    main()
