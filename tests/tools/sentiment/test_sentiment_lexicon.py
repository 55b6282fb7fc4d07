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
from tools.sentiment._lexicon import (
    _ABBREVIATION,
    _TOKEN,
    EXTENDED_FEATURES,
    extended_features,
    tokens,
)
from tools.sentiment._train import fit_examples


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


@pytest.mark.parametrize(
    ("positive", "negative"),
    [
        # Comparisons with the market: the comparison decides, not the verb before it.
        (
            "Sales fell 1%, less than the market's 5% decline.",
            "Sales rose 1%, lagging the 6% growth of the wider market.",
        ),
        (
            "Jetty grew faster than the market for a fourth quarter.",
            "Jetty grew more slowly than the market for a fourth quarter.",
        ),
        ("Wrenfold is now the lowest-cost producer in Europe.", "Its shares trailed the index."),
        # Ratios where lower is better.
        ("The loan-to-value ratio fell to 31%.", "The loan-to-value ratio rose to 48%."),
        ("The worst of the slump is probably over.", "The worst is yet to come."),
        ("The firm received an order worth EUR 5 mn.", "Fuel costs will weigh on margins."),
        ("The plant will open next year, creating 200 new jobs.", "It cut 90 redundancies."),
    ],
)
def test_comparisons_and_hedged_obligations_read_their_direction(
    positive: str, negative: str
) -> None:
    assert tone(positive) > 0 > tone(negative), (analyse(positive), analyse(negative))


def test_a_hedged_obligation_counts_in_full_but_a_bare_hedge_is_damped() -> None:
    # "may have to cut" says the cut is coming; "could cut" only that it might.
    assert tone("The group may have to cut 200 jobs.") == tone("The group will cut 200 jobs.")
    assert tone("The group will cut 200 jobs.") < tone("The group could cut 200 jobs.") < 0


def test_a_closing_price_is_not_a_closure_and_approving_accounts_is_not_news() -> None:
    assert analyse("The share price closed at EUR 12.30.").hits == ()
    assert analyse("The meeting approved the financial statements for 2024.").hits == ()


def test_extended_features_keep_hedged_mass_apart_and_flag_balance_words() -> None:
    rows = extended_features(
        [
            "Revenue fell 12%.",
            "Revenue could fall 12%.",
            "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.",
            "Lower prices were offset by higher volumes.",
        ]
    )
    named = [dict(zip(EXTENDED_FEATURES, row, strict=True)) for row in rows]
    plain, hedged, figures, balanced = named
    assert plain["N"] > 0 and plain["N hedged"] == 0
    assert hedged["N hedged"] == pytest.approx(hedged["N"]) and 0 < hedged["N"] < plain["N"]
    assert figures["figures"] == 1 and plain["figures"] == 0
    assert balanced["balance words"] == 1 and plain["balance words"] == 0
    np.testing.assert_array_equal(rows[:, :2], [[e.positive, e.negative] for e in map(analyse, [
        "Revenue fell 12%.", "Revenue could fall 12%.",
        "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.",
        "Lower prices were offset by higher volumes.",
    ])])  # fmt: skip


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


def test_shipped_calibration_is_what_calibrating_on_train_dev_and_calib_gives() -> None:
    fitted = calibrate_lexicon(fit_examples(), load_labelled("calib"))
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
