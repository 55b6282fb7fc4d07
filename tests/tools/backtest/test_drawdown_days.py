"""The longest drawdown is reported in calendar days and in bars: for equities, which do
not trade at weekends, a count of daily bars is not a count of days."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import app
from tools.backtest import run_backtest
from tools.strategy import preset

# Wed 3 Jan 2024 .. Tue 9 Jan 2024, business days only: Fri 5 and Mon 8 are under water.
DAYS = pd.DatetimeIndex(
    ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC"
)
CLOSES = [100.0, 100.0, 90.0, 95.0, 120.0]


def bars(index: pd.DatetimeIndex) -> pd.DataFrame:
    c = np.array(CLOSES)
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0}, index=index)


def test_equity_drawdown_over_a_weekend_then_four_calendar_days_and_two_bars() -> None:
    result = run_backtest(
        preset("buy-hold", fee_rate=0.0), bars(DAYS), symbol="AAPL", timeframe="1d"
    )
    assert result.metrics["max_drawdown_duration_bars"] == 2
    assert result.metrics["max_drawdown_duration_days"] == pytest.approx(4.0)


def test_crypto_drawdown_on_consecutive_days_then_days_equal_bars() -> None:
    index = pd.date_range("2024-01-03", periods=len(CLOSES), freq="D", tz="UTC")
    result = run_backtest(
        preset("buy-hold", fee_rate=0.0), bars(index), symbol="BTC/USDT", timeframe="1d"
    )
    assert result.metrics["max_drawdown_duration_bars"] == 2
    assert result.metrics["max_drawdown_duration_days"] == pytest.approx(2.0)


def test_hourly_drawdown_then_days_are_fractions_of_a_day() -> None:
    index = pd.date_range("2024-01-03", periods=len(CLOSES), freq="h", tz="UTC")
    result = run_backtest(
        preset("buy-hold", fee_rate=0.0), bars(index), symbol="BTC/USDT", timeframe="1h"
    )
    assert result.metrics["max_drawdown_duration_days"] == pytest.approx(2 / 24)


def test_backtest_report_on_bundled_aapl_shows_days_and_bars() -> None:
    result = CliRunner().invoke(app, ["backtest", "--preset", "buy-hold", "--symbol", "AAPL"])
    assert result.exit_code == 0, result.stderr
    found = re.search(r"longest drawdown\W+([\d,]+) days \(([\d,]+) bars\)", result.stdout)
    assert found, result.stdout
    days, bars_ = (int(n.replace(",", "")) for n in found.groups())
    # Trading days are about 252 of 365 calendar days: far fewer bars than days.
    assert 1.3 < days / bars_ < 1.6
