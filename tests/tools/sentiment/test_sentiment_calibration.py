"""Temperatures fitted on out-of-fold predictions pooled with the calibration split, and the
nested cross-validation that chose, per model, between that and calib alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tools.sentiment import (
    BUNDLED_MODEL,
    SHIPPED_CALIBRATION,
    SHIPPED_WEIGHTS,
    Example,
    calibrate_lexicon,
    load_labelled,
    load_weights,
    train_embedding_classifier,
)
from tools.sentiment._calibration import (
    MethodScore,
    TemperatureComparison,
    compare_temperatures,
    out_of_fold_logits,
    pooled_temperature,
)
from tools.sentiment._embedding import TextEncoder, design_matrix
from tools.sentiment._lexicon import features, lexicon_out_of_fold_logits
from tools.sentiment._train import (
    C_GRID,
    OUT_OF_FOLD_TEMPERATURE,
    TEMPERATURE_SPLIT,
    classifier_out_of_fold_logits,
    fit_examples,
)
from tools.sentiment._types import LABELS, fit_temperature


def sampled_labels(logits: np.ndarray, temperature: float, seed: int) -> list[str]:
    """Labels drawn from softmax(logits / temperature): logits whose right temperature is
    ``temperature`` by construction."""
    rng = np.random.default_rng(seed)
    scaled = logits / temperature
    p = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return [LABELS[rng.choice(3, p=row)] for row in p]


def random_logits(n: int, seed: int, scale: float = 3.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, size=(n, 3))


class NoisyLabelEncoder:
    """Fake 8-dimensional embeddings: a noisy one-hot of each text's label, so a regression
    learns something but not everything, and no transformer is loaded."""

    name = BUNDLED_MODEL

    def __init__(self, examples: Sequence[Example], seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._vectors = {}
        for e in examples:
            v = rng.normal(0.0, 1.0, 8)
            v[LABELS.index(e.label)] += 1.2
            self._vectors[e.text] = (v / np.linalg.norm(v)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vectors[t] for t in texts])


def synthetic_examples(n: int, offset: int = 0) -> list[Example]:
    return [
        Example(f"s{offset + i}", f"sentence {offset + i}", LABELS[i % 3], "train", "t")
        for i in range(n)
    ]


def test_out_of_fold_rows_come_from_models_that_never_saw_them() -> None:
    labels = [LABELS[i % 3] for i in range(60)]
    seen: list[tuple[set[int], set[int]]] = []

    def memoriser(fit_rows: np.ndarray, held_rows: np.ndarray) -> np.ndarray:
        # A model that is certain of every row it was fitted on and knows nothing else:
        # any leak of a held row into its fit would show as a non-zero logit.
        seen.append((set(fit_rows.tolist()), set(held_rows.tolist())))
        known = set(fit_rows.tolist())
        out = np.zeros((len(held_rows), 3))
        for k, row in enumerate(held_rows):
            if row in known:
                out[k, LABELS.index(labels[row])] = 50.0
        return out

    logits = out_of_fold_logits(memoriser, labels, folds=5, seed=3)
    assert logits.shape == (60, 3)
    np.testing.assert_array_equal(logits, np.zeros((60, 3)))
    assert len(seen) == 5
    held = [h for _, h in seen]
    assert set().union(*held) == set(range(60)) and sum(len(h) for h in held) == 60
    for fit, hold in seen:
        assert not fit & hold
        assert sorted(labels[i] for i in hold) == sorted(LABELS * 4)  # stratified


def test_out_of_fold_rejects_a_model_returning_the_wrong_rows() -> None:
    labels = [LABELS[i % 3] for i in range(30)]
    with pytest.raises(ValueError, match="shape"):
        out_of_fold_logits(lambda fit, held: np.zeros((len(held) + 1, 3)), labels, folds=3)


def test_pooled_temperature_weighs_every_row_the_same() -> None:
    # 900 over-confident out-of-fold rows (right temperature 2) and 100 calibrated
    # held-out rows (right temperature 1): the pool's fit sits near the big part's.
    oof, held = random_logits(900, 1), random_logits(100, 2)
    oof_labels, held_labels = sampled_labels(oof, 2.0, 3), sampled_labels(held, 1.0, 4)
    alone = fit_temperature(held, held_labels)
    pooled = pooled_temperature(oof, oof_labels, held, held_labels)
    assert fit_temperature(oof, oof_labels) == pytest.approx(2.0, rel=0.2)
    assert alone < 1.4
    assert 1.6 < pooled < 2.4
    both = np.vstack([oof, held])
    assert pooled == fit_temperature(both, [*oof_labels, *held_labels])


def test_nested_comparison_prefers_the_pool_when_calib_is_easier_than_the_rest() -> None:
    # The situation of issue 14's second round: a calib split the models find easy (right
    # temperature 0.6) and a larger rest that needs softening (2.0).
    rest, calib = random_logits(600, 5), random_logits(120, 6)
    labels = [*sampled_labels(rest, 2.0, 7), *sampled_labels(calib, 0.6, 8)]
    is_calib = np.r_[np.zeros(600, bool), np.ones(120, bool)]
    result = compare_temperatures(np.vstack([rest, calib]), labels, is_calib, seeds=(0, 1))
    assert result.calib_only.temperature < 1.0 < result.pooled.temperature
    assert result.pooled.log_loss < result.calib_only.log_loss
    assert result.pooled.log_loss_rest < result.calib_only.log_loss_rest
    assert result.pooled.log_loss_calib > result.calib_only.log_loss_calib
    assert result.pooled.ece < result.calib_only.ece
    assert result.pooled_wins
    # The overall figure is the row-weighted mean of the two slices.
    overall = (600 * result.pooled.log_loss_rest + 120 * result.pooled.log_loss_calib) / 720
    assert result.pooled.log_loss == pytest.approx(overall)
    assert result.difference.shape == (720,)
    assert result.difference.mean() == pytest.approx(
        result.pooled.log_loss - result.calib_only.log_loss
    )


def test_nested_comparison_keeps_calib_when_both_parts_need_the_same_temperature() -> None:
    logits = random_logits(720, 9)
    labels = sampled_labels(logits, 1.0, 10)
    is_calib = np.arange(720) % 6 == 0
    result = compare_temperatures(logits, labels, is_calib, seeds=(0,))
    assert result.calib_only.temperature == pytest.approx(1.0, rel=0.25)
    assert result.pooled.temperature == pytest.approx(1.0, rel=0.1)
    # Same right answer both ways: the nested losses differ by noise only.
    assert abs(result.pooled.log_loss - result.calib_only.log_loss) < 0.01


def test_nested_comparison_checks_its_input() -> None:
    logits = random_logits(40, 11)
    labels = sampled_labels(logits, 1.0, 12)
    with pytest.raises(ValueError, match="same rows"):
        compare_temperatures(logits, labels[:-1], np.zeros(40, bool))
    with pytest.raises(ValueError, match="calib rows"):
        compare_temperatures(logits, labels, np.arange(40) < 5)


@pytest.mark.parametrize(
    ("pooled", "wins"),
    [((0.30, 0.020), True), ((0.30, 0.031), False), ((0.33, 0.010), False), ((0.32, 0.030), False)],
)
def test_adoption_rule_needs_lower_log_loss_and_no_higher_ece(
    pooled: tuple[float, float], wins: bool
) -> None:
    def method(log_loss: float, ece: float) -> MethodScore:
        return MethodScore(log_loss, ece, log_loss, log_loss, 1.0)

    result = TemperatureComparison(method(0.32, 0.030), method(*pooled), np.zeros(1))
    assert result.pooled_wins is wins


def test_classifier_temperature_out_of_fold_is_fitted_on_the_pool() -> None:
    train, calib = synthetic_examples(150), synthetic_examples(45, offset=1000)
    encoder: TextEncoder = NoisyLabelEncoder([*train, *calib])
    grid = (0.5, 2.0)
    oof = classifier_out_of_fold_logits(train, encoder, seed=1, c_grid=grid, folds=3)
    # Row by row the same as refitting by hand on the other folds.
    from sklearn.model_selection import StratifiedKFold

    y = [LABELS.index(e.label) for e in train]
    vectors = encoder.embed([e.text for e in train])
    for fit_rows, held_rows in StratifiedKFold(3, shuffle=True, random_state=1).split(vectors, y):
        fold = train_embedding_classifier(
            [train[i] for i in fit_rows], encoder, seed=1, c_grid=grid
        )
        np.testing.assert_allclose(oof[held_rows], fold.logits(vectors[held_rows]), atol=1e-9)
    plain = train_embedding_classifier(train, encoder, seed=1, c_grid=grid, held_out=calib)
    pooled = train_embedding_classifier(
        train, encoder, seed=1, c_grid=grid, held_out=calib, out_of_fold=3
    )
    np.testing.assert_array_equal(plain.coef, pooled.coef)  # only the temperature moves
    calib_logits = pooled.logits(encoder.embed([e.text for e in calib]))
    expected = pooled_temperature(
        oof, [e.label for e in train], calib_logits, [e.label for e in calib]
    )
    assert pooled.temperature == expected
    assert plain.temperature == fit_temperature(calib_logits, [e.label for e in calib])


def test_lexicon_temperature_out_of_fold_is_fitted_on_the_pool() -> None:
    train, calib = fit_examples(), load_labelled("calib")
    oof = lexicon_out_of_fold_logits(train, folds=5, seed=0)
    in_sample = calibrate_lexicon(train).logits(features([e.text for e in train]))
    assert not np.isnan(oof).any()
    # Nine parameters on 927 sentences: out of fold is close to, not equal to, in sample.
    gap = np.abs(oof - in_sample)
    assert gap.max() > 0 and gap.mean() < 0.3
    fitted = calibrate_lexicon(train, calib, out_of_fold=5)
    held = fitted.logits(features([e.text for e in calib]))
    labels = [e.label for e in train]
    assert fitted.temperature == pooled_temperature(oof, labels, held, [e.label for e in calib])
    assert fitted.coef == SHIPPED_CALIBRATION.coef  # the map itself does not change


@pytest.mark.slow  # five fold classifiers, each with its own C search (~30 s)
@pytest.mark.parametrize("name", sorted(n for n, k in OUT_OF_FOLD_TEMPERATURE.items() if k))
def test_shipped_pooled_temperature_is_what_out_of_fold_fitting_gives(
    name: str, encoder: TextEncoder
) -> None:
    shipped = load_weights(SHIPPED_WEIGHTS[name])
    examples, calib = fit_examples(), load_labelled(TEMPERATURE_SPLIT)
    oof = classifier_out_of_fold_logits(
        examples, encoder, seed=shipped.seed, lexicon_features=shipped.lexicon_features,
        c_grid=C_GRID, folds=OUT_OF_FOLD_TEMPERATURE[name],
    )  # fmt: skip
    texts = [e.text for e in calib]
    held = shipped.logits(design_matrix(encoder.embed(texts), texts, shipped.lexicon_features))
    labels, calib_labels = [e.label for e in examples], [e.label for e in calib]
    temperature = pooled_temperature(oof, labels, held, calib_labels)
    assert temperature == pytest.approx(shipped.temperature, abs=0.01)
    assert abs(temperature - fit_temperature(held, calib_labels)) > 0.05


def test_nested_comparison_fits_each_temperature_without_the_rows_it_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tools.sentiment._calibration as calibration

    logits = random_logits(100, 13)
    labels = sampled_labels(logits, 1.0, 14)
    is_calib = np.arange(100) % 4 == 0
    sizes: list[int] = []

    def recording(rows: np.ndarray, row_labels: Sequence[str]) -> float:
        sizes.append(len(row_labels))
        return fit_temperature(rows, row_labels)

    monkeypatch.setattr(calibration, "fit_temperature", recording)
    compare_temperatures(logits, labels, is_calib, folds=5, seeds=(0,))
    # Five outer folds x (calib rows of the other four, all rows of the other four), then
    # the two final fits on everything: each row is left out of exactly one fold's fits.
    assert sizes[1:10:2] == [80] * 5
    assert sum(sizes[0:10:2]) == 4 * 25 and max(sizes[0:10:2]) < 25
    assert sizes[10:] == [25, 100]
