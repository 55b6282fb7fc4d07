"""The CLI's error contract (README, "Exit codes"): one line and the documented exit code
for a user's mistake, one JSON error object on stdout with --json, and never a traceback:
an unexpected exception is one line pointing at a log file that holds the traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli import app
from app.cli._common import TillerGroup, handle_errors

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def json_error(stdout: str) -> dict[str, str | None]:
    data = json.loads(stdout)
    assert set(data) == {"error"}, data
    assert set(data["error"]) == {"code", "message", "hint"}
    return data["error"]


TIMEFRAME_COMMANDS = [
    ["data", "show", "AAPL", "{tf}"],
    ["data", "gaps", "AAPL", "{tf}"],
    ["data", "fetch", "binance", "BTC/USDT", "{tf}", "--since", "2024-01-01"],
    ["backtest", "--preset", "buy-hold", "--timeframe", "{tf}"],
    ["forecast", "--timeframe", "{tf}"],
    ["policy", "act", "--timeframe", "{tf}"],
    ["policy", "report", "--timeframe", "{tf}"],
    ["train", "forecaster", "--timeframe", "{tf}"],
    ["train", "policy", "--timeframe", "{tf}"],
]


@pytest.mark.parametrize("timeframe", ["7x", "0d"])
@pytest.mark.parametrize("command", TIMEFRAME_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_bad_timeframe_in_any_command_then_one_line_and_exit_2(
    command: list[str], timeframe: str
) -> None:
    code, out, err = invoke(*[a.replace("{tf}", timeframe) for a in command])
    assert code == 2, err
    assert err.strip() == (
        f"error: '{timeframe}' is not a timeframe: use a number and a unit m/h/d/w, e.g. 1m, 1h, 1d"
    )
    assert "Traceback" not in out + err


def test_bad_timeframe_with_json_then_stdout_is_one_error_object() -> None:
    code, out, _ = invoke("data", "show", "AAPL", "7x", "--json")
    assert code == 2
    error = json_error(out)
    assert error["code"] == "config_error" and "'7x' is not a timeframe" in str(error["message"])


def test_unknown_symbol_with_json_then_not_found_object_and_exit_4() -> None:
    code, out, err = invoke("backtest", "--preset", "buy-hold", "--symbol", "NOPE", "--json")
    assert code == 4
    error = json_error(out)
    assert error["code"] == "not_found" and "tiller data import" in str(error["message"])
    assert "error: no data for NOPE" in err  # people still read stderr


def test_unknown_option_with_json_then_usage_error_object_and_exit_2() -> None:
    code, out, _ = invoke("backtest", "--no-such-option", "--json")
    assert code == 2
    error = json_error(out)
    assert error["code"] == "usage_error" and "--no-such-option" in str(error["message"])
    assert "--help" in str(error["hint"])


def test_unknown_option_without_json_then_typer_usage_text() -> None:
    code, out, err = invoke("backtest", "--no-such-option")
    assert code == 2 and out == "" and "No such option" in err and "Traceback" not in err


def test_policy_act_with_a_short_position_for_a_long_only_policy_then_exit_2() -> None:
    code, out, err = invoke("policy", "act", "--position", "-1", "--json")
    assert code == 2, err
    error = json_error(out)
    assert error["code"] == "config_error"
    assert "position -1 is not one of (0, 1)" in str(error["message"])
    assert "long-only" in str(error["message"])


def test_policy_act_with_a_position_outside_minus_one_to_one_then_usage_error() -> None:
    code, _, err = invoke("policy", "act", "--position", "2")
    assert code == 2 and "--position" in err


@pytest.mark.parametrize(
    ("make", "expected_code", "fragment"),
    [
        (lambda d: d / "missing.json", 4, "no such spec file"),
        (lambda d: d, 2, "not a file; --spec takes a JSON file"),
        (lambda d: _write(d / "spec.bin", bytes(range(256))), 2, "not a text file"),
        (lambda d: _write(d / "deep.json", b"[" * 100_000 + b"]" * 100_000), 2, "too deeply"),
        (lambda d: _write(d / "nest.json", _nested_not(70)), 2, "more than 64 levels deep"),
    ],
    ids=["missing", "folder", "binary", "deep-json", "deep-conditions"],
)
def test_backtest_spec_that_is_not_a_spec_file_then_one_line_error(
    tmp_path: Path, make: object, expected_code: int, fragment: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code, out, err = invoke("backtest", "--spec", str(path), "--json")
    assert code == expected_code, err
    assert fragment in str(json_error(out)["message"])
    assert "Traceback" not in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _nested_not(levels: int) -> bytes:
    cond: dict[str, object] = {"op": "gt", "left": "close", "right": 1}
    for _ in range(levels):
        cond = {"op": "not", "cond": cond}
    return json.dumps({"entry": cond}).encode()


def test_tiller_home_that_is_a_file_then_exit_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("not a folder")
    monkeypatch.setenv("TILLER_HOME", str(home))
    code, out, err = invoke("data", "list", "--json")
    assert code == 2, err
    message = str(json_error(out)["message"])
    assert "TILLER_HOME" in message and f"{home} is a file" in message


def test_train_output_that_is_a_file_then_refused_before_training(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    code, out, err = invoke("train", "forecaster", "--output", str(target), "--json")
    assert code == 2, err
    assert f"--output {target}: is a file" in str(json_error(out)["message"])
    code, _, err = invoke("train", "policy", "--output", str(target))
    assert code == 2 and f"--output {target}: is a file" in err


def test_train_seed_outside_numpy_range_then_usage_error() -> None:
    code, _, err = invoke("train", "forecaster", "--seed", "-1")
    assert code == 2 and "--seed" in err
    code, _, err = invoke("train", "policy", "--seeds", "0,-1")
    assert code == 2 and "each seed is between 0 and 2**32 - 1" in err


def test_unexpected_exception_then_one_line_and_traceback_in_a_log_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("app.cli.data.container", broken)
    code, out, err = invoke("data", "list")
    assert code == 1 and out == ""
    assert "Traceback" not in err
    line = err.strip()
    assert line.startswith("internal error: RuntimeError: boom (please report; details in ")
    log = Path(line.split("details in ", 1)[1].rstrip(")"))
    assert log.parent == Path(os.environ["TILLER_HOME"]) / "state" / "logs"
    assert "Traceback" in log.read_text() and "second line" in log.read_text()


def test_unexpected_exception_with_json_then_internal_error_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.cli.data.container", lambda: {}["missing"])
    code, out, _ = invoke("data", "list", "--json")
    assert code == 1
    error = json_error(out)
    assert error["code"] == "internal_error" and "KeyError" in str(error["message"])
    assert str(error["hint"]).startswith("details in ")


def test_unexpected_exception_with_tiller_debug_then_traceback_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TILLER_DEBUG", "1")
    monkeypatch.setattr("app.cli.data.container", lambda: 1 / 0)
    code, _, err = invoke("data", "list")
    assert code == 1
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert not (Path(os.environ["TILLER_HOME"]) / "state" / "logs").exists()


def test_os_error_then_one_line_naming_the_path_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def denied() -> None:
        raise PermissionError(13, "Permission denied", "/srv/tiller/state")

    monkeypatch.setattr("app.cli.data.container", denied)
    code, out, err = invoke("data", "list", "--json")
    assert code == 2
    error = json_error(out)
    assert error["code"] == "io_error"
    assert error["message"] == "/srv/tiller/state: Permission denied"
    assert "Traceback" not in err


def test_command_without_its_own_boundary_still_shows_no_traceback() -> None:
    bare = typer.Typer(cls=TillerGroup)

    @bare.command()
    def explode(json_: bool = typer.Option(False, "--json")) -> None:
        raise ValueError("unguarded")

    @bare.command()
    @handle_errors
    def fine() -> None:
        """A second command, so typer keeps the subcommand names."""

    result = runner.invoke(bare, ["explode", "--json"])
    assert result.exit_code == 1 and not isinstance(result.exception, ValueError)
    assert json_error(result.stdout)["code"] == "internal_error"
    assert "Traceback" not in result.stderr


def test_fee_of_nan_then_refused_as_not_finite_instead_of_zero_trades() -> None:
    code, out, _ = invoke("backtest", "--preset", "buy-hold", "--fee", "nan", "--json")
    assert code == 2
    assert "fee_rate: Input should be a finite number" in str(json_error(out)["message"])


def test_audit_verify_on_a_file_that_is_not_a_database_then_audit_broken_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    ledger.write_bytes(bytes(range(256)) * 16)
    monkeypatch.setenv("TILLER_DATABASE_URL", f"sqlite:///{ledger}")
    code, out, err = invoke("audit", "verify", "--json")
    assert code == 9 and "Traceback" not in err
    error = json_error(out)
    assert error["code"] == "audit_broken" and "not a readable database" in str(error["message"])
