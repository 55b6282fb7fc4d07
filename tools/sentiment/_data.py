"""The team-written labelled set (``data/labelled.jsonl``) and the metrics we report on it."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from core.errors import DataError
from tools.sentiment._types import LABELS, Label

DATA_DIR = Path(__file__).resolve().parent / "data"
LABELLED_PATH = DATA_DIR / "labelled.jsonl"
Split = Literal["train", "dev", "test", "hard", "hard2", "calib"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test", "hard", "hard2", "calib")

# Held-out splits are frozen: their fingerprint is pinned here when they are written and
# before any model change is measured on them, and a test fails if a sentence or label
# changes. "test": the 181 sentences scored since the first release (frozen at commit
# eb9684c, before the issue 14 changes). "hard": 115 hedged, comparative, numeric-only
# and purely factual sentences, new companies, written and frozen before any tuning
# for them (issue 14) and never read for error analysis. "hard2": 150 sentences (50 per
# label) of the same hard kinds plus news-style contract, rating and job items, new
# companies again, written and frozen before the second round of changes (the "hard"
# split had been scored three times by then). "calib": 120 sentences (40 per label)
# across all topics, written with hard2 and never read while changing the lexicon; the
# temperatures are fitted on it (dev flatters the lexicon, which was fixed by reading it).
FROZEN_FINGERPRINTS: dict[str, str] = {
    "test": "3fa8649935470e38",
    "hard": "0c79987e28290e95",
    "hard2": "8755ad8dab888862",
    "calib": "1b2c8093e27f167d",
}


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    label: Label
    split: Split
    topic: str


def load_labelled(split: Split | None = None, path: Path = LABELLED_PATH) -> list[Example]:
    """Examples of one split (or all), in file order."""
    examples = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                row = json.loads(line)
                example = Example(row["id"], row["text"], row["label"], row["split"], row["topic"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(f"{path}:{number}: not a labelled example ({exc})") from None
            if example.label not in LABELS or example.split not in SPLITS:
                raise DataError(f"{path}:{number}: bad label or split in {row}")
            if split is None or example.split == split:
                examples.append(example)
    return examples


def fingerprint(examples: Sequence[Example]) -> str:
    """A short hash of the texts and labels a model was trained on."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(f"{e.id}\t{e.label}\t{e.text}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Report:
    """Accuracy, per-class precision/recall/F1, macro F1, confusion matrix (rows = truth,
    columns = prediction, ``LABELS`` order), mean log loss and expected calibration error."""

    n: int
    accuracy: float
    macro_f1: float
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    confusion: tuple[tuple[int, ...], ...]
    log_loss: float
    ece: float


def evaluate(probabilities: np.ndarray, labels: Sequence[str], bins: int = 10) -> Report:
    truth = np.array([LABELS.index(label) for label in labels])
    predicted = probabilities.argmax(axis=1)
    k = len(LABELS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(k), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(k), where=confusion.sum(1) > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(k), where=denominator > 0)
    picked = probabilities[np.arange(len(truth)), truth]
    confidence = probabilities.max(axis=1)
    correct = predicted == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return Report(
        n=len(truth),
        accuracy=float(correct.mean()),
        macro_f1=float(f1.mean()),
        precision=tuple(float(p) for p in precision),
        recall=tuple(float(r) for r in recall),
        f1=tuple(float(f) for f in f1),
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        log_loss=float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()),
        ece=float(ece),
    )
