"""Family 4 of the catalogue (docs/security.md): faults. A run (the real graph, the
offline rules or a model behind a fake OpenAI server, the risk officer, the paper broker,
the ledger) dies at every node and between persisting, sending and acknowledging an
order; its database is locked, full or has its session killed; its LLM times out,
throttles and answers garbage; its clock jumps. Each case then checks: nothing reached
the broker twice or beyond limits, every order sent is recorded, the run finished or
can be resumed, and the audit chain verifies.

A real process killed with SIGKILL mid-run is tests/agents/test_resume_after_kill.py;
schedules across DST are tests/autopilot/test_autopilot_schedule.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from agents.models import RunRequest
from app.bootstrap import Container
from app.services.runs import begin_run, drive_run, resume_run, show_run
from core.errors import UnavailableError
from tests.adversarial._helpers_b import invariants
from tests.adversarial.conftest import Attack, Obedient, proposal
from tests.fakes.openai_server import Fail, ScriptedLLM, Slow, Structured, Text

NODES = ["gather", "analyst", "forecaster", "policy", "proposer", "risk_gate", "execute"]
AUTO_MSFT = RunRequest(symbols=["MSFT"], mode="auto")


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, nothing catches it."""


def _dies_at(monkeypatch: pytest.MonkeyPatch, node: str, status: str = "started") -> None:
    """The next run "dies" in ``node``'s own thread as the node starts (or finishes):
    where a real process would be killed, with nothing else of it running on."""
    from agents.record import RunRecorder

    real = RunRecorder.event

    def event(self: RunRecorder, at: str, kind: str, payload: Any) -> None:
        if at == node and kind == f"node_{status}":
            monkeypatch.setattr(RunRecorder, "event", real)  # the next process lives
            raise Killed(f"killed at {node} {status}")
        real(self, at, kind, payload)

    monkeypatch.setattr(RunRecorder, "event", event)


def test_a_run_killed_at_every_node_resumes_and_sends_nothing_twice(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One auto run, killed as each node starts in turn (the checkpoint holds every node
    finished before it), resumed each time by a fresh container (a new process)."""
    c = attack.container()
    run_id = begin_run(c, AUTO_MSFT, {"surface": "test"}).run_id
    for node in NODES:
        _dies_at(monkeypatch, node)
        with pytest.raises(Killed):
            drive_run(attack.container(), run_id)
        assert show_run(c, run_id).status == "running"
    done = resume_run(attack.container(), run_id)
    assert done.status == "succeeded", done.error
    view = show_run(c, run_id)
    orders = c.ledger.orders()
    assert view.outcome == "executed" and len(orders) >= 1
    assert len(attack.sent) == len(orders)
    # And killed after execute finished (sent and recorded, the run not yet closed).
    second = begin_run(c, RunRequest(symbols=["MSFT", "AAPL"], mode="auto"), None).run_id
    _dies_at(monkeypatch, "execute", "finished")
    with pytest.raises(Killed):
        drive_run(attack.container(), second)
    sent = len(attack.sent)
    assert resume_run(attack.container(), second).status == "succeeded"
    assert len(attack.sent) == sent  # the resumed execute found its orders; none re-sent
    invariants(attack, c, second)


@pytest.mark.parametrize("moment", ["persisted, not sent", "sent, not acknowledged"])
def test_a_run_killed_between_persist_send_and_ack_never_sends_twice(
    attack: Attack, moment: str
) -> None:
    c = attack.container()
    real = c.broker_at

    def dying(clock: Any) -> Any:
        broker = real(clock)
        submit = broker.submit

        def submit_then_die(order: Any) -> Any:
            if moment == "persisted, not sent":
                raise Killed("killed before the broker saw the order")
            submit(order)
            raise Killed("killed before the broker's answer was recorded")

        broker.submit = submit_then_die  # type: ignore[method-assign]
        return broker

    killer = attack.container()
    killer.broker_at = dying  # type: ignore[method-assign]
    run_id = begin_run(c, AUTO_MSFT, {"surface": "test"}).run_id
    with pytest.raises(Killed):
        drive_run(killer, run_id)
    [pending] = c.ledger.orders()  # persisted before sending, whatever happened next
    before = len(attack.sent)
    done = resume_run(attack.container(), run_id)
    assert done.status == "succeeded", done.error
    assert len(attack.sent) == before  # never sent again by the resumed run
    assert [o.client_order_id for o in c.ledger.orders()] == [pending.client_order_id]
    invariants(attack, c, run_id)


def _sqlite_path(c: Container) -> str:
    path = c.ledger.engine.url.database
    assert path, c.ledger.engine.url
    return path


def test_sqlite_busy_for_a_while_then_the_run_waits_and_completes(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = attack.container()
    other = sqlite3.connect(_sqlite_path(c), isolation_level=None, timeout=30,
                            check_same_thread=False)  # fmt: skip
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    def release() -> None:
        time.sleep(2.0)
        other.execute("COMMIT")

    threading.Thread(target=release, daemon=True).start()
    view = begin_run(c, AUTO_MSFT, {"surface": "test"})
    done = drive_run(c, view.run_id)
    assert done.status == "succeeded" and done.outcome == "executed"
    other.close()
    invariants(attack, c, view.run_id)


def test_sqlite_locked_past_its_timeout_then_the_run_fails_closed(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.ledger._engine.SQLITE_BUSY_TIMEOUT_MS", 300)
    c = attack.container()
    view = begin_run(c, AUTO_MSFT, {"surface": "test"})
    other = sqlite3.connect(_sqlite_path(c), isolation_level=None)
    hold = threading.Event()

    def lock_when(chunk: dict[str, Any]) -> None:
        if chunk.get("node") == "risk_gate" and chunk.get("status") == "finished":
            other.execute("BEGIN IMMEDIATE")  # held until the test lets go
            hold.set()

    with pytest.raises(UnavailableError, match="locked") as raised:
        drive_run(c, view.run_id, lock_when)
    assert hold.is_set()
    assert raised.value.hint and f"tiller run resume {view.run_id}" in raised.value.hint
    other.execute("ROLLBACK")
    other.close()
    assert attack.sent == [] or all(
        o.client_order_id in {r.client_order_id for r in c.ledger.orders()} for o in attack.sent
    )
    after = show_run(c, view.run_id)
    assert after.status in ("running", "failed")
    if after.status == "running":  # the lock is gone: the run can be finished
        assert resume_run(attack.container(), view.run_id).status == "succeeded"
    invariants(attack, c, view.run_id)


def test_sqlite_full_while_writing_a_run_record_then_the_run_fails_closed(
    attack: Attack,
) -> None:
    """A real SQLITE_FULL: the ledger may grow by a few pages only (max_page_count), so
    the run's record cannot be written to the end."""
    c = attack.container()
    engine = c.ledger.engine
    engine.dispose()
    raw = sqlite3.connect(_sqlite_path(c), isolation_level=None)
    raw.execute("VACUUM")  # no free pages left to fill first
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.close()
    assert pages

    @event.listens_for(engine, "connect")
    def _tiny(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 6}")

    engine.dispose()  # every connection from now on is on the tiny disk
    view = begin_run(c, AUTO_MSFT, {"surface": "test"})
    with pytest.raises(UnavailableError, match="full"):
        drive_run(c, view.run_id)
    event.remove(engine, "connect", _tiny)
    engine.dispose()
    sent = {o.client_order_id for o in attack.sent}
    assert sent <= {o.client_order_id for o in c.ledger.orders()}  # nothing sent unrecorded
    assert show_run(c, view.run_id).status == "running"  # resumable, not lost
    assert resume_run(attack.container(), view.run_id).status == "succeeded"  # space again
    invariants(attack, c, view.run_id)


def test_postgres_session_terminated_mid_run_then_the_next_step_reconnects(
    attack: Attack,
) -> None:
    from sqlalchemy import create_engine, text

    from tests.postgres import fresh_database

    try:
        database = fresh_database("tiller_faults")
        url = database.__enter__()
    except Exception as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    try:
        c = attack.container(database_url=url)
        view = begin_run(c, RunRequest(symbols=["MSFT"], mode="copilot"), {"surface": "test"})
        assert drive_run(c, view.run_id).status == "awaiting_approval"
        name = url.rsplit("/", 1)[-1].split("?")[0]
        admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = :db AND pid <> pg_backend_pid()"),
                {"db": name},
            ).scalar()  # fmt: skip
        admin.dispose()
        assert killed and killed >= 1
        from agents.models import ApprovalDecision
        from app.services.runs import decide_run

        done = decide_run(c, view.run_id, ApprovalDecision(action="approve", operator="t"))
        assert done.outcome == "executed"
        invariants(attack, c, view.run_id)
        c.ledger.close()
    finally:
        database.__exit__(None, None, None)


@pytest.mark.slow  # two runs with an LLM that times out and throttles
def test_llm_timeouts_429s_and_garbage_mid_run_then_no_order_beyond_limits(
    attack: Attack,
) -> None:
    script = ScriptedLLM([Text("A brief [1]."), Slow(1.5), Fail(429), Fail(429),
                          Structured('{"proposals": [{"symbol": "MSFT", "quantity": '),
                          Structured("not json at all"), Fail(500)] + [Fail(429)] * 20)  # fmt: skip
    c = attack.container(script, llm_timeout_s=1.0, llm_max_retries=1)
    view = attack.run(c, mode="auto")
    assert view["status"] in ("succeeded", "failed")
    if view["status"] == "succeeded":
        attack.check_orders(c, view)
    invariants(attack, c, view["run_id"])
    # The same garbage as the only answers: still nothing beyond limits.
    obedient = Obedient(proposal(quantity="1e308"))
    c2 = attack.container(obedient)
    view2 = attack.run(c2, mode="auto")
    assert obedient.obeyed > 0
    attack.check_orders(c2, view2)
    invariants(attack, c2, view2["run_id"])


def test_a_clock_jump_back_or_ahead_never_runs_a_slot_twice_nor_bursts(
    attack: Attack,
) -> None:
    from app.autopilot import JobSpec
    from core.clock import FixedClock
    from tests.autopilot.conftest import WALL, make_pilot

    c = attack.container()
    pilot = make_pilot(c, FixedClock(WALL))
    pilot.store.add(JobSpec(name="j", symbols=["MSFT"], every=timedelta(hours=1)), WALL)
    first = pilot.run_slot("j", WALL)
    assert not first.startswith("failed"), first
    pilot.clock = FixedClock(WALL - timedelta(hours=3))  # NTP steps the clock back
    assert pilot.run_slot("j", WALL) == "skipped: this slot ran already"
    pilot.clock = FixedClock(WALL + timedelta(days=3))  # a suspended laptop wakes up
    later = pilot.run_slot("j", WALL + timedelta(hours=1))
    assert not later.startswith("failed"), later
    assert len(attack.sent) <= 2  # at most one order per slot that ran, no burst
    state = c.ledger.load_risk_state("paper")
    assert state is not None and state.trading_state == "active"
    invariants(attack, c)


def test_autopilot_runs_share_the_loaded_prices_models_and_signer() -> None:
    """Found by the soak (bench/soak.py): each slot's container copy built its own bar
    store and model cache, so every slot reloaded them and the writer's RSS grew by
    ~20 MiB a slot. They are built once on the base container now."""
    from app.autopilot import Autopilot, AutopilotSettings, profile_limits
    from app.bootstrap import build

    c: Container = build()
    pilot = Autopilot(container=c, settings=AutopilotSettings(),
                      limits=profile_limits(c.limits))  # fmt: skip
    one, two = pilot.run_container(None), pilot.run_container(None)
    assert one.store is two.store is c.store
    assert one.model_cache is two.model_cache is c.model_cache
    assert one.signer is two.signer
    assert one.settings is not c.settings  # what a run may change stays its own


@pytest.mark.slow  # two live slots over real HTTP (~20 s on a loaded 2-core machine)
def test_exchange_faults_during_an_autopilot_cycle_never_send_an_order_twice(
    attack: Attack, home: Any, market_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live job on the fake Binance (real HTTP, real ccxt): the order's answer is lost
    (503), the next marks are throttled (429) and an answer is slow; the slot and the
    marks end in an outcome, not a traceback, and no client order id is posted twice."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal
    from urllib.parse import parse_qsl

    from app.autopilot import Autopilot, JobSpec, load_autopilot_settings, profile_limits
    from app.autopilot._live import check_live
    from app.bootstrap import build
    from core.clock import FixedClock
    from tests.fakes._http import Reply
    from tests.fakes.binance_server import FakeBinance
    from tools.market_data import import_path

    bars = market_dir / "crypto_1d" / "BTCUSDT_1d.csv"
    if not bars.is_file():
        pytest.skip(f"{bars} is absent")
    wall = datetime(2025, 7, 1, 0, 30, tzinfo=UTC)  # the last stored bar is current
    with FakeBinance(now=datetime.now(UTC)) as fake:
        fake.account.deposit("USDT", Decimal(20_000))
        fake.add_route("GET", "/sapi/v1/account/apiRestrictions", lambda _s, _r: Reply(
            200, {"ipRestrict": False, "enableReading": True,
                  "enableSpotAndMarginTrading": True, "enableWithdrawals": False}))  # fmt: skip
        limits = home / "limits.toml"
        limits.write_text('allowed_venues = ["paper", "binance"]\n')
        for name, value in {
            "TILLER_TRADING_VENUE": "binance", "TILLER_EXCHANGE_ID": "binance",
            "TILLER_EXCHANGE_SANDBOX": "0", "TILLER_EXCHANGE_API_KEY": "test-key",
            "TILLER_EXCHANGE_API_SECRET": "test-secret", "TILLER_AUTOPILOT_LIVE": "1",
            "TILLER_EXCHANGE_API_URLS": json.dumps(fake.api_overrides()),
            "TILLER_RISK_LIMITS_FILE": str(limits),
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        c = build()
        assert not import_path(c.store, bars, symbol="BTC/USDT").failed
        pilot = Autopilot(container=c, settings=load_autopilot_settings(),
                          limits=profile_limits(c.limits), clock=FixedClock(wall))  # fmt: skip
        pilot.store.add(JobSpec(name="btc", symbols=["BTC/USDT"], every=timedelta(hours=1),
                                mode="live"), wall)  # fmt: skip
        assert check_live(pilot) == []

        fake.fail_next(1, 503, path="/api/v3/order", method="POST")  # the answer is lost
        first = pilot.run_slot("btc", wall)
        assert not first.startswith("failed: internal error"), first
        fake.fail_next(4, 429)  # the exchange throttles whatever comes next
        pilot.mark_all()  # a problem in the mark's result, never an exception
        fake.delay_next(1, 1.0, path="/api/v3/order", method="POST")  # placed, answered late
        second = pilot.run_slot("btc", wall + timedelta(hours=1))
        assert not second.startswith("failed: internal error"), second
        pilot.mark_all()

        posted = [dict(parse_qsl(r.body.decode()) or r.query).get("newClientOrderId")
                  for r in fake.requests_to("/api/v3/order") if r.method == "POST"]  # fmt: skip
        assert len(posted) == len(set(posted)), posted  # no order id sent twice
        ledger = {o.client_order_id for o in c.ledger.orders(venue="binance")}
        assert {p for p in posted if p} <= ledger  # every order sent is recorded
        profile = pilot.limits
        for order in c.ledger.orders(venue="binance"):
            assert order.limit_price is not None
            assert order.quantity * order.limit_price <= profile.max_order_notional
        attack.check_audit()
