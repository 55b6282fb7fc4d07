"""The risk officer's controls under the autopilot: a falling market trips the breakers
through the scheduled marks and no exposure is added until an admin resumes; the kill
switch and a broken audit chain stop new exposure by the next slot. Paper broker,
offline rules, the real agent graph."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from app.autopilot import Autopilot, JobSpec, profile_limits
from app.bootstrap import Container
from app.services.risk import halt, resume
from app.services.runs import list_runs
from core.clock import FixedClock
from tests.autopilot.conftest import make_pilot

SLOT = datetime(2026, 12, 7, tzinfo=UTC)
# MSFT's last bundled bar closed on 2013-03-02 00:00: the job starts there.
MSFT = JobSpec(name="msft", symbols=["MSFT"], every=timedelta(hours=1),
               replay_from=datetime(2013, 3, 2, tzinfo=UTC))  # fmt: skip


def fall_then_flat(c: Container, falls: int, flats: int, drop: float = 0.15) -> None:
    """Daily MSFT bars after the bundled ones: ``falls`` days down ``drop`` each, then flat."""
    last = c.store.bars("MSFT", "1d")
    price = float(last["close"].iloc[-1])
    days = pd.bdate_range("2013-03-04", periods=falls + flats, tz="UTC")
    prices = []
    for n in range(len(days)):
        price *= 1 - drop if n < falls else 1.0
        prices.append(price)
    frame = pd.DataFrame({"open": prices, "high": prices, "low": prices, "close": prices,
                          "volume": [1e6] * len(days)}, index=days)  # fmt: skip
    frame.index.name = last.index.name
    c.store.write("MSFT", "1d", frame, source="test: a falling market")


def slot(pilot: Autopilot, n: int) -> str:
    return pilot.run_slot("msft", SLOT + timedelta(hours=n))


def msft_position(c: Container) -> Decimal:
    return sum((p.quantity for p in c.ledger.positions(venue="paper")), Decimal(0))


def risk_state(c: Container) -> str:
    record = c.ledger.load_risk_state("paper")
    return "active" if record is None else record.trading_state


def test_falling_market_then_marks_trip_the_breaker_no_exposure_is_added_until_an_admin_resumes(
    c: Container, wall: FixedClock, tmp_path: Path
) -> None:
    fall_then_flat(c, falls=2, flats=2)
    profile = tmp_path / "autopilot.toml"
    profile.write_text("reducing_drawdown_pct = 0.5\nmax_drawdown_pct = 5\n")
    pilot = make_pilot(c, wall)
    pilot.limits = profile_limits(c.limits, profile)
    pilot.store.add(MSFT, wall.now())

    assert slot(pilot, 0).startswith("executed (as of 2013-03-02 00:00 UTC): buy ")
    held = msft_position(c)
    assert held > 0 and risk_state(c) == "active"
    after_fall = slot(pilot, 1)  # the mark as of the first fall's close trips REDUCING
    assert risk_state(c) == "reducing"
    assert "buy" not in after_fall  # only reducing orders: the rules exit, or nothing
    held_now = msft_position(c)
    denied = slot(pilot, 2)  # a buy is denied; or the agents, seeing REDUCING, propose none
    assert "MSFT denied (STATE_REDUCING" in denied or denied.startswith("no_trade"), denied
    assert "buy" not in denied and msft_position(c) <= held_now <= held
    state = c.ledger.load_risk_state("paper")
    assert state is not None and "drawdown" in str(state.payload)

    # An admin resumes through the service every surface uses, in a process of their own
    # (its clock at the market's time, as the replay's risk state is dated).
    admin = Container(settings=c.settings, clock=FixedClock(pilot.market_time or SLOT))
    plain = resume(admin, "fall reviewed", operator="admin")
    assert plain.state["trading_state"] == "active" and plain.equity_baseline is None
    assert plain.warning is not None and "trips it again" in plain.warning
    assert "--accept-losses" in plain.warning
    mark = pilot.mark(MSFT)  # the loss still stands: the next mark trips the breaker again
    assert mark is not None and mark["trading_state"] == "reducing"

    accepted = resume(admin, "fall reviewed, losses accepted", operator="admin",
                      accept_losses=True)  # fmt: skip
    assert accepted.warning is None and accepted.equity_baseline is not None
    assert accepted.equity_baseline == Decimal(mark["equity"])  # the equity marked now
    assert accepted.state["peak_equity"] == str(accepted.equity_baseline)
    mark = pilot.mark(MSFT)
    assert mark is not None and mark["trading_state"] == "active"
    assert slot(pilot, 3).startswith("executed (as of 2013-03-07 00:00 UTC): buy ")
    assert risk_state(c) == "active" and msft_position(c) > 0
    tail = c.ledger.audit.tail(500)
    entries = [e.payload for e in tail if e.payload.get("event") == "risk.resume"]
    assert [e["equity_baseline"] for e in entries] == [None, str(accepted.equity_baseline)]


def test_kill_switch_then_the_next_slot_adds_no_exposure_and_says_halted(
    pilot: Autopilot, c: Container
) -> None:
    fall_then_flat(c, falls=0, flats=2)
    pilot.store.add(MSFT.model_copy(update={"symbols": ["MSFT", "AAPL"]}), pilot.clock.now())
    halt(c, "drill: kill switch", operator="tester")
    outcome = slot(pilot, 0)
    assert "STATE_HALTED" in outcome and c.ledger.orders() == []
    assert pilot.store.job("msft").last_outcome == outcome
    (run,) = list_runs(c)  # the research still ran and is on record, with its verdicts
    assert run.report is not None
    assert {v["symbol"] for v in run.report["risk"] if "STATE_HALTED" in v["reason_codes"]}


def test_broken_audit_chain_then_the_next_slot_halts_trading_and_sends_nothing(
    pilot: Autopilot, c: Container, home: Path
) -> None:
    pilot.store.add(MSFT, pilot.clock.now())
    halt(c, "drill", operator="tester")  # writes audit entries to break
    c.executor().resume("drill over", operator="tester")
    with sqlite3.connect(home / "state" / "ledger.sqlite3") as conn:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute('UPDATE audit_entries SET payload = \'{"reason": "edited"}\' WHERE seq = 1')
    outcome = slot(pilot, 0)
    assert "STATE_HALTED" in outcome and c.ledger.orders() == []
    state = c.ledger.load_risk_state("paper")
    assert state is not None and state.trading_state == "halted"
    assert "audit chain broken at seq 1" in str(state.payload)


@pytest.fixture
def home(warm_home: Path) -> Path:
    return warm_home
