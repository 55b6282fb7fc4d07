"""Per-job approval (copilot): proposals wait for a person, one at a time, and expire;
and the per-job daily LLM budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents.models import ApprovalDecision
from app.autopilot import Autopilot, JobSpec
from app.autopilot._leader import Leader
from app.autopilot._lock import ProcessLock
from app.bootstrap import Container, build
from app.services.runs import decide_run, show_run
from core.clock import FixedClock
from tests.autopilot.conftest import make_pilot

COPILOT = JobSpec(name="ask", symbols=["MSFT"], every=timedelta(hours=1), approval="copilot",
                  expire_after=timedelta(minutes=30))  # fmt: skip
SLOT = datetime(2026, 12, 7, 13, tzinfo=UTC)


def test_copilot_job_then_its_proposal_waits_and_expires_unless_a_person_decides(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    pilot.store.add(COPILOT, wall.now())
    first = pilot.run_slot("ask", SLOT)
    assert first.startswith("awaiting approval (as of 2013-03-02 00:00 UTC): buy ")
    assert first.endswith("rejected unless decided within 30m")
    assert c.ledger.orders() == []
    run_id = pilot.store.job("ask").last_run_id
    assert run_id is not None and show_run(c, run_id).status == "awaiting_approval"

    second = pilot.run_slot("ask", SLOT + timedelta(hours=1))
    assert second == f"skipped: run {run_id} still waits for a person's decision"

    leader = Leader(pilot=pilot, lock=ProcessLock(), workers=0)
    wall.advance(timedelta(minutes=29))
    assert leader.expire_approvals() == []
    wall.advance(timedelta(minutes=2))
    assert leader.expire_approvals() == [run_id]
    view = show_run(c, run_id)
    assert view.outcome == "rejected" and c.ledger.orders() == []
    assert pilot.store.job("ask").last_outcome == ("rejected, expired: nobody decided within 30m")
    assert pilot.store.open_approvals("ask") == []


def test_a_person_approves_in_time_then_it_executes_and_the_job_asks_again(
    pilot: Autopilot, c: Container, wall: FixedClock
) -> None:
    pilot.store.add(COPILOT.model_copy(update={"replay_from": datetime(2013, 2, 28, tzinfo=UTC)}),
                    wall.now())  # fmt: skip
    pilot.run_slot("ask", SLOT)
    run_id = pilot.store.job("ask").last_run_id
    assert run_id is not None
    decided = decide_run(c, run_id, ApprovalDecision(action="approve", operator="person"))
    assert decided.outcome == "executed"
    Leader(pilot=pilot, lock=ProcessLock(), workers=0).expire_approvals()
    assert (pilot.store.job("ask").last_outcome or "").startswith("decided by a person: executed")
    again = pilot.run_slot("ask", SLOT + timedelta(hours=1))  # the next bar: asked again
    assert again.startswith("no_trade (as of 2013-03-01 00:00 UTC)")  # already at its target
    assert pilot.store.job("ask").runs == 2


def test_a_job_whose_llm_budget_for_today_is_spent_then_its_slots_are_skipped_and_say_so(
    home: object, wall: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLER_LLM_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    monkeypatch.setenv("TILLER_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("TILLER_LLM_API_KEY", "sk-test-not-a-real-key-0000")
    pilot = make_pilot(build(), wall)
    spec = COPILOT.model_copy(update={"approval": "auto", "llm_budget_usd": Decimal("0.50")})
    pilot.store.add(spec, wall.now())
    earlier = wall.now() - timedelta(hours=2)  # a run today that cost 0.40
    pilot.store.claim("ask", earlier, earlier)
    pilot.store.finish("ask", earlier, earlier, status="done", outcome="x", cost=Decimal("0.40"))
    assert pilot.remaining_budget(spec) == Decimal("0.10")
    capped = pilot.run_container(spec, pilot.remaining_budget(spec)).settings
    assert capped.llm_max_cost_per_run_usd == Decimal("0.10")  # a run cannot overspend it
    pilot.store.claim("ask", earlier + timedelta(hours=1), earlier)
    pilot.store.finish("ask", earlier + timedelta(hours=1), earlier, status="done",
                       outcome="x", cost=Decimal("0.10"))  # fmt: skip
    outcome = pilot.run_slot("ask", wall.now())
    assert outcome == (
        "skipped: the LLM budget of $0.50 for today (UTC) is spent; runs resume tomorrow"
    )
    wall.advance(timedelta(days=1))  # a new UTC day, a new budget
    assert pilot.remaining_budget(spec) == Decimal("0.50")
