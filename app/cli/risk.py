"""``tiller risk``: status, the kill switch, and the only way back.

``halt`` works without the API running and whatever else is misconfigured: it opens
the ledger (and the broker, if it can) itself, records HALTED first, then cancels every
working order at the venue. A broken audit chain halts trading here too
(``app.services.risk``).
"""

from __future__ import annotations

import getpass
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from app.cli._common import container, err, handle_errors, out, print_json, safe
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
    from app.services.risk import hold_if_chain_broken

    chain = hold_if_chain_broken(c)  # before anything that could fail on other settings
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
    return {
        "venue": executor.venue,
        "state": state.to_dict(),
        "audit_chain_ok": chain.ok,
        "audit_chain": chain.model_dump(mode="json"),
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
    state, chain = data["state"], data["audit_chain"]
    out.print(f"[bold]{data['venue']}[/]: {state['trading_state'].upper()}"
              + (f" — {safe(state['halted_reason'])}" if state.get("halted_reason") else ""),
              highlight=False)  # fmt: skip
    out.print(f"equity {data['equity']}  P&L today {data['pnl_today']}  "
              f"gross {data['exposure']['gross']}  net {data['exposure']['net']}  "
              f"working orders {data['working_orders']}  audit chain "
              f"{'ok' if chain['ok'] else 'BROKEN'}")  # fmt: skip
    if not chain["ok"]:
        where = "" if chain["first_bad_seq"] is None else f" at seq {chain['first_bad_seq']}"
        out.print(f"[bold red]audit chain broken[/]{where} "
                  f"({chain['problem']}): {safe(str(chain['detail']))}"
                  + (" — trading halted now" if chain["halted_now"] else ""),
                  highlight=False, soft_wrap=True)  # fmt: skip
    for ack in chain["acknowledged"]:
        out.print(f"audit entries {ack['first_bad_seq']}..{ack['ack_seq'] - 1} are unverified, "
                  f"acknowledged by {safe(ack['operator'])} at seq {ack['ack_seq']}: "
                  f"{safe(ack['reason'])}", highlight=False, soft_wrap=True)  # fmt: skip
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
    """Kill switch: set HALTED (nothing is sent after that), then cancel working orders.
    Works whatever else is misconfigured (limits, token key, venue): those are warnings."""
    from app.bootstrap import build_lenient
    from app.services.risk import halt as halt_service

    built = build_lenient()
    outcome = halt_service(
        built.container, reason, operator=getpass.getuser(), problems=built.problems,
        ignored_settings=built.ignored,
    )  # fmt: skip
    if json_:
        print_json(outcome.model_dump(mode="json"))
    else:
        for warning in outcome.warnings:
            err.print(f"[yellow]warning:[/] {safe(warning)}", highlight=False, soft_wrap=True)
        out.print(f"[bold red]HALTED[/] ({outcome.venue}): {len(outcome.canceled)} order(s) "
                  "cancelled" + (f", {len(outcome.failed)} could not be (retry `tiller risk "
                                 "halt`)" if outcome.failed else ""), highlight=False)  # fmt: skip
    if outcome.failed:
        raise typer.Exit(5)


@app.command()
@handle_errors
def resume(
    reason: Annotated[str, typer.Option(help="Why it is safe to trade again (required).")],
    operator: Annotated[str | None, typer.Option(help="Who decides (default: OS user).")] = None,
    acknowledge_broken_chain: Annotated[
        bool,
        typer.Option(
            "--acknowledge-broken-chain",
            help="Resume although the audit chain is broken; the break and --reason are "
            "recorded in the audit log as acknowledged by --operator.",
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Leave HALTED or REDUCING: the only way back, recorded with a reason. Refused (exit 9)
    while the audit chain is broken, unless an admin acknowledges the break."""
    from app.services.risk import resume as resume_service

    outcome = resume_service(
        container(), reason, operator=operator or getpass.getuser(),
        acknowledge_broken_chain=acknowledge_broken_chain,
    )  # fmt: skip
    if json_:
        print_json({**outcome.state, "acknowledged_seq": outcome.acknowledged_seq})
        return
    if outcome.acknowledged_seq is not None:
        out.print(f"audit chain break acknowledged (audit entry {outcome.acknowledged_seq})")
    out.print(f"[green]{outcome.state['trading_state'].upper()}[/] — resumed: {safe(reason)}",
              highlight=False)  # fmt: skip
