"""``tiller train policy``, ``tiller policy act`` and ``tiller policy report``.

Policies come from the user registry first, then the defaults shipped in
``policies/trained/policy`` (trained by this code on the bundled data).
"""

from __future__ import annotations

import math
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
from core.errors import ConfigError
from core.timeutil import parse_utc

app = typer.Typer(help="The GA-evolved PPO trading policy.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SymbolOpt = Annotated[str, typer.Option(help="e.g. AAPL or BTC/USDT")]
TimeframeOpt = Annotated[str, typer.Option(help="e.g. 1d, 4h, 1h")]

if TYPE_CHECKING:
    from tools.forecaster import EpochReport
    from tools.policy import EvaluationProgress, GenerationReport, TrainProgress


@handle_errors
def train_policy(
    symbol: SymbolOpt = "AAPL",
    timeframe: TimeframeOpt = "1d",
    generations: Annotated[int, typer.Option(min=1, max=10_000, help="GA generations.")] = 5,
    population: Annotated[
        int, typer.Option(min=2, max=10_000, help="Candidates per generation.")
    ] = 8,
    timesteps: Annotated[
        int, typer.Option(min=100, max=10**9, help="PPO steps per training run.")
    ] = 5000,
    seeds: Annotated[str, typer.Option(help="Training seeds per fitness, e.g. 0,1,2.")] = "0,1,2",
    workers: Annotated[int, typer.Option(min=1, help="Processes evaluating fitness.")] = 1,
    backend: Annotated[
        str, typer.Option(help="process (worker processes here) or ray (Ray tasks).")
    ] = "process",
    address: Annotated[
        str | None,
        typer.Option(
            help="With --backend ray: the cluster (ray://HOST:10001); default a "
            "local Ray started for this search with --workers CPUs."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed of the search.")] = 0,
    long_only: Annotated[bool, typer.Option(help="Never short.")] = False,
    forecast: Annotated[
        bool,
        typer.Option(
            help="Let the search try the forecaster's output as observation channels "
            "(fits one small forecaster first: a few seconds)."
        ),
    ] = True,
    output: Annotated[Path | None, typer.Option(help="Registry folder.")] = None,
    restart: Annotated[bool, typer.Option(help="Ignore a checkpoint of this search.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Evolve PPO hyperparameters, observation (window, features, forecast channels) and
    reward shaping on a validation window, train the winner, and report it on a test
    window neither step touched. Resumable: each generation is checkpointed."""
    from app.services.models import PolicyTrainRequest, parse_seeds
    from app.services.models import train_policy as run

    request = PolicyTrainRequest(
        symbol=symbol, timeframe=timeframe, generations=generations, population=population,
        timesteps=timesteps, seeds=parse_seeds(seeds), workers=workers, seed=seed,
        backend=_backend(backend, address), ray_address=address,
        long_only=long_only, forecast=forecast, restart=restart,
        output=writable_folder(output, "--output") if output is not None else None,
    )  # fmt: skip
    with ProgressView(err, enabled=not json_) as view:
        trained = run(container(), request, _train_progress(view, generations))
    if json_:
        print_json(trained.model_dump(mode="json"))
    else:
        out.print(f"saved {safe(trained.policy_id)} to {safe(trained.folder)}")
        _print_report(trained.policy_id, trained.report)


def _backend(backend: str, address: str | None) -> str:
    if backend not in ("process", "ray"):
        raise ConfigError(f"--backend must be process or ray, not {backend!r}")
    if address is not None and backend != "ray":
        raise ConfigError("--address is the Ray cluster's: give it with --backend ray")
    return backend


def _train_progress(view: ProgressView, generations: int) -> TrainProgress:
    """What ``tiller train policy`` shows while it works (on stderr)."""
    from tools.policy import TrainProgress

    def epoch(r: EpochReport) -> None:
        epoch_update(view, "forecast", "channel forecaster, epochs", r)

    def evaluation(p: EvaluationProgress) -> None:
        label = "initial population" if p.generation == 0 else (
            f"generation {p.generation}/{generations}")  # fmt: skip
        best = "" if math.isnan(p.best_fitness) else f"best so far {p.best_fitness:.3f}"
        view.update(f"generation {p.generation}", f"{label}, candidates", p.done, p.total, best)

    def generation(r: GenerationReport) -> None:
        view.log(f"generation {r.generation}/{generations} done: best fitness "
                 f"{r.best_fitness:.3f}, population mean {r.mean_fitness:.3f}, "
                 f"{r.evaluated} candidates scored so far")  # fmt: skip

    def timesteps(stage: str, done: int, total: int) -> None:
        view.update(stage, f"PPO steps, {stage}", done, total)

    return TrainProgress(epoch, evaluation, generation, timesteps)


@app.command()
@handle_errors
def act(
    symbol: SymbolOpt = "AAPL",
    timeframe: TimeframeOpt = "1d",
    position: Annotated[int, typer.Option(min=-1, max=1, help="Current position: -1, 0 or 1.")] = 0,
    as_of: Annotated[str | None, typer.Option(help="Decide on bars closed by then.")] = None,
    json_: JsonOpt = False,
) -> None:
    """The policy's action after the last closed bar (it would fill at the next open)."""
    from app.services.models import policy_act

    when = parse_utc(as_of, name="--as-of") if as_of else None
    decision = policy_act(container(), symbol, timeframe, position, as_of=when)
    if json_:
        print_json(decision.model_dump(mode="json"))
        return
    names = {-1: "SHORT", 0: "FLAT", 1: "LONG"}
    out.print(f"{symbol.upper()} {timeframe}: {names[decision.target_position]} "
              f"(confidence {decision.confidence:.0%}, policy {safe(decision.policy_id)}, "
              f"as of the bar opened {decision.as_of:%Y-%m-%d %H:%M})")  # fmt: skip
    if decision.uses_future_data:
        err.print("warning: this policy was trained on data after --as-of")


@app.command()
@handle_errors
def report(
    symbol: SymbolOpt = "AAPL", timeframe: TimeframeOpt = "1d", json_: JsonOpt = False
) -> None:
    """The latest policy's test-window results against buy-and-hold, the SMA-cross preset
    and plain PPO, with bootstrap intervals of the Sharpe difference, and its deflated
    Sharpe ratio (the probability its true Sharpe beats the best of the search's trials
    by luck)."""
    from app.services.models import policy_report

    card = policy_report(container(), symbol, timeframe)
    if json_:
        print_json(card.model_dump(mode="json"))
    else:
        _print_report(card.policy_id, card.test or {})


def _print_report(policy_id: str, test: dict[str, Any]) -> None:
    table = Table(title=f"{safe(policy_id)}: test window (untouched by training and evolution)")
    for col in ("strategy", "return", "Sharpe", "max DD", "turnover", "Sharpe diff [95% CI]"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    rows = [("evolved PPO", test.get("policy", {}), None)]
    rows += [(name, b.get("metrics", {}), b.get("sharpe_diff"))
             for name, b in test.get("baselines", {}).items()]  # fmt: skip
    for name, m, diff in rows:
        ci = "" if diff is None else (f"{diff['point']:+.2f} [{diff['low']:+.2f}, "
                                      f"{diff['high']:+.2f}] {diff['verdict']}")  # fmt: skip
        cells = (
            f"{m.get('total_return', 0):.1%}",
            f"{m.get('sharpe', 0):.2f}",
            f"{m.get('max_drawdown', 0):.1%}",
            f"{m.get('turnover', 0):.1f}",
        )
        table.add_row(name, *cells, ci)
    out.print(table)
    out.print(_deflated_line(test))
    out.print("An out-of-sample comparison: if the evolved policy loses, that is the result.")


def _deflated_line(test: dict[str, Any]) -> str:
    if "deflated_sharpe" not in test:
        return ("Deflated Sharpe ratio: not in this card (trained before it was reported); "
                "retrain with `tiller train policy` to get it.")  # fmt: skip
    d = test["deflated_sharpe"]
    if d is None:
        return f"Deflated Sharpe ratio: not computed ({test.get('deflated_sharpe_note', '')})."
    return (
        f"Deflated Sharpe ratio {d['dsr']:.2f}: the probability that the true Sharpe beats "
        f"{d['expected_max_sharpe']:.2f}, what the best of {d['trials']} trials reaches by luck "
        f"(trial Sharpe std {d['trial_sharpe_std']:.2f}); against 0 alone (PSR) "
        f"{d['psr']:.2f}. From {d['n_returns']} test returns, skew {d['skew']:.2f}, "
        f"kurtosis {d['kurtosis']:.1f}."
    )
