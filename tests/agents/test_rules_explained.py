"""The offline rule's explanation says why a negative score can still buy: the target is
the neutral allocation tilted by the score, and only a strongly bearish score exits."""

from __future__ import annotations

from typing import Any

from agents.context import RulesConfig
from agents.rules import _size


def _snap(position: float) -> dict[str, Any]:
    return {"quote": {"last": 100.0}, "equity": 100_000.0, "position": position}


def test_a_mildly_negative_score_with_no_position_then_it_buys_the_tilted_neutral_weight() -> None:
    proposal, text = _size(
        "AAPL", _snap(0), None, [("trend", -0.32, 1.0, "")], -0.32, RulesConfig()
    )

    assert proposal is not None and proposal.side == "buy"
    assert "target 3.4% of equity (the neutral 5% tilted by the score)" in text


def test_a_strongly_bearish_score_then_the_target_is_zero_and_says_exit() -> None:
    proposal, text = _size(
        "AAPL", _snap(100), None, [("trend", -0.8, 1.0, "")], -0.8, RulesConfig()
    )

    assert proposal is not None and proposal.side == "sell"
    assert "target 0.0% of equity (exit: score at or below -0.5)" in text
