"""``tiller audit``: check the hash-chained audit log and read its latest entries."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from app.cli._common import container, err, handle_errors, out, print_json, safe
from app.services import audit as audit_service

app = typer.Typer(
    help="The append-only, hash-chained audit log: verify it, read its tail.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command()
@handle_errors
def verify(
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="HASH",
            help="A head hash kept outside this machine (printed by an earlier verify): "
            "the chain must still contain it, or it was shortened or rewritten.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Recompute every hash (HMAC with the audit key) from the first entry. Exit 0 when the
    chain is intact; exit 9 (and name the first bad entry) when an entry was edited,
    deleted, reordered or forged, when the chain is shorter than a head recorded outside
    the database (or given with --expect-head), or when the ledger cannot be read."""
    from core.ledger import AUDIT_BROKEN_EXIT

    c = container()
    with c.ledger:
        # The service halts trading when the chain is broken, as every entry point does.
        report = audit_service.verify(c, expect_head=expect_head)
    if json_:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        keyed = f"keyed from seq {report.keyed_from}" if report.keyed_from else "not keyed yet"
        out.print(
            f"[green]audit log intact[/]: {report.entries:,} entries ({keyed}), "
            f"head {report.head_seq} {report.head_hash}",
            highlight=False,
        )
        for ack in report.acknowledged:
            out.print(
                f"entries {ack['first_bad_seq']}..{ack['ack_seq'] - 1} unverified: break "
                f"acknowledged by {safe(ack['operator'])} at seq {ack['ack_seq']} "
                f"({safe(ack['reason'])})",
                highlight=False,
            )
    else:
        where = "" if report.first_bad_seq is None else f" at seq {report.first_bad_seq}"
        err.print(
            f"[bold red]audit log broken[/]{where} "
            f"({report.problem or '?'}): {safe(str(report.detail))}",
            highlight=False,
            soft_wrap=True,
        )
        if report.first_bad_entry is not None:
            err.print(safe(str(report.first_bad_entry)), highlight=False, soft_wrap=True)
        if report.halted_now:
            err.print("trading halted now (`tiller risk status` shows it)", highlight=False)
    if not report.ok:
        raise typer.Exit(AUDIT_BROKEN_EXIT)


@app.command()
@handle_errors
def tail(
    n: Annotated[
        int, typer.Option("-n", "--lines", help="How many entries.", min=1, max=1_000_000)
    ] = 20,
    json_: JsonOpt = False,
) -> None:
    """The latest entries, oldest first."""
    c = container()
    with c.ledger:
        entries = audit_service.tail(c, n)
    if json_:
        print_json(entries.model_dump(mode="json"))
        return
    table = Table(title=f"Audit log: last {len(entries.root)} entries")
    for col in ("seq", "at (UTC)", "kind", "payload", "hash"):
        table.add_column(col, justify="right" if col == "seq" else "left", overflow="fold")
    for e in entries.root:
        at = e.at.isoformat().replace("+00:00", "Z")
        table.add_row(str(e.seq), at, e.kind, safe(_short(e.payload)), e.hash[:12])
    out.print(table)


def _short(payload: Any, limit: int = 120) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
