"""The finance lexicon: its rules, its calibration, and its accuracy on held-out text."""

from __future__ import annotations

import numpy as np
import pytest

from tools.sentiment import (
    SHIPPED_CALIBRATION,
    LexiconScorer,
    analyse,
    calibrate_lexicon,
    evaluate,
    load_labelled,
    score_one,
)
from tools.sentiment import _lexicon_terms as terms
from tools.sentiment._lexicon import _ABBREVIATION, _TOKEN, tokens


def tone(text: str) -> float:
    """Positive minus negative mass: > 0 reads positive, < 0 negative."""
    evidence = analyse(text)
    return evidence.positive - evidence.negative


def label(text: str) -> str:
    return score_one(text, model="lexicon").label


@pytest.mark.parametrize(
    ("positive", "negative"),
    [
        ("The quarterly loss narrowed to $0.12", "The quarterly loss widened to $0.85"),
        ("The company cut costs by 10%", "The company cut its full-year guidance"),
        ("Inflation cooled in March", "Inflation accelerated in March"),
        ("Operating expenses fell 8%", "Operating expenses rose 8%"),
        ("Revenue rose 12%", "Revenue fell 12%"),
        ("Results were not as bad as feared", "Results were worse than expected"),
        ("A judge dismissed the lawsuit", "Shareholders filed a lawsuit"),
        ("Unemployment fell to 3.6%", "Unemployment rose to 5.2%"),
        ("The bank reported no increase in bad loans", "Bad loans increased sharply"),
    ],
)
def test_direction_words_take_their_tone_from_what_moves(positive: str, negative: str) -> None:
    assert tone(positive) > 0 > tone(negative)
    assert label(positive) == "positive" and label(negative) == "negative"


def test_negation_flips_and_damps_a_tone_word() -> None:
    assert tone("The drug showed a clear benefit") > 0
    assert tone("The drug showed no benefit") < 0
    assert abs(tone("The drug showed no benefit")) < abs(tone("The drug showed a clear benefit"))
    assert tone("The company did not raise its guidance") < 0


def test_intensifiers_and_diminishers_scale_the_tone() -> None:
    plain, strong, weak = (tone(f"Revenue fell {w}12%") for w in ("", "sharply ", "slightly "))
    assert strong < plain < weak < 0


def test_risk_factor_boilerplate_reads_neutral() -> None:
    for text in (
        "Changes in tax laws could have a material adverse effect on our results.",
        "This press release contains forward-looking statements that involve risks.",
        "Goodwill is tested for impairment at least annually.",
        "Net sales for the 13-week quarter ended November 2 were $293.6 million.",
    ):
        assert label(text) == "neutral", text


def test_the_clause_after_but_outweighs_the_one_before() -> None:
    assert tone("Revenue beat estimates, but the outlook was cut") < 0
    assert tone("Despite a slight revenue miss, profits rose sharply") > 0


def test_hits_explain_the_score() -> None:
    hits = analyse("The quarterly loss narrowed sharply").hits
    assert [(h.words, h.amount > 0) for h in hits] == [("loss … narrowed", True)]


def test_phrase_anchors_never_skip_a_phrase_that_would_match() -> None:
    # The anchors only make the lexicon faster: every text must tokenise as if each
    # phrase rule had been tried.
    def slow_tokens(text: str) -> list[str]:
        lowered = text.lower().replace("’", "'").replace("n't", " not")
        lowered = _ABBREVIATION.sub(lambda m: m.group().replace(".", ""), lowered)
        for _, pattern, replacement in terms.COMPILED_PHRASES:
            lowered = pattern.sub(replacement, lowered)
        return _TOKEN.findall(lowered)

    for example in load_labelled():
        assert tokens(example.text) == slow_tokens(example.text), example.id


def test_shipped_calibration_is_what_calibrating_on_train_and_dev_gives() -> None:
    fitted = calibrate_lexicon(load_labelled("train"), load_labelled("dev"))
    np.testing.assert_allclose(fitted.coef, SHIPPED_CALIBRATION.coef, atol=2e-4)
    np.testing.assert_allclose(fitted.intercept, SHIPPED_CALIBRATION.intercept, atol=2e-4)
    assert fitted.temperature == pytest.approx(SHIPPED_CALIBRATION.temperature, abs=0.01)


def test_lexicon_accuracy_on_the_held_out_test_split() -> None:
    # Measured 0.779 (141/181) when the test split was first scored; floor = 0.75.
    test = load_labelled("test")
    report = evaluate(
        LexiconScorer().predict_proba([e.text for e in test]), [e.label for e in test]
    )
    assert report.accuracy >= 0.75
    assert min(report.recall) >= 0.65  # no class is given up on


def test_lexicon_accuracy_on_the_frozen_hard_split() -> None:
    # Hedged, comparative, numeric-only and factual sentences, frozen before the issue 14
    # changes: 0.522 before them (figures without tone words read neutral), 0.730 after.
    hard = load_labelled("hard")
    report = evaluate(
        LexiconScorer().predict_proba([e.text for e in hard]), [e.label for e in hard]
    )
    assert report.accuracy >= 0.68
    assert min(report.recall) >= 0.55
