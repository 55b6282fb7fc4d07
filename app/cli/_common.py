"""Shared CLI plumbing: the one error boundary, JSON output, consoles, safe printing.

The error contract every command inherits (documented in the README):

- A Tiller error prints one line, ``error: MESSAGE``, on stderr and exits with the
  error's code (2 bad setting or argument, 3 bad data, 4 not found, ...).
- With ``--json``, stdout carries exactly one JSON object: the result, or
  ``{"error": {"code": ..., "message": ..., "hint": ...}}`` with the same exit code.
  Usage errors (an unknown option, a value typer cannot parse) follow the same rule.
- Anything else is a bug: the user sees one line, ``internal error: ... (please report;
  details in FILE)``, and exit code 1; the traceback goes to FILE under the state
  directory's ``logs`` folder (to stderr instead when ``TILLER_DEBUG=1``).
"""

from __future__ import annotations

import contextvars
import inspect
import json
import os
import re
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from core.errors import ConfigError, DataError, TillerError, error_code

if TYPE_CHECKING:
    from app.bootstrap import Container

out = Console()
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

USAGE_EXIT = 2
# The command line as the root command received it (the CLI runner in tests does not set
# sys.argv), so the boundary can tell whether --json was asked for.
_ARGV: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("tiller_argv", default=())
# C0 and C1 control characters except tab and newline: ANSI escapes start with ESC (or CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object, *, one_line: bool = False) -> str:
    """Untrusted text (a halt reason, a spec name, a document title, a file name) made
    printable through Rich: control characters, ANSI escapes included, are shown as
    ``\\x1b``-style escapes, and Rich markup shows literally. ``one_line`` also escapes
    newlines and tabs."""
    value = str(text)
    pattern = re.compile(r"[\x00-\x1f\x7f-\x9f]") if one_line else _CONTROL
    value = pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return escape(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, allow_nan=False) + "\n")


def print_json_line(data: Any) -> None:
    """One JSON Lines record on stdout, flushed (a batch's answers appear as they come)."""
    sys.stdout.write(json.dumps(data, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def json_requested(explicit: bool | None = None) -> bool:
    """Whether the running command was asked for ``--json``."""
    if explicit:
        return True
    return "--json" in _ARGV.get() or "--json" in sys.argv[1:]


@dataclass(frozen=True)
class Failure:
    """What the user is told about a failure: a stable code, a one-line message, an
    optional hint, and the process's exit code."""

    code: str
    message: str
    hint: str | None
    exit_code: int

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        if isinstance(exc, TillerError):
            return cls(error_code(exc), str(exc), exc.hint, exc.exit_code)
        if isinstance(exc, OSError):
            return _os_failure(exc)
        if isinstance(exc, typer.TyperException):
            hint = "run the command with --help to see its arguments and options"
            return cls("usage_error", exc.format_message(), hint, exc.exit_code)
        if isinstance(exc, ValidationError):
            # A command's input checked by a pydantic model (a request, a spec): say which
            # fields are wrong, as a bad argument, rather than as a bug.
            return cls("config_error", _invalid_fields(exc), None, ConfigError.exit_code)
        first = (str(exc).splitlines() or [""])[0][:300]
        message = f"internal error: {type(exc).__name__}: {first}"
        return cls("internal_error", message, f"details in {_log_internal_error(exc)}", 1)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` error object: ``{"error": {"code", "message", "hint"}}``."""
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


def _invalid_fields(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or exc.title
        problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "invalid input: " + "; ".join(problems)


def report_failure(exc: BaseException, *, as_json: bool) -> int:
    """Tell the user what went wrong, in one line (and one JSON object on stdout with
    ``--json``), and return the exit code. Every failure of every command ends here."""
    failure = Failure.of(exc)
    if failure.code == "internal_error":
        err.print(
            f"[bold red]{safe(failure.message, one_line=True)}[/] "
            f"(please report; {safe(failure.hint)})",
            highlight=False,
            soft_wrap=True,
        )
    else:
        err.print(f"[bold red]error:[/] {safe(failure.message)}", highlight=False, soft_wrap=True)
        if failure.hint and failure.code != "usage_error":
            err.print(f"hint: {safe(failure.hint)}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(failure.to_json())
    return failure.exit_code


def _os_failure(exc: OSError) -> Failure:
    """The operating system refused: a path that is not what it should be (a file where a
    folder belongs, no permission, a full disk) or a network that cannot be reached. Not
    a bug in Tiller, so no traceback: say which path and why."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return Failure("unavailable", f"network: {exc}", "check the connection and retry", 5)
    where = f"{exc.filename}: " if exc.filename else ""
    hint = (
        "check that the path exists, is a folder or a file as needed, and is writable; "
        "TILLER_HOME (or TILLER_DATA_DIR, TILLER_STATE_DIR) says where Tiller keeps its files"
    )
    return Failure("io_error", f"{where}{exc.strerror or exc}", hint, USAGE_EXIT)


def _log_internal_error(exc: BaseException) -> str:
    """Write the traceback where a maintainer can find it; return where that is."""
    text = "".join(traceback.format_exception(exc))
    if os.environ.get("TILLER_DEBUG", "").strip() not in ("", "0", "false", "no"):
        sys.stderr.write(text)
        return "the traceback above (TILLER_DEBUG=1)"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    header = f"tiller {' '.join(_ARGV.get() or sys.argv[1:])}\n{stamp}\n\n"
    for folder in (_state_dir() / "logs", Path(tempfile.gettempdir())):
        path = folder / f"tiller-error-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(header + text)
            return str(path)
        except OSError:
            continue
    sys.stderr.write(text)
    return "the traceback above (no writable log folder)"


def _state_dir() -> Path:
    """The state directory, found even when the settings themselves are what is broken."""
    try:
        from core.settings import load_settings

        return load_settings().state_path
    except Exception:  # a broken setting must not hide the original error
        home = os.environ.get("TILLER_HOME") or str(Path.home() / ".tiller")
        return Path(os.environ.get("TILLER_STATE_DIR") or Path(home) / "state").expanduser()


def _wants_json(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs)
    except TypeError:
        return json_requested()
    return json_requested(bool(bound.arguments.get("json_")))


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """The error boundary of a command (see the module docstring for the contract)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, EOFError, BrokenPipeError):
            raise
        except Exception as exc:  # this is the boundary that reports it
            code = report_failure(exc, as_json=_wants_json(func, args, kwargs))
            raise typer.Exit(code) from None

    return wrapper


class TillerGroup(TyperGroup):
    """The root command: records the command line and applies the error contract to
    what happens outside a command's own boundary (usage errors in ``--json`` mode, and
    any command registered without ``handle_errors``)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        _ARGV.set(tuple(args))
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, EOFError, BrokenPipeError):
            raise
        except typer.TyperException as exc:
            if not json_requested() or exc.exit_code == 0:
                raise  # typer formats usage errors for people
            raise typer.Exit(report_failure(exc, as_json=True)) from None
        except Exception as exc:  # the last boundary before a traceback
            raise typer.Exit(report_failure(exc, as_json=json_requested())) from None


def numbered_lines(handle: IO[str], name: str) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of a text file; bytes that are not UTF-8 are a
    ``DataError`` naming the file, not a traceback."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        # Text is decoded in blocks, so the bad byte is at or after the next line.
        raise DataError(f"{name}: not UTF-8 after line {number} ({exc.reason})") from None


def writable_folder(path: Path, option: str) -> Path:
    """``path`` as a folder Tiller can write into (created if missing), checked before any
    long work starts, so a typo in ``--output`` does not cost a training run."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file; give a folder (created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot create it ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: not writable")
    return path


def container() -> Container:
    from app.bootstrap import build

    return build()
