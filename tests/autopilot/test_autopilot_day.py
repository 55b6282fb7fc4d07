"""A simulated day: an hourly job on three symbols, driven through the scheduler for 24
hours of a clock the test controls (offline rules, paper broker, the real graph and
risk officer), ends with a ledger that verifies and no limit exceeded."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.autopilot import Autopilot, JobSpec
from app.autopilot._leader import Leader
from app.autopilot._lock import ProcessLock
from app.autopilot._scheduler import schedule
from app.bootstrap import Container
from app.services.runs import list_runs
from core.clock import FixedClock
from core.types import Side

DAY = JobSpec(name="day", symbols=["AAPL", "MSFT", "IBM"], every=timedelta(hours=1),
              replay_from=datetime(2013, 1, 20, tzinfo=UTC))  # fmt: skip


@pytest.mark.slow  # 24 agent runs on three symbols
def test_a_day_of_hourly_runs_on_three_symbols_then_a_consistent_ledger_and_no_limit_exceeded(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    leader = Leader(pilot=pilot, lock=ProcessLock(), workers=0)
    leader.lock.acquire()
    leader.open()
    try:
        pilot.store.add(DAY, wall.now())
        schedule(leader.scheduler, DAY)
        for _ in range(24):
            wall.advance(timedelta(hours=1))
            # The hour has come: the job is due now (APScheduler reads the real clock).
            leader.scheduler.modify_job("day", next_run_time=datetime.now(UTC))
            leader.scheduler.run_due()
            assert leader.cycle() is None
    finally:
        leader.close()

    slots = pilot.store.slots("day")
    assert len(slots) == 24 and {s.status for s in slots} == {"done"}
    runs = list_runs(c, limit=100)
    assert {r.run_id for r in runs} == {s.run_id for s in slots}
    as_of = [r.inputs["as_of"] for r in sorted(runs, key=lambda r: r.started_at)]
    assert as_of == sorted(set(as_of))  # one stored bar per run, each a later one
    assert c.ledger.audit.verify().ok  # `tiller audit verify` passes

    fills = c.ledger.fills()
    assert fills, "the rules traded during the day"
    held: dict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        held[str(fill.symbol)] += fill.quantity if fill.side is Side.BUY else -fill.quantity
    positions = {str(p.symbol): p.quantity for p in c.ledger.positions(venue="paper")}
    assert {s: q for s, q in positions.items() if q} == {s: q for s, q in held.items() if q}

    limits = pilot.limits  # the autopilot's profile, tighter than the main limits
    orders = [o for o in c.ledger.orders() if o.filled_qty]
    per_day: dict[str, int] = defaultdict(int)
    for order in orders:
        assert order.avg_fill_price is not None
        notional = order.filled_qty * order.avg_fill_price
        assert notional <= limits.max_order_notional * Decimal("1.01")  # fill vs quote
        assert order.filled_qty <= limits.order_qty_cap(order.symbol)
        per_day[order.created_at.date().isoformat()] += 1
    assert max(per_day.values()) <= limits.max_orders_per_day
    running: dict[str, Decimal] = defaultdict(Decimal)
    for fill in sorted(fills, key=lambda f: f.ts):  # every position as it stood after a fill
        running[str(fill.symbol)] += fill.quantity if fill.side is Side.BUY else -fill.quantity
        assert abs(running[str(fill.symbol)]) * fill.price <= limits.max_position_notional
    state = c.ledger.load_risk_state("paper")
    assert state is not None and state.trading_state == "active"
    beat = pilot.store.heartbeat()
    assert beat is not None and beat.state == "stopped" and beat.info["mark"]["equity"]
