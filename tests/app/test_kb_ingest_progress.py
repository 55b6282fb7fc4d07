"""`tiller kb ingest`'s progress bar: passages per second and the time left on a terminal's
stderr, nothing in --json mode or off a terminal."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from app.cli import kb
from rag_index.ingest import PassageProgress


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, color_system=None)
    monkeypatch.setattr(kb, "err", console)
    return buffer


def test_the_bar_shows_files_passages_per_second_and_the_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = _terminal(monkeypatch)
    with kb._progress(False, "filings/") as progress:
        assert isinstance(progress, PassageProgress)  # ingestion reports passages to it
        progress.passages(120, 2.0, 0.25)
        progress(1, 4, "Apple Inc. 10-K FY2024")
        progress._bar.refresh()
        shown = buffer.getvalue()
    assert "1/4" in shown and "Apple Inc. 10-K FY2024" in shown
    assert "120 passages, 60.0/s" in shown
    # A quarter done in 2 s: 6 s left.
    assert "ETA 0:06" in shown
    assert re.search(r"ingesting filings/", shown)


def test_no_time_left_is_guessed_before_anything_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = _terminal(monkeypatch)
    with kb._progress(False, "x") as progress:
        progress.passages(0, 0.0, 0.0)
        progress._bar.refresh()
    assert "ETA" not in buffer.getvalue()


def test_silent_in_json_mode_and_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    _terminal(monkeypatch)
    with kb._progress(True, "x") as progress:
        assert progress is None
    monkeypatch.setattr(kb, "err", Console(file=io.StringIO(), force_terminal=False))
    with kb._progress(False, "x") as progress:
        assert progress is None
