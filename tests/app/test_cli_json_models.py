"""The CLI's ``--json`` output is the services' models (issue 11's acceptance): no command
builds its own JSON object. Checked on the source: every value handed to the JSON
printers (``print_json``, ``print_json_line``) must be a ``.model_dump(...)`` of a model,
or the shared error object (``Failure.to_json()`` in ``_common``); and no command writes
JSON to stdout by itself."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "app" / "cli"
PRINTERS = {"print_json", "print_json_line"}

# Commands other people are changing while this test lands; each entry names a place
# that still hands a built dict to the printer. The test fails once an entry is no
# longer needed, so the list only shrinks.
PENDING: dict[tuple[str, str], str] = {}


def _allowed(arg: ast.expr, dumped: set[str]) -> bool:
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute):
        if arg.func.attr == "model_dump":
            return True
        # The shared error object: Failure(...).to_json() / failure.to_json().
        target = arg.func.value
        return (
            arg.func.attr == "to_json"
            and isinstance(target, ast.Name)
            and (target.id in {"failure", "Failure"})
        )
    # A name every assignment of which in the function is a model_dump(...).
    return isinstance(arg, ast.Name) and arg.id in dumped


def _dumped_names(func: ast.AST) -> set[str]:
    names: dict[str, bool] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            ok = _allowed(node.value, set())
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = names.get(target.id, True) and ok
    return {name for name, ok in names.items() if ok}


def offences(folder: Path) -> dict[tuple[str, str], list[str]]:
    """(file, function) → what it hands to a JSON printer or writes to stdout itself."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name == "_common.py":  # the printers and the error object live there
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            dumped = _dumped_names(func)
            for node in ast.walk(func):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else None
                if name in PRINTERS and not (node.args and _allowed(node.args[0], dumped)):
                    shown = ast.unparse(node)[:80]
                    found.setdefault((path.name, func.name), []).append(
                        f"line {node.lineno}: {shown}"
                    )
                if _writes_json(node):
                    shown = ast.unparse(node)[:80]
                    found.setdefault((path.name, func.name), []).append(
                        f"line {node.lineno}: {shown}"
                    )
    return found


def _writes_json(node: ast.Call) -> bool:
    """``sys.stdout.write(json.dumps(...))``: JSON that bypasses the printers."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "write"):
        return False
    if ast.unparse(func.value) != "sys.stdout":
        return False
    return any("json.dumps" in ast.unparse(arg) for arg in node.args)


def test_every_cli_json_output_is_a_service_model_or_the_shared_error() -> None:
    found = offences(CLI)
    unexpected = {where: lines for where, lines in found.items() if where not in PENDING}
    assert not unexpected, (
        "these commands build their own JSON; return a pydantic model from a service in "
        f"app/services and print model.model_dump(mode='json'): {unexpected}"
    )


def test_no_cli_module_defines_its_own_response_model() -> None:
    # A model defined next to the command would be a second serialiser by another name.
    defined = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                "BaseModel" in ast.unparse(b) or "RootModel" in ast.unparse(b) for b in node.bases
            ):
                defined.append(f"{path.name}: {node.name}")
    assert not defined, f"move these models into app/services: {defined}"


def test_the_pending_list_names_only_places_that_still_need_it() -> None:
    found = offences(CLI)
    done = sorted(f"{file}:{func}" for file, func in PENDING if (file, func) not in found)
    assert not done, f"remove these from PENDING, they print models now: {done}"


def test_the_check_catches_the_hand_built_json_this_issue_replaced(tmp_path: Path) -> None:
    # The CLI as it was before the services printed their models (commit 51892b5).
    root = Path(__file__).resolve().parents[2]
    old = "51892b5"
    try:
        names = subprocess.run(
            ["git", "ls-tree", "--name-only", old, "app/cli/"], cwd=root, check=True,
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs the git history of the checkout (commit 51892b5)")
    for name in names:
        if name.endswith(".py"):
            text = subprocess.run(["git", "show", f"{old}:{name}"], cwd=root, check=True,
                                  capture_output=True, text=True).stdout  # fmt: skip
            (tmp_path / Path(name).name).write_text(text, encoding="utf-8")
    found = offences(tmp_path)
    for where in [("data.py", "show"), ("data.py", "gaps"), ("kb.py", "list_"),
                  ("kb.py", "_batch"), ("policy.py", "act"), ("policy.py", "report"),
                  ("audit.py", "verify"), ("forecast.py", "train_forecaster"),
                  ("strategy.py", "backtest"), ("keys.py", "list_")]:  # fmt: skip
        assert where in found, where
