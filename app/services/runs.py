"""Agent runs: start, approve or reject, resume, list, show, replay. The CLI, the API,
the chat and the autopilot all come through here; none of them holds logic of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agents.models import ApprovalDecision, RunRequest
from core.clock import Clock
from core.errors import ConfigError, NotFoundError
from core.types import Timeframe

if TYPE_CHECKING:
    from agents.context import AgentContext
    from agents.runner import AgentRunner, Progress, RunResult
    from app.bootstrap import Container
    from app.services.usage import Reservation


class RunView(BaseModel):
    """A run as every surface shows it."""

    run_id: str
    status: str
    kind: str
    started_at: datetime
    finished_at: datetime | None
    inputs: dict[str, Any]
    outcome: str | None = None
    pending: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    events: list[dict[str, Any]] | None = None
    tampered: list[str] = []
    next_step: str | None = None
    queued: bool = False  # handed to the run queue (TILLER_WORKER_BROKER)
    workers: list[dict[str, Any]] = []  # each queue worker that took the run, in order


class RunList(BaseModel):
    runs: list[RunView]


class RunStateError(ConfigError):
    """The run is not in a state that allows this (finished, or not waiting for an
    approval). The API answers 409; the CLI exits 2 like any other refused argument."""


class RunEventView(BaseModel):
    """One event of a run's record, as it happened."""

    seq: int
    at: datetime
    node: str
    kind: str
    payload: dict[str, Any]
    digest: str


def _code_version() -> str:
    from importlib.metadata import version

    return version("tiller")


def _settings_hash(c: Container) -> str:
    secret = {name for name, value in c.settings if hasattr(value, "get_secret_value")}
    data = c.settings.model_dump(mode="json", exclude=secret)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def make_context(c: Container, clock: Clock, run_id: str) -> AgentContext:
    from agents.context import AgentContext
    from agents.record import RunRecorder
    from core.ledger.runlog import RunLog
    from tools.forecaster import SHIPPED_DIR as FORECASTERS
    from tools.forecaster import user_registry as forecaster_registry
    from tools.policy import SHIPPED_DIR as POLICIES
    from tools.policy import user_registry as policy_registry

    _one_torch_thread()
    recorder = RunRecorder(RunLog(c.ledger), run_id)
    # Orders are proposed for the venue they will be sent to (the risk officer's venue
    # allow-list applies to it), never labelled "paper" while going to an exchange.
    venue = c.settings.trading_venue.strip().lower()
    state = c.settings.state_path
    # An exchange account is counted in its quote currency (USDT for BTC/USDT) and holds
    # what the exchange says it holds, never the paper account's cash.
    record = c.ledger.get_run(run_id)
    symbols = [] if record is None else record.inputs.get("request", {}).get("symbols", [])
    cash = Decimal(0) if c.live_venue else c.settings.paper_cash
    return AgentContext(
        store=c.store, clock=clock, limits=c.limits, signer=c.signer,
        instruments=c.paper_instruments() if venue == "paper" else None,
        executor_factory=c.executor_at, venue=venue,
        forecaster_roots=[forecaster_registry(state), FORECASTERS],
        policy_roots=[policy_registry(state), POLICIES],
        kb=c.knowledge_base, llm=_llm_session(c, recorder), recorder=recorder,
        currency=c.account_currency(symbols), initial_cash=cash, models=c.model_cache,
    )  # fmt: skip


def _one_torch_thread() -> None:
    """The models are tiny: on a 2-core machine one thread is 3x faster per run than two
    when anything else holds a core (bench/agents.py), and never slower alone."""
    import torch

    torch.set_num_threads(1)


def _llm_session(c: Container, recorder: Any) -> Any:
    chat = c.chat_model
    if chat is None:
        return None
    from core.llm import LLMSession

    return LLMSession.from_settings(chat, c.settings, on_call=recorder.llm_call)


@contextmanager
def runner(c: Container) -> Iterator[AgentRunner]:
    """The agent runner with its checkpointer open for the duration of the block."""
    from agents.checkpoint import open_checkpointer
    from agents.graph import build_graph
    from agents.runner import AgentRunner
    from core.ledger.runlog import RunLog

    def last_close(request: RunRequest) -> datetime:
        tf = Timeframe(request.timeframe)
        closes = []
        for symbol in request.symbols:
            frame = c.store.bars(symbol, request.timeframe)
            if len(frame) == 0:
                raise NotFoundError(f"no {request.timeframe} bars of {symbol} are stored")
            closes.append(frame.index[-1].to_pydatetime() + tf.delta)
        return max(closes)

    with open_checkpointer(c.settings.ledger_url, c.settings.state_path) as saver:
        yield AgentRunner(
            graph=build_graph(saver), runlog=RunLog(c.ledger),
            make_context=lambda clock, run_id: make_context(c, clock, run_id),
            last_close=last_close,
            inputs_extra={"settings_hash": _settings_hash(c), "code_version": _code_version(),
                          "llm": c.settings.llm_model if c.settings.llm_enabled else None},
        )  # fmt: skip


def start_run(c: Container, request: RunRequest, progress: Progress | None = None) -> RunView:
    with runner(c) as r:
        return _view(c, r, r.start(request, progress))


def begin_run(
    c: Container, request: RunRequest, origin: dict[str, Any] | None = None,
    reservation: Reservation | None = None,
) -> RunView:  # fmt: skip
    """Record a run without running it (``drive_run`` does, usually in a worker).
    ``origin`` (who asked, through which surface) is kept in the run's inputs. With a run
    queue (TILLER_WORKER_BROKER) the run is handed to it at once (``view.queued``), with
    the API key's LLM ``reservation`` that the worker settles."""
    with runner(c) as r:
        run_id = r.begin(request, {"origin": origin} if origin else None)
    queue = c.run_queue
    if queue is not None:
        _enqueue(c, queue, run_id, reservation)
    return show_run(c, run_id, events=False)


def queue_runs(c: Container, request: RunRequest, surface: str) -> list[RunView]:
    """One queued run per symbol of ``request`` (a desk's watch list spread over the
    workers). ``ConfigError`` when no run queue is configured."""
    if c.run_queue is None:
        raise ConfigError(
            "no run queue is configured",
            hint="set TILLER_WORKER_BROKER=redis://localhost:6379/0 (and start `tiller "
            "worker`), or leave out --queue to run here",
        )
    return [
        begin_run(c, request.model_copy(update={"symbols": [symbol]}), {"surface": surface})
        for symbol in request.symbols
    ]


def _enqueue(c: Container, queue: Any, run_id: str, reservation: Reservation | None) -> None:
    from core.errors import UnavailableError
    from core.ledger.runlog import RunLog

    # Recorded before it is sent: a worker may take the run the moment it is.
    RunLog(c.ledger).append(run_id, "queue", "queued", {"broker": queue.where})
    try:
        queue.enqueue(c, run_id, reservation)
    except UnavailableError as exc:
        fail_run(c, run_id, f"could not be queued: {exc}")
        raise


def drive_run(c: Container, run_id: str, progress: Progress | None = None) -> RunView:
    """Run a recorded run from where it is: its start, or its last checkpoint. A queued
    run is a worker's to drive: this waits until it finishes or pauses for a person."""
    if c.run_queue is not None:
        view = show_run(c, run_id, events=False)
        if view.queued:
            from app.services.queue import wait_for

            return wait_for(c, run_id, c.settings.worker_wait_s)
    return drive_here(c, run_id, progress)


def drive_here(c: Container, run_id: str, progress: Progress | None = None) -> RunView:
    """Drive the run in this process (what a queue worker does with a run it took)."""
    with runner(c) as r:
        return _view(c, r, r.resume(run_id, progress))


def decide_run(
    c: Container, run_id: str, decision: ApprovalDecision, progress: Progress | None = None
) -> RunView:
    view = show_run(c, run_id, events=False)
    if view.status != "awaiting_approval":
        raise RunStateError(f"run {run_id} is not waiting for an approval: {_why_not(c, view)}")
    # Two decisions at once (the CLI and the API, two servers) both get here: the runner
    # claims the pause in the database (the run's next event number is its primary key),
    # so one decides and the other is told the run was already decided.
    with runner(c) as r:
        return _view(c, r, r.decide(run_id, decision, progress))


def _why_not(c: Container, view: RunView) -> str:
    """Why a run cannot take a decision: decided already (by whom, how), or finished or
    still running without one."""
    from core.ledger.runlog import RunLog

    events = RunLog(c.ledger).events(view.run_id)
    decided = [e for e in events if e.kind == "human_action"]
    if decided and all(e.kind != "awaiting_approval" for e in events[events.index(decided[-1]) :]):
        action = decided[-1].payload
        who = f" by {action['operator']}" if action.get("operator") else ""
        return (f"it was already decided ({action.get('action', 'answered')}{who} at "
                f"{decided[-1].at:%Y-%m-%d %H:%M:%S} UTC); `tiller runs show {view.run_id}` "
                "shows the outcome")  # fmt: skip
    if view.finished_at:
        return f"it has already finished ({view.status})"
    return "it is still running"


def resume_run(c: Container, run_id: str, progress: Progress | None = None) -> RunView:
    with runner(c) as r:
        return _view(c, r, r.resume(run_id, progress))


def run_events(c: Container, run_id: str, after: int = 0) -> list[RunEventView]:
    """The run's events with a seq above ``after`` (``NotFoundError`` for no such run)."""
    from core.ledger.runlog import RunLog

    if c.ledger.get_run(run_id) is None:
        raise NotFoundError(f"no run {run_id!r}: `tiller runs list` shows the runs")
    return [
        RunEventView(
            seq=e.seq, at=e.at, node=e.node, kind=e.kind, payload=e.payload, digest=e.digest
        )
        for e in RunLog(c.ledger).events(run_id, after)
    ]


def unfinished_runs(c: Container, origin_surface: str | None = None) -> list[RunView]:
    """Agent runs still RUNNING and not waiting for a person: what a restarted server
    must resume (``origin_surface``: only the runs that surface started)."""
    from sqlalchemy import select

    from core.ledger.models import RunRow

    query = select(RunRow.id).where(RunRow.kind == "agent", RunRow.status == "running")
    with c.ledger._read() as session:
        ids = list(session.execute(query.order_by(RunRow.started_at)).scalars())
    views = [show_run(c, run_id, events=False) for run_id in ids]
    return [
        v for v in views
        if v.status == "running"
        and (origin_surface is None
             or (v.inputs.get("origin") or {}).get("surface") == origin_surface)
    ]  # fmt: skip


def fail_run(c: Container, run_id: str, error: str) -> None:
    """Mark a run that cannot continue as failed, saying why."""
    from core.ledger import RunStatus
    from core.ledger.runlog import RunLog

    record = c.ledger.get_run(run_id)
    if record is not None and record.status is RunStatus.RUNNING:
        RunLog(c.ledger).finish(run_id, RunStatus.FAILED, {"error": error}, error=error)


def _view(c: Container, r: AgentRunner, result: RunResult) -> RunView:
    view = show_run(c, result.run_id, events=False)
    if result.status == "awaiting_approval":
        view.pending = result.pending
        view.next_step = (
            f"tiller run approve {result.run_id}   (or: tiller run reject {result.run_id} "
            f'--reason "...", or approve fewer with --qty N)'
        )
    view.report = result.state.get("report") or _interim(result.state)
    return view


def _interim(state: dict[str, Any]) -> dict[str, Any]:
    """What a run waiting for approval shows: everything up to the risk verdict."""
    return {
        "outcome": "awaiting_approval", "as_of": state.get("as_of"),
        "fixed_clock": state.get("fixed_clock"), "proposed_by": state.get("proposed_by"),
        "decision": state.get("proposal_summary"),
        "snapshots": state.get("snapshots"),
        "evidence": {s: a.get("evidence", []) for s, a in (state.get("analysis") or {}).items()},
        "findings": {s: a.get("findings", []) for s, a in (state.get("analysis") or {}).items()},
        "forecasts": state.get("forecasts"), "policy": state.get("policy"),
        "proposals": state.get("proposals"),
        "risk": [{k: v for k, v in d.items() if k != "intent"}
                 for d in state.get("verdict_history", [])],
        "notes": state.get("notes", []),
    }  # fmt: skip


def show_run(c: Container, run_id: str, *, events: bool = True) -> RunView:
    from core.ledger.runlog import RunLog

    log = RunLog(c.ledger)
    record = c.ledger.get_run(run_id)
    if record is None:
        raise NotFoundError(f"no run {run_id!r}: `tiller runs list` shows the runs")
    all_events = log.events(run_id)
    report = record.outputs if record.outputs else None
    # Waiting for a person while nothing happened since the run paused: once a decision
    # is being acted on, the run is running again.
    last = all_events[-1] if all_events else None
    awaiting = None
    if record.status.value == "running" and last is not None and last.kind == "awaiting_approval":
        awaiting = last.payload
    return RunView(
        run_id=record.id, status="awaiting_approval" if awaiting else record.status.value,
        kind=record.kind, started_at=record.started_at, finished_at=record.finished_at,
        inputs=record.inputs, outcome=(report or {}).get("outcome"), pending=awaiting,
        report=report, error=record.error,
        events=[e.to_json() for e in all_events] if events else None,
        tampered=log.verify(run_id), queued=any(e.kind == "queued" for e in all_events),
        workers=[e.payload for e in all_events if e.kind == "worker_started"],
    )  # fmt: skip


def list_runs(c: Container, limit: int = 50) -> list[RunView]:
    from core.ledger.runlog import RunLog

    return [show_run(c, r.id, events=False) for r in RunLog(c.ledger).list("agent", limit)]
