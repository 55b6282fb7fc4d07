"""``tiller run`` and ``tiller runs``: ask the agents for a decision, approve or reject
what they propose, resume a run that was interrupted, and read the record of every run.
All of it goes through ``app/services/runs``."""

from __future__ import annotations

import getpass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli import run_backtest as _run_backtest
from app.cli._common import container, err, handle_errors, out, print_json, safe
from core.errors import ConfigError
from core.timeutil import parse_utc

if TYPE_CHECKING:
    from app.services.runs import RunView

app = typer.Typer(
    help="Run the agents: gather → analyst → forecaster → policy → proposer → risk gate → "
    "approval → execute. Without a subcommand, start a run.",
    invoke_without_command=True,
    no_args_is_help=False,
)
runs_app = typer.Typer(help="The record of agent runs.", no_args_is_help=True)
app.command("backtest")(_run_backtest.backtest)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _progress(enabled: bool) -> Any:
    def show(event: dict[str, Any]) -> None:
        if not enabled:
            return
        if event.get("status") == "started":
            err.print(f"[dim]→ {safe(event.get('node', ''))}…[/]", highlight=False)
        else:
            summary = safe(event.get("summary", ""))
            err.print(f"[green]✓ {safe(event.get('node', ''))}[/] {summary}", highlight=False)

    return show


@app.callback()
@handle_errors
def run(
    ctx: typer.Context,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", "-s", help="Symbol to decide on (repeat).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Decide as of this time (UTC).")] = None,
    mode: Annotated[str, typer.Option(help="copilot (a person approves) or auto.")] = "copilot",
    timeframe: Annotated[str, typer.Option(help="Bar timeframe the agents read.")] = "1d",
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Put one run per symbol on the run queue "
            "(TILLER_WORKER_BROKER) for `tiller worker` processes; print their ids.",
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Start an agent run on one or more symbols (progress per node on stderr)."""
    if ctx.invoked_subcommand is not None:
        return
    from agents.models import RunRequest
    from app.services.runs import start_run

    if not symbol:
        raise ConfigError("give at least one --symbol, e.g. `tiller run --symbol AAPL`")
    if mode not in ("copilot", "auto"):
        raise ConfigError(f"--mode must be copilot or auto, not {mode!r}")
    from core.types import Timeframe

    request = RunRequest(
        symbols=symbol, as_of=parse_utc(as_of, name="--as-of") if as_of else None,
        mode=mode, timeframe=str(Timeframe(timeframe)),
    )  # fmt: skip
    if queue:
        _enqueue(request, json_)
        return
    view = start_run(container(), request, _progress(not json_))
    _print(view, json_)


def _enqueue(request: Any, json_: bool) -> None:
    from app.services.runs import RunList, queue_runs

    queued = RunList(runs=queue_runs(container(), request, "cli"))
    if json_:
        print_json(queued.model_dump(mode="json"))
        return
    views = queued.model_dump(mode="json")["runs"]
    for v in views:
        symbols = ",".join(v["inputs"]["request"]["symbols"])
        out.print(f"{v['run_id']}  {safe(symbols):<12} queued", highlight=False)
    out.print("Follow them: `tiller runs list`, `tiller runs show RUN_ID` (which worker ran it)")


@app.command()
@handle_errors
def approve(
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval.")],
    qty: Annotated[str | None, typer.Option(help="Approve a smaller quantity.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    operator: Annotated[str | None, typer.Option(help="Who decides (default: OS user).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Approve what a run proposes; it then goes through the risk gate again and executes."""
    _decide(run_id, "approve", qty, reason, operator, json_)


@app.command()
@handle_errors
def reject(
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    operator: Annotated[str | None, typer.Option(help="Who decides (default: OS user).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Reject what a run proposes: nothing is sent."""
    _decide(run_id, "reject", None, reason, operator, json_)


def _decide(
    run_id: str, action: str, qty: str | None, reason: str, operator: str | None, json_: bool
) -> None:
    from agents.models import ApprovalDecision
    from app.services.runs import decide_run

    quantity = None
    if qty is not None:
        try:
            quantity = Decimal(qty)
        except InvalidOperation:
            raise ConfigError(f"--qty must be a number, not {qty!r}") from None
        if not quantity.is_finite() or quantity <= 0:
            raise ConfigError(f"--qty must be a finite number greater than 0, not {qty}")
    decision = ApprovalDecision(
        action=action, quantity=quantity, operator=operator or getpass.getuser(),
        reason=reason,
    )  # fmt: skip
    view = decide_run(container(), run_id, decision, _progress(not json_))
    _print(view, json_)


@app.command()
@handle_errors
def resume(
    run_id: Annotated[str, typer.Argument(help="A run that stopped before it finished.")],
    json_: JsonOpt = False,
) -> None:
    """Resume a run from its last checkpoint (after a crash): no step with a side effect
    is repeated (orders have deterministic ids and are never sent twice)."""
    from app.services.runs import resume_run

    view = resume_run(container(), run_id, _progress(not json_))
    _print(view, json_)


@runs_app.command("list")
@handle_errors
def list_(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    json_: JsonOpt = False,
) -> None:
    """Agent runs, newest first."""
    from app.services.runs import RunList, list_runs

    listed = RunList(runs=list_runs(container(), limit))
    if json_:
        print_json(listed.model_dump(mode="json"))
        return
    views = listed.model_dump(mode="json")["runs"]
    if not views:
        out.print("no agent runs yet: `tiller run --symbol AAPL` starts one")
    for v in views:
        symbols = ",".join(v["inputs"].get("request", {}).get("symbols", []))
        out.print(f"{v['run_id']}  {v['started_at'][:19]}  {safe(symbols):<12} "
                  f"{v['status']:<18} {v.get('outcome') or ''}", highlight=False)  # fmt: skip


@runs_app.command()
@handle_errors
def show(run_id: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """A run's whole record: inputs, every node's output, tool and LLM calls, proposals,
    risk decisions, approvals, orders and fills."""
    from app.services.runs import show_run

    view = show_run(container(), run_id).model_dump(mode="json")
    if json_:
        print_json(view)
        return
    _print_view(view)
    for w in view.get("workers") or []:
        again = ", a redelivery" if w.get("redelivered") else ""
        who = safe(str(w.get("worker", "")))
        out.print(f"[bold]run by worker:[/] {who} (pid {w.get('pid')}{again})", highlight=False)
    for e in view["events"] or []:
        out.print(f"  {e['seq']:>3} {e['at'][:19]} {e['node']:<10} {e['kind']}", highlight=False)
    if view["tampered"]:
        err.print("[bold red]record altered:[/] " + safe("; ".join(view["tampered"])))


def _print(view: RunView, json_: bool) -> None:
    if json_:
        print_json(view.model_dump(mode="json"))
    else:
        _print_view(view.model_dump(mode="json"))


def _print_view(view: dict[str, Any]) -> None:
    report = view.get("report") or {}
    outcome = report.get("outcome")
    tail = f", outcome {outcome}" if outcome and outcome != view["status"] else ""
    out.print(f"\n[bold]Run {view['run_id']}[/] — {view['status']}{tail}")
    if report.get("fixed_clock"):
        out.print(f"as of {report.get('as_of')} (stored data ends there: the clock is fixed)")
    out.print(f"[bold]reasoned by:[/] {safe(report.get('proposed_by') or '')}")
    for symbol, items in (report.get("evidence") or {}).items():
        out.print(f"[bold]evidence, {safe(symbol)}:[/]" + ("" if items else " none found"))
        for c in items:
            date = (c.get("published_at") or "")[:10]
            where = ", ".join(x for x in (c.get("title"), c.get("section"), date) if x)
            out.print(f"  [{c['n']}] {safe(c['text'][:200])} — {safe(where)}", highlight=False)
    for symbol, f in (report.get("forecasts") or {}).items():
        if f:
            out.print(f"[bold]forecast, {safe(symbol)}:[/] median {f['median_log_return']:+.2%} "
                      f"over {f['horizon']} bars, 80% [{f['q10_log_return']:+.2%}, "
                      f"{f['q90_log_return']:+.2%}] — {safe(f['note'])}")  # fmt: skip
    names = {-1: "short", 0: "flat", 1: "long"}
    for symbol, p in (report.get("policy") or {}).items():
        if p:
            out.print(f"[bold]policy, {safe(symbol)}:[/] {names[p['target_position']]} "
                      f"({p['confidence']:.0%}) — {safe(p['note'])}")  # fmt: skip
    out.print(f"[bold]decision:[/] {safe(report.get('decision') or '')}")
    for v in report.get("risk") or []:
        verdict = "[green]APPROVED[/]" if v["approved"] else "[red]DENIED[/]"
        price = f" limit {v['limit_price']}" if v.get("limit_price") else ""
        when = " (again, before sending)" if v.get("stage") == "execute" else ""
        out.print(f"[bold]risk officer{when}:[/] {v['side']} {v['quantity']} {safe(v['symbol'])}"
                  f"{price} — {verdict} " + safe("; ".join(v.get("messages") or [])))  # fmt: skip
    for o in report.get("orders") or []:
        price = f" @ {float(o['avg_fill_price']):.4f}" if o.get("avg_fill_price") else ""
        out.print(f"[bold]order:[/] {o['side']} {o['quantity']} {safe(o['symbol'])} — "
                  f"{o['status']}, filled {o['filled_qty']}{price}")  # fmt: skip
    for note in report.get("notes") or []:
        out.print(f"[dim]note: {safe(note)}[/]")
    if view.get("next_step"):
        out.print(f"\n[bold]Next:[/] {view['next_step']}")


@runs_app.command()
@handle_errors
def replay(run_id: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """Re-execute a run's decision from its record (recorded LLM answers, the account as it
    was, the same clock) up to the risk gate, and report any difference. Nothing is sent."""
    from app.services.replay import replay_run

    report = replay_run(container(), run_id)
    if json_:
        print_json(report.model_dump(mode="json"))
        return
    if report.identical:
        out.print(f"[green]identical[/]: {', '.join(report.compared)} reproduced "
                  f"({report.llm_calls_replayed} recorded LLM call(s) replayed)")  # fmt: skip
        return
    out.print(f"[yellow]{len(report.differences)} difference(s)[/]:")
    for d in report.differences:
        out.print(f"  {safe(d)}", highlight=False)
