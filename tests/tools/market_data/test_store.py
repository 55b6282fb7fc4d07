from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import DataError, NotFoundError
from tools.market_data import BarStore, ensure_bundled, import_path, read_bar_file, resample


def make_bars(n: int, freq: str = "1h", start: str = "2024-01-01", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="open_time").as_unit("ns")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 9, n)},
        index=index,
    )


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    out = frame.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = "timestamp"
    out.to_csv(path)
    return path


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path / "store")


def test_bars_as_of_never_returns_a_bar_that_closes_after_as_of(store: BarStore) -> None:
    store.write("BTC/USDT", "1h", make_bars(48), source="t")
    as_of = datetime(2024, 1, 1, 10, 30, tzinfo=UTC)
    got = store.bars("BTC/USDT", "1h", as_of=as_of)
    # The 10:00 bar closes at 11:00, after as_of: the last visible bar opened at 09:00.
    assert got.index[-1] == pd.Timestamp("2024-01-01 09:00", tz="UTC")
    assert (got.index + pd.Timedelta(hours=1) <= pd.Timestamp(as_of)).all()


def test_bars_as_of_exactly_at_a_close_includes_that_bar(store: BarStore) -> None:
    store.write("BTC/USDT", "1h", make_bars(48), source="t")
    got = store.bars("BTC/USDT", "1h", as_of=datetime(2024, 1, 1, 11, tzinfo=UTC))
    assert got.index[-1] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_resampled_read_does_not_form_a_partial_bar_from_the_future(store: BarStore) -> None:
    store.write("BTC/USDT", "1h", make_bars(48), source="t")
    four = store.bars("BTC/USDT", "4h", as_of=datetime(2024, 1, 1, 10, 30, tzinfo=UTC))
    # 08:00-12:00 has not closed by 10:30: only 00:00 and 04:00 are complete.
    assert list(four.index.hour) == [0, 4]


def test_resample_hourly_to_4h_to_daily_aggregates_ohlcv() -> None:
    hourly = make_bars(48)
    four = resample(hourly, "1h", "4h")
    daily_from_4h = resample(four, "4h", "1d")
    daily = resample(hourly, "1h", "1d")
    pd.testing.assert_frame_equal(daily, daily_from_4h)
    first = hourly.iloc[:24]
    row = daily.iloc[0]
    assert row.open == first.open.iloc[0] and row.close == first.close.iloc[-1]
    assert row.high == first.high.max() and row.low == first.low.min()
    assert row.volume == pytest.approx(first.volume.sum())


def test_write_is_idempotent_and_reports_updates(store: BarStore) -> None:
    bars = make_bars(10)
    first = store.write("BTC/USDT", "1h", bars, source="a")
    again = store.write("BTC/USDT", "1h", bars, source="a")
    assert (first.added, again.added, again.unchanged, again.total) == (10, 0, 10, 10)
    changed = bars.copy()
    changed.iloc[3, changed.columns.get_loc("volume")] = 123.0
    report = store.write("BTC/USDT", "1h", changed, source="b")
    assert report.updated == 1
    assert store.read("BTC/USDT", "1h").volume.iloc[3] == 123.0


def test_keep_stored_refuses_conflicting_bar_and_leaves_store_intact(store: BarStore) -> None:
    bars = make_bars(10)
    store.write("BTC/USDT", "1h", bars, source="a")
    changed = bars.copy()
    changed.iloc[3, changed.columns.get_loc("volume")] = 123.0
    with pytest.raises(DataError, match="differs from the stored one"):
        store.write("BTC/USDT", "1h", changed, source="b", replace_conflicts=False)
    pd.testing.assert_frame_equal(store.read("BTC/USDT", "1h"), bars, check_freq=False)


def test_missing_series_error_says_how_to_get_it(store: BarStore) -> None:
    with pytest.raises(NotFoundError, match="tiller data import"):
        store.bars("DOGE/USDT", "1d")


def test_gaps_are_reported_with_missing_counts(store: BarStore) -> None:
    bars = make_bars(24).drop(index=make_bars(24).index[[5, 6, 7, 12]])
    report = store.write("BTC/USDT", "1h", bars, source="t")
    assert (report.gaps, report.missing_bars) == (2, 4)
    gaps = store.gaps("BTC/USDT", "1h")
    assert list(gaps.missing) == [3, 1]
    assert gaps.start.iloc[0] == pd.Timestamp("2024-01-01 05:00", tz="UTC")


def test_weekends_are_not_gaps_for_equities(store: BarStore) -> None:
    days = pd.bdate_range("2024-01-01", periods=20, tz="UTC", name="open_time").as_unit("ns")
    bars = make_bars(20, freq="1D").set_axis(days)
    store.write("AAPL", "1d", bars, source="t")
    assert store.gaps("AAPL", "1d").empty


@pytest.mark.parametrize(
    ("mutate", "message", "row"),
    [
        (lambda f: f.iloc.__setitem__((4, 1), 1.0), "high is below low", 6),
        (lambda f: f.iloc.__setitem__((2, 4), -5.0), "volume is negative", 4),
        (lambda f: f.iloc.__setitem__((7, 3), float("nan")), "not a finite number", 9),
    ],
)
def test_bad_rows_are_rejected_naming_file_and_row(
    tmp_path: Path,
    mutate,
    message: str,
    row: int,  # type: ignore[no-untyped-def]
) -> None:
    frame = make_bars(10)
    mutate(frame)
    path = write_csv(tmp_path / "BTCUSDT_1h.csv", frame)
    with pytest.raises(DataError, match=rf"BTCUSDT_1h.csv: row {row}: .*{message}"):
        read_bar_file(path)


def test_non_monotonic_time_is_rejected_naming_the_row(tmp_path: Path) -> None:
    frame = make_bars(10)
    frame = frame.iloc[[0, 1, 2, 4, 3, 5, 6, 7, 8, 9]]
    path = write_csv(tmp_path / "BTCUSDT_1h.csv", frame)
    with pytest.raises(DataError, match=r"row 6: time .* is earlier than the row before"):
        read_bar_file(path)


def test_conflicting_duplicate_times_are_rejected(tmp_path: Path) -> None:
    frame = make_bars(5)
    dup = frame.iloc[[2]].copy()
    dup["volume"] = 999.0
    path = write_csv(tmp_path / "X.csv", pd.concat([frame.iloc[:3], dup, frame.iloc[3:]]))
    with pytest.raises(DataError, match=r"second bar at .* different values"):
        read_bar_file(path, symbol="BTC/USDT")


def test_identical_duplicate_rows_are_dropped(tmp_path: Path) -> None:
    frame = make_bars(5)
    path = write_csv(
        tmp_path / "X.csv", pd.concat([frame.iloc[:3], frame.iloc[[2]], frame.iloc[3:]])
    )
    assert len(read_bar_file(path, symbol="BTC/USDT").frame) == 5


def test_unreadable_file_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("hello,world\n1,2\n")
    with pytest.raises(DataError, match="cannot find column"):
        read_bar_file(path, symbol="AAPL")
    other = tmp_path / "bars.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        read_bar_file(other)


def test_epoch_milliseconds_and_parquet_are_understood(tmp_path: Path) -> None:
    frame = make_bars(30)
    raw = frame.reset_index()
    raw["open_time"] = raw["open_time"].astype("int64") // 1_000_000
    raw.to_csv(tmp_path / "ETH_USDT-1h.csv", index=False)
    parsed = read_bar_file(tmp_path / "ETH_USDT-1h.csv")
    assert (parsed.symbol, parsed.timeframe) == ("ETH/USDT", "1h")
    pd.testing.assert_frame_equal(parsed.frame, frame, check_freq=False)
    frame.to_parquet(tmp_path / "SOLUSDT_1h.parquet")
    assert read_bar_file(tmp_path / "SOLUSDT_1h.parquet").frame.shape == (30, 5)


def test_timeframe_in_name_that_contradicts_the_data_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "BTCUSDT_1d.csv", make_bars(30))
    with pytest.raises(DataError, match="says 1d but most bars are 1h apart"):
        read_bar_file(path)


def test_folder_import_skips_a_bad_file_and_imports_the_rest(
    tmp_path: Path, store: BarStore
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "BTCUSDT_1h.csv", make_bars(30))
    bad = make_bars(30)
    bad.iloc[5, 1] = 0.5
    write_csv(folder / "ETHUSDT_1h.csv", bad)
    result = import_path(store, folder)
    assert [r.symbol for r in result.written] == ["BTC/USDT"]
    assert len(result.failed) == 1 and "ETHUSDT_1h.csv: row 7" in result.failed[0][1]
    assert not store.has("ETH/USDT", "1h")


def test_bundled_equities_load_once_and_are_split_adjusted(store: BarStore) -> None:
    assert len(ensure_bundled(store)) == 5
    assert ensure_bundled(store) == []
    aapl = store.read("AAPL", "1d")
    assert aapl.index[0] == pd.Timestamp("2000-03-01", tz="UTC")
    # AAPL split 2:1 on 2005-02-28; the unadjusted source shows it as a -50% day.
    split_day = aapl.close.pct_change().loc[pd.Timestamp("2005-02-28", tz="UTC")]
    assert abs(split_day) < 0.05


def test_real_binance_daily_folder_imports(market_dir: Path, store: BarStore) -> None:
    result = import_path(store, market_dir / "crypto_1d")
    assert not result.failed
    btc = store.read("BTC/USDT", "1d")
    assert btc.index[0] == pd.Timestamp("2017-08-17", tz="UTC")
    assert btc.index[-1] == pd.Timestamp("2025-06-30", tz="UTC")


def test_real_binance_hourly_resamples_to_daily_close_to_exchange_daily(
    market_dir: Path, store: BarStore
) -> None:
    import_path(store, market_dir / "crypto_intraday" / "BTC_USDT-1h.csv.gz")
    import_path(store, market_dir / "crypto_1d" / "BTCUSDT_1d.csv")
    from_hourly = store.bars("BTC/USDT", "1d", start=datetime(2024, 10, 1, tzinfo=UTC))
    assert store.gaps("BTC/USDT", "1h").missing.sum() >= 0
    # Use a separate 12h read to exercise resampling from the hourly series.
    half = store.bars("BTC/USDT", "12h", start=datetime(2024, 10, 1, tzinfo=UTC))
    daily = resample(half, "12h", "1d")
    joined = daily.merge(from_hourly, left_index=True, right_index=True, suffixes=("", "_x"))
    assert len(joined) > 200
    np.testing.assert_allclose(joined.close, joined.close_x, rtol=1e-9)


def test_a_write_moving_prices_beyond_the_tolerance_is_refused_whole(store: BarStore) -> None:
    bars = make_bars(10)
    store.write("BTC/USDT", "1h", bars, source="a")
    revised = bars.copy()
    revised.iloc[2:4, revised.columns.get_loc("close")] *= 1.5  # two bars, +50%
    revised.iloc[5, revised.columns.get_loc("open")] *= 1.01  # a small correction
    revised["high"] = revised[["open", "high", "close"]].max(axis=1)

    with pytest.raises(DataError, match=r"2 stored bar\(s\) .* more than 5%.*\+50\.0%"):
        store.write("BTC/USDT", "1h", revised, source="b", max_change=0.05)

    pd.testing.assert_frame_equal(store.read("BTC/USDT", "1h"), bars, check_freq=False)


def test_a_revision_within_the_tolerance_updates_and_reports_its_largest_change(
    store: BarStore,
) -> None:
    bars = make_bars(10)
    store.write("BTC/USDT", "1h", bars, source="a")
    revised = bars.copy()
    revised.iloc[5, revised.columns.get_loc("low")] *= 0.98
    revised.iloc[6, revised.columns.get_loc("volume")] *= 10  # volume may change freely

    report = store.write("BTC/USDT", "1h", revised, source="b", max_change=0.05)

    assert report.updated == 2 and report.largest_change is not None
    assert report.largest_change.field == "low"
    assert report.largest_change.relative == pytest.approx(-0.02)


def test_restore_puts_back_the_version_the_last_write_replaced(store: BarStore) -> None:
    bars = make_bars(10)
    store.write("BTC/USDT", "1h", bars, source="a")
    with pytest.raises(NotFoundError, match="no previous version"):
        store.restore("BTC/USDT", "1h")
    store.write("BTC/USDT", "1h", make_bars(12, seed=1) * 2, source="b")

    info = store.restore("BTC/USDT", "1h")

    assert info.rows == 10
    pd.testing.assert_frame_equal(store.read("BTC/USDT", "1h"), bars, check_freq=False)
    assert [i.timeframe for i in store.catalog()] == ["1h"]  # the kept copy is not a series
