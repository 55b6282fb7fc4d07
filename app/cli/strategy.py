"""``tiller strategy``: strategies in plain English, read offline into the strategy spec,
then shown or backtested with the same report as ``tiller backtest``.

A question (the text is a strategy but leaves something open) is an answer to
``parse`` and exits 0; ``backtest`` cannot run on it and exits 2. A refusal exits 2
with the reason and a hint, through the shared error boundary (one JSON error object
with ``--json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from app.cli._common import container, handle_errors, out, print_json, safe
from app.services.strategy import StrategyUnclearError
from core.timeutil import parse_utc

if TYPE_CHECKING:
    from tools.strategy import ParseOutcome

app = typer.Typer(
    help="Strategies in plain English: read one into a spec, or backtest it.",
    no_args_is_help=True,
)

TextArg = Annotated[
    str,
    typer.Argument(
        help='The strategy in English, e.g. "buy when the 10-day moving average crosses above '
        'the 50-day, sell when it crosses back below, 8% stop loss".',
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@app.command("parse")
@handle_errors
def parse(text: TextArg, json_: JsonOpt = False) -> None:
    """Read TEXT into a validated strategy spec, or ask back, or refuse.

    A question (which window? what stop?) exits 0; a refusal (not a strategy, or text
    that touches risk limits) exits 2 with the reason and a hint."""
    outcome = _read(text)
    if json_:
        from app.services.strategy import parse_view

        print_json(parse_view(outcome).model_dump(mode="json"))
    else:
        show_outcome(outcome)


@app.command("backtest")
@handle_errors
def backtest(
    text: TextArg,
    symbol: Annotated[str, typer.Option(help="e.g. AAPL or BTC/USDT", show_default=False)],
    timeframe: Annotated[str, typer.Option(help="e.g. 1d, 4h, 1h")] = "1d",
    start: Annotated[str | None, typer.Option(help="First bar (UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Last bar (UTC).")] = None,
    equity_curve: Annotated[bool, typer.Option(help="Include the equity curve in JSON.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Read TEXT into a strategy, show it, and backtest it on stored bars.

    The `tiller backtest` engine and report: signals at each close, fills at the next
    open, costs included. A question or a refusal exits 2."""
    from app.cli.backtest import print_report
    from app.services.backtests import BacktestView, run_spec
    from app.services.strategy import parse_view

    outcome = _read(text)
    if outcome.kind == "question":
        raise StrategyUnclearError(
            str(outcome.question),
            hint="say it in the text and run again; `tiller strategy parse` shows what is read",
        )
    assert outcome.spec is not None
    result = run_spec(
        container(), outcome.spec, symbol, timeframe, equity_curve=equity_curve,
        start=parse_utc(start, name="--start") if start else None,
        end=parse_utc(end, name="--end") if end else None,
    )  # fmt: skip
    if json_:
        # The API's POST /v1/backtests answer: how the text was read, and the result.
        view = BacktestView(parse=parse_view(outcome), result=result)
        omit = None if equity_curve else {"result": {"equity_curve"}}
        print_json(view.model_dump(mode="json", exclude=omit))
    else:
        show_outcome(outcome)
        print_report(result)


def _read(text: str) -> ParseOutcome:
    from app.services.strategy import read_strategy

    return read_strategy(container(), text)  # a refusal raises StrategyRefusedError


def show_outcome(outcome: ParseOutcome) -> None:
    from tools.strategy import render_strategy

    label = (
        f"[dim]({safe(outcome.source)}, no LLM)[/]"
        if outcome.source == "offline rules"
        else "[dim](read by the LLM, checked by the offline validator)[/]"
    )
    if outcome.spec is None:
        out.print(f"[bold]Question[/] {label}: {safe(outcome.question)}", soft_wrap=True)
        out.print("Nothing was read into a strategy yet: answer in the text and run again.")
    else:
        out.print(f"[bold]Strategy[/] {label}")
        for line in render_strategy(outcome.spec).splitlines():
            out.print(f"  {safe(line, one_line=True)}", soft_wrap=True)
    if outcome.notes:
        out.print("[bold]Read as[/]")
        for note in outcome.notes:
            out.print(f"  - {safe(note, one_line=True)}", soft_wrap=True)
