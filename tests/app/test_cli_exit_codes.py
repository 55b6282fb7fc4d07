"""Exit codes agree with the README: a path that does not exist is 4 (not found) in every
command, and so is a folder with nothing to import or ingest (said in one line); a
command that did part of its work reports the rest under "error" with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()

MISSING_PATH_COMMANDS = [
    ["data", "import", "{p}"],
    ["kb", "ingest", "{p}"],
    ["kb", "search", "--queries", "{p}"],
    ["kb", "sentiment", "--file", "{p}"],
    ["backtest", "--spec", "{p}"],
    ["forecast", "--model-dir", "{p}"],
]


@pytest.mark.parametrize("command", MISSING_PATH_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_missing_path_in_any_command_then_exit_4_naming_it(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no-such-thing"
    result = runner.invoke(app, [a.replace("{p}", str(missing)) for a in command] + ["--json"])
    assert result.exit_code == 4, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "not_found" and str(missing) in error["message"]


def test_import_of_an_empty_folder_then_exit_4_saying_there_is_nothing_to_import(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("not bars")
    result = runner.invoke(app, ["data", "import", str(tmp_path)])
    assert result.exit_code == 4
    assert f"{tmp_path}: no .csv, .csv.gz or .parquet files in this folder" in result.stderr


def test_kb_ingest_of_an_empty_folder_then_exit_4_saying_there_is_nothing_to_ingest(
    tmp_path: Path,
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["kb", "ingest", str(tmp_path)])
    assert result.exit_code == 4
    assert f"{tmp_path}: no .htm, .html" in result.stderr
    assert "files in this folder (or its subfolders)" in result.stderr


def test_import_of_a_folder_with_a_bad_file_with_json_then_report_and_error_member(
    tmp_path: Path,
) -> None:
    (tmp_path / "GOOD_1d.csv").write_text(
        "timestamp,open,high,low,close,volume\n2024-01-01,10,11,9,10,100\n"
        "2024-01-02,10,11,9,10,100\n"
    )
    (tmp_path / "BAD_1d.csv").write_bytes(b"\x00\xff" * 64)
    result = runner.invoke(app, ["data", "import", str(tmp_path), "--json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert [r["symbol"] for r in data["imported"]] == ["GOOD"]
    assert [Path(f["path"]).name for f in data["failed"]] == ["BAD_1d.csv"]
    assert data["error"] == {
        "code": "data_error",
        "message": "1 file(s) refused, see 'failed'",
        "hint": None,
    }
