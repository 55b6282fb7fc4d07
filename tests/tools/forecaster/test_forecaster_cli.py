"""``tiller forecast`` on the shipped AAPL model and ``tiller train forecaster``, driven
through the commands the CLI registers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli.forecast import forecast, train_forecaster
from tools.forecaster import SHIPPED_DIR

cli = typer.Typer()
cli.command("forecast")(forecast)
cli.command("train-forecaster")(train_forecaster)
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_forecast_json_on_shipped_aapl_model() -> None:
    assert (SHIPPED_DIR / "AAPL" / "1d").is_dir(), "the default AAPL forecaster is shipped"
    code, out, err = invoke("forecast", "--symbol", "AAPL", "--horizon", "5", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["symbol"] == "AAPL" and data["model_id"].startswith("patchtst-AAPL-1d-")
    assert len(data["horizons"]) == 5 and len(data["point_forecast"]) == 5
    for step in data["horizons"]:
        q = step["log_return"]
        assert q["q10"] <= q["q50"] <= q["q90"]
        assert step["price"]["q50"] > 0
    assert data["point_forecast"][0] == data["horizons"][0]["log_return"]["q50"]
    # volatility: the normal-equivalent std of each step's cumulative log return
    assert len(data["volatility_forecast"]) == 5 and "2.563" in data["volatility_method"]
    for step, sigma in zip(data["horizons"], data["volatility_forecast"], strict=True):
        q = step["log_return"]
        assert step["volatility"] == sigma == pytest.approx((q["q90"] - q["q10"]) / 2.5631031)
        assert 0.001 < sigma < 0.5
    ewma = data["volatility_ewma"]  # the past-returns baseline, sqrt(h)-scaled
    assert ewma[4] == pytest.approx(ewma[0] * 5**0.5) and 0.001 < ewma[0] < 0.2
    assert data["as_of"] is not None and data["as_of"] > data["last_bar_open_time"]
    assert data["last_bar_open_time"].startswith("2013-03-01")
    # Friday's bar is the last; step 1 is Monday's bar, closing at Tuesday 00:00 UTC.
    assert data["horizons"][0]["target_close_time"].startswith("2013-03-05")
    assert data["horizons"][4]["target_close_time"].startswith("2013-03-09")


def test_forecast_text_shows_both_volatilities() -> None:
    code, out, _ = invoke("forecast", "--symbol", "AAPL", "--horizon", "2")
    assert code == 0 and "volatility" in out and "EWMA vol" in out


def test_forecast_as_of_uses_only_bars_closed_by_then_and_flags_the_model() -> None:
    code, out, _ = invoke("forecast", "--symbol", "AAPL", "--as-of", "2008-06-02", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["last_bar_open_time"].startswith("2008-05-30")  # the Monday bar is still open
    assert data["uses_future_data"] is True  # the shipped model saw bars after 2008


def test_forecast_for_a_symbol_without_a_model_says_how_to_train_one() -> None:
    code, _, err = invoke("forecast", "--symbol", "DOGE/USDT")
    assert code == 4
    assert "tiller train forecaster --symbol DOGE/USDT" in " ".join(err.split())


def test_forecast_beyond_the_model_horizon_is_a_config_error() -> None:
    code, _, err = invoke("forecast", "--symbol", "AAPL", "--horizon", "9")
    assert code == 2 and "at most 5" in err


@pytest.mark.slow
def test_train_then_forecast_uses_the_user_registry(tmp_path: Path) -> None:
    code, out, err = invoke(
        "train-forecaster", "--symbol", "IBM", "--epochs", "1", "--holdout", "0", "--json"
    )
    assert code == 0, err
    trained = json.loads(out)  # the only thing on stdout: no progress in --json mode
    assert "epochs" not in err
    assert trained["card"]["symbol"] == "IBM" and Path(trained["path"]).is_dir()
    code, out, _ = invoke("forecast", "--symbol", "IBM", "--json")
    assert code == 0 and json.loads(out)["model_id"] == trained["card"]["model_id"]


def test_train_forecaster_then_epochs_on_stderr_and_volatility_table_on_stdout() -> None:
    code, out, err = invoke("train-forecaster", "--symbol", "GOOG", "--epochs", "2")
    assert code == 0, err
    assert "hold-out fit, epochs: 2/2" in err and "final fit, epochs: 2/2" in err
    assert "hold-out volatility forecasts" in out
    for name in ("patchtst", "trailing_20", "ewma_0.94"):
        assert name in out
