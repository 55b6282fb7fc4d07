"""``tiller risk``: status, the kill switch, and the only way back.

``halt`` works without the API running and whatever else is misconfigured: it opens
the ledger (and the broker, if it can) itself, records HALTED first, then cancels every
working order at the venue. A broken audit chain halts trading here too
(``app.services.risk``).
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from app.cli._common import container, err, handle_errors, out, print_json, safe

app = typer.Typer(help="The risk officer: state, limits, kill switch.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command()
@handle_errors
def status(json_: JsonOpt = False) -> None:
    """Trading state, limits, exposure and today's P&L."""
    from app.services.portfolio import risk_status

    data = risk_status(container()).model_dump(mode="json")
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
    accept_losses: Annotated[
        bool,
        typer.Option(
            "--accept-losses",
            help="Accept the losses so far: the breakers' peak and day's baseline restart at "
            "the equity marked now (recorded). Without it a loss that tripped a breaker "
            "trips it again at the next mark unless prices recover.",
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Leave HALTED or REDUCING: the only way back, recorded with a reason. Refused (exit 9)
    while the audit chain is broken, unless an admin acknowledges the break."""
    from app.services.risk import resume as resume_service

    outcome = resume_service(
        container(), reason, operator=operator or getpass.getuser(),
        acknowledge_broken_chain=acknowledge_broken_chain, accept_losses=accept_losses,
    )  # fmt: skip
    if json_:
        print_json(outcome.model_dump(mode="json"))  # as POST /v1/risk/resume answers
        return
    if outcome.acknowledged_seq is not None:
        out.print(f"audit chain break acknowledged (audit entry {outcome.acknowledged_seq})")
    out.print(f"[green]{outcome.state['trading_state'].upper()}[/] — resumed: {safe(reason)}",
              highlight=False)  # fmt: skip
    if outcome.equity_baseline is not None:
        out.print(f"losses accepted: the breakers restart at equity {outcome.equity_baseline}")
    if outcome.warning:
        err.print(f"[yellow]warning:[/] {safe(outcome.warning)}", highlight=False)
