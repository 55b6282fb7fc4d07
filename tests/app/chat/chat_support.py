"""Builders for the chat's tests: the prepared home, an AppTest of the app, and readers
of what it shows (text, figure data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

MAIN = Path(__file__).resolve().parents[3] / "app" / "chat" / "main.py"
# Generous: a script run that starts an agent run or loads models takes seconds on a
# busy machine; a timeout only fails a run that hangs.
TIMEOUT = 300
SMA_TEXT = (
    "buy when the 10-day moving average crosses above the 50-day, sell when it crosses back below"
)


def prepare_home(home: Path) -> str:
    """Primers and news embedded, one AAPL run waiting for approval; returns its id."""
    from agents.models import RunRequest
    from app.bootstrap import build
    from app.services.runs import start_run

    c = build()
    c.knowledge_base.ensure_primers()
    view = start_run(c, RunRequest(symbols=["AAPL"]))
    assert view.status == "awaiting_approval", view
    # Close the databases so their write-ahead logs are folded in before copies are made.
    c.knowledge_base.close()
    c.ledger.close()
    return view.run_id


def app(page: str | None = None) -> AppTest:
    """The app as a browser first sees it (the Chat page), or switched to ``page``."""
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
    return at


def say(at: AppTest, text: str) -> AppTest:
    return at.chat_input(key="prompt").set_value(text).run()


def texts(at: Any) -> str:
    """Everything the page (or one block of it, e.g. a chat message) shows as text, with
    markdown escapes and bold marks removed, as one string."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "success", "error", "warning", "title",
                 "subheader", "code", "text"):  # fmt: skip
        parts.extend(str(e.value) for e in at.get(kind))
    parts.extend(str(e.label) for e in [*at.get("expander"), *at.get("status")])
    parts.extend(f"{m.label} {m.value} {m.delta}" for m in at.get("metric"))
    return " ".join(parts).replace("\\", "").replace("**", "")


def figures(at: Any) -> list[dict[str, Any]]:
    """The plotly figures on the page, as their JSON specs."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def frames(at: Any) -> list[Any]:
    """The tables on the page (interactive or static), as pandas frames."""
    return [frame.value for frame in [*at.get("dataframe"), *at.get("table")]]


def no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert "Traceback" not in texts(at)
