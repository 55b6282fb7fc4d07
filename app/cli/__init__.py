"""The ``tiller`` command. Heavy libraries are imported inside the commands that need
them so ``tiller --help`` stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from app.cli import audit as _audit
from app.cli import backtest as _backtest
from app.cli import data as _data
from app.cli import forecast as _forecast
from app.cli import kb as _kb
from app.cli import policy as _policy
from app.cli import risk as _risk
from app.cli import run as _run
from app.cli import strategy as _strategy
from app.cli._common import TillerGroup, handle_errors, out

if TYPE_CHECKING:
    from core.settings import Settings

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


@app.command()
@handle_errors
def demo() -> None:
    """The offline default job (`make run`): backtest the presets on bundled AAPL data."""
    from app.cli._common import container
    from tools.backtest import run_backtest
    from tools.strategy import preset

    store = container().store
    frame = store.bars("AAPL", "1d")
    out.print(
        f"[bold]Tiller demo[/] — offline, on bundled daily AAPL prices "
        f"({len(frame):,} bars, {frame.index[0]:%Y-%m-%d} → {frame.index[-1]:%Y-%m-%d}; "
        "public domain, from bokeh-sampledata)\n"
    )
    for name in ("buy-hold", "sma-cross", "rsi-reversion"):
        result = run_backtest(preset(name), frame, symbol="AAPL", timeframe="1d")
        _backtest.print_report(result)
    _demo_knowledge_base(store_settings=container().settings)
    out.print(
        "Next: `tiller data list`, `tiller backtest --preset sma-cross --symbol MSFT`, "
        "`tiller data import PATH` for your own bars, `tiller kb ingest PATH` for filings, "
        '`tiller ask "..."`.'
    )


def _demo_knowledge_base(store_settings: Settings) -> None:
    """Ingest the bundled primers (once) and answer one question from them, offline."""
    from rag_index.service import KnowledgeBase

    question = "How does a trailing stop work in a backtest?"
    with KnowledgeBase.open(store_settings) as kb:
        report = kb.ensure_primers()
        answer = kb.ask(question, use_llm=False)
        primers = len(kb.documents("primers"))
    out.print(
        f"\n[bold]Knowledge base[/] — {primers} bundled primers searchable "
        f"({len(report.added)} ingested now, {len(report.unchanged)} already in).\n"
        f"[bold]Q:[/] {question}\n[bold]A:[/] {escape(answer.text)}"
    )
    _kb.print_citations(answer)


@app.command()
def version() -> None:
    """Print Tiller's version."""
    from importlib.metadata import version as _v

    out.print(_v("tiller"))


def main() -> None:
    app()
