"""The leader: take the lock, then schedule, mark, expire and beat until told to stop.

``Leader.cycle`` is one round of housekeeping (tests call it directly): check the lock,
reject copilot proposals nobody decided on in time, mark to market when due, write the
heartbeat, and read a stop request. ``Leader.run`` loops over cycles and due jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent

from app.autopilot import _runtime
from app.autopilot._lock import LeaderLock, describe, holder_name, leader_lock
from app.autopilot._pilot import Autopilot, AutopilotBusyError, summarize
from app.autopilot._scheduler import DrivenScheduler, build_scheduler
from app.autopilot._spec import show_duration
from core.errors import TillerError, UnavailableError

if TYPE_CHECKING:
    from app.autopilot._store import AutopilotStore

log = logging.getLogger("app.autopilot")


def holder_text(store: AutopilotStore, now: datetime) -> str:
    beat = store.heartbeat()
    if beat is None or beat.state != "running":
        return "its heartbeat is not written yet"
    age = (now - beat.beat_at).total_seconds()
    return (
        f"{beat.holder}, started {beat.started_at:%Y-%m-%d %H:%M:%S} UTC, heartbeat {age:.0f} s ago"
    )


def take_lead(
    lock: LeaderLock,
    pilot: Autopilot,
    *,
    wait: bool,
    timeout_s: float | None,
    say: Callable[[str], None],
    poll_s: float = 1.0,
) -> None:
    """Become the leader, or refuse (``AutopilotBusyError``), or wait for the leader to
    stop (up to ``timeout_s``; None waits for ever) — and say which."""
    if lock.acquire():
        return
    who = holder_text(pilot.store, pilot.clock.now())
    if not wait:
        raise AutopilotBusyError(
            f"another autopilot leads this ledger ({who}); this one refuses to start so "
            "that only one trades. Stop it with `tiller autopilot stop`, or start with "
            "--wait to take over when it stops"
        )
    say(f"another autopilot leads this ledger ({who}); waiting for it to stop ({describe(lock)})")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not lock.acquire():
        if deadline is not None and time.monotonic() >= deadline:
            raise AutopilotBusyError(
                f"waited {timeout_s:g} s: another autopilot still leads this ledger "
                f"({holder_text(pilot.store, pilot.clock.now())})"
            )
        time.sleep(poll_s)


@dataclass
class Leader:
    pilot: Autopilot
    lock: LeaderLock
    workers: int = 1
    scheduler: DrivenScheduler = field(init=False)
    started_at: datetime = field(init=False)
    holder: str = field(default_factory=holder_name)
    stop: threading.Event = field(default_factory=threading.Event)
    _next_mark: float = 0.0
    _last_state: str | None = None
    last_mark: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.scheduler = build_scheduler(self.pilot.container.ledger.engine, workers=self.workers)
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        self.started_at = self.pilot.clock.now()

    # -- start and stop -----------------------------------------------------------------
    def open(self) -> list[str]:
        """After the lock is taken: finish what a previous leader left mid-slot, start the
        scheduler, write the first heartbeat. Returns what the leader should say."""
        from app.services.risk import hold_if_chain_broken

        said = []
        chain = hold_if_chain_broken(self.pilot.container)
        if not chain.ok:
            said.append(f"the audit chain is broken (first bad entry {chain.first_bad_seq}): "
                        "trading is HALTED; the jobs keep researching and propose nothing "
                        "that is sent")  # fmt: skip
        said += self._recover()
        _runtime.activate(self.pilot)
        self.scheduler.start()
        self.beat("running")
        return said

    def close(self) -> None:
        try:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)  # a run in progress finishes first
        finally:
            _runtime.activate(None)
            try:
                self.beat("stopped")
            finally:
                self.lock.release()
                if self.pilot.notifier is not None:
                    self.pilot.notifier.close()

    def run(self, *, exit_after_s: float | None = None) -> str:
        """Loop until a stop request, a signal (``stop``), ``exit_after_s`` or a lost lock;
        return why it stopped."""
        cycle_s = self.pilot.settings.cycle_s
        deadline = None if exit_after_s is None else time.monotonic() + exit_after_s
        while True:
            wait = self.scheduler.run_due()
            why = self.cycle()
            if why is None and self.stop.is_set():
                why = "stopped by a signal"
            if why is None and deadline is not None and time.monotonic() >= deadline:
                why = f"--exit-after {exit_after_s:g} s reached"
            if why is not None:
                return why
            self.scheduler.pause_for(min(cycle_s, wait if wait is not None else cycle_s))

    # -- one cycle ----------------------------------------------------------------------
    def cycle(self) -> str | None:
        """One round of housekeeping; a reason to stop, or None to go on."""
        if not self.lock.held():
            raise UnavailableError(
                f"this autopilot lost its {describe(self.lock)} (the database session "
                "ended?): it stopped scheduling so that two leaders never trade"
            )
        try:
            self.expire_approvals()
        except TillerError as exc:  # the next cycle tries again; say why meanwhile
            self.pilot.warnings = [f"could not expire copilot proposals: {exc}"]
        if time.monotonic() >= self._next_mark:
            self._next_mark = time.monotonic() + self.pilot.settings.mark_every_s
            self._mark()
        self.beat("running")
        beat = self.pilot.store.heartbeat()
        if beat is not None and beat.stop_requested_at is not None:
            return f"`tiller autopilot stop` asked at {beat.stop_requested_at:%H:%M:%S} UTC"
        return None

    def _mark(self) -> None:
        try:
            marks = self.pilot.mark_all()
        except TillerError as exc:
            self.pilot.warnings = [f"mark to market failed: {exc}"]
            return
        for mark in marks:
            state = mark.get("trading_state")
            if state and state != "active" and state != self._last_state:
                self.pilot.notify("halt", venue=mark.get("venue"), trading_state=state,
                                  reason=mark.get("reason"))  # fmt: skip
            self._last_state = state or self._last_state
        self.last_mark = marks[0] if marks else self.last_mark

    def expire_approvals(self) -> list[str]:
        """Reject copilot proposals older than their job's ``expire_after``."""
        from agents.models import ApprovalDecision
        from app.services.runs import RunStateError, decide_run, show_run

        pilot, expired = self.pilot, []
        now = pilot.clock.now()
        for row in pilot.store.jobs():
            spec = row.spec
            for slot in pilot.store.open_approvals(spec.name):
                assert slot.run_id is not None and slot.finished_at is not None
                view = show_run(pilot.container, slot.run_id, events=False)
                if view.status != "awaiting_approval":
                    pilot.store.note_outcome(spec.name, slot.slot, "decided by a person: "
                                             + summarize(view, spec))  # fmt: skip
                    continue
                if now - slot.finished_at < spec.expire_after:
                    continue
                reason = f"expired: nobody decided within {show_duration(spec.expire_after)}"
                decision = ApprovalDecision(action="reject", operator="autopilot", reason=reason)
                try:
                    decide_run(pilot.run_container(spec), slot.run_id, decision)
                except RunStateError:
                    continue  # a person decided just now; the next cycle records it
                pilot.store.note_outcome(spec.name, slot.slot, f"rejected, {reason}")
                expired.append(slot.run_id)
        return expired

    def beat(self, state: str) -> None:
        pilot = self.pilot
        info = {
            "cycle_s": pilot.settings.cycle_s, "mark_every_s": pilot.settings.mark_every_s,
            "limits": pilot.limits.as_dict(), "limits_hash": pilot.limits.limits_hash(),
            "mark": self.last_mark, "warnings": pilot.warnings,
            "market_time": pilot.market_time.isoformat() if pilot.market_time else None,
            "notifications": None if pilot.notifier is None else {
                "sent": pilot.notifier.sent, "failed": pilot.notifier.failed,
                "dropped": pilot.notifier.dropped},
        }  # fmt: skip
        pilot.store.beat(self.holder, pilot.clock.now(), started_at=self.started_at,
                         state=state, info=info)  # fmt: skip

    # -- what a previous leader left ----------------------------------------------------
    def _recover(self) -> list[str]:
        """Slots left running by a leader that died: a recorded run is resumed from its
        last checkpoint (orders are never sent twice); a slot with no run is closed."""
        from app.services.runs import drive_run, show_run

        said, pilot = [], self.pilot
        for slot in pilot.store.slots():
            if slot.status != "running":
                continue
            row = pilot.store.job(slot.job)
            if slot.run_id is None:
                pilot.store.finish(slot.job, slot.slot, pilot.clock.now(), status="failed",
                                   outcome="failed: the autopilot stopped before the run "
                                   "began")  # fmt: skip
                continue
            view = show_run(pilot.container, slot.run_id, events=False)
            try:
                if view.status == "running":
                    view = drive_run(pilot.run_container(row.spec), slot.run_id)
            except TillerError as exc:
                pilot.store.finish(slot.job, slot.slot, pilot.clock.now(), status="failed",
                                   outcome=f"failed on resuming after a restart: {exc}",
                                   run_id=slot.run_id)  # fmt: skip
                continue
            pilot.store.finish(slot.job, slot.slot, pilot.clock.now(), status="done",
                               outcome="resumed after a restart: " + summarize(view, row.spec),
                               run_id=slot.run_id, counted=True,
                               awaiting=view.status == "awaiting_approval")  # fmt: skip
            said.append(f"resumed run {slot.run_id} of job {slot.job} (slot {slot.slot:%H:%M})")
        return said

    def _missed(self, event: JobExecutionEvent) -> None:
        when = event.scheduled_run_time
        self.pilot.store.record_missed(event.job_id, when, self.pilot.clock.now())


def new_leader(pilot: Autopilot, *, workers: int = 1) -> Leader:
    return Leader(pilot=pilot, lock=leader_lock(pilot.container.ledger.engine), workers=workers)
