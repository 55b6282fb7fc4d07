"""Shared CLI plumbing: one error boundary, JSON output, consoles."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import TillerError

out = Console()
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, allow_nan=False) + "\n")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn Tiller's errors into a one-paragraph message and a non-zero exit code; any
    other exception is a bug and keeps its traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TillerError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def container() -> Any:
    from app.bootstrap import build

    return build()
