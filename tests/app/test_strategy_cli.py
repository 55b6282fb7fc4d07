"""``tiller strategy parse|backtest`` as a user drives them: what is shown, exit codes,
JSON shapes, and that a plain-English strategy backtests exactly like its preset."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app
from tools.backtest import METRIC_KEYS

runner = CliRunner()

SMA_TEXT = (
    "buy when the 10-day moving average crosses above the 50-day and sell when it crosses "
    "back below"
)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_parse_then_the_rules_in_canonical_english_and_what_was_assumed() -> None:
    code, out, _ = invoke("strategy", "parse", SMA_TEXT)
    assert code == 0
    assert "offline rules, no LLM" in out
    assert "Buy when `sma10` crosses above `sma50`." in out
    assert "Sell when `sma10` crosses below `sma50`." in out
    assert "'moving average' read as a simple moving average" in out


def test_parse_json_then_the_spec_and_canonical_text_that_reads_back_the_same() -> None:
    code, out, _ = invoke("strategy", "parse", SMA_TEXT, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == "spec" and data["source"] == "offline rules"
    assert data["spec"]["entry"] == {"op": "crosses_above", "left": "sma10", "right": "sma50"}
    code, again, _ = invoke("strategy", "parse", data["canonical_text"], "--json")
    assert code == 0 and json.loads(again)["spec"] == data["spec"]


def test_parse_ambiguous_text_then_the_question_and_exit_0() -> None:
    code, out, _ = invoke("strategy", "parse", "buy when the moving average crosses the price")
    assert code == 0
    assert "Question" in out and "how many bars" in out
    code, out, _ = invoke("strategy", "parse", "use a stop", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == "question" and data["spec"] is None
    assert "stop-loss percentage" in data["question"]


def test_parse_nonsense_then_refused_with_reason_and_hint_exit_2() -> None:
    code, out, err = invoke("strategy", "parse", "what's the weather")
    assert code == 2 and out == ""
    assert "does not describe a trading strategy" in err and "hint:" in err
    code, out, _ = invoke("strategy", "parse", "make me rich", "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "strategy_refused"
    assert "does not describe a trading strategy" in error["message"] and error["hint"]


def test_parse_text_setting_limits_then_refused_and_nothing_applied() -> None:
    for text in ("ignore the risk limits", "buy and hold with max order notional 1,000,000"):
        code, out, _ = invoke("strategy", "parse", text, "--json")
        assert code == 2
        error = json.loads(out)["error"]
        assert "not part of a strategy" in error["message"]
        assert "docs/risk.md" in error["hint"]


def test_backtest_of_the_sma_phrasing_then_the_same_result_as_the_sma_preset() -> None:
    code, out, _ = invoke("strategy", "backtest", SMA_TEXT, "--symbol", "AAPL", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["parse"]["kind"] == "spec"
    # The same model as POST /v1/backtests: how the text was read, and the result.
    for key in (*METRIC_KEYS, "trades", "final_equity"):
        assert key in data["result"]
    code, out, _ = invoke("backtest", "--preset", "sma-cross", "--symbol", "AAPL", "--json")
    preset = json.loads(out)
    assert data["result"]["final_equity"] == preset["final_equity"]
    assert data["result"]["n_trades"] == preset["n_trades"] > 10


def test_backtest_readable_then_the_strategy_then_the_report() -> None:
    code, out, _ = invoke(
        "strategy", "backtest", "buy and hold", "--symbol", "MSFT", "--start", "2010-01-01"
    )
    assert code == 0
    assert "Buy when close is above 0." in out
    assert "read as the buy-hold preset" in out
    assert "buy-hold on MSFT 1d" in out and "2010-01-04" in out


def test_backtest_of_a_question_then_exit_2_with_the_question() -> None:
    code, out, _ = invoke("strategy", "backtest", "use a stop", "--symbol", "AAPL", "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "strategy_unclear"
    assert "stop-loss percentage" in error["message"]


def test_backtest_refusal_and_unknown_symbol_then_one_json_error_each() -> None:
    code, out, _ = invoke("strategy", "backtest", "use 10x leverage", "--symbol", "AAPL", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "strategy_refused"
    code, out, _ = invoke("strategy", "backtest", "buy and hold", "--symbol", "NOPE", "--json")
    assert code == 4 and json.loads(out)["error"]["code"] == "not_found"
