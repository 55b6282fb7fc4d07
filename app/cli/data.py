"""``tiller data``: list, show, import, fetch and check market data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from app.cli._common import container, err, handle_errors, out, print_json, safe
from app.services import market
from core.errors import DataError
from core.timeutil import parse_utc

app = typer.Typer(
    help="Market data: the local store, imports and live fetching.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command("list")
@handle_errors
def list_(json_: JsonOpt = False) -> None:
    """Every stored series: symbol, timeframe, first and last bar, row count."""
    infos = market.catalog(container())
    if json_:
        print_json(infos.model_dump(mode="json"))
        return
    table = Table(title="Stored market data")
    for col in ("symbol", "timeframe", "first", "last", "rows", "source"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for i in infos.root:
        table.add_row(
            i.symbol, i.timeframe, _day(i.first), _day(i.last), f"{i.rows:,}", ", ".join(i.sources)
        )
    out.print(table)


def _day(value: object) -> str:
    return "" if value is None else str(value)[:16].replace("T", " ")


@app.command()
@handle_errors
def show(
    symbol: Annotated[str, typer.Argument(help="e.g. AAPL or BTC/USDT")],
    timeframe: Annotated[str, typer.Argument(help="e.g. 1d, 4h, 1h")] = "1d",
    tail: Annotated[int, typer.Option(help="Show the last N bars.", min=1)] = 10,
    as_of: Annotated[str | None, typer.Option(help="Only bars closed by then (UTC).")] = None,
    json_: JsonOpt = False,
) -> None:
    """The last bars of a series (resampled from a finer stored timeframe if needed)."""
    when = parse_utc(as_of, name="--as-of") if as_of else None
    view = market.bars(container(), symbol, timeframe, as_of=when, limit=tail)
    if json_:
        print_json(market.BarList(view.bars).model_dump(mode="json"))
        return
    table = Table(title=f"{view.symbol} {timeframe} (last {len(view.bars)})")
    for col in ("open_time", "open", "high", "low", "close", "volume"):
        table.add_column(col, justify="left" if col == "open_time" else "right")
    for bar in view.bars:
        table.add_row(
            _day(bar.open_time.isoformat()),
            *(f"{getattr(bar, c):,.6g}" for c in ("open", "high", "low", "close")),
            f"{bar.volume:,.0f}",
        )  # fmt: skip
    out.print(table)


@app.command("import")
@handle_errors
def import_(
    path: Annotated[Path, typer.Argument(help="A .csv/.csv.gz/.parquet file or a folder of them")],
    symbol: Annotated[
        str | None, typer.Option(help="Symbol, if the file name does not say.")
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe (default: inferred).")] = None,
    keep_stored: Annotated[
        bool, typer.Option("--keep-stored", help="Refuse to overwrite stored bars that differ.")
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite stored bars even when a price moves by more than 5% (refused "
            "otherwise); `tiller data restore` undoes it.",
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Import your own bars. Each file is validated whole; a bad file is reported with the
    row at fault and skipped, and the others still import. A file that would move stored
    prices by more than 5% is refused unless --replace."""
    result = market.import_bars(
        container(), path, symbol=symbol, timeframe=timeframe, keep_stored=keep_stored,
        replace=replace,
        on_file=None if json_ else (lambda p: err.print(f"importing {safe(p.name)}…")),
    )  # fmt: skip
    if json_:
        print_json(
            result.model_dump(mode="json", exclude={"error"} if result.error is None else None)
        )
    else:
        for r in result.imported:
            out.print(
                f"[green]✓[/] {r.symbol} {r.timeframe}: {r.added:,} added, {r.updated:,} updated, "
                f"{r.unchanged:,} unchanged ({r.total:,} stored)"
                + (
                    f"; {r.gaps} gap(s), {r.missing_bars:,} bar(s) missing "
                    f"(`tiller data gaps {r.symbol} {r.timeframe}`)"
                    if r.gaps
                    else ""
                )
            )
            if r.updated and r.largest_change is not None:
                out.print(f"  largest change: {_change(r.largest_change)}", highlight=False)
        for refused in result.failed:
            err.print(f"[red]✗[/] {escape(refused.error)}", highlight=False, soft_wrap=True)
    if result.failed:
        raise typer.Exit(DataError.exit_code)


def _change(change: market.BarChangeView) -> str:
    return (f"{change.field} at {change.open_time.isoformat()} from {change.old:,.6g} to "
            f"{change.new:,.6g} ({change.relative:+.1%})")  # fmt: skip


@app.command()
@handle_errors
def restore(
    symbol: Annotated[str, typer.Argument(help="e.g. AAPL or BTC/USDT")],
    timeframe: Annotated[str, typer.Argument(help="e.g. 1d, 1h")],
    json_: JsonOpt = False,
) -> None:
    """Undo the last write to a series (an import or a fetch): put back the version it
    replaced. The current version is kept in its place, so running it again redoes."""
    info = market.restore(container(), symbol, timeframe)
    if json_:
        print_json(info.model_dump(mode="json"))
        return
    out.print(
        f"[green]✓[/] {info.symbol} {info.timeframe} restored to its previous version: "
        f"{info.rows:,} bars, {_day(info.first)} → {_day(info.last)} "
        "(run it again to undo)",
        highlight=False,
    )


@app.command()
@handle_errors
def gaps(
    symbol: Annotated[str, typer.Argument(help="e.g. AAPL or BTC/USDT")],
    timeframe: Annotated[str, typer.Argument(help="e.g. 1d, 1h")] = "1d",
    json_: JsonOpt = False,
) -> None:
    """Missing bars in a stored series (a stock is expected on NYSE trading days only:
    weekends and market holidays are not gaps; a crypto pair trades every day)."""
    found = market.gaps(container(), symbol, timeframe)
    if json_:
        print_json(found.model_dump(mode="json"))
        return
    if not found.root:
        out.print(f"{symbol.upper()} {timeframe}: no gaps")
    for r in found.root:
        out.print(f"{r.start.isoformat()} → {r.end.isoformat()}: {r.missing} bar(s) missing")


@app.command()
@handle_errors
def fetch(
    exchange: Annotated[str, typer.Argument(help="ccxt exchange id, e.g. binance")],
    symbol: Annotated[str, typer.Argument(help="Unified symbol, e.g. BTC/USDT")],
    timeframe: Annotated[str, typer.Argument(help="e.g. 1h, 1d")],
    since: Annotated[str | None, typer.Option(help="Start (UTC); default: resume.")] = None,
    until: Annotated[str | None, typer.Option(help="End (UTC); default: now.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Download bars through ccxt into the store, resuming where the store ends."""
    report = market.fetch(
        container(), exchange, symbol, timeframe,
        since=parse_utc(since, name="--since") if since else None,
        until=parse_utc(until, name="--until") if until else None,
        on_page=None if json_ else (lambda n: err.print(f"  page: {n} bars", highlight=False)),
    )  # fmt: skip
    if json_:
        print_json(report.model_dump(mode="json"))
    else:
        span = f"{_day(report.first)} → {_day(report.last)}" if report.first else "no new bars"
        out.print(f"[green]✓[/] {report.symbol} {report.timeframe}: {report.fetched:,} bars "
                  f"fetched in {report.pages} page(s), {report.added:,} added, "
                  f"{report.updated:,} updated ({span})", highlight=False)  # fmt: skip
