"""What `tiller train forecaster` says while it trains: epochs run out of the most allowed,
the epoch early stopping kept (never "8/8 … best epoch 2 of 10"), and a user's model is
not called the shipped weights."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import numpy as np
from _synthetic import bars_from_returns
from rich.console import Console

from app.cli._progress import ProgressView, epoch_update
from tools.forecaster import EpochReport, PatchConfig, train_forecaster

TINY = PatchConfig(
    horizon=2, window=16, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1, d_ff=16,
    epochs=12, patience=1, lr=3e-2,
)  # fmt: skip
FINISHED = re.compile(r"^(?P<stage>[\w -]+), epochs: (?P<run>\d+)/(?P<most>\d+), (?P<note>.*) \(")


def _view() -> tuple[ProgressView, io.StringIO]:
    buffer = io.StringIO()
    return ProgressView(Console(file=buffer, width=200, force_terminal=False)), buffer


def test_epoch_update_when_a_fit_stops_early_then_it_shows_epochs_run_of_the_most_and_the_kept_one() -> (  # noqa: E501
    None
):
    view, buffer = _view()

    with view:
        for epoch in range(1, 9):
            report = EpochReport(epoch, 10, 0.2 + epoch / 100, 2, epoch == 8, 0.1)
            epoch_update(view, "fit", "hold-out fit, epochs", report)

    line = buffer.getvalue().strip()
    assert line.startswith(
        "hold-out fit, epochs: 8/10, stopped early; kept epoch 2, the lowest loss (0.1000)"
    )
    assert "8/8" not in line and "of 10" not in line


def test_epoch_update_when_a_fit_runs_every_epoch_then_it_names_the_kept_epoch() -> None:
    view, buffer = _view()

    with view:
        for epoch in range(1, 4):
            epoch_update(
                view, "fit", "final fit, epochs", EpochReport(epoch, 3, 0.1, 3, epoch == 3, 0.1)
            )

    assert buffer.getvalue().startswith("final fit, epochs: 3/3, kept epoch 3, the lowest loss")


def test_train_forecaster_when_early_stopping_ends_each_fit_then_each_line_agrees_with_itself() -> (
    None
):
    # Pure noise and a high learning rate: the validation loss soon stops improving.
    frame = bars_from_returns(np.random.default_rng(3).normal(0, 0.01, 400))
    view, buffer = _view()

    with view:
        result = train_forecaster(
            frame, "BTC/USDT", "1d", TINY, seed=1, holdout=0.2,
            on_epoch=lambda stage, r: epoch_update(view, stage, f"{stage}, epochs", r),
        )  # fmt: skip

    lines = [FINISHED.match(line) for line in buffer.getvalue().splitlines()]
    assert [m["stage"] for m in lines if m] == ["hold-out fit", "final fit"]
    for match in lines:
        assert match is not None
        run, most = int(match["run"]), int(match["most"])
        kept = int(re.search(r"kept epoch (\d+)", match["note"])[1])  # type: ignore[index]
        assert most == TINY.epochs and kept <= run <= most
        assert ("stopped early" in match["note"]) == (run < most)
    assert any(int(m["run"]) < TINY.epochs for m in lines if m), "noise should stop early"
    method = result.card.metrics["method"]
    assert "shipped" not in method and "the saved model is then refitted" in method


def test_train_forecaster_when_holdout_is_scored_then_the_method_never_calls_it_shipped() -> None:
    frame = bars_from_returns(np.random.default_rng(4).normal(0, 0.01, 300))

    result = train_forecaster(frame, "AAPL", "1d", replace(TINY, epochs=1), seed=0)

    assert "shipped" not in result.card.metrics["method"]
