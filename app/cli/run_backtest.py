"""``tiller run backtest``: the agent walked through history against buy-and-hold."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from app.cli._common import container, err, handle_errors, out, print_json, safe
from app.cli._progress import ProgressView
from core.timeutil import parse_utc


def backtest(
    symbol: Annotated[str, typer.Option(help="e.g. AAPL or BTC/USDT")],
    start: Annotated[str, typer.Option(help="First decision at the first close on or after.")],
    end: Annotated[str, typer.Option(help="Last bar of the window (UTC).")],
    every: Annotated[str, typer.Option(help="Time between decisions, e.g. 1d, 1w.")] = "1w",
    timeframe: Annotated[str, typer.Option(help="Bars the agent reads, e.g. 1d, 4h.")] = "1d",
    kb: Annotated[
        bool, typer.Option("--kb/--no-kb", help="Let the analyst read the knowledge base.")
    ] = True,
    steps: Annotated[bool, typer.Option(help="Include every decision in JSON.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Backtest the agent: the whole graph at each step, as of that step (nothing from the
    future), fills at the next bar's open, on a throwaway paper account."""
    _backtest(symbol, start, end, every, timeframe, kb, steps, json_)


@handle_errors
def _backtest(
    symbol: str, start: str, end: str, every: str, timeframe: str, kb: bool, steps: bool,
    json_: bool,
) -> None:  # fmt: skip
    from app.services.agent_backtest import AgentBacktestRequest, backtest_agent_run

    request = AgentBacktestRequest(
        symbol=symbol, start=parse_utc(start, name="--start"), end=parse_utc(end, name="--end"),
        every=every, timeframe=timeframe, knowledge_base=kb,
    )  # fmt: skip
    with ProgressView(err, enabled=not json_) as view:

        def progress(line: dict[str, Any]) -> None:
            note = f"{line['as_of'][:10]} {line['outcome']}, equity {float(line['equity']):,.0f}"
            view.update("steps", f"agent on {request.symbol}", line["step"], line["steps"], note)

        report = backtest_agent_run(container(), request, progress)
    if json_:
        print_json(report.model_dump(mode="json", exclude=None if steps else {"steps"}))
    else:
        print_report(report)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:,.2f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def print_report(report: Any) -> None:
    a, b = report.agent, report.buy_hold
    table = Table(
        title=f"The agent on {report.symbol} {report.timeframe}, deciding every {report.every}",
        caption=f"{report.first_decision:%Y-%m-%d} → {report.final_mark:%Y-%m-%d}; reasoned by "
        f"{report.reasoned_by}; fills at the next bar's open; buy-and-hold without costs",
    )
    table.add_column("")
    table.add_column("agent", justify="right")
    table.add_column("buy-and-hold", justify="right")
    for row in (
        ("final equity", f"{a.final_equity:,.2f}", f"{b.final_equity:,.2f}"),
        ("total return", _pct(a.total_return), _pct(b.total_return)),
        ("Sharpe", _num(a.sharpe), _num(b.sharpe)),
        ("max drawdown", _pct(a.max_drawdown), _pct(b.max_drawdown)),
    ):
        table.add_row(*row)
    out.print(table)
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items()))
    llm = report.llm
    out.print(
        f"{report.decisions} decisions ({outcomes}); {report.orders} orders, {report.trades} "
        f"fills, fees {report.fees_paid:,.2f}; LLM calls {llm.calls} ({llm.cached} cached), "
        f"{llm.prompt_tokens + llm.completion_tokens:,} tokens, ${llm.cost_usd}; "
        f"{report.elapsed_s:.1f} s ({_num(report.decisions_per_s)} decisions/s once the "
        "models were loaded)",
        highlight=False,
    )
    for note in report.notes:
        out.print(f"note: {safe(note)}", highlight=False)
