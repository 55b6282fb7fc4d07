"""The ``tiller`` command. Heavy libraries are imported inside the commands that need
them so ``tiller --help`` stays fast."""

from __future__ import annotations

import typer

from app.cli import audit as _audit
from app.cli import autopilot as _autopilot
from app.cli import backtest as _backtest
from app.cli import chat as _chat
from app.cli import data as _data
from app.cli import forecast as _forecast
from app.cli import kb as _kb
from app.cli import keys as _keys
from app.cli import policy as _policy
from app.cli import risk as _risk
from app.cli import run as _run
from app.cli import serve as _serve
from app.cli import strategy as _strategy
from app.cli import worker as _worker
from app.cli._common import TillerGroup, handle_errors, out

app = typer.Typer(
    name="tiller",
    cls=TillerGroup,
    help="Tiller, a trading copilot: agents propose, deterministic risk code disposes.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(_data.app, name="data")
app.add_typer(_audit.app, name="audit")
app.add_typer(_risk.app, name="risk")
train_app = typer.Typer(help="Train models on stored market data.", no_args_is_help=True)
train_app.command("forecaster")(_forecast.train_forecaster)
train_app.command("policy")(_policy.train_policy)
app.add_typer(train_app, name="train")
app.command("forecast")(_forecast.forecast)
app.add_typer(_policy.app, name="policy")
app.command("backtest")(_backtest.backtest)
app.add_typer(_kb.app, name="kb")
app.command("ask")(_kb.ask)
app.add_typer(_run.app, name="run")
app.add_typer(_run.runs_app, name="runs")
app.add_typer(_strategy.app, name="strategy")
app.command("chat")(_chat.chat)
app.add_typer(_keys.app, name="keys")
app.command("serve")(_serve.serve)
app.command("worker")(_worker.worker)
app.add_typer(_autopilot.app, name="autopilot")


@app.command()
@handle_errors
def demo() -> None:
    """The offline default job (`make run`): the agents decide on bundled AAPL and MSFT
    (offline rules reasoner, paper broker, copilot mode) and wait for your approval."""
    from agents.models import RunRequest
    from app.cli._common import container
    from app.services.runs import start_run

    c = container()
    frame = c.store.bars("AAPL", "1d")
    out.print(
        f"[bold]Tiller demo[/] — offline: the agents on bundled daily prices of AAPL and MSFT "
        f"({frame.index[0]:%Y-%m-%d} → {frame.index[-1]:%Y-%m-%d}; public domain, from "
        "bokeh-sampledata), the bundled news, the shipped forecaster and policy, the risk "
        "officer and the paper broker. No LLM is configured, so the offline rules reason.\n"
    )
    view = start_run(c, RunRequest(symbols=["AAPL", "MSFT"]), _run._progress(True))
    _run._print_view(view.model_dump(mode="json"))
    out.print(
        "\nThen: `tiller runs show RUN_ID --json` (the whole record), `tiller risk status`, "
        "`tiller audit verify`, `tiller backtest --preset sma-cross --symbol AAPL`, "
        '`tiller ask "How does a trailing stop work in a backtest?"`.'
    )


@app.command()
def version() -> None:
    """Print Tiller's version."""
    from importlib.metadata import version as _v

    out.print(_v("tiller"))


def main() -> None:
    app()
