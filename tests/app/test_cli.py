"""The CLI as a user drives it: exit codes, JSON shapes, error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from tools.backtest import METRIC_KEYS

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_data_list_json_shows_the_bundled_equities() -> None:
    code, out, _ = invoke("data", "list", "--json")
    assert code == 0
    rows = {r["symbol"]: r for r in json.loads(out)}
    assert set(rows) >= {"AAPL", "MSFT", "IBM", "GOOG", "FB"}
    assert rows["AAPL"]["timeframe"] == "1d" and rows["AAPL"]["rows"] == 3270
    assert rows["AAPL"]["first"].startswith("2000-03-01")


def test_backtest_json_on_bundled_aapl_has_every_metric() -> None:
    code, out, _ = invoke("backtest", "--preset", "sma-cross", "--symbol", "AAPL", "--json")
    assert code == 0
    data = json.loads(out)
    for key in (*METRIC_KEYS, "trades", "final_equity"):
        assert key in data
    assert data["n_trades"] == len(data["trades"]) > 10
    assert data["final_equity"] > 0


def test_import_folder_then_backtest_btc(market_dir: Path) -> None:
    code, out, _ = invoke("data", "import", str(market_dir / "crypto_1d"), "--json")
    assert code == 0
    imported = {r["symbol"] for r in json.loads(out)["imported"]}
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT"} <= imported
    code, out, _ = invoke(
        "backtest", "--preset", "sma-cross", "--symbol", "BTC/USDT", "--timeframe", "1d", "--json"
    )
    assert code == 0
    assert json.loads(out)["start"].startswith("2017-08-17")
    code, out, _ = invoke("data", "show", "BTC/USDT", "1d", "--tail", "5", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 5 and rows[-1]["open_time"].startswith("2025-06-30")


def test_backtest_with_spec_file_and_a_bad_spec(tmp_path: Path) -> None:
    good = tmp_path / "spec.json"
    good.write_text(json.dumps({
        "name": "ema-trend",
        "indicators": {"e": {"kind": "ema", "window": 30}},
        "entry": {"op": "crosses_above", "left": "close", "right": "e"},
        "exit": {"op": "crosses_below", "left": "close", "right": "e"},
        "trailing_stop": 0.1,
    }))  # fmt: skip
    code, out, _ = invoke("backtest", "--spec", str(good), "--symbol", "MSFT", "--json")
    assert code == 0 and json.loads(out)["strategy"] == "ema-trend"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"entry": {"op": "gt", "left": "close", "right": 1}, "windw": 3}))
    code, _, err = invoke("backtest", "--spec", str(bad), "--symbol", "MSFT")
    assert code == 2 and "did you mean 'window'" in err


def test_unknown_symbol_says_how_to_get_data() -> None:
    code, _, err = invoke("backtest", "--preset", "buy-hold", "--symbol", "NOPE")
    assert code == 4 and "tiller data import" in err


def test_import_of_a_bad_file_names_the_row_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "XYZ_1d.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01,10,11,9,10,100\n"
        "2024-01-02,10,9,11,10,100\n"
    )
    code, _, err = invoke("data", "import", str(path))
    assert code == 3
    assert "XYZ_1d.csv: row 3: high is below low" in err
    code, out, _ = invoke("data", "list", "--json")
    assert "XYZ" not in {r["symbol"] for r in json.loads(out)}


def test_fetch_without_since_for_an_empty_series_explains() -> None:
    code, _, err = invoke("data", "fetch", "binance", "BTC/USDT", "1h")
    assert code == 2 and "--since" in err


def test_console_script_starts_quickly_without_heavy_imports() -> None:
    probe = (
        "import sys; from app.cli import app; "
        "heavy = [m for m in ('torch', 'vectorbt', 'ccxt', 'numba') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["backtest", "--help"]])
def test_help_works(args: list[str]) -> None:
    code, out, _ = invoke(*args)
    assert code == 0 and "Usage" in out


def test_data_fetch_through_a_local_exchange_server_then_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.fakes.binance_server import FakeBinance

    now = datetime.now(UTC)
    with FakeBinance(now=now) as fake:
        monkeypatch.setenv("TILLER_EXCHANGE_API_URLS", json.dumps(fake.api_overrides()))
        since = (now - timedelta(days=3)).strftime("%Y-%m-%d")
        code, out, err = invoke(
            "data", "fetch", "binance", "BTC/USDT", "1h", "--since", since, "--json"
        )
        assert code == 0, err
        first = json.loads(out)
        assert first["added"] >= 48
        code, out, _ = invoke("data", "fetch", "binance", "BTC/USDT", "1h", "--json")
        assert code == 0
        assert json.loads(out)["added"] <= 1  # resumed from the last stored bar
    code, out, _ = invoke("data", "show", "BTC/USDT", "4h", "--tail", "2", "--json")
    assert code == 0 and len(json.loads(out)) == 2


def test_data_gaps_when_bundled_aapl_then_market_holidays_are_not_reported_as_gaps() -> None:
    code, out, _ = invoke("data", "gaps", "AAPL", "1d", "--json")
    assert code == 0
    # 2000-05-29 was Memorial Day and 2001-09-11..14 the exchange was shut: the bundled
    # series misses no NYSE trading day at all.
    assert json.loads(out) == []
    code, out, _ = invoke("data", "gaps", "AAPL", "1d")
    assert code == 0 and "AAPL 1d: no gaps" in out
