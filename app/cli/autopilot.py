"""``tiller autopilot``: the agents on a schedule (paper by default), one leader per ledger.

Jobs are added, paused and removed whether or not an autopilot runs; ``start`` leads
in the foreground (``--detach``: in the background, output to a log file) and ``stop``
asks the leader to finish its current run and exit. All of it goes through
``app/services/autopilot`` (``start``: ``app.autopilot.serve``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from app.cli._common import container, err, handle_errors, out, print_json, safe
from core.errors import ConfigError

app = typer.Typer(
    help="The agents on a schedule: paper by default, within limits tighter than the main "
    "ones, one autopilot per ledger.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
NameArg = Annotated[str, typer.Argument(help="The job's name (see `tiller autopilot list`).")]
_WEEK_S = 7 * 86_400


def _settings() -> Any:
    from app.autopilot import load_autopilot_settings

    return load_autopilot_settings()


@app.command()
@handle_errors
def add(
    name: Annotated[str, typer.Option(help="A unique name: letters, digits, '.', '-', '_'.")],
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols, e.g. AAPL,MSFT.")],
    every: Annotated[str | None, typer.Option(help="Run every 30s, 5m, 1h, 1d, ...")] = None,
    cron: Annotated[
        str | None, typer.Option(help='Crontab times, e.g. "30 9 * * 1-5" (Sunday = 0).')
    ] = None,
    timezone: Annotated[str, typer.Option(help="Zone the cron times are in.")] = "UTC",
    mode: Annotated[
        str, typer.Option(help="paper (default) or live (needs TILLER_AUTOPILOT_LIVE=1 too).")
    ] = "paper",
    approval: Annotated[
        str, typer.Option(help="auto: approved orders execute; copilot: a person decides.")
    ] = "auto",
    expire_after: Annotated[
        str, typer.Option(help="Copilot: reject a proposal nobody decided on after this.")
    ] = "1h",
    timeframe: Annotated[str, typer.Option(help="Bar timeframe the agents read.")] = "1d",
    replay_from: Annotated[
        str | None, typer.Option(help="Walk stored history from this date, one bar per run.")
    ] = None,
    llm_budget: Annotated[
        str, typer.Option(help="US dollars of LLM calls this job may spend per UTC day.")
    ] = "1.00",
    grace: Annotated[
        str, typer.Option(help="A slot missed by more than this is skipped, not run late.")
    ] = "1h",
    jitter: Annotated[
        int | None, typer.Option(min=0, max=3600, help="Delay each run by up to N seconds.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Add a job (it runs under `tiller autopilot start`)."""
    from decimal import Decimal, InvalidOperation

    from app.autopilot import JobSpec, parse_duration
    from app.services.autopilot import add_job
    from core.timeutil import parse_utc

    try:
        budget = Decimal(llm_budget.strip())
    except InvalidOperation:
        raise ConfigError(f"--llm-budget {llm_budget!r} is not a number of dollars") from None
    if not budget.is_finite():
        raise ConfigError(f"--llm-budget {llm_budget!r} is not a number of dollars")
    spec = JobSpec(
        name=name, symbols=[s for s in symbols.split(",") if s.strip()],
        every=parse_duration(every, option="--every") if every is not None else None,
        cron=cron, timezone=timezone, mode=mode, approval=approval,
        expire_after=parse_duration(expire_after, option="--expire-after"), timeframe=timeframe,
        replay_from=parse_utc(replay_from, name="--replay-from") if replay_from else None,
        llm_budget_usd=budget, grace=parse_duration(grace, option="--grace"), jitter_s=jitter,
    )  # fmt: skip
    view = add_job(container(), spec, _settings())
    if json_:
        print_json(view.model_dump(mode="json"))
        return
    out.print(f"added [bold]{safe(view.name)}[/]: {safe(view.schedule)}, {view.mode}, "
              f"{view.approval}; next run {_when(view.next_run)}. It runs while "
              "`tiller autopilot start` does.", highlight=False)  # fmt: skip


@app.command("list")
@handle_errors
def list_(json_: JsonOpt = False) -> None:
    """The jobs, their schedules, next runs and last outcomes."""
    from app.services.autopilot import JobList, list_jobs

    views = list_jobs(container())
    if json_:
        print_json(JobList(views).model_dump(mode="json"))
        return
    _jobs_table(views)


@app.command()
@handle_errors
def remove(name: NameArg, json_: JsonOpt = False) -> None:
    """Remove a job (its past runs stay in `tiller runs list`)."""
    from app.services.autopilot import remove_job

    removed = remove_job(container(), name)
    if json_:
        print_json(removed.model_dump(mode="json"))
    else:
        out.print(f"removed {safe(name)}", highlight=False)


@app.command()
@handle_errors
def pause(name: NameArg, json_: JsonOpt = False) -> None:
    """Pause a job: no runs until `resume`."""
    from app.services.autopilot import pause_job

    _show_one(pause_job(container(), name), json_)


@app.command()
@handle_errors
def resume(name: NameArg, json_: JsonOpt = False) -> None:
    """Resume a paused job from its next slot (missed slots are not run)."""
    from app.services.autopilot import resume_job

    _show_one(resume_job(container(), name), json_)


@app.command()
@handle_errors
def start(
    limits: Annotated[
        Path | None,
        typer.Option(help="TOML/JSON limits tightening the main ones for autopilot runs."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another autopilot leads, wait for it to stop.")
    ] = False,
    wait_timeout: Annotated[
        int | None, typer.Option(min=0, max=_WEEK_S, help="With --wait: give up after N s.")
    ] = None,
    exit_after: Annotated[
        int | None, typer.Option(min=1, max=_WEEK_S, help="Stop by itself after N seconds.")
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in the background; output to a log file.")
    ] = False,
) -> None:
    """Lead the autopilot in the foreground: run due jobs, mark to market, beat."""
    from app.autopilot import profile_limits, serve

    c = container()
    settings = _settings()
    profile_limits(c.limits, limits or settings.limits_file)  # refuse a bad file at once
    if detach:
        _detach(c, limits, wait, wait_timeout, exit_after)
        return
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        why = serve(c, settings, limits_file=limits, wait=wait,
                    wait_timeout_s=wait_timeout, exit_after_s=exit_after, stop=stop,
                    say=lambda line: err.print(safe(line), highlight=False,
                                               soft_wrap=True))  # fmt: skip
    except KeyboardInterrupt:
        why = "stopped by Ctrl-C"
    finally:
        signal.signal(signal.SIGTERM, previous)
    err.print(f"autopilot stopped: {safe(why)}", highlight=False)


def _detach(
    c: Any, limits: Path | None, wait: bool, timeout: int | None, after: int | None
) -> None:
    logs = c.settings.state_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"autopilot-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    args = [sys.executable, "-c", "from app.cli import main; main()", "autopilot", "start"]
    args += ["--limits", str(limits)] if limits else []
    args += ["--wait"] if wait else []
    args += ["--wait-timeout", str(timeout)] if timeout is not None else []
    args += ["--exit-after", str(after)] if after is not None else []
    with open(log_path, "ab") as log:
        child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    out.print(f"autopilot starting in the background: pid {child.pid}, log {log_path}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        if _leads(c, child.pid):
            out.print("it leads now; `tiller autopilot status` shows it, "
                      "`tiller autopilot stop` stops it")  # fmt: skip
            return
        time.sleep(0.5)
    if child.poll() is not None:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
        err.print("[bold red]error:[/] the autopilot exited at once: "
                  + safe(" / ".join(tail)), highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(child.returncode or 5)
    out.print("it has not written its heartbeat yet; see the log")


def _leads(c: Any, pid: int) -> bool:
    from app.services.autopilot import leader

    view = leader(c)
    return view.running and view.state == "running" and f"pid {pid} " in (view.holder or "")


@app.command()
@handle_errors
def status(json_: JsonOpt = False) -> None:
    """Is an autopilot running (heartbeat age), and each job's last and next run."""
    from app.services.autopilot import status as status_service

    data = status_service(container(), _settings())
    if json_:
        print_json(data.model_dump(mode="json"))
        return
    lead = data.leader
    if lead.running:
        age = "no heartbeat yet" if lead.heartbeat_age_s is None else (
            f"heartbeat {lead.heartbeat_age_s:.0f} s ago")  # fmt: skip
        stale = " [bold red](STALE: the leader is stuck or its clock is off)[/]"
        out.print(f"autopilot [green]running[/]: {safe(lead.holder or '?')}, {age}"
                  + (stale if lead.stale else ""), highlight=False)  # fmt: skip
    elif lead.heartbeat_at is not None:
        out.print(f"autopilot [yellow]not running[/] (last heartbeat "
                  f"{_when(lead.heartbeat_at)} from {safe(lead.holder or '?')})",
                  highlight=False)  # fmt: skip
    else:
        out.print("autopilot [yellow]not running[/] (it never ran on this ledger)")
    out.print(f"trading state: {(data.trading_state or 'active').upper()}; live switches: "
              + ", ".join(f"{k} {'on' if v else 'off'}" for k, v in data.live_switches.items()),
              highlight=False)  # fmt: skip
    for warning in (lead.info.get("warnings") or []) if lead.running else []:
        out.print(f"[yellow]warning:[/] {safe(warning)}", highlight=False)
    _jobs_table(data.jobs)


@app.command()
@handle_errors
def stop(
    timeout: Annotated[
        int, typer.Option(min=0, max=3600, help="Wait up to N s for it to stop (0: don't).")
    ] = 60,
    json_: JsonOpt = False,
) -> None:
    """Ask the running autopilot to finish its current run and stop."""
    from app.services.autopilot import stop as stop_leader

    outcome = stop_leader(container(), timeout)
    done, holder = outcome.stopped, safe(outcome.holder or "?")
    if json_:
        print_json(outcome.model_dump(mode="json"))
    elif not outcome.was_running:
        out.print("no autopilot is running on this ledger")
    elif done:
        out.print(f"stopped the autopilot ({holder})", highlight=False)
    else:
        out.print(f"asked the autopilot ({holder}) to stop; it stops after its current run",
                  highlight=False)  # fmt: skip
    if outcome.was_running and not done and timeout:
        raise typer.Exit(5)


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _show_one(view: Any, json_: bool) -> None:
    if json_:
        print_json(view.model_dump(mode="json"))
        return
    state = "paused" if view.paused else f"next run {_when(view.next_run)}"
    out.print(f"{safe(view.name)}: {state}", highlight=False)


def _jobs_table(views: list[Any]) -> None:
    if not views:
        out.print("no jobs: add one with `tiller autopilot add --name N --symbols AAPL --every 1h`")
        return
    table = Table()
    for column in ("job", "symbols", "schedule", "mode", "next run", "runs", "last outcome"):
        table.add_column(column)
    for v in views:
        mode = v.mode + (", copilot" if v.approval == "copilot" else "")
        outcome = v.last_outcome or "—"
        if v.last_run_outcome and v.last_run_outcome != v.last_outcome:
            outcome += f" (last run: {v.last_run_outcome})"
        table.add_row(safe(v.name), ",".join(v.symbols), safe(v.schedule), mode,
                      "paused" if v.paused else _when(v.next_run), str(v.runs),
                      safe(outcome))  # fmt: skip
    out.print(table)
