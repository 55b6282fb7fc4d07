"""The result type and the contract every scorer meets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

Label = Literal["negative", "neutral", "positive"]
# Column order of every probability matrix in this package.
LABELS: tuple[Label, Label, Label] = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """The financial tone of one text.

    ``scores`` holds the probability of each label (they sum to 1); ``label`` is the most
    probable one and ``confidence`` its probability. ``model`` names the scorer."""

    label: Label
    confidence: float
    scores: dict[Label, float]
    model: str

    @classmethod
    def from_probabilities(cls, probabilities: Sequence[float], model: str) -> SentimentResult:
        values = [float(p) for p in probabilities]
        if len(values) != len(LABELS) or not all(math.isfinite(p) and p >= 0 for p in values):
            raise ValueError(f"expected three non-negative probabilities, got {values}")
        total = sum(values)
        values = [p / total for p in values]
        best = max(range(len(LABELS)), key=values.__getitem__)
        return cls(
            label=LABELS[best],
            confidence=round(values[best], 4),
            scores={label: round(p, 4) for label, p in zip(LABELS, values, strict=True)},
            model=model,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": self.confidence,
            "scores": dict(self.scores),
            "model": self.model,
        }


class Scorer(Protocol):
    """Maps texts to label probabilities.

    ``predict_proba`` returns a float64 array of shape ``(len(texts), 3)`` whose rows are
    probabilities in ``LABELS`` order and sum to 1. Texts are non-empty (callers check);
    the output is in input order and does not depend on how texts are batched."""

    name: str

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)


def fit_temperature(logits: np.ndarray, labels: Sequence[str]) -> float:
    """The temperature (0.25 to 10) that minimises the log loss of ``softmax(logits / T)``
    on labelled rows. Dividing logits by one number never changes the predicted label,
    only how confident it is. Grid search: deterministic and plenty for one parameter."""
    truth = np.array([LABELS.index(label) for label in labels])
    rows = np.arange(len(truth))
    grid = np.exp(np.linspace(np.log(0.25), np.log(10.0), 801))
    losses = [-np.log(softmax(logits, t)[rows, truth] + 1e-12).mean() for t in grid]
    return round(float(grid[int(np.argmin(losses))]), 3)
