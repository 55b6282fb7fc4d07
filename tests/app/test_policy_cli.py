"""``tiller policy`` and ``tiller train policy`` as a user runs them, offline."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_policy_act_uses_the_shipped_aapl_policy() -> None:
    code, out, err = invoke("policy", "act", "--symbol", "AAPL", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["target_position"] in (0, 1)  # the shipped default is long-only
    assert 0.0 < data["confidence"] <= 1.0
    assert data["policy_id"].startswith("ppo-AAPL-1d-")
    assert data["as_of"].startswith("2013-03-01")


def test_policy_report_shows_the_test_window_against_baselines() -> None:
    code, out, _ = invoke("policy", "report", "--symbol", "AAPL", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data["test"]["baselines"]) == {"buy-and-hold", "sma-cross", "plain-ppo"}
    for baseline in data["test"]["baselines"].values():
        diff = baseline["sharpe_diff"]
        assert diff["low"] <= diff["point"] <= diff["high"]


def test_train_policy_then_act_uses_the_user_registry() -> None:
    code, out, err = invoke(
        "train", "policy", "--symbol", "MSFT", "--generations", "1", "--population", "2",
        "--timesteps", "200", "--seeds", "0", "--json",
    )  # fmt: skip
    assert code == 0, err
    trained = json.loads(out)
    code, out, _ = invoke("policy", "act", "--symbol", "MSFT", "--json")
    assert code == 0 and json.loads(out)["policy_id"] == trained["policy_id"]


def test_policy_for_an_untrained_symbol_says_how_to_train_one() -> None:
    code, _, err = invoke("policy", "act", "--symbol", "IBM")
    assert code == 4 and "tiller train policy --symbol IBM" in err
