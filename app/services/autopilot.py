"""The autopilot's jobs and status, as the CLI, the API and the chat see them.

Adding, pausing or removing a job works whether or not an autopilot is running: the job
store is in the ledger's database, and the running leader picks changes up at its next
cycle. ``start`` (the leader itself) lives in ``app.autopilot.serve``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, RootModel

from core.errors import ConfigError

if TYPE_CHECKING:
    from app.autopilot import AutopilotSettings, JobSpec
    from app.autopilot._store import AutopilotStore, JobRow
    from app.bootstrap import Container


class JobView(BaseModel):
    name: str
    symbols: list[str]
    schedule: str
    timezone: str
    mode: str
    approval: str
    timeframe: str
    replay_from: datetime | None
    expire_after_s: int
    llm_budget_usd: Decimal
    paused: bool
    next_run: datetime | None
    runs: int
    cursor: datetime | None
    last_slot: datetime | None
    last_run_id: str | None
    last_outcome: str | None
    last_run_outcome: str | None  # the newest slot that made a run (later slots may be skips)
    last_finished_at: datetime | None


class LeaderView(BaseModel):
    """The leader as its heartbeat and its lock show it. ``running`` is the lock's word
    (a process holds it); ``stale``: running, but no heartbeat for 3 cycles."""

    running: bool
    holder: str | None
    state: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    heartbeat_age_s: float | None
    stale: bool
    stop_requested_at: datetime | None
    info: dict[str, Any]


class JobList(RootModel[list[JobView]]):
    """Every job, in the order they were added."""


class JobRemoved(BaseModel):
    removed: str


class StopOutcome(BaseModel):
    """What ``stop`` achieved: ``stopped`` is whether no leader runs now (true when none
    did); ``holder`` names the leader that was asked."""

    stopped: bool
    was_running: bool
    holder: str | None = None


class AutopilotStatus(BaseModel):
    leader: LeaderView
    jobs: list[JobView]
    trading_state: str | None
    live_switches: dict[str, bool]


def _store(c: Container) -> AutopilotStore:
    from app.autopilot._store import AutopilotStore

    return AutopilotStore(c.ledger.engine)


def add_job(c: Container, spec: JobSpec, settings: AutopilotSettings) -> JobView:
    """Store and schedule ``spec``. Refused: a name in use, a symbol without stored bars,
    live mode without both switches."""
    from app.autopilot._pilot import bar_closes, live_switch_problems
    from app.autopilot._scheduler import editing, schedule

    if spec.mode == "live":
        problems = live_switch_problems(c, settings)
        if problems:
            raise ConfigError(
                "--mode live needs both switches: "
                + "; ".join(problems)
                + ". Trade on paper first (the default) and build a record worth trusting"
            )
    bar_closes(c, spec)  # NotFoundError now rather than at the first run
    store = _store(c)
    store.add(spec, c.clock.now())
    try:
        with editing(c.ledger.engine) as scheduler:
            schedule(scheduler, spec)
    except BaseException:
        store.remove(spec.name)
        raise
    return show_job(c, spec.name)


def remove_job(c: Container, name: str) -> JobRemoved:
    from app.autopilot._scheduler import editing, unschedule

    _store(c).remove(name)
    with editing(c.ledger.engine) as scheduler:
        unschedule(scheduler, name)
    return JobRemoved(removed=name)


def pause_job(c: Container, name: str) -> JobView:
    return _set_paused(c, name, True)


def resume_job(c: Container, name: str) -> JobView:
    return _set_paused(c, name, False)


def _set_paused(c: Container, name: str, paused: bool) -> JobView:
    from app.autopilot._scheduler import editing, schedule

    row = _store(c).job(name)
    with editing(c.ledger.engine) as scheduler:
        if scheduler.get_job(name) is None:
            schedule(scheduler, row.spec, paused=paused)
        elif paused:
            scheduler.pause_job(name)
        else:
            scheduler.resume_job(name)
    return show_job(c, name)


def list_jobs(c: Container) -> list[JobView]:
    from app.autopilot._scheduler import editing, next_run

    rows = _store(c).jobs()
    with editing(c.ledger.engine) as scheduler:
        store = _store(c)
        return [_view(row, *next_run(scheduler, row.spec.name), store) for row in rows]


def show_job(c: Container, name: str) -> JobView:
    from app.autopilot._scheduler import editing, next_run

    store = _store(c)
    row = store.job(name)
    with editing(c.ledger.engine) as scheduler:
        return _view(row, *next_run(scheduler, name), store)


def _view(row: JobRow, scheduled: bool, when: datetime | None, store: AutopilotStore) -> JobView:
    spec = row.spec
    run_outcome = None
    if row.last_run_id is not None:
        ran = [s for s in store.slots(spec.name) if s.run_id == row.last_run_id]
        run_outcome = ran[-1].outcome if ran else None
    return JobView(
        name=spec.name, symbols=spec.symbols, schedule=spec.schedule, timezone=spec.timezone,
        mode=spec.mode, approval=spec.approval, timeframe=spec.timeframe,
        replay_from=spec.replay_from, expire_after_s=int(spec.expire_after.total_seconds()),
        llm_budget_usd=spec.llm_budget_usd, paused=not scheduled or when is None,
        next_run=when, runs=row.runs, cursor=row.cursor, last_slot=row.last_slot,
        last_run_id=row.last_run_id, last_outcome=row.last_outcome,
        last_run_outcome=run_outcome, last_finished_at=row.last_finished_at,
    )  # fmt: skip


def leader(c: Container) -> LeaderView:
    from app.autopilot._lock import leader_lock

    store = _store(c)
    lock = leader_lock(c.ledger.engine)
    running = not lock.acquire()
    if not running:
        lock.release()
    beat = store.heartbeat()
    if beat is None:
        return LeaderView(running=running, holder=None, state=None, started_at=None,
                          heartbeat_at=None, heartbeat_age_s=None, stale=running,
                          stop_requested_at=None, info={})  # fmt: skip
    age = (c.clock.now() - beat.beat_at).total_seconds()
    cycle = float(beat.info.get("cycle_s") or 10.0)
    return LeaderView(
        running=running, holder=beat.holder, state=beat.state if running else "stopped",
        started_at=beat.started_at, heartbeat_at=beat.beat_at, heartbeat_age_s=round(age, 1),
        stale=running and age > 3 * cycle, stop_requested_at=beat.stop_requested_at,
        info=beat.info,
    )  # fmt: skip


def status(c: Container, settings: AutopilotSettings | None = None) -> AutopilotStatus:
    """Everything ``tiller autopilot status`` shows (``GET /v1/autopilot`` and the chat's
    Risk page can render it as is; ``leader.stale`` flags a heartbeat three cycles old)."""
    if settings is None:
        from app.autopilot import load_autopilot_settings

        settings = load_autopilot_settings()
    jobs = list_jobs(c)
    # The state of the venue the jobs trade: the exchange once a live job may trade there.
    live = settings.live and c.live_venue and any(j.mode == "live" for j in jobs)
    record = c.ledger.load_risk_state(c.settings.trading_venue.strip().lower() if live else "paper")
    return AutopilotStatus(
        leader=leader(c), jobs=jobs,
        trading_state=None if record is None else record.trading_state,
        live_switches={
            "trading_venue_not_paper": c.settings.trading_venue.strip().lower() != "paper",
            "TILLER_AUTOPILOT_LIVE": settings.live,
        },
    )  # fmt: skip


def request_stop(c: Container) -> LeaderView:
    """Ask the running leader to stop at its next cycle (it finishes a run in progress)."""
    view = leader(c)
    if view.running:
        _store(c).request_stop(c.clock.now())
    return view


def stop(c: Container, timeout_s: float, poll_s: float = 0.25) -> StopOutcome:
    """Ask the leader to stop and wait up to ``timeout_s`` (0: don't wait) for that leader
    (not one that was waiting to take over) to be gone."""
    import time

    view = request_stop(c)
    if not view.running:
        return StopOutcome(stopped=True, was_running=False)

    def still_up() -> bool:
        now = leader(c)
        return now.running and now.holder == view.holder and now.state == "running"

    deadline = time.monotonic() + timeout_s
    while timeout_s and time.monotonic() < deadline and still_up():
        time.sleep(poll_s)
    return StopOutcome(stopped=not still_up(), was_running=True, holder=view.holder)
