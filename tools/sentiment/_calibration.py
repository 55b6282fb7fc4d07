"""Temperatures fitted on honestly held-out predictions, and the nested cross-validation
that compares two ways of choosing them.

A temperature fitted on one small split fits that split's mix of easy and hard sentences.
``out_of_fold_logits`` gives every training sentence a prediction from a model that did
not see it (k-fold: the model is refitted on the other folds exactly as the shipped one is
fitted on all of them), so the training sentences can join the calibration split in one
pool of held-out predictions for ``fit_temperature``.

``compare_temperatures`` decides between fitting on the calibration rows only and on the
whole pool without touching any held-out split: each of ``folds`` outer folds of the pool
is predicted with a temperature fitted on the rest (calib rows only, or all rows).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tools.sentiment._types import LABELS, fit_temperature, softmax

OOF_FOLDS = 5
NESTED_FOLDS = 10
NESTED_SEEDS = (0, 1, 2, 3, 4)


def label_indices(labels: Sequence[str]) -> np.ndarray:
    return np.array([LABELS.index(label) for label in labels])


def out_of_fold_logits(
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    labels: Sequence[str],
    *,
    folds: int = OOF_FOLDS,
    seed: int = 0,
) -> np.ndarray:
    """Logits, shape ``(len(labels), 3)``, each row from a model that never saw it.

    The rows are cut into ``folds`` stratified folds (shuffled with ``seed``);
    ``fit_predict(fit_rows, held_rows)`` must fit a model on ``fit_rows`` only and return
    its logits for ``held_rows`` (in that order)."""
    from sklearn.model_selection import StratifiedKFold

    y = label_indices(labels)
    out = np.full((len(y), len(LABELS)), np.nan)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(np.zeros(len(y)), y):
        logits = np.asarray(fit_predict(fit_rows, held_rows), dtype=np.float64)
        if logits.shape != (len(held_rows), len(LABELS)):
            raise ValueError(f"fit_predict returned shape {logits.shape} for {len(held_rows)} rows")
        out[held_rows] = logits
    return out


def pooled_temperature(
    out_of_fold: np.ndarray,
    out_of_fold_labels: Sequence[str],
    held_out: np.ndarray,
    held_out_labels: Sequence[str],
) -> float:
    """The temperature fitted on the out-of-fold logits and the held-out split's logits
    together (every row counts the same)."""
    logits = np.vstack([out_of_fold, held_out])
    return fit_temperature(logits, [*out_of_fold_labels, *held_out_labels])


def log_losses(logits: np.ndarray, truth: np.ndarray, temperature: float) -> np.ndarray:
    p = softmax(logits, temperature)[np.arange(len(truth)), truth]
    return np.asarray(-np.log(np.clip(p, 1e-12, 1.0)))


def expected_calibration_error(
    probabilities: np.ndarray, truth: np.ndarray, bins: int = 10
) -> float:
    """ECE over ``bins`` equal-width bins of the top probability (as ``evaluate`` does)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    ece = 0.0
    for lo, hi in itertools.pairwise(np.linspace(0.0, 1.0, bins + 1)):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


@dataclass(frozen=True, slots=True)
class MethodScore:
    """Nested cross-validated quality of one way of fitting the temperature. ``log_loss``
    and ``ece`` are over every pool row (means over the seeds); ``log_loss_calib`` and
    ``log_loss_rest`` over the calib rows and the other rows alone; ``temperature`` is the
    one fitted on the whole pool's relevant rows (what would ship)."""

    log_loss: float
    ece: float
    log_loss_calib: float
    log_loss_rest: float
    temperature: float


@dataclass(frozen=True, slots=True)
class TemperatureComparison:
    calib_only: MethodScore
    pooled: MethodScore
    # Per-row mean over seeds of (pooled - calib-only) log loss, for a paired interval.
    difference: np.ndarray

    @property
    def pooled_wins(self) -> bool:
        """The adoption rule, fixed before any held-out split was scored: the pooled
        temperature has the lower nested log loss and an ECE that is not higher."""
        return (
            self.pooled.log_loss < self.calib_only.log_loss
            and self.pooled.ece <= self.calib_only.ece
        )


def compare_temperatures(
    logits: np.ndarray,
    labels: Sequence[str],
    is_calib: np.ndarray,
    *,
    folds: int = NESTED_FOLDS,
    seeds: Sequence[int] = NESTED_SEEDS,
) -> TemperatureComparison:
    """Nested cross-validation of "temperature fitted on the calib rows" against
    "temperature fitted on every row" over a pool of held-out logits (out-of-fold
    predictions plus the calibration split's). The outer folds are stratified by label and
    by whether a row is a calib row; each is scored with temperatures fitted on the others."""
    from sklearn.model_selection import StratifiedKFold

    truth = label_indices(labels)
    calib = np.asarray(is_calib, dtype=bool)
    if logits.shape != (len(truth), len(LABELS)) or calib.shape != truth.shape:
        raise ValueError("logits, labels and is_calib must describe the same rows")
    if calib.sum() < folds or (~calib).sum() < folds:
        raise ValueError(f"need at least {folds} calib rows and {folds} other rows")
    strata = truth + len(LABELS) * calib
    methods = ("calib_only", "pooled")
    losses = {m: np.zeros((len(seeds), len(truth))) for m in methods}
    eces = {m: np.zeros(len(seeds)) for m in methods}
    for s, seed in enumerate(seeds):
        probabilities = {m: np.zeros((len(truth), len(LABELS))) for m in methods}
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for fit_rows, held_rows in splitter.split(np.zeros(len(truth)), strata):
            calib_rows = fit_rows[calib[fit_rows]]
            chosen = {
                "calib_only": fit_temperature(
                    logits[calib_rows], [LABELS[i] for i in truth[calib_rows]]
                ),
                "pooled": fit_temperature(logits[fit_rows], [LABELS[i] for i in truth[fit_rows]]),
            }
            for m, t in chosen.items():
                probabilities[m][held_rows] = softmax(logits[held_rows], t)
                losses[m][s, held_rows] = log_losses(logits[held_rows], truth[held_rows], t)
        for m in methods:
            eces[m][s] = expected_calibration_error(probabilities[m], truth)
    everyone = [LABELS[i] for i in truth]
    final = {
        "calib_only": fit_temperature(logits[calib], [LABELS[i] for i in truth[calib]]),
        "pooled": fit_temperature(logits, everyone),
    }
    scores = {
        m: MethodScore(
            log_loss=float(losses[m].mean()),
            ece=float(eces[m].mean()),
            log_loss_calib=float(losses[m][:, calib].mean()),
            log_loss_rest=float(losses[m][:, ~calib].mean()),
            temperature=final[m],
        )
        for m in methods
    }
    difference = (losses["pooled"] - losses["calib_only"]).mean(axis=0)
    return TemperatureComparison(scores["calib_only"], scores["pooled"], difference)
