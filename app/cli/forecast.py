"""``tiller train forecaster`` and ``tiller forecast``: train a quantile forecaster on
stored bars, and forecast returns and volatility from the latest model (user registry
first, then the shipped defaults in ``policies/trained/forecaster``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from app.cli._common import (
    container,
    err,
    handle_errors,
    out,
    print_json,
    safe,
    writable_folder,
)
from app.cli._progress import ProgressView, epoch_update
from core.timeutil import parse_utc

if TYPE_CHECKING:
    from tools.forecaster import EpochReport

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SymbolOpt = Annotated[str, typer.Option(help="e.g. AAPL or BTC/USDT")]
TimeframeOpt = Annotated[str, typer.Option(help="e.g. 1d, 4h, 1h")]


@handle_errors
def train_forecaster(
    symbol: SymbolOpt = "AAPL",
    timeframe: TimeframeOpt = "1d",
    epochs: Annotated[
        int, typer.Option(min=1, max=100_000, help="Most epochs (early stopping picks the best).")
    ] = 50,
    seed: Annotated[
        int, typer.Option(min=0, max=2**32 - 1, help="Random seed (same seed → same model).")
    ] = 0,
    horizon: Annotated[int, typer.Option(min=1, max=30, help="Bars ahead to forecast.")] = 5,
    end: Annotated[str | None, typer.Option(help="Train on bars up to this time (UTC).")] = None,
    holdout: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of bars scored out of sample.")
    ] = 0.2,
    output: Annotated[
        Path | None, typer.Option(help="Registry folder (default: the user registry).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Train a PatchTST-style quantile forecaster, score it against the baselines on a
    hold-out, refit on all bars and save it with a model card."""
    from app.services.models import train_forecaster as train

    c = container()
    when = parse_utc(end, name="--end") if end else None
    if output is not None:
        writable_folder(output, "--output")
    if not json_:
        rows = len(c.store.bars(symbol, timeframe, end=when))
        err.print(f"training on {rows:,} {timeframe} bars of {symbol.upper()}…")
    with ProgressView(err, enabled=not json_) as view:

        def on_epoch(stage: str, r: EpochReport) -> None:
            epoch_update(view, stage, f"{stage}, epochs", r)

        result = train(
            c, symbol, timeframe, epochs=epochs, seed=seed, horizon=horizon, end=when,
            holdout=holdout, output=output, on_epoch=on_epoch,
        )  # fmt: skip
    if json_:
        print_json(result.model_dump(mode="json"))
        return
    out.print(f"saved [bold]{safe(result.card.model_id)}[/] to {safe(result.path)}")
    out.print(f"training took {result.card.train_seconds:.1f} s (final fit)")
    if result.card.metrics:
        _print_metrics(result.card.metrics)


def _print_metrics(metrics: dict[str, Any]) -> None:
    table = Table(title="hold-out, all horizons", caption=metrics["method"])
    for col in ("model", "MASE", "pinball", "80% cover", "direction (p)"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in metrics["all_horizons"].items():
        direction = (
            "n/a" if m["direction_n"] == 0 else f"{m['direction']:.3f} ({m['direction_p']:.2f})"
        )
        table.add_row(
            name, f"{m['mase']:.3f}", f"{m['pinball']:.5f}", f"{m['coverage_80']:.2f}", direction
        )
    out.print(table)
    if "volatility" in metrics:
        _print_volatility(metrics["volatility"])


def _print_volatility(vol: dict[str, Any]) -> None:
    table = Table(title="hold-out volatility forecasts, all horizons", caption=vol["method"])
    for col in ("sigma from", "QLIKE", "var ratio", "log-var MSE"):
        table.add_column(col, justify="left" if col == "sigma from" else "right")
    for name, m in vol["all_horizons"].items():
        table.add_row(name, f"{m['qlike']:.4f}", f"{m['var_ratio']:.2f}", f"{m['log_var_mse']:.3f}")
    out.print(table)


@handle_errors
def forecast(
    symbol: SymbolOpt = "AAPL",
    timeframe: TimeframeOpt = "1d",
    horizon: Annotated[int, typer.Option(min=1, help="Bars ahead.")] = 5,
    as_of: Annotated[str | None, typer.Option(help="Forecast as of this time (UTC).")] = None,
    model_dir: Annotated[
        Path | None, typer.Option(help="Look for models here before the user registry.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Quantile forecast (10/50/90%) of the next log returns, and the volatility (standard
    deviation) of each cumulative return derived from it, from the latest model."""
    from app.services.models import forecast as forecast_service

    when = parse_utc(as_of, name="--as-of") if as_of else None
    result = forecast_service(
        container(), symbol, timeframe, horizon, as_of=when, model_dir=model_dir
    )
    if json_:
        print_json(result.model_dump(mode="json"))
        return
    _print_forecast(result.model_dump(mode="json"))


def _print_forecast(data: dict[str, Any]) -> None:
    table = Table(
        title=f"{data['symbol']} {data['timeframe']} forecast from the bar opened "
        f"{data['last_bar_open_time'][:16]} (close {data['last_close']:,.2f})",
        caption=f"model {safe(data['model_id'])}, trained through "
        f"{data['model_trained_through'][:10]}; "
        "volatility: std of the log return from the last close to that step's close, from "
        "the quantiles; EWMA vol: the same from past returns (lambda 0.94)",
    )
    for col in ("step", "closes at", "q10", "median", "q90", "volatility", "EWMA vol"):
        table.add_column(col, justify="right")
    for s, ewma in zip(data["horizons"], data["volatility_ewma"], strict=True):
        p = s["price"]
        table.add_row(
            str(s["step"]), s["target_close_time"][:16], f"{p['q10']:,.2f}",
            f"{p['q50']:,.2f}", f"{p['q90']:,.2f}", f"{s['volatility']:.2%}", f"{ewma:.2%}",
        )  # fmt: skip
    out.print(table)
    if data["uses_future_data"]:
        err.print(
            "[yellow]warning:[/] this model was trained on bars after the forecast time, "
            "so this is not an out-of-sample forecast"
        )
