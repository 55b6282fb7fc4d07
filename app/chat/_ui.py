"""What every page shares: the container, the error boundary, who is acting, and text
from documents shown as text (never as markdown a document could shape)."""

from __future__ import annotations

import getpass
import logging
import os
import re
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from pydantic import ValidationError

from core.errors import TillerError

if TYPE_CHECKING:
    from app.bootstrap import Container

log = logging.getLogger("app.chat")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


@st.cache_resource(show_spinner=False)
def _container(settings_env: tuple[tuple[str, str], ...]) -> Container:
    from app.bootstrap import build

    return build()


def container() -> Container:
    """One container per process and configuration: the models, the knowledge base and
    the ledger load once, and a changed TILLER_* setting (a test's fresh home) gets its
    own."""
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("TILLER_")))
    return _container(key)


def operator() -> str:
    """Who approves, rejects, halts or resumes (recorded with the action)."""
    try:
        return f"{getpass.getuser()} (chat)"
    except (KeyError, OSError):
        return "chat"


def plain(text: object) -> str:
    """Text from a document, a model or a person, escaped so markdown shows it as typed."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def describe(exc: BaseException) -> tuple[str, str | None]:
    """(message, hint) a person can act on; an unexpected error's traceback goes to a
    log file, which the hint names."""
    if isinstance(exc, TillerError):
        return str(exc), exc.hint
    if isinstance(exc, ValidationError):
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or exc.title}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        return f"invalid input: {fields}", None
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", "check the path and TILLER_HOME"
    first = (str(exc).splitlines() or [""])[0][:300]
    return f"internal error: {type(exc).__name__}: {first}", f"please report; {_log(exc)}"


def _log(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    log.error("chat error: %s", text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for folder in (_logs_dir(), Path(tempfile.gettempdir())):
        path = folder / f"tiller-chat-error-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return f"details in {path}"
        except OSError:
            continue
    return "details in the server's log"


def _logs_dir() -> Path:
    try:
        return container().settings.state_path / "logs"
    except Exception:  # a broken setting must not hide the original error
        return Path(tempfile.gettempdir())


def show_error(exc: BaseException) -> None:
    message, hint = describe(exc)
    st.error(plain(message), icon=":material/error:")
    if hint:
        st.caption(f"Hint: {plain(hint)}")


@contextmanager
def guarded() -> Iterator[None]:
    """Show an error as its message and hint, never as a traceback. Streamlit's own
    control flow (st.rerun, st.stop) is a BaseException and passes through."""
    try:
        yield
    except Exception as exc:  # the chat's error boundary: every failure is shown here
        show_error(exc)


def money(value: Decimal | float | str | None, currency: str = "") -> str:
    if value is None:
        return "—"
    amount = Decimal(str(value))
    return f"{amount:,.2f} {currency}".strip()


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:+.{digits}f}%"


def fact(where: Any, label: str, value: str, note: str | None = None) -> None:
    """A figure with a note under it (not a change: no arrow, no colour)."""
    where.metric(label, value, note, delta_color="off", delta_arrow="off")


def produced_by(label: str) -> None:
    """Every answer says what produced it: an LLM (named) or the offline rules."""
    st.caption(f":material/smart_toy: Produced by {plain(label)}")


def when(value: Any) -> str:
    if value is None:
        return "—"
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stamp.strftime("%Y-%m-%d %H:%M UTC")
