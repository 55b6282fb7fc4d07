"""``tiller data``: list, show, import, fetch and check market data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from app.cli._common import Failure, container, err, handle_errors, out, print_json, safe
from core.errors import ConfigError, DataError
from core.timeutil import parse_utc

app = typer.Typer(
    help="Market data: the local store, imports and live fetching.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command("list")
@handle_errors
def list_(json_: JsonOpt = False) -> None:
    """Every stored series: symbol, timeframe, first and last bar, row count."""
    infos = container().store.catalog()
    if json_:
        print_json([i.to_json() for i in infos])
        return
    table = Table(title="Stored market data")
    for col in ("symbol", "timeframe", "first", "last", "rows", "source"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for i in infos:
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
    store = container().store
    when = parse_utc(as_of, name="--as-of") if as_of else None
    frame = store.bars(symbol, timeframe, as_of=when).tail(tail)
    if json_:
        print_json(
            [
                {"open_time": t.isoformat(), **{k: float(v) for k, v in row.items()}}
                for t, row in frame.iterrows()
            ]
        )
        return
    table = Table(title=f"{symbol.upper()} {timeframe} (last {len(frame)})")
    for col in ("open_time", "open", "high", "low", "close", "volume"):
        table.add_column(col, justify="left" if col == "open_time" else "right")
    for t, row in frame.iterrows():
        table.add_row(
            _day(t.isoformat()), *(f"{row[c]:,.6g}" for c in ("open", "high", "low", "close")),
            f"{row['volume']:,.0f}",
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
    from tools.market_data import MAX_QUIET_CHANGE, import_path

    if keep_stored and replace:
        raise ConfigError("--keep-stored and --replace contradict each other: pick one")
    store = container().store
    result = import_path(
        store, path, symbol=symbol, timeframe=timeframe, replace=not keep_stored,
        max_change=None if replace else MAX_QUIET_CHANGE,
        on_file=None if json_ else (lambda p: err.print(f"importing {safe(p.name)}…")),
    )  # fmt: skip
    if json_:
        refused = f"{len(result.failed)} file(s) refused, see 'failed'"
        failure = Failure("data_error", refused, None, DataError.exit_code)
        print_json({**result.to_json(), **(failure.to_json() if result.failed else {})})
    else:
        for r in result.written:
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
                out.print(f"  largest change: {r.largest_change.describe()}", highlight=False)
        for _path, msg in result.failed:
            err.print(f"[red]✗[/] {escape(msg)}", highlight=False, soft_wrap=True)
    if result.failed:
        raise typer.Exit(3 if result.written else DataError.exit_code)


@app.command()
@handle_errors
def restore(
    symbol: Annotated[str, typer.Argument(help="e.g. AAPL or BTC/USDT")],
    timeframe: Annotated[str, typer.Argument(help="e.g. 1d, 1h")],
    json_: JsonOpt = False,
) -> None:
    """Undo the last write to a series (an import or a fetch): put back the version it
    replaced. The current version is kept in its place, so running it again redoes."""
    info = container().store.restore(symbol, timeframe)
    if json_:
        print_json(info.to_json())
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
    frame = container().store.gaps(symbol, timeframe)
    records = [
        {"start": r.start.isoformat(), "end": r.end.isoformat(), "missing": int(r.missing)}
        for r in frame.itertuples()
    ]
    if json_:
        print_json(records)
        return
    if not records:
        out.print(f"{symbol.upper()} {timeframe}: no gaps")
    for r in records:
        out.print(f"{r['start']} → {r['end']}: {r['missing']} bar(s) missing")


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
    from tools.market_data import fetch_to_store, make_exchange

    c = container()
    start = parse_utc(since, name="--since") if since else None
    end = parse_utc(until, name="--until") if until else None
    if start is None and not c.store.has(symbol, timeframe):
        raise ConfigError(
            f"nothing stored for {symbol} {timeframe} yet; pass --since (e.g. --since 2024-01-01)"
        )
    ex = make_exchange(exchange, c.settings)
    report = fetch_to_store(
        c.store, ex, symbol, timeframe, since=start, until=end, clock=c.clock,
        max_retries=c.settings.exchange_max_retries,
        on_page=None if json_ else (lambda n: err.print(f"  page: {n} bars", highlight=False)),
    )  # fmt: skip
    if json_:
        print_json(report.to_json())
    else:
        out.print(f"[green]✓[/] {report.to_json()}")
