"""Agent runs through the API (httpx against the ASGI app, the real graph, the offline
rules reasoner, the real risk officer, the paper broker, the ledger): start in the
background, follow the events, approve, see the order, the record and the audit chain.

One container for the module: each run costs seconds, most of it loading models once. The
core flow also runs on a second container whose ledger, run records and graph checkpoints
are in a fresh PostgreSQL database (skipped, saying why, when the server is unreachable)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agents.models import RunRequest
from app.services.runs import begin_run, drive_run, show_run
from tests.app.api.api_support import Api, api, sse
from tests.postgres import fresh_database

# Bundled symbols the offline rules want to buy as of their last stored close. Later runs
# name every symbol bought before: the risk officer needs a quote for each position.
MSFT = {"symbols": ["MSFT"]}
AAPL = {"symbols": ["MSFT", "AAPL"]}
ALL = {"symbols": ["MSFT", "AAPL", "IBM"]}


@pytest.fixture(scope="module")
def a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api(tmp_path_factory.mktemp("api-runs") / "home") as built:
        yield built


@pytest.fixture(scope="module")
def a_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with fresh_database("tiller_api_runs") as url:
        with api(tmp_path_factory.mktemp("api-runs-pg") / "home", database_url=url) as built:
            assert built.c.ledger.engine.dialect.name == "postgresql"
            yield built
        built.c.ledger.engine.dispose()
        # The graph's checkpoints went to PostgreSQL too, not to the state folder's file.
        assert not (built.c.settings.state_path / "checkpoints.sqlite3").exists()


@pytest.fixture(params=["sqlite", "postgresql"])
def on(request: pytest.FixtureRequest) -> Api:
    """The module's SQLite app, or its PostgreSQL twin."""
    return request.getfixturevalue("a" if request.param == "sqlite" else "a_pg")  # type: ignore[no-any-return]


def start(a: Api, body: dict, **headers: str) -> str:
    response = a.client.post("/v1/runs", json=body, headers=a.h("trader", **headers))
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/runs/{response.json()['run_id']}"
    return str(response.json()["run_id"])


def follow(a: Api, run_id: str, after: int = 0) -> list[dict]:
    return sse(a.client, f"/v1/runs/{run_id}/events?after={after}", a.h("viewer"))


def test_a_run_started_over_http_streams_its_events_then_approval_sends_the_paper_order(
    on: Api,
) -> None:
    a = on
    run_id = start(a, MSFT)
    events = follow(a, run_id)
    names = [e["event"] for e in events]
    assert names[0] == "run_started" and names[-1] == "awaiting_approval"
    for name in ("node_started", "node_finished", "tool_call", "retrieval", "proposal",
                 "risk_verdict"):  # fmt: skip
        assert name in names, name
    assert [int(e["id"]) for e in events] == list(range(1, len(events) + 1))
    finished = [e["data"]["node"] for e in events if e["event"] == "node_finished"]
    assert finished == ["gather", "analyst", "forecaster", "policy", "proposer", "risk_gate"]
    waiting = a.client.get(f"/v1/runs/{run_id}", headers=a.h("viewer")).json()
    assert waiting["status"] == "awaiting_approval"
    assert waiting["next_step"].startswith(f"POST /v1/runs/{run_id}/approval")
    assert a.client.get("/v1/orders", headers=a.h("viewer")).json() == {"orders": []}

    done = a.client.post(f"/v1/runs/{run_id}/approval", json={"action": "approve"},
                         headers=a.h("trader"))  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "executed"
    rest = [e["event"] for e in follow(a, run_id, after=len(events))]
    assert rest[0] == "approval" and "order" in rest and rest[-1] == "done"
    [order] = a.client.get("/v1/orders", headers=a.h("viewer")).json()["orders"]
    proposal = waiting["pending"]["proposals"][0]
    assert (order["symbol"], order["side"], order["status"]) == ("MSFT", "buy", "filled")
    assert order["quantity"] == proposal["quantity"]
    record = a.client.get(f"/v1/runs/{run_id}", headers=a.h("viewer")).json()
    assert record["status"] == "succeeded" and record["tampered"] == []
    human = next(e for e in record["events"] if e["kind"] == "human_action")
    assert "trader-key" in str(human["payload"])  # who approved is recorded
    assert record["inputs"]["origin"]["key_name"] == "trader-key"
    assert a.client.get("/v1/audit/verify", headers=a.h("viewer")).json()["ok"] is True
    book = a.client.get("/v1/portfolio", headers=a.h("viewer")).json()
    assert [p["symbol"] for p in book["positions"]] == ["MSFT"]
    again = a.client.post(f"/v1/runs/{run_id}/approval", json={"action": "approve"},
                          headers=a.h("trader"))  # fmt: skip
    assert again.status_code == 409 and "already decided (approve by" in again.json()["detail"]


def test_the_same_idempotency_key_sent_concurrently_starts_one_run_and_sends_orders_once(
    a: Api,
) -> None:
    before = len(a.client.get("/v1/runs", headers=a.h("viewer")).json()["runs"])
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda _: start(a, AAPL, **{"Idempotency-Key": "run-1"}), range(4)))
    assert len(set(ids)) == 1
    assert len(a.client.get("/v1/runs", headers=a.h("viewer")).json()["runs"]) == before + 1
    assert follow(a, ids[0])[-1]["event"] == "awaiting_approval"
    pending = a.client.get(f"/v1/runs/{ids[0]}", headers=a.h("viewer")).json()["pending"]
    orders_before = len(a.client.get("/v1/orders", headers=a.h("viewer")).json()["orders"])

    def approve(_: int) -> tuple[int, str]:
        r = a.client.post(f"/v1/runs/{ids[0]}/approval", json={"action": "approve"},
                          headers=a.h("trader", **{"Idempotency-Key": "ok-1"}))  # fmt: skip
        return r.status_code, r.json()["status"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(approve, range(4)))
    assert answers == [(200, "succeeded")] * 4
    orders = a.client.get("/v1/orders", headers=a.h("viewer")).json()["orders"]
    assert len(orders) == orders_before + len(pending["proposals"])


def test_an_idempotency_key_reused_for_another_request_is_refused(a: Api) -> None:
    headers = a.h("trader", **{"Idempotency-Key": "k9"})
    first = a.client.post("/v1/runs", json={"symbols": ["NOSUCH"]}, headers=headers)
    assert first.status_code == 404  # an unknown symbol: nothing recorded
    repeat = a.client.post("/v1/runs", json={"symbols": ["NOSUCH"]}, headers=headers)
    assert repeat.status_code == 404 and repeat.headers["idempotent-replayed"] == "true"
    other = a.client.post("/v1/runs", json=MSFT, headers=headers)
    assert other.status_code == 409 and "different request" in other.json()["detail"]


def test_when_trading_is_halted_through_the_api_a_run_sends_no_order(a: Api) -> None:
    orders_before = a.client.get("/v1/orders", headers=a.h("viewer")).json()["orders"]
    halted = a.client.post("/v1/risk/halt", json={"reason": "drill"}, headers=a.h("viewer"))
    assert halted.status_code == 200 and halted.json()["state"]["trading_state"] == "halted"
    run_id = start(a, {**ALL, "mode": "auto"})
    follow(a, run_id)
    view = a.client.get(f"/v1/runs/{run_id}", headers=a.h("viewer")).json()
    assert view["outcome"] == "denied"
    assert a.client.get("/v1/orders", headers=a.h("viewer")).json()["orders"] == orders_before
    assert a.client.get("/v1/risk", headers=a.h("viewer")).json()["state"]["trading_state"] == (
        "halted"
    )
    trader = a.client.post("/v1/risk/resume", json={"reason": "drill over"}, headers=a.h("trader"))
    assert trader.status_code == 403
    admin = a.client.post("/v1/risk/resume", json={"reason": "drill over"}, headers=a.h("admin"))
    assert admin.status_code == 200 and admin.json()["state"]["trading_state"] == "active"


def test_an_approval_refused_while_the_run_is_busy_can_be_retried_with_the_same_key(
    a: Api,
) -> None:
    view = begin_run(a.c, RunRequest(symbols=ALL["symbols"]), {"surface": "test"})
    headers = a.h("trader", **{"Idempotency-Key": "early"})
    url = f"/v1/runs/{view.run_id}/approval"
    busy = a.client.post(url, json={"action": "approve"}, headers=headers)
    assert busy.status_code == 409 and "still running" in busy.json()["detail"]
    assert drive_run(a.c, view.run_id).status == "awaiting_approval"
    done = a.client.post(url, json={"action": "approve"}, headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "succeeded"


def test_a_run_recorded_by_a_server_that_died_is_run_by_the_next_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with api(home, recover=False) as first:
        # The first server answered 202 and died before a worker picked the run up.
        view = begin_run(first.c, RunRequest(symbols=["MSFT"]), {"surface": "api"})
        assert show_run(first.c, view.run_id).status == "running"
    with api(home) as second:
        events = follow(second, view.run_id)
        assert events[-1]["event"] == "awaiting_approval"
        assert show_run(second.c, view.run_id).status == "awaiting_approval"
