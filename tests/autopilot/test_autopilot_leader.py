"""One leader per ledger, with real processes: a second `tiller autopilot start` on the
same database refuses (or, with --wait, waits) and says which; `tiller autopilot stop`
stops the leader and a waiting one takes over. SQLite (a file lock) and PostgreSQL (an
advisory lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.autopilot import AutopilotBusyError
from app.autopilot._leader import Leader, take_lead
from app.autopilot._lock import leader_lock
from app.bootstrap import build
from app.services.autopilot import leader, request_stop
from core.clock import FixedClock
from core.errors import UnavailableError
from tests.autopilot.conftest import fresh_pg_url, make_pilot

# Ends the sessions holding advisory locks in this test's own database only.
KILL_ADVISORY_SESSIONS = (
    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
    "AND pid <> pg_backend_pid() "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
CLI = [sys.executable, "-c", "from app.cli import main; main()", "autopilot"]


@pytest.fixture
def env(database_url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "TILLER_HOME": str(home), "TILLER_DATABASE_URL": database_url,
            "TILLER_AUTOPILOT_CYCLE_S": "0.2", "HF_HUB_OFFLINE": "1"}  # fmt: skip


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    home = Path(env["TILLER_HOME"])
    return subprocess.Popen([*CLI, "start", *args], env=env, cwd=home.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    home = Path(env["TILLER_HOME"])
    return subprocess.run([*CLI, *args], env=env, cwd=home.parent, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def leading(database_url: str, pid: int, timeout: float = 60) -> None:
    """Wait until process ``pid`` leads and has written its heartbeat."""
    c = build(database_url=database_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = leader(c)
        if view.running and view.state == "running" and f"pid {pid} " in (view.holder or ""):
            return
        time.sleep(0.2)
    raise AssertionError(f"pid {pid} did not take the lead within {timeout} s")


@pytest.mark.slow  # three real processes, each importing the CLI
def test_second_autopilot_on_the_same_ledger_then_refuses_or_waits_and_takes_over_after_stop(
    env: dict[str, str], database_url: str, spawned: list[subprocess.Popen[str]]
) -> None:
    first = start(env)
    spawned.append(first)
    leading(database_url, first.pid)

    refused = run(env, "start")
    assert refused.returncode == 5
    assert f"another autopilot leads this ledger (pid {first.pid} on" in refused.stderr
    assert "refuses to start" in refused.stderr

    second = start(env, "--wait")
    spawned.append(second)
    assert second.stderr is not None
    said = second.stderr.readline()  # blocks until the second has met the lock
    assert "another autopilot leads this ledger" in said and "waiting for it to stop" in said
    assert second.poll() is None
    stopped = run(env, "stop", "--json")
    assert stopped.returncode == 0 and '"stopped": true' in stopped.stdout
    assert first.wait(30) == 0
    assert "stopped: `tiller autopilot stop` asked" in first.communicate()[1]
    leading(database_url, second.pid)

    status = run(env, "status")
    assert f"autopilot running: pid {second.pid} on" in status.stdout
    request_stop(build(database_url=database_url))
    assert second.wait(30) == 0
    assert "autopilot stopped: `tiller autopilot stop` asked" in second.communicate()[1]


def test_lock_taken_then_a_second_refuses_or_gives_up_waiting_and_gets_it_once_free(
    database_url: str, home: Path, wall: FixedClock
) -> None:
    pilot = make_pilot(build(database_url=database_url), wall)
    engine = pilot.container.ledger.engine
    first, second = leader_lock(engine), leader_lock(engine)
    assert first.acquire() and first.held()
    said: list[str] = []
    with pytest.raises(AutopilotBusyError, match="refuses to start so that only one trades"):
        take_lead(second, pilot, wait=False, timeout_s=None, say=said.append)
    with pytest.raises(AutopilotBusyError, match=r"waited 0\.3 s"):
        take_lead(second, pilot, wait=True, timeout_s=0.3, say=said.append, poll_s=0.05)
    assert said and said[0].startswith("another autopilot leads this ledger")
    first.release()
    take_lead(second, pilot, wait=True, timeout_s=5, say=said.append, poll_s=0.05)
    assert second.held() and not first.acquire()
    second.release()


def test_leader_whose_postgres_session_dies_then_stops_scheduling(
    pg_database: str, home: Path, wall: FixedClock
) -> None:
    url = fresh_pg_url(pg_database)
    pilot = make_pilot(build(database_url=url), wall)
    lead = Leader(pilot=pilot, lock=leader_lock(pilot.container.ledger.engine), workers=0)
    assert lead.lock.acquire()
    lead.open()
    try:
        assert lead.cycle() is None
        with psycopg.connect(pg_database, autocommit=True) as admin:  # the session is killed
            admin.execute(KILL_ADVISORY_SESSIONS)
        with pytest.raises(UnavailableError, match="lost its PostgreSQL advisory lock"):
            lead.cycle()
    finally:
        lead.close()
