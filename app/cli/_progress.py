"""Progress of long CLI jobs on stderr: live rich bars on a terminal, one status line per
finished stage otherwise (logs, pipes, tests), nothing at all when disabled (``--json``,
where JSON is the only output)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

if TYPE_CHECKING:
    from tools.forecaster import EpochReport


class ProgressView:
    """Stages identified by a key: ``update`` creates a stage on first sight and
    finishes it when ``done >= total``; ``log`` prints a line above the bars."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._console = console
        self._enabled = enabled
        self._live = enabled and console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._finished: set[str] = set()

    def __enter__(self) -> ProgressView:
        if self._live:
            # Fixed-width columns first; the free-text note takes what is left of the line
            # (on an 80-column terminal, long notes are cut rather than the bars dropped).
            self._progress = Progress(
                TextColumn("{task.description}", style="bold", table_column=_cut(max_width=32)),
                BarColumn(bar_width=12),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[note]}", table_column=_cut(ratio=1)),
                console=self._console,
                expand=True,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(
        self,
        key: str,
        description: str,
        done: int,
        total: int,
        note: str = "",
        *,
        final: bool = False,
    ) -> None:
        """``final`` finishes the stage short of ``total`` (a fit that stopped early)."""
        if not self._enabled or key in self._finished:
            return
        self._started.setdefault(key, time.monotonic())
        if self._progress is not None:
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(description, total=total, note=note)
            self._progress.update(
                self._tasks[key], description=description, completed=done, total=total, note=note
            )
        if done >= total or final:
            self._finished.add(key)
            if self._progress is None:
                seconds = time.monotonic() - self._started[key]
                tail = f", {note}" if note else ""
                self._console.print(
                    f"{description}: {done}/{total}{tail} ({seconds:.0f} s)",
                    highlight=False,
                    soft_wrap=True,  # one grep-able line per stage in logs
                )

    def log(self, text: str) -> None:
        if not self._enabled:
            return
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        else:
            self._console.print(text, highlight=False, soft_wrap=True)


def epoch_update(view: ProgressView, key: str, description: str, report: EpochReport) -> None:
    """One epoch of a fit with early stopping, shown as "epochs run / at most", and when
    the fit ends, which epoch's weights it kept (the one with the lowest loss)."""
    note = f"loss {report.loss:.4f}"
    if report.stopped:
        note = f"kept epoch {report.best_epoch}, the lowest loss ({report.best_loss:.4f})"
        if report.epoch < report.epochs:
            note = f"stopped early; {note}"
    view.update(key, description, report.epoch, report.epochs, note, final=report.stopped)


def _cut(*, max_width: int | None = None, ratio: int | None = None) -> Column:
    return Column(no_wrap=True, overflow="ellipsis", max_width=max_width, ratio=ratio)
