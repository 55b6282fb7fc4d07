"""Gaps in daily series follow the market's calendar: a stock is expected on the New York
Stock Exchange's trading days only (weekends, market holidays and unscheduled closures are
no gaps); a crypto pair trades every day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigError
from tools.market_data import BarStore, find_gaps


def daily_bars(days: pd.DatetimeIndex) -> pd.DataFrame:
    close = 100 + np.arange(len(days), dtype=float)
    index = pd.DatetimeIndex(days, name="open_time").as_unit("ns")
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0},
        index=index,
    )


def nyse_days(start: str, end: str) -> pd.DatetimeIndex:
    """Trading days as a person would list them: weekdays minus the holidays named here."""
    closed = {
        "2001-09-03", "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14",  # Labor Day, 9/11
        "2001-11-22", "2024-07-04", "2024-11-28", "2024-12-25",
    }  # fmt: skip
    days = pd.bdate_range(start, end, tz="UTC")
    return days[~days.strftime("%Y-%m-%d").isin(closed)]


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path / "store")


def test_daily_stock_when_market_holidays_and_the_9_11_closure_are_absent_then_no_gap_is_reported(
    store: BarStore,
) -> None:
    report = store.write(
        "AAPL", "1d", daily_bars(nyse_days("2001-08-27", "2001-11-30")), source="t"
    )

    assert store.gaps("AAPL", "1d").empty
    assert (report.gaps, report.missing_bars) == (0, 0)


def test_daily_stock_when_the_trading_day_after_a_holiday_is_missing_then_one_gap_starting_that_day(
    store: BarStore,
) -> None:
    days = nyse_days("2024-07-01", "2024-07-31")
    store.write("AAPL", "1d", daily_bars(days[days != "2024-07-05"]), source="t")

    gaps = store.gaps("AAPL", "1d")

    assert list(gaps.missing) == [1]
    assert gaps.start.iloc[0] == pd.Timestamp("2024-07-05", tz="UTC")
    assert gaps.end.iloc[0] == pd.Timestamp("2024-07-08", tz="UTC")


def test_daily_stock_when_a_week_is_missing_then_its_trading_days_are_counted_not_its_weekdays(
    store: BarStore,
) -> None:
    days = nyse_days("2024-11-18", "2024-12-06")
    week = (days >= "2024-11-25") & (days <= "2024-11-29")  # Thanksgiving week: 4 sessions
    store.write("MSFT", "1d", daily_bars(days[~week]), source="t")

    assert list(store.gaps("MSFT", "1d").missing) == [4]


def test_daily_crypto_pair_when_a_weekend_is_missing_then_both_days_are_gaps(
    store: BarStore,
) -> None:
    days = pd.date_range("2024-07-01", "2024-07-14", tz="UTC")
    weekend = days.isin(pd.DatetimeIndex(["2024-07-06", "2024-07-07"], tz="UTC"))
    store.write("BTC/USDT", "1d", daily_bars(days[~weekend]), source="t")

    assert list(store.gaps("BTC/USDT", "1d").missing) == [2]


def test_find_gaps_when_the_calendar_is_unknown_then_config_error_names_it() -> None:
    index = pd.DatetimeIndex(["2024-07-01", "2024-07-03"], tz="UTC")

    with pytest.raises(ConfigError, match="XNOPE"):
        find_gaps(index, "1d", calendar="XNOPE")
