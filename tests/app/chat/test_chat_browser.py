"""The chat in a real browser: `tiller chat` as a server process, Debian's chromium driven
by Playwright. Ask a question, describe a strategy and see its chart, run the agents,
approve, and find the order on the Portfolio page.

Screenshots (1280×800) are kept as test artefacts in the test's tmp folder; with
TILLER_CHAT_SCREENSHOTS=DIR they are also written there (how docs/screenshots is made).
Skips, saying why, when chromium or the playwright package is missing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.models import ApprovalDecision
from app.bootstrap import build
from app.services.portfolio import orders
from app.services.runs import decide_run, list_runs, show_run

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SLOW = 240_000  # ms: the first question loads the models in the server process
STRATEGY = "buy when the 10-day moving average crosses above the 50-day, sell when it crosses below"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`tiller chat` on a free port, with the prepared home (its waiting run rejected, so
    the page opens on an empty conversation)."""
    c = build()
    [waiting] = [v for v in list_runs(c) if v.status == "awaiting_approval"]
    decide_run(c, waiting.run_id, ApprovalDecision(action="reject", operator="test"))
    port = free_port()
    log = (tmp_path / "chat-server.log").open("w")
    tiller = Path(sys.executable).with_name("tiller")
    proc = subprocess.Popen([str(tiller), "chat", "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group only
        proc.wait(timeout=30)
        log.close()


def _wait_healthy(url: str, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "tiller chat exited early (see chat-server.log)"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never became healthy")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


class Shots:
    """Screenshots into the test's folder, and into TILLER_CHAT_SCREENSHOTS when set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        extra = os.environ.get("TILLER_CHAT_SCREENSHOTS")
        self.extra = Path(extra) if extra else None

    def take(self, page: Any, name: str, *, docs: bool = True) -> None:
        settled(page)
        page.mouse.move(0, 0)  # no hover effects in the picture
        page.wait_for_timeout(800)  # charts' transitions
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path))
        if self.extra is not None and docs:
            from PIL import Image

            # A 256-colour palette keeps the picture readable at a third of the size.
            with Image.open(path) as image:
                small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
                small.save(self.extra / path.name, optimize=True)


def settled(page: Any) -> None:
    """Wait until the script has stopped running: Streamlit's "running" widget absent for
    a second and a half in a row (it shows up only after a run has gone on a while)."""
    widget = page.get_by_test_id("stStatusWidget")
    quiet, deadline = 0, time.monotonic() + SLOW / 1000
    while quiet < 6 and time.monotonic() < deadline:
        quiet = 0 if widget.is_visible() else quiet + 1
        page.wait_for_timeout(250)


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


_SCROLL = """(e, where) => {
    e.scrollIntoView({block: where});
    let p = e.parentElement;
    while (p && !['auto', 'scroll'].includes(getComputedStyle(p).overflowY)) p = p.parentElement;
    if (p) p.scrollBy(0, where === 'start' ? -90 : 150);  // the chat box covers the bottom
}"""


def top(locator: Any) -> None:
    """Scroll so that ``locator`` is near the top of the window, below the app's header."""
    locator.evaluate(_SCROLL, "start")


def bottom(locator: Any) -> None:
    """Scroll so that ``locator`` is the last thing shown above the chat box."""
    locator.evaluate(_SCROLL, "end")


def test_ask_backtest_run_the_agents_approve_and_see_the_order_on_the_portfolio_page(
    server: str, browser: Any, tmp_path: Path
) -> None:
    shots = Shots(tmp_path / "screenshots")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server)
    page.get_by_test_id("stChatInput").wait_for(timeout=SLOW)

    send(page, "How does a trailing stop work in a backtest?")
    page.get_by_text("sentences quoted from the passages").wait_for(timeout=SLOW)
    page.get_by_text("[1] Strategy types in Tiller").click()
    page.get_by_text("whichever level is tighter applies").last.wait_for()  # the passage

    send(page, STRATEGY)
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=SLOW)
    legend = page.locator(".js-plotly-plot").first.locator(".legendtext").all_text_contents()
    assert legend == ["strategy", "buy and hold"]
    top(page.get_by_text("Total return"))
    shots.take(page, "chat")

    send(page, "run the agents on AAPL")
    approve = page.get_by_role("button", name="Approve", exact=True)
    approve.wait_for(timeout=SLOW)
    assert page.get_by_text("✓ risk_gate:").count() == 1  # progress, node by node
    bottom(page.get_by_role("button", name="Reject", exact=True))
    shots.take(page, "chat-proposal")
    page.set_viewport_size({"width": 420, "height": 900})  # a phone held upright
    top(page.get_by_text("Forecast", exact=True).last)
    shots.take(page, "narrow-chat", docs=False)
    page.set_viewport_size({"width": 1280, "height": 800})
    approve.click()
    page.get_by_text("Run executed", exact=True).wait_for(timeout=SLOW)  # the order was sent

    [run] = [v for v in list_runs(build()) if v.outcome == "executed"]
    assert show_run(build(), run.run_id).status == "succeeded"  # what `tiller runs show` says
    [order] = orders(build())
    assert (order.symbol, order.side, order.status) == ("AAPL", "buy", "filled")

    page.get_by_test_id("stSidebarNav").get_by_text("Portfolio", exact=True).click()
    page.get_by_text("Equity of the paper account").wait_for(timeout=SLOW)
    page.get_by_test_id("stDataFrame").first.wait_for()
    page.get_by_text("Gross exposure").wait_for()
    assert page.get_by_text("No positions yet").count() == 0
    assert page.locator(".js-plotly-plot").count() == 1
    positions = page.get_by_test_id("stTable").first.inner_text()
    assert "AAPL" in positions and str(order.quantity) in positions
    shots.take(page, "portfolio")
    page.set_viewport_size({"width": 420, "height": 900})
    shots.take(page, "narrow-portfolio", docs=False)
    page.set_viewport_size({"width": 1280, "height": 800})

    for name, marker in (("Risk", "Kill switch"), ("Runs", "The same record:")):
        page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
        page.get_by_text(marker).wait_for(timeout=SLOW)
        shots.take(page, name.lower())
    assert sorted(p.name for p in shots.folder.iterdir()) == [
        "chat-proposal.png", "chat.png", "narrow-chat.png", "narrow-portfolio.png",
        "portfolio.png", "risk.png", "runs.png",
    ]  # fmt: skip


PAYLOAD = "<img src=x onerror=\"document.title='pwned';alert(1)\"><script>alert(2)</script>"


def test_markup_in_a_message_is_shown_as_text_and_never_runs_in_the_browser(
    server: str, browser: Any
) -> None:
    # Adversarial catalogue, family 5: what a person types (or pastes from a web page) is
    # echoed by the chat and may reach the answer; the browser must show it, not run it.
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []

    def opened(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", opened)
    page.goto(server)
    page.get_by_test_id("stChatInput").wait_for(timeout=SLOW)
    title = page.title()

    send(page, f"{STRATEGY} {PAYLOAD}")
    page.get_by_text("onerror=", exact=False).first.wait_for(timeout=SLOW)
    settled(page)

    assert dialogs == [] and page.title() == title
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("script", has_text="alert(2)").count() == 0
    shown = page.get_by_test_id("stChatMessage").first.inner_text()
    assert "<script>alert(2)</script>" in shown and "<img src=x" in shown
