"""``tiller risk``: status, the kill switch, and the only way back.

``halt`` works without the API running: it opens the ledger and the broker itself,
records HALTED first, then cancels every working order at the venue.
"""

from __future__ import annotations

import getpass
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from app.cli._common import container, handle_errors, out, print_json
from core.errors import NotFoundError

app = typer.Typer(help="The risk officer: state, limits, kill switch.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _marks(c: Any, symbols: list[str]) -> dict[str, Decimal | None]:
    marks: dict[str, Decimal | None] = {}
    for symbol in symbols:
        try:
            frame = c.store.bars(symbol, "1d", as_of=c.clock.now())
            marks[symbol] = Decimal(str(frame["close"].iloc[-1])) if len(frame) else None
        except NotFoundError:
            marks[symbol] = None
    return marks


def status_data(c: Any) -> dict[str, Any]:
    executor = c.executor()
    state = executor.risk_state()
    positions = c.ledger.positions(venue=executor.venue)
    marks = _marks(c, [str(p.symbol) for p in positions])
    rows, gross, net, unpriced = [], Decimal(0), Decimal(0), []
    for p in positions:
        price = marks[str(p.symbol)]
        value = None if price is None else p.quantity * price
        if value is None:
            unpriced.append(str(p.symbol))
        else:
            gross, net = gross + abs(value), net + value
        rows.append({"symbol": str(p.symbol), "quantity": str(p.quantity),
                     "mark": None if price is None else str(price),
                     "value": None if value is None else str(value)})  # fmt: skip
    balances = {b.currency: b.free + b.used for b in c.ledger.balances(venue=executor.venue)}
    cash = balances.get(c.settings.paper_currency, c.settings.paper_cash)
    equity = cash + net
    chain = c.ledger.audit.verify()
    return {
        "venue": executor.venue,
        "state": state.to_dict(),
        "audit_chain_ok": chain.ok,
        "equity": str(equity),
        "pnl_today": str(equity - state.day_start_equity),
        "exposure": {"gross": str(gross), "net": str(net), "unpriced": unpriced},
        "positions": rows,
        "working_orders": len(c.ledger.working_orders(venue=executor.venue)),
        "limits": {k: _plain(v) for k, v in c.limits.as_dict().items()},
        "limits_hash": c.limits.limits_hash(),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value)
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value if isinstance(value, bool | int | str) or value is None else str(value)


@app.command()
@handle_errors
def status(json_: JsonOpt = False) -> None:
    """Trading state, limits, exposure and today's P&L."""
    data = status_data(container())
    if json_:
        print_json(data)
        return
    state = data["state"]
    out.print(f"[bold]{data['venue']}[/]: {state['trading_state'].upper()}"
              + (f" — {state['halted_reason']}" if state.get("halted_reason") else ""))  # fmt: skip
    out.print(f"equity {data['equity']}  P&L today {data['pnl_today']}  "
              f"gross {data['exposure']['gross']}  net {data['exposure']['net']}  "
              f"working orders {data['working_orders']}  audit chain "
              f"{'ok' if data['audit_chain_ok'] else 'BROKEN'}")  # fmt: skip
    table = Table(title="limits")
    table.add_column("limit")
    table.add_column("value", justify="right")
    for key, value in data["limits"].items():
        table.add_row(key, str(value))
    out.print(table)


@app.command()
@handle_errors
def halt(
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = "kill switch",
    json_: JsonOpt = False,
) -> None:
    """Kill switch: set HALTED (nothing is sent after that), then cancel working orders."""
    c = container()
    report = c.executor().halt(reason, operator=getpass.getuser())
    failed = [{"client_order_id": cid, "error": e} for cid, e in report.failed]
    data = {"state": report.state.to_dict(), "canceled": report.canceled, "failed": failed}
    if json_:
        print_json(data)
    else:
        out.print(f"[bold red]HALTED[/]: {len(report.canceled)} order(s) cancelled"
                  + (f", {len(report.failed)} could not be (retry `tiller risk halt`)"
                     if report.failed else ""))  # fmt: skip
    if report.failed:
        raise typer.Exit(5)


@app.command()
@handle_errors
def resume(
    reason: Annotated[str, typer.Option(help="Why it is safe to trade again (required).")],
    operator: Annotated[str | None, typer.Option(help="Who decides (default: OS user).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Leave HALTED or REDUCING: the only way back, recorded with a reason."""
    c = container()
    state = c.executor().resume(reason, operator=operator or getpass.getuser())
    if json_:
        print_json(state.to_dict())
    else:
        out.print(f"[green]{state.trading_state.value.upper()}[/] — resumed: {reason}")
