"""Agent runs on the run queue (Celery), against the real Redis and RabbitMQ servers and a
real PostgreSQL database, with real `tiller worker` processes (skips, saying why, when a
server is unreachable)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.models import ApprovalDecision, RunRequest
from app.bootstrap import Container, build
from app.cli import app
from app.services.runs import RunView, begin_run, decide_run, list_runs, queue_runs, show_run
from core.errors import ConfigError, UnavailableError
from tests.postgres import fresh_database

REPO = Path(__file__).resolve().parents[2]
TILLER = [sys.executable, "-c", "from app.cli import main; main()"]
REDIS = os.environ.get("TILLER_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBITMQ = os.environ.get("TILLER_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
# Early enough that the runs are quick (little history, no news yet): the queue is tested,
# not the agents.
EARLY = datetime(2001, 6, 1, tzinfo=UTC)
THREE = ["AAPL", "MSFT", "IBM"]  # stored from 2000 on
VISIBILITY_S = 6  # Redis hands a dead worker's run over after this long


def _reachable(url: str) -> None:
    host_port = url.split("@")[-1].split("://")[-1].split("/")[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"{url.split('://')[0]} is unreachable at {host_port} ({exc})")


class Desk:
    """A TILLER_HOME, a PostgreSQL ledger, a broker and queue of its own, and workers."""

    def __init__(self, home: Path, database_url: str, broker: str) -> None:
        self.env = {
            **os.environ, "TILLER_HOME": str(home), "TILLER_DATABASE_URL": database_url,
            "TILLER_WORKER_BROKER": broker, "TILLER_WORKER_QUEUE": f"t.{uuid.uuid4().hex[:10]}",
            "TILLER_WORKER_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S), "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(REPO),
        }  # fmt: skip
        for name in ("TILLER_LLM_BASE_URL", "TILLER_LLM_MODEL", "TILLER_DATA_DIR",
                     "TILLER_STATE_DIR"):  # fmt: skip
            self.env.pop(name, None)
        self.home = home
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def container(self) -> Container:
        return build(
            home=self.home, database_url=self.env["TILLER_DATABASE_URL"],
            worker_broker=self.env["TILLER_WORKER_BROKER"],
            worker_queue=self.env["TILLER_WORKER_QUEUE"],
        )  # fmt: skip

    def start(self, name: str) -> None:
        log = (self.home.parent / f"{name}.log").open("wb")
        self.workers[name] = subprocess.Popen(
            [*TILLER, "worker", "--concurrency", "1", "--name", name],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )  # fmt: skip

    def start_all(self) -> None:
        """Both workers, started together, once they say they are ready."""
        for name in ("w-a", "w-b"):
            if name not in self.workers:
                self.start(name)
        self.wait_ready()

    def log(self, name: str) -> str:
        return (self.home.parent / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for name, proc in self.workers.items():
            while f"{name} ready" not in self.log(name):
                assert proc.poll() is None, self.log(name)
                assert time.monotonic() < deadline, self.log(name)
                time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool processes, as a machine dies."""
        proc = self.workers.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.workers.clear()


def _desk(tmp: Path, broker: str) -> Iterator[Desk]:
    _reachable(broker)
    with fresh_database("tiller_queue") as url:
        desk = Desk(tmp / "home", url, broker)
        # The bundled news is ingested once here, not by two workers at once.
        desk.container().knowledge_base  # noqa: B018
        try:
            yield desk
        finally:
            desk.stop()


@pytest.fixture(scope="module")
def redis_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    yield from _desk(tmp_path_factory.mktemp("redis"), REDIS)


@pytest.fixture(scope="module")
def rabbit_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    yield from _desk(tmp_path_factory.mktemp("rabbit"), RABBITMQ)


def _wait(c: Container, run_ids: list[str], timeout: float = 240) -> list[RunView]:
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    while pending:
        pending = {r for r in pending if show_run(c, r, events=False).status == "running"}
        assert time.monotonic() < deadline, f"{len(pending)} runs still running"
        time.sleep(0.3)
    return [show_run(c, r) for r in run_ids]


def _queued_messages(c: Container) -> int:
    from amqp.exceptions import ChannelError
    from kombu import Connection

    queue = c.run_queue
    assert queue is not None
    with Connection(queue.broker) as conn:
        channel = conn.channel()
        try:
            count: int = channel.queue_declare(queue.queue, passive=True).message_count
        except ChannelError:  # Redis drops an emptied queue's list
            return 0
        finally:
            channel.close()
    return count


def _executions(view: RunView) -> int:
    """How many times the run's graph ran its first node."""
    events = view.events or []
    return sum(1 for e in events if e["kind"] == "node_started" and e["node"] == "gather")


@pytest.mark.parametrize("broker", [REDIS, RABBITMQ], ids=["redis", "rabbitmq"])
def test_a_queued_run_is_a_message_on_the_broker_until_a_worker_takes_it(
    broker: str, tmp_path: Path
) -> None:
    _reachable(broker)
    queue = f"t.{uuid.uuid4().hex[:10]}"  # no worker listens to this one
    c = build(home=tmp_path / "h", worker_broker=broker, worker_queue=queue)
    view = begin_run(c, RunRequest(symbols=["AAPL"], as_of=EARLY), {"surface": "test"})
    assert view.queued and view.status == "running" and view.workers == []
    try:
        assert _queued_messages(c) == 1
    finally:
        _purge(c)


def test_post_runs_with_a_broker_answers_202_and_leaves_the_run_to_the_workers(
    tmp_path: Path,
) -> None:
    from tests.app.api.api_support import api

    _reachable(REDIS)
    queue = f"t.{uuid.uuid4().hex[:10]}"  # no worker listens to this one
    with api(tmp_path / "h", worker_broker=REDIS, worker_queue=queue) as a:
        try:
            answer = a.client.post("/v1/runs", json={"symbols": ["AAPL"]}, headers=a.h("trader"))
            assert answer.status_code == 202, answer.text
            body = answer.json()
            assert body["queued"] and body["status"] == "running"
            assert _queued_messages(a.c) == 1
            pool = a.client.app.state.tiller.workers  # type: ignore[attr-defined]
            assert not pool.running(body["run_id"])  # not in the API's own pool
        finally:
            _purge(a.c)


def _purge(c: Container) -> None:
    from kombu import Connection

    queue = c.run_queue
    assert queue is not None
    with Connection(queue.broker) as conn:
        channel = conn.channel()
        channel.queue_purge(queue.queue)
        channel.queue_delete(queue.queue)
        channel.close()


@pytest.mark.slow
def test_two_workers_share_fifty_runs_and_none_runs_twice(redis_desk: Desk) -> None:
    desk = redis_desk
    desk.start_all()
    c = desk.container()
    views: list[dict[str, Any]] = []
    for week in range(17):  # `tiller run --queue` on three symbols, one week apart
        as_of = f"{(EARLY + timedelta(weeks=week)):%Y-%m-%d}"
        symbols = [f"--symbol={s}" for s in THREE[: 50 - len(views)]]
        code = CliRunner().invoke(app, ["run", "--queue", "--as-of", as_of, "--json", *symbols],
                                  env=desk.env)  # fmt: skip
        assert code.exit_code == 0, code.output
        views += json.loads(code.stdout)["runs"]
    assert len(views) == 50 and all(v["queued"] for v in views)

    done = _wait(c, [v["run_id"] for v in views])
    assert {v.status for v in done} <= {"succeeded", "awaiting_approval"}, [
        v.error for v in done if v.error
    ]
    assert all(_executions(v) == 1 for v in done)
    assert all(len(v.workers) == 1 for v in done)  # taken once, by one worker
    by_worker = {w: sum(v.workers[0]["worker"] == w for v in done)
                 for w in ("celery@w-a", "celery@w-b")}  # fmt: skip
    assert sum(by_worker.values()) == 50
    assert min(by_worker.values()) > 0, by_worker  # both took some


@pytest.mark.slow
def test_an_approval_reaches_the_run_a_worker_left_waiting(redis_desk: Desk) -> None:
    redis_desk.start_all()
    c = redis_desk.container()
    [view] = queue_runs(c, RunRequest(symbols=["AAPL"]), "test")  # proposes a buy
    [waiting] = _wait(c, [view.run_id])
    assert waiting.status == "awaiting_approval" and len(waiting.workers) == 1
    shown = CliRunner().invoke(app, ["runs", "show", view.run_id], env=redis_desk.env)
    assert f"run by worker: {waiting.workers[0]['worker']}" in shown.stdout

    other = redis_desk.container()  # another process: the API, the CLI, the chat
    before = len(other.ledger.orders())
    done = decide_run(other, view.run_id, ApprovalDecision(action="approve", operator="t"))
    assert done.outcome == "executed"
    assert len(other.ledger.orders()) == before + 1


@pytest.mark.slow
@pytest.mark.parametrize("desk_name", ["redis_desk", "rabbit_desk"])
def test_a_run_whose_worker_is_killed_mid_run_is_finished_by_another_without_resending(
    desk_name: str, request: pytest.FixtureRequest
) -> None:
    desk: Desk = request.getfixturevalue(desk_name)
    desk.start_all()
    c = desk.container()
    orders_before = len(c.ledger.orders())
    [view] = queue_runs(c, RunRequest(symbols=["MSFT"], mode="auto"), "test")

    deadline = time.monotonic() + 120
    while True:  # kill whoever took it, once it is inside the graph
        shown = show_run(c, view.run_id)
        if shown.workers and any(e["kind"] == "node_finished" for e in shown.events or []):
            break
        assert time.monotonic() < deadline, "no worker took the run"
        time.sleep(0.05)
    first = shown.workers[0]["worker"].removeprefix("celery@")
    desk.kill(first)

    [done] = _wait(c, [view.run_id])
    assert done.outcome == "executed", done.error
    assert done.workers[0]["worker"] == f"celery@{first}"
    assert done.workers[-1]["worker"] != f"celery@{first}"  # another worker finished it
    assert len(c.ledger.orders()) == orders_before + 1  # the order went out once


def test_a_queue_that_cannot_be_reached_fails_the_run_and_says_how_to_fix_it(
    tmp_path: Path,
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = build(home=tmp_path / "h", worker_broker=f"redis://127.0.0.1:{port}/0")
    with pytest.raises(UnavailableError) as exc:
        begin_run(c, RunRequest(symbols=["AAPL"], as_of=EARLY))
    assert "TILLER_WORKER_BROKER" in (exc.value.hint or "")
    [run] = list_runs(c)  # recorded, and failed saying why: never left RUNNING
    assert run.status == "failed" and "could not be queued" in (run.error or "")


def test_a_late_second_delivery_never_drives_a_run_past_its_approval_pause(
    tmp_path: Path,
) -> None:
    from app.services.queue import work_on
    from app.services.runs import start_run
    from core.ledger.runlog import RunLog

    c = build(home=tmp_path / "h")
    paused = start_run(c, RunRequest(symbols=["AAPL"]))  # proposes a buy, waits
    assert paused.status == "awaiting_approval"
    who = {"worker": "celery@late", "pid": 1, "task_id": "t", "redelivered": True}
    assert work_on(c, paused.run_id, {}, who) == "awaiting_approval"
    # A person's decision is being acted on (the run is running again) when the late
    # delivery arrives: the decision's process drives the run, the worker does not.
    RunLog(c.ledger).append(paused.run_id, "approval", "human_action", {"action": "approve"})
    assert work_on(c, paused.run_id, {}, who) == "decided elsewhere"
    assert show_run(c, paused.run_id).workers == []


def test_queueing_without_a_broker_is_refused_with_the_setting_to_set(tmp_path: Path) -> None:
    c = build(home=tmp_path / "h")
    with pytest.raises(ConfigError) as exc:
        queue_runs(c, RunRequest(symbols=["AAPL"]), "cli")
    assert "TILLER_WORKER_BROKER" in (exc.value.hint or "")


def test_an_unknown_broker_scheme_is_refused_naming_the_two_that_work() -> None:
    with pytest.raises(ConfigError, match=r"redis://.*amqp://"):
        build(worker_broker="kafka://127.0.0.1:9092")


def test_a_worker_applies_only_tighter_settings_than_its_own_from_a_queued_run(
    tmp_path: Path,
) -> None:
    """What the autopilot's run container sends with a run (paper, its tighter limits, its
    LLM budget left) is applied by the worker; nothing a message says can loosen them."""
    from app.services.queue import _run_container
    from policies.risk import load_limits

    c = build(home=tmp_path / "h", llm_max_cost_per_run_usd=Decimal("0.50"))
    own = c.limits.as_dict()
    tighter = {**own, "max_order_notional": str(Decimal(own["max_order_notional"]) / 10)}
    rc = _run_container(c, {"trading_venue": "paper", "llm_max_cost_per_run_usd": "0.10",
                            "limits": tighter})  # fmt: skip
    assert rc.limits.max_order_notional == Decimal(own["max_order_notional"]) / 10
    assert rc.settings.llm_max_cost_per_run_usd == Decimal("0.10")
    assert c.limits.as_dict() == own  # the worker's own container is untouched

    looser = {**own, "max_order_notional": str(Decimal(own["max_order_notional"]) * 10)}
    with pytest.raises(ConfigError, match="max_order_notional"):
        _run_container(c, {"limits": looser})
    with pytest.raises(ConfigError, match="binance"):
        _run_container(c, {"trading_venue": "binance"})  # this worker trades on paper
    richer = _run_container(c, {"llm_max_cost_per_run_usd": "9"})
    assert richer.settings.llm_max_cost_per_run_usd == Decimal("0.50")
    assert load_limits(own, ceilings=c.limits) == c.limits  # an equal plan is accepted


def test_a_bug_while_a_worker_drives_a_run_fails_the_run_saying_so_never_leaves_it_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import runs
    from app.services.queue import work_on

    c = build(home=tmp_path / "h")
    view = begin_run(c, RunRequest(symbols=["AAPL"], as_of=EARLY))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runs, "drive_here", broken)
    who = {"worker": "celery@w", "pid": 1, "task_id": "t", "redelivered": False}
    assert work_on(c, view.run_id, {}, who) == "failed"
    failed = show_run(c, view.run_id, events=False)
    assert failed.status == "failed" and failed.error == "internal error (RuntimeError)"
    assert [w["worker"] for w in failed.workers] == ["celery@w"]
