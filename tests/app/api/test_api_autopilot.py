"""The autopilot and the risk officer over the API: `GET /v1/autopilot` shows the leader
and its heartbeat, flagged stale when a leader holds the lock but has stopped beating;
`POST /v1/risk/resume` with ``accept_losses`` restarts the breakers at today's equity,
and without it says that a loss which tripped a breaker will trip it again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.autopilot._lock import leader_lock
from app.autopilot._store import AutopilotStore
from tests.app.api.api_support import Api, api


@pytest.fixture
def a(tmp_path: Path) -> Iterator[Api]:
    with api(tmp_path / "home", recover=False) as built:
        yield built


def test_autopilot_without_a_leader_then_not_running_and_not_stale(a: Api) -> None:
    response = a.client.get("/v1/autopilot", headers=a.h("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["leader"]["running"] is False and body["leader"]["stale"] is False
    assert body["jobs"] == [] and body["live_switches"]["TILLER_AUTOPILOT_LIVE"] is False


def test_leader_holding_the_lock_without_a_recent_heartbeat_then_stale_with_its_age(
    a: Api,
) -> None:
    store = AutopilotStore(a.c.ledger.engine)
    lock = leader_lock(a.c.ledger.engine)
    assert lock.acquire()  # a leader that still holds the lock, as a hung process does
    try:
        hour_ago = a.c.clock.now() - timedelta(hours=1)
        store.beat("host:4242", hour_ago, started_at=hour_ago, state="running",
                   info={"cycle_s": 10})  # fmt: skip
        leader = a.client.get("/v1/autopilot", headers=a.h("viewer")).json()["leader"]
        assert leader["running"] is True and leader["stale"] is True
        assert leader["holder"] == "host:4242" and leader["heartbeat_age_s"] >= 3600

        store.beat("host:4242", a.c.clock.now(), started_at=hour_ago, state="running",
                   info={"cycle_s": 10})  # fmt: skip
        leader = a.client.get("/v1/autopilot", headers=a.h("viewer")).json()["leader"]
        assert leader["running"] is True and leader["stale"] is False
    finally:
        lock.release()


def test_resume_accepting_the_losses_records_the_equity_baseline(a: Api) -> None:
    assert a.client.post("/v1/risk/halt", headers=a.h("viewer"),
                         json={"reason": "drill"}).status_code == 200  # fmt: skip
    response = a.client.post("/v1/risk/resume", headers=a.h("admin"),
                             json={"reason": "drill over", "accept_losses": True})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    # Nothing held: the equity marked now is the paper account's cash.
    assert Decimal(body["equity_baseline"]) == a.c.settings.paper_cash
    assert body["state"]["trading_state"] == "active" and body["warning"] is None
    entry = a.c.ledger.audit.tail(1)[0].payload
    assert entry["event"] == "risk.resume"
    assert Decimal(entry["equity_baseline"]) == a.c.settings.paper_cash
