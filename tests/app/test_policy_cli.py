"""``tiller policy`` and ``tiller train policy`` as a user runs them, offline."""

from __future__ import annotations

import io
import json

from rich.console import Console
from typer.testing import CliRunner

from app.cli import app
from app.cli._progress import ProgressView

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
    trained = json.loads(out)  # the only thing on stdout
    assert "generation" not in err and "PPO steps" not in err  # no progress in --json mode
    deflated = trained["report"]["deflated_sharpe"]
    assert 0.0 <= deflated["dsr"] <= deflated["psr"] <= 1.0
    assert deflated["trials"] >= 2
    code, out, _ = invoke("policy", "act", "--symbol", "MSFT", "--json")
    assert code == 0 and json.loads(out)["policy_id"] == trained["policy_id"]
    code, out, _ = invoke("policy", "report", "--symbol", "MSFT")
    assert code == 0 and f"Deflated Sharpe ratio {deflated['dsr']:.2f}" in " ".join(out.split())


def test_train_policy_then_progress_on_stderr_and_report_on_stdout() -> None:
    code, out, err = invoke(
        "train", "policy", "--symbol", "GOOG", "--generations", "1", "--population", "2",
        "--timesteps", "100", "--seeds", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "channel forecaster, epochs" in err
    assert "initial population, candidates: 2/2, best so far" in err
    assert "generation 1/1 done: best fitness" in err
    assert "PPO steps, winner: 100/100" in err
    assert "PPO steps, plain-PPO baseline: 100/100" in err
    assert "saved ppo-GOOG-1d-" in out and "Deflated Sharpe ratio" in out
    assert "generation" not in out


def test_policy_report_on_the_shipped_card_shows_its_deflated_sharpe() -> None:
    code, out, _ = invoke("policy", "report", "--symbol", "AAPL")
    assert code == 0 and "Sharpe diff" in out
    assert "Deflated Sharpe ratio 0." in " ".join(out.split())


def test_policy_report_on_a_card_without_dsr_says_so() -> None:
    from app.cli import policy as policy_cli

    _, data, _ = invoke("policy", "report", "--symbol", "AAPL", "--json")
    test = json.loads(data)["test"]
    test.pop("deflated_sharpe")
    with policy_cli.out.capture() as captured:
        policy_cli._print_report("an-old-card", test)
    assert "Deflated Sharpe ratio: not in this card" in " ".join(captured.get().split())


def test_progress_view_on_a_terminal_then_draws_bars_and_logs() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with ProgressView(console) as view:
        view.update("a", "stage a", 0, 3)
        view.update("a", "stage a", 3, 3, "best 1.0")
        view.log("generation 1 done")
        view.update("a", "stage a", 1, 3)  # a finished stage ignores late updates
    text = buffer.getvalue()
    assert "stage a" in text and "3/3" in text and "generation 1 done" in text
    silent = io.StringIO()
    with ProgressView(Console(file=silent), enabled=False) as view:
        view.update("a", "stage a", 3, 3)
        view.log("nothing")
    assert silent.getvalue() == ""


def test_policy_for_an_untrained_symbol_says_how_to_train_one() -> None:
    code, _, err = invoke("policy", "act", "--symbol", "IBM")
    assert code == 4 and "tiller train policy --symbol IBM" in err
