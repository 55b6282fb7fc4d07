"""Tone from figures compared with the prior period's, when no word carries it."""

from __future__ import annotations

import pytest

from tools.sentiment import analyse
from tools.sentiment._numbers import numeric_tone


@pytest.mark.parametrize(
    ("text", "tone"),
    [
        ("Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.", 1),
        ("Acme Corp: EBIT EUR 2.0 mn, compared with EUR 3.4 mn a year earlier.", -1),
        ("Northwind EPS $0.52 vs $0.47 a year ago.", 1),
        ("Pre-tax profit was SEK 30 mn (SEK 42 mn).", -1),
        ("Net debt fell to EUR 120 mn from EUR 180 mn.", 1),  # less debt is good
        ("Combined ratio was 99.0% versus 93.5% last year.", -1),
        ("The net loss narrowed to EUR 0.9 mn from EUR 2.5 mn.", 1),
        ("Net loss per share was $0.05, compared with a net loss of $0.20.", 1),
        ("A loss of EUR 3 mn, compared with a profit of EUR 1 mn a year earlier.", -1),
        ("Net sales rose from EUR 10.0 mn to EUR 12.5 mn.", 1),
        ("Order intake: EUR 9.0 mn, -12% y/y.", -1),
    ],
)
def test_figures_against_the_prior_period_then_their_direction_times_what_they_measure(
    text: str, tone: int
) -> None:
    assert numeric_tone(text) == tone


@pytest.mark.parametrize(
    "text",
    [
        "The company had 1,200 employees at year-end.",
        "Revenue was EUR 5.0 mn in both quarters, EUR 5.0 mn (EUR 5.0 mn).",
        "Headcount was 940, against 942 a year earlier.",  # under 1%: a fact
        "It expects revenue of $8 billion to $8.4 billion.",  # a range, not a change
        "The capital ratio was 13.1%, above the regulatory minimum of 10.5%.",
        "Backlog rose 15% to a record $18 billion.",  # a rate and an amount
        "The call starts at 5:00 p.m. on March 4, 2025.",
    ],
)
def test_figures_that_are_no_change_over_time_then_no_tone(text: str) -> None:
    assert numeric_tone(text) == 0


def test_lexicon_hits_show_the_figures_contribution() -> None:
    evidence = analyse("Net loss per share was $0.05, compared with a net loss of $0.20.")

    assert any(hit.words == "figures vs prior period" and hit.amount > 0 for hit in evidence.hits)
    assert evidence.positive > evidence.negative
