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
from tools.sentiment._calibration import OOF_FOLDS, out_of_fold_logits, pooled_temperature
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
# How each shipped temperature is fitted (issue 14 §4, third round): 0 = on calib alone;
# k = on calib pooled with train + dev's k-fold out-of-fold logits. Chosen per model by a
# rule fixed before any held-out split was scored (bench/sentiment_calibration.py): pooled
# if its nested cross-validated log loss over that pool is lower and its ECE not higher.
# The embedding passed (log loss 0.747 -> 0.719, ECE 0.071 -> 0.024); the hybrid did not
# (log loss 0.318 -> 0.308 but ECE 0.015 -> 0.020), nor did the lexicon (_lexicon.py).
OUT_OF_FOLD_TEMPERATURE: dict[str, int] = {"embedding": OOF_FOLDS, "hybrid": 0}


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
    out_of_fold: int = 0,
) -> ClassifierWeights:
    """Fit a multinomial logistic regression on ``examples``.

    The features are the embedding, then ``lexicon_features`` (default: (P, N) when
    ``with_lexicon``, else none; or ``_lexicon.EXTENDED_FEATURES``).

    The inverse L2 strength C is the grid value with the best mean log loss over
    stratified ``FOLDS``-fold cross-validation (folds shuffled with ``seed``); the model is
    then refitted on every example. With ``held_out`` (the calibration split), a temperature is
    fitted there (it changes confidences, never labels); with ``out_of_fold`` = k > 1 as
    well, it is fitted on the held-out split's logits pooled with ``examples``' k-fold
    out-of-fold logits (``classifier_out_of_fold_logits``). ``embeddings`` and
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
    held_texts = [e.text for e in held_out]
    if held_out_embeddings is None:
        held_out_embeddings = encoder.embed(held_texts)
    logits = weights.logits(design_matrix(held_out_embeddings, held_texts, names))
    held_labels = [e.label for e in held_out]
    if out_of_fold < 2:
        return replace(weights, temperature=fit_temperature(logits, held_labels))
    pool = classifier_out_of_fold_logits(
        examples, encoder, seed=seed, lexicon_features=names, c_grid=c_grid,
        embeddings=vectors, folds=out_of_fold,
    )  # fmt: skip
    labels = [e.label for e in examples]
    return replace(weights, temperature=pooled_temperature(pool, labels, logits, held_labels))


def classifier_out_of_fold_logits(
    examples: Sequence[Example],
    encoder: TextEncoder,
    *,
    seed: int = 0,
    lexicon_features: Sequence[str] = (),
    c_grid: Sequence[float] = C_GRID,
    embeddings: np.ndarray | None = None,
    folds: int = OOF_FOLDS,
) -> np.ndarray:
    """Each example's logits from a classifier trained without it: ``folds`` stratified
    folds (shuffled with ``seed``), each predicted by ``train_embedding_classifier`` run on
    the other folds exactly as the shipped classifier is run on all of them (its own C
    search included) and with no temperature."""
    texts = [e.text for e in examples]
    vectors = encoder.embed(texts) if embeddings is None else embeddings
    names = tuple(lexicon_features)
    x = design_matrix(vectors, texts, names)

    def fit_predict(fit_rows: np.ndarray, held_rows: np.ndarray) -> np.ndarray:
        fold = train_embedding_classifier(
            [examples[i] for i in fit_rows], encoder, seed=seed, lexicon_features=names,
            c_grid=c_grid, embeddings=vectors[fit_rows],
        )  # fmt: skip
        return fold.logits(x[held_rows])

    return out_of_fold_logits(fit_predict, [e.label for e in examples], folds=folds, seed=seed)


def retrain_shipped(
    encoder: TextEncoder | None = None, *, seed: int = 0, write: bool = False
) -> dict[str, ClassifierWeights]:
    """Retrain the shipped "embedding" and "hybrid" classifiers on ``FIT_SPLITS``, with
    temperatures fitted on ``TEMPERATURE_SPLIT`` (pooled with out-of-fold logits where
    ``OUT_OF_FOLD_TEMPERATURE`` says so); with ``write``, overwrite the shipped
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
            out_of_fold=OUT_OF_FOLD_TEMPERATURE[name],
        )
        for name in SHIPPED_WEIGHTS
    }
    if write:
        for name, w in weights.items():
            save_weights(w, SHIPPED_WEIGHTS[name])
    return weights
