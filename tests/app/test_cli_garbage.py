"""Every command, fed garbage one argument at a time, answers like a program and not like
a crash: no traceback, never exit code 1 (that is reserved for bugs), a documented exit
code, a message on stderr, and with --json exactly one error object on stdout.

The commands are found by walking the typer app, so a command added later is walked too.
Garbage is chosen per parameter type (and a few names); the other parameters keep values
that fail fast (an unknown symbol, an empty question) so that no case starts real work
such as training a model or embedding the bundled primers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()
DOCUMENTED_EXIT_CODES = {0, 2, 3, 4, 5, 6, 7, 8, 9, 10}
ESCAPES = "\x1b[2J[bold red]x[/]"

# Values for the parameters a case does not target: valid in form, fast to refuse.
BASELINE = {
    "symbol": "NOSUCH",
    "timeframe": "1d",
    "exchange": "binance",
    "ticker": "AAPL",
    "question": "",
    "query": "",
    "text": "",
    "run_id": "no-such-run",
    "reason": "walker",
}
# ... and for these even when they are optional (their default would start real work).
ALWAYS = {"symbol": "NOSUCH"}
# Free text has no invalid value but the empty one: anything else would start real work.
FREE_TEXT = {"question", "query", "text", "reason", "operator", "collection", "qty"}
# A folder to write into: only a file in its place is garbage (a new folder is fine).
OUTPUT_FOLDERS = {"output", "dest"}
# Extra arguments some commands get in every case, so that none loads a large model.
EXTRA = {"kb sentiment": ["--fast"]}


@dataclass(frozen=True)
class Paths:
    missing: Path
    folder: Path
    binary: Path


def leaf_commands() -> Iterator[tuple[str, Any]]:
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if not subs or getattr(cmd, "invoke_without_command", False):
            yield " ".join(path), cmd
        for name, sub in sorted((subs or {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


COMMANDS = dict(leaf_commands())
ROOT = typer.main.get_command(app)


@pytest.fixture(autouse=True)
def _built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner rebuilds the click command tree from the typer app on every call (most
    of a call's time here); the tree is the same, so build it once."""
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: ROOT)


def garbage(param: Any, paths: Paths) -> list[str]:
    annotation = str(param.type_descriptor.annotation)
    if param.name in FREE_TEXT:
        return [""]
    if "Path" in annotation:
        if param.name in OUTPUT_FOLDERS:
            return [str(paths.binary)]
        return [str(paths.missing), str(paths.folder), str(paths.binary)]
    if "int" in annotation:
        return ["abc", "-99999999999999999999", "99999999999999999999"]
    if "float" in annotation:
        return ["nan", "-inf", "abc"]
    return ["7x", "", ESCAPES]


def cases(command: Any, name: str, paths: Paths) -> Iterator[list[str]]:
    params = [p for p in command.params if not getattr(p, "is_flag", False)]
    for target in params:
        for value in garbage(target, paths):
            args = name.split() + EXTRA.get(name, [])
            for p in params:
                given = value if p is target else ALWAYS.get(p.name)
                if given is None and p is not target and p.required:
                    given = BASELINE.get(p.name)
                if given is None:
                    continue
                args += [given] if p.param_type_name == "argument" else [p.opts[-1], given]
            yield args


def check(args: list[str], as_json: bool) -> None:
    result = runner.invoke(app, args + (["--json"] if as_json else []))
    shown = f"tiller {' '.join(args)}{' --json' if as_json else ''}"
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, f"{shown}: {escaped!r}"
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.exit_code in DOCUMENTED_EXIT_CODES, f"{shown}: exit {result.exit_code}"
    if result.exit_code == 0:
        return
    if as_json:
        error = json.loads(result.stdout)["error"]
        assert set(error) == {"code", "message", "hint"} and error["message"], shown
    else:
        assert result.stderr.strip(), f"{shown}: failed silently"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_fed_garbage_then_no_traceback_and_a_documented_exit(
    name: str, tmp_path: Path
) -> None:
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    paths = Paths(tmp_path / "missing.json", folder, binary)
    command = COMMANDS[name]
    has_json = any(p.name == "json_" for p in command.params)
    for n, args in enumerate(cases(command, name, paths)):
        # Both renderings of the first case; --json alone after that (the same paths).
        if n == 0 or not has_json:
            check(args, as_json=False)
        if has_json:
            check(args, as_json=True)


@pytest.mark.parametrize(
    "args",
    [["no-such-command"], ["data", "no-such-command"], ["data", "show", "--no-such-option"]],
)
def test_unknown_command_or_option_with_json_then_usage_error_object(args: list[str]) -> None:
    check(args, as_json=True)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "usage_error"


def test_the_walk_finds_commands_added_under_groups() -> None:
    assert {"data show", "kb sentiment", "train policy", "risk halt", "audit verify"} <= set(
        COMMANDS
    )
