"""Slots: what one firing of a job does. The scheduler is triggered directly (no sleeps):
a job whose next run time lies in the past is due at once, as after a machine slept.

The bundled prices end on 2013-03-01, years before now: every run replays them, as of
one stored bar's close, one bar per run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.autopilot import Autopilot, JobSpec
from app.autopilot._leader import Leader
from app.autopilot._lock import ProcessLock
from app.autopilot._scheduler import schedule
from app.bootstrap import Container, build
from app.services.runs import list_runs
from core.clock import FixedClock
from tests.autopilot.conftest import make_pilot

HOURLY = JobSpec(name="hourly", symbols=["MSFT"], every=timedelta(hours=1))
LAST_CLOSE = datetime(2013, 3, 2, tzinfo=UTC)  # the close of the last bundled daily bar


@pytest.fixture
def leader(pilot: Autopilot) -> Iterator[Leader]:
    lead = Leader(pilot=pilot, lock=ProcessLock(), workers=0)  # jobs run in this thread
    lead.lock.acquire()
    lead.open()
    yield lead
    lead.close()


def add(leader: Leader, spec: JobSpec, *, due_ago: timedelta | None = None) -> None:
    leader.pilot.store.add(spec, leader.pilot.clock.now())
    schedule(leader.scheduler, spec)
    if due_ago is not None:
        leader.scheduler.modify_job(spec.name, next_run_time=datetime.now(UTC) - due_ago)


def test_a_window_missed_while_asleep_then_one_run_not_a_burst(
    leader: Leader, c: Container
) -> None:
    add(leader, HOURLY, due_ago=timedelta(hours=5, minutes=30))  # six slots passed
    leader.scheduler.run_due()
    (slot,) = leader.pilot.store.slots("hourly")
    assert slot.status == "done" and slot.run_id is not None
    assert datetime.now(UTC) - slot.slot < timedelta(hours=1)  # the latest missed slot
    assert [r.run_id for r in list_runs(c)] == [slot.run_id]
    job = leader.scheduler.get_job("hourly")
    assert job.next_run_time > datetime.now(UTC)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 3600)


def test_restart_then_jobs_kept_and_a_finished_slot_never_runs_again(
    leader: Leader, c: Container, wall: FixedClock
) -> None:
    add(leader, HOURLY, due_ago=timedelta(minutes=1))
    leader.scheduler.run_due()
    (first,) = leader.pilot.store.slots("hourly")
    leader.close()

    again = Leader(pilot=make_pilot(build(), wall), lock=ProcessLock(), workers=0)
    again.lock.acquire()
    again.open()
    try:
        again.scheduler.run_due()  # the next slot is an hour away: nothing is due
        assert len(again.pilot.store.slots("hourly")) == 1
        # A crash between the run and the job store's update would offer the same slot
        # again: it is claimed already, so it is not run twice.
        again.scheduler.modify_job("hourly", next_run_time=first.slot)
        again.scheduler.run_due()
    finally:
        again.close()
    assert len(again.pilot.store.slots("hourly")) == 1
    assert len(list_runs(c)) == 1


def test_a_job_still_running_then_its_next_slot_is_skipped_not_overlapped(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    pilot.store.add(HOURLY, wall.now())
    earlier = datetime(2026, 12, 7, 13, tzinfo=UTC)
    pilot.store.claim("hourly", earlier, wall.now())  # a run of that slot is under way
    outcome = pilot.run_slot("hourly", earlier + timedelta(hours=1))
    assert outcome == "skipped: the run of 2026-12-07 13:00 UTC is still running"
    assert list_runs(c) == []


def test_a_slot_missed_by_more_than_its_grace_then_recorded_as_missed_and_not_run(
    leader: Leader, c: Container
) -> None:
    add(leader, HOURLY.model_copy(update={"grace": timedelta(minutes=1)}),
        due_ago=timedelta(minutes=90))  # fmt: skip
    leader.scheduler.run_due()
    (slot,) = leader.pilot.store.slots("hourly")
    assert slot.status == "missed" and slot.run_id is None
    assert "beyond the job's grace time" in (leader.pilot.store.job("hourly").last_outcome or "")
    assert list_runs(c) == []


def test_replay_then_each_run_one_bar_later_and_no_run_past_the_last_bar(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    spec = HOURLY.model_copy(update={"replay_from": datetime(2013, 2, 28, tzinfo=UTC)})
    pilot.store.add(spec, wall.now())
    outcomes = []
    for hour in range(4):
        outcomes.append(pilot.run_slot("hourly", datetime(2026, 12, 7, hour, tzinfo=UTC)))
    runs = sorted(list_runs(c), key=lambda r: r.started_at)
    assert [r.inputs["as_of"][:10] for r in runs] == ["2013-02-28", "2013-03-01", "2013-03-02"]
    assert all(r.inputs["fixed_clock"] for r in runs)
    assert all(r.inputs["origin"]["job"] == "hourly" for r in runs)
    assert outcomes[-1].startswith("skipped: no 1d bar after 2013-03-02 00:00 UTC is stored")
    assert pilot.store.job("hourly").runs == 3


def test_no_replay_date_then_the_first_run_is_as_of_the_last_stored_bar(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    pilot.store.add(HOURLY, wall.now())
    outcome = pilot.run_slot("hourly", wall.now())
    (run,) = list_runs(c)
    assert datetime.fromisoformat(run.inputs["as_of"]) == LAST_CLOSE
    assert run.inputs["request"]["mode"] == "auto"
    assert outcome.startswith("executed (as of 2013-03-02 00:00 UTC): buy ")
    assert "filled" in outcome


def test_a_leader_that_died_mid_slot_then_the_next_one_resumes_its_run_once(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    from agents.models import RunRequest
    from app.services.runs import begin_run

    pilot.store.add(HOURLY, wall.now())
    died_with_run = datetime(2026, 12, 7, 10, tzinfo=UTC)
    died_before_run = datetime(2026, 12, 7, 11, tzinfo=UTC)
    pilot.store.claim("hourly", died_with_run, wall.now())
    recorded = begin_run(c, RunRequest(symbols=["MSFT"], mode="auto"), origin={"job": "hourly"})
    pilot.store.attach_run("hourly", died_with_run, recorded.run_id)
    pilot.store.claim("hourly", died_before_run, wall.now())

    lead = Leader(pilot=pilot, lock=ProcessLock(), workers=0)
    lead.lock.acquire()
    said = lead.open()
    lead.close()
    assert said == [f"resumed run {recorded.run_id} of job hourly (slot 10:00)"]
    slots = {s.slot: s for s in pilot.store.slots("hourly")}
    assert slots[died_with_run].status == "done"
    assert (slots[died_with_run].outcome or "").startswith("resumed after a restart: executed")
    assert slots[died_before_run].status == "failed"
    assert [r.run_id for r in list_runs(c)] == [recorded.run_id]
    assert len(c.ledger.orders()) == 1
