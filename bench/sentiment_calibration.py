"""Sentiment temperatures: calib-only against out-of-fold pooled, decided without any
held-out split.

    .venv/bin/python bench/sentiment_calibration.py [--folds 5] [--seed 0]

Reads train, dev and calib only (never test, hard or hard2). For each scorer it builds
a pool of honestly held-out logits: train + dev predicted out of fold (``--folds``
stratified folds; each fold's classifier trained by ``train_embedding_classifier`` on the
other folds, its C search included; for the lexicon, the (P, N) map refitted per fold)
and calib predicted by the model fitted on all of train + dev. Then nested
cross-validation over that pool (10 outer folds stratified by label and origin, seeds
0-4) scores two ways of fitting the temperature on the other folds: on their calib rows
only (what shipped after the second round) and on all their rows ("pooled"). Printed:
nested log loss and ECE over the pool and per origin, the paired 95% bootstrap interval
of the log-loss difference, the temperature each way gives on the whole pool, and the
adoption rule's verdict (pooled has the lower nested log loss and an ECE not higher).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from tools.sentiment import BundledMiniLM, load_labelled, train_embedding_classifier  # noqa: E402
from tools.sentiment._calibration import compare_temperatures  # noqa: E402
from tools.sentiment._embedding import design_matrix  # noqa: E402
from tools.sentiment._lexicon import (  # noqa: E402
    calibrate_lexicon,
    features,
    lexicon_out_of_fold_logits,
)
from tools.sentiment._train import (  # noqa: E402
    SHIPPED_LEXICON_FEATURES,
    TEMPERATURE_SPLIT,
    classifier_out_of_fold_logits,
    fit_examples,
)
from tools.sentiment._types import LABELS, softmax  # noqa: E402

RESAMPLES = 2000


def reliability(logits: np.ndarray, labels: Sequence[str], temperature: float) -> str:
    truth = np.array([LABELS.index(label) for label in labels])
    p = softmax(logits, temperature)
    confidence, correct = p.max(axis=1), p.argmax(axis=1) == truth
    cells = []
    for lo, hi in ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)):
        mask = (confidence >= lo) & (confidence < hi)
        if mask.any():
            cells.append(
                f"[{lo:.1f},{min(hi, 1):.1f}) {mask.sum()}: "
                f"{confidence[mask].mean():.2f}->{correct[mask].mean():.2f}"
            )
    return "  ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="out-of-fold folds on train+dev")
    parser.add_argument("--seed", type=int, default=0, help="fold and C-search seed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    examples, calib = fit_examples(), load_labelled(TEMPERATURE_SPLIT)
    labels = [e.label for e in examples]
    calib_labels = [e.label for e in calib]
    print(f"pool: {len(examples)} train+dev sentences out of fold, {len(calib)} calib")
    encoder = BundledMiniLM()
    vectors = encoder.embed([e.text for e in examples])
    calib_vectors = encoder.embed([e.text for e in calib])
    pools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    began = time.perf_counter()
    lexicon_map = calibrate_lexicon(examples)
    pools["lexicon"] = (
        lexicon_out_of_fold_logits(examples, folds=args.folds, seed=args.seed),
        lexicon_map.logits(features([e.text for e in calib])),
    )
    for name, names in SHIPPED_LEXICON_FEATURES.items():
        final = train_embedding_classifier(
            examples, encoder, seed=args.seed, lexicon_features=names, embeddings=vectors
        )
        calib_x = design_matrix(calib_vectors, [e.text for e in calib], names)
        pools[name] = (
            classifier_out_of_fold_logits(
                examples,
                encoder,
                seed=args.seed,
                lexicon_features=names,
                embeddings=vectors,
                folds=args.folds,
            ),
            final.logits(calib_x),
        )
    print(f"out-of-fold fits: {time.perf_counter() - began:.0f} s")
    is_calib = np.r_[np.zeros(len(examples), bool), np.ones(len(calib), bool)]
    pool_labels = [*labels, *calib_labels]
    rng = np.random.default_rng(0)
    for name, (oof, held) in pools.items():
        logits = np.vstack([oof, held])
        truth = np.array([LABELS.index(label) for label in pool_labels])
        accuracy_oof = (oof.argmax(1) == truth[~is_calib]).mean()
        accuracy_calib = (held.argmax(1) == truth[is_calib]).mean()
        result = compare_temperatures(logits, pool_labels, is_calib)
        rows = rng.integers(0, len(truth), size=(RESAMPLES, len(truth)))
        lo, hi = np.percentile(result.difference[rows].mean(axis=1), [2.5, 97.5])
        print(
            f"\n{name}: accuracy out of fold {accuracy_oof:.3f} (train+dev), "
            f"{accuracy_calib:.3f} (calib)"
        )
        print(f"  {'temperature fit':<16}{'T':>7}{'log loss':>10}{'ECE':>8}{'calib':>8}{'t+d':>8}")
        for label, m in (("calib only", result.calib_only), ("pooled", result.pooled)):
            print(
                f"  {label:<16}{m.temperature:>7.3f}{m.log_loss:>10.4f}{m.ece:>8.4f}"
                f"{m.log_loss_calib:>8.4f}{m.log_loss_rest:>8.4f}"
            )
        print(
            f"  pooled - calib only, nested log loss: {result.difference.mean():+.4f} "
            f"[{lo:+.4f}, {hi:+.4f}] (paired bootstrap over the pool's sentences)"
        )
        for label, t in (
            ("calib only", result.calib_only.temperature),
            ("pooled", result.pooled.temperature),
        ):
            print(f"  reliability on the pool, T {label}: {reliability(logits, pool_labels, t)}")
        print(f"  rule: {'adopt pooled' if result.pooled_wins else 'keep calib only'}")


if __name__ == "__main__":
    main()
