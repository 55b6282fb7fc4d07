"""``tiller chat``: the Streamlit chat, headless, on loopback."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli._common import err, handle_errors

MAIN = Path(__file__).resolve().parents[1] / "chat" / "main.py"


def streamlit_command(port: int) -> list[str]:
    """The server's command line: headless, 127.0.0.1 only, no usage statistics, no file
    watcher (the code does not change under a user)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(MAIN),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


@handle_errors
def chat(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8501,
) -> None:
    """Open the chat in a browser at http://127.0.0.1:PORT: ask questions (cited answers),
    describe a strategy and see it backtested, run the agents and approve what they
    propose; the portfolio, the risk state and the kill switch, and every run's record."""
    from app.cli._common import container

    container().ledger  # noqa: B018 - a bad setting is reported here, not in a browser
    err.print(f"Tiller chat on http://127.0.0.1:{port} (Ctrl-C stops it)", highlight=False)
    sys.stderr.flush()
    # The server replaces this process: signals (Ctrl-C, a service manager's SIGTERM)
    # reach Streamlit itself, and no orphan is left behind.
    command = streamlit_command(port)
    os.execv(command[0], command)
