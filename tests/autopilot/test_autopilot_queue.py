"""The autopilot with a run queue (TILLER_WORKER_BROKER): a slot records its run and hands
it to the workers with what the autopilot's run container asks (paper, the autopilot's
tighter limits), then waits for a worker; with none, the slot fails saying so and the run
stays queued (skips, saying why, without Redis)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.autopilot import JobSpec
from app.autopilot._leader import Leader
from app.autopilot._lock import ProcessLock
from app.autopilot._scheduler import schedule
from app.bootstrap import build
from app.services.runs import show_run
from core.clock import FixedClock
from tests.autopilot.conftest import make_pilot

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
HOURLY = JobSpec(name="hourly", symbols=["MSFT"], every=timedelta(hours=1))


@pytest.fixture
def queued_leader(warm_home: Path, wall: FixedClock) -> Iterator[Leader]:
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_HOST}:{REDIS_PORT} ({exc})")
    c = build(worker_broker=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
              worker_queue=f"t.{uuid.uuid4().hex[:10]}", worker_wait_s=1)  # fmt: skip
    lead = Leader(pilot=make_pilot(c, wall), lock=ProcessLock(), workers=0)
    lead.lock.acquire()
    lead.open()
    try:
        yield lead
    finally:
        lead.close()
        _drain(c)


def _drain(c: Any) -> list[Any]:
    """The messages on the run queue (taken off it)."""
    from kombu import Connection

    bodies = []
    with Connection(c.run_queue.broker) as conn:
        channel = conn.channel()
        while (message := channel.basic_get(c.run_queue.queue, no_ack=True)) is not None:
            bodies.append(message.decode())
        channel.close()
    return bodies


def test_a_slot_hands_its_run_to_the_queue_with_the_autopilots_limits_and_waits_for_a_worker(
    queued_leader: Leader,
) -> None:
    pilot = queued_leader.pilot
    pilot.store.add(HOURLY, pilot.clock.now())
    schedule(queued_leader.scheduler, HOURLY)
    queued_leader.scheduler.modify_job("hourly", next_run_time=datetime.now(UTC) - timedelta(1))
    queued_leader.scheduler.run_due()

    (slot,) = pilot.store.slots("hourly")
    assert slot.status == "failed" and "no worker finished run" in (slot.outcome or "")
    assert slot.run_id is not None
    view = show_run(pilot.container, slot.run_id, events=False)
    assert view.queued and view.status == "running"  # still queued for a worker
    [(args, _kwargs, _embed)] = _drain(pilot.container)
    run_id, plan = args
    assert run_id == slot.run_id
    assert plan["trading_venue"] == "paper"
    assert plan["limits"] == pilot.limits.as_dict() != pilot.container.limits.as_dict()
