"""Training the embedding classifiers: a pure function of (training split, seed).

L-BFGS on a fixed design matrix is deterministic, so the same embeddings and seed give
the same weights; the seed fixes the cross-validation folds that choose the L2 strength.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from tools.sentiment._data import Example, Split, fingerprint, load_labelled
from tools.sentiment._embedding import (
    PN_FEATURES,
    BundledMiniLM,
    ClassifierWeights,
    TextEncoder,
    design_matrix,
    save_weights,
)
from tools.sentiment._lexicon import EXTENDED_FEATURES
from tools.sentiment._types import LABELS, fit_temperature

SHIPPED_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_WEIGHTS = {
    "embedding": SHIPPED_DIR / "embedding_logreg.json",
    "hybrid": SHIPPED_DIR / "hybrid_logreg.json",
}
C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FOLDS = 5
# The shipped classifiers are fitted on train + dev (the cross-validation that picks C
# runs there too) and their temperatures on "calib", which nobody read while writing the
# lexicon; "test", "hard" and "hard2" are held out.
FIT_SPLITS: tuple[Split, ...] = ("train", "dev")
TEMPERATURE_SPLIT: Split = "calib"
SHIPPED_LEXICON_FEATURES: dict[str, tuple[str, ...]] = {
    "embedding": (),
    "hybrid": EXTENDED_FEATURES,
}


def fit_examples() -> list[Example]:
    """The examples the shipped classifiers and the lexicon calibration are fitted on."""
    return [e for split in FIT_SPLITS for e in load_labelled(split)]


def train_embedding_classifier(
    examples: Sequence[Example],
    encoder: TextEncoder,
    *,
    seed: int = 0,
    with_lexicon: bool = False,
    lexicon_features: Sequence[str] | None = None,
    held_out: Sequence[Example] = (),
    c_grid: Sequence[float] = C_GRID,
    embeddings: np.ndarray | None = None,
    held_out_embeddings: np.ndarray | None = None,
) -> ClassifierWeights:
    """Fit a multinomial logistic regression on ``examples``.

    The features are the embedding, then ``lexicon_features`` (default: (P, N) when
    ``with_lexicon``, else none; or ``_lexicon.EXTENDED_FEATURES``).

    The inverse L2 strength C is the grid value with the best mean log loss over
    stratified ``FOLDS``-fold cross-validation (folds shuffled with ``seed``); the model is
    then refitted on every example. With ``held_out`` (the calibration split), a temperature is
    fitted there (it changes confidences, never labels). ``embeddings`` and
    ``held_out_embeddings`` may pass precomputed vectors (same order) to skip encoding."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    if len({e.label for e in examples}) < len(LABELS):
        raise ConfigError("training needs examples of all three labels")
    texts = [e.text for e in examples]
    y = np.array([LABELS.index(e.label) for e in examples])
    names = tuple(lexicon_features) if lexicon_features is not None else ()
    if lexicon_features is None and with_lexicon:
        names = PN_FEATURES
    vectors = encoder.embed(texts) if embeddings is None else embeddings
    x = design_matrix(vectors, texts, names)
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y))
    best: tuple[float, float, float] | None = None  # (log loss, C, accuracy)
    for c in c_grid:
        losses, hits = [], 0
        for fit_rows, held_rows in folds:
            model = LogisticRegression(C=c, max_iter=2000).fit(x[fit_rows], y[fit_rows])
            p = model.predict_proba(x[held_rows])
            losses.append(-np.log(p[np.arange(len(held_rows)), y[held_rows]]).mean())
            hits += int((p.argmax(axis=1) == y[held_rows]).sum())
        score = (float(np.mean(losses)), c, hits / len(y))
        if best is None or score[0] < best[0]:
            best = score
    assert best is not None
    model = LogisticRegression(C=best[1], max_iter=2000).fit(x, y)
    weights = ClassifierWeights(
        coef=model.coef_.astype(np.float64),
        intercept=model.intercept_.astype(np.float64),
        embedding_model=encoder.name,
        lexicon_features=names,
        c=best[1],
        seed=seed,
        n_train=len(examples),
        train_fingerprint=fingerprint(examples),
        cv_accuracy=best[2],
    )
    if not held_out:
        return weights
    texts = [e.text for e in held_out]
    vectors = encoder.embed(texts) if held_out_embeddings is None else held_out_embeddings
    logits = weights.logits(design_matrix(vectors, texts, names))
    return replace(weights, temperature=fit_temperature(logits, [e.label for e in held_out]))


def retrain_shipped(
    encoder: TextEncoder | None = None, *, seed: int = 0, write: bool = False
) -> dict[str, ClassifierWeights]:
    """Retrain the shipped "embedding" and "hybrid" classifiers on ``FIT_SPLITS``, with
    temperatures fitted on ``TEMPERATURE_SPLIT``; with ``write``, overwrite the shipped
    files (they were written by ``retrain_shipped(write=True)``). One encoder embeds
    both, so training and temperature see vectors from the same backend."""
    examples, calib = fit_examples(), load_labelled(TEMPERATURE_SPLIT)
    active = encoder or BundledMiniLM()
    vectors = active.embed([e.text for e in examples])
    calib_vectors = active.embed([e.text for e in calib])
    weights = {
        name: train_embedding_classifier(
            examples,
            active,
            seed=seed,
            lexicon_features=SHIPPED_LEXICON_FEATURES[name],
            held_out=calib,
            embeddings=vectors,
            held_out_embeddings=calib_vectors,
        )
        for name in SHIPPED_WEIGHTS
    }
    if write:
        for name, w in weights.items():
            save_weights(w, SHIPPED_WEIGHTS[name])
    return weights
