"""Imports check a file's timeframe against its bar spacing whatever its length, and refuse
bars dated in the future (issue 10, items 7 and 8)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.errors import DataError
from tools.market_data._readers import read_bar_file

HEADER = "timestamp,open,high,low,close,volume\n"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def bar_file(path: Path, *times: str) -> Path:
    path.write_text(HEADER + "".join(f"{t},10,11,9,10,100\n" for t in times))
    return path


def test_one_row_file_with_timeframe_given_then_imported(tmp_path: Path) -> None:
    parsed = read_bar_file(bar_file(tmp_path / "XYZ.csv", "2024-01-02"), timeframe="1d", now=NOW)
    assert parsed.timeframe == "1d" and len(parsed.frame) == 1


def test_one_row_file_with_timeframe_in_its_name_then_imported(tmp_path: Path) -> None:
    parsed = read_bar_file(bar_file(tmp_path / "XYZ_1h.csv", "2024-01-02T05:00Z"), now=NOW)
    assert parsed.timeframe == "1h"


def test_one_row_file_without_a_timeframe_then_asks_for_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="one bar cannot show its timeframe; pass --timeframe"):
        read_bar_file(bar_file(tmp_path / "XYZ.csv", "2024-01-02"), now=NOW)


def test_two_daily_rows_imported_as_1h_then_refused_as_a_contradiction(tmp_path: Path) -> None:
    path = bar_file(tmp_path / "XYZ.csv", "2024-01-02", "2024-01-03")
    with pytest.raises(DataError, match=r"--timeframe says 1h but most bars are 1d apart"):
        read_bar_file(path, timeframe="1h", now=NOW)


def test_two_hourly_rows_imported_as_1d_then_refused(tmp_path: Path) -> None:
    path = bar_file(tmp_path / "XYZ.csv", "2024-01-02T00:00Z", "2024-01-02T01:00Z")
    with pytest.raises(DataError, match=r"says 1d but most bars are 1h apart"):
        read_bar_file(path, timeframe="1d", now=NOW)


def test_two_daily_equity_rows_over_a_weekend_then_still_daily(tmp_path: Path) -> None:
    path = bar_file(tmp_path / "XYZ.csv", "2024-01-05", "2024-01-08")  # Friday, Monday
    assert read_bar_file(path, timeframe="1d", now=NOW).timeframe == "1d"


def test_bar_dated_2099_then_refused_naming_file_and_row(tmp_path: Path) -> None:
    path = bar_file(tmp_path / "XYZ_1d.csv", "2024-01-02", "2024-01-03", "2099-01-04")
    with pytest.raises(
        DataError, match=r"XYZ_1d\.csv: row 4: 2099-01-04T00:00:00\+00:00 is in the future"
    ):
        read_bar_file(path, now=NOW)


def test_bar_opening_within_one_bar_of_now_then_accepted(tmp_path: Path) -> None:
    path = bar_file(
        tmp_path / "XYZ_1h.csv", "2024-06-01T11:00Z", "2024-06-01T12:00Z", "2024-06-01T13:00Z"
    )
    assert len(read_bar_file(path, now=NOW).frame) == 3
    late = bar_file(
        tmp_path / "ABC_1h.csv", "2024-06-01T12:00Z", "2024-06-01T13:00Z", "2024-06-01T14:00Z"
    )
    with pytest.raises(DataError, match=r"row 4: .* is in the future"):
        read_bar_file(late, now=NOW)


def test_cli_import_of_future_bars_then_exit_3_and_nothing_stored(tmp_path: Path) -> None:
    path = bar_file(tmp_path / "FUT_1d.csv", "2099-01-01", "2099-01-02")
    runner = CliRunner()
    result = runner.invoke(app, ["data", "import", str(path)])
    assert result.exit_code == 3
    assert "FUT_1d.csv: row 2: 2099-01-01T00:00:00+00:00 is in the future" in result.stderr
    listed = runner.invoke(app, ["data", "list", "--json"])
    assert "FUT" not in listed.stdout
