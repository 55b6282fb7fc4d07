"""Family 3 of the catalogue (docs/security.md): approval abuse. A run paused for a
person (copilot, offline rules, the real graph, risk officer, paper broker and ledger) is
approved over the API (httpx against the ASGI app) the wrong way: replayed, for another
quantity or price, after it expired, with a viewer's key, twice at once, after a halt.
And the risk officer's approval token itself is replayed, edited and used late at the
executor. After each case: no order beyond limits reached the broker, none twice, no
record lost, the audit chain verifies."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest

from agents.gate import decide, quotes_of
from app.services.runs import make_context, runner, show_run
from core.clock import FixedClock
from core.types import OrderIntent
from policies.risk import Approved
from tests.adversarial._helpers_b import awaiting, invariants, web
from tests.adversarial.conftest import Attack
from tools.executor import InvalidApprovalError, startup

APPROVE = {"action": "approve"}


def _decision_of(c: Any, view: dict[str, Any], at: datetime | None = None) -> tuple[Any, Any]:
    """The risk officer's decision on the run's first proposal, made fresh through the
    run's own gate, and an executor on the run's clock (``at``: another moment)."""
    with runner(c) as r:
        state = r.state(view["run_id"])
    clock = FixedClock(datetime.fromisoformat(view["inputs"]["as_of"]))
    ctx = make_context(c, clock, view["run_id"])
    intent = OrderIntent.model_validate(state["verdicts"][0]["intent"])
    [(decision, _verdict)] = decide(ctx, [intent], quotes_of(state), 1)
    executor = c.executor_at(FixedClock(at) if at is not None else clock)
    startup(executor)
    return executor, decision


def _approval_of(c: Any, view: dict[str, Any], at: datetime | None = None) -> tuple[Any, Approved]:
    executor, decision = _decision_of(c, view, at)
    assert isinstance(decision, Approved), decision
    return executor, decision


def test_replaying_an_approval_request_or_its_token_then_one_order(attack: Attack) -> None:
    with web(attack) as w:
        view = awaiting(w.c)
        executor, token = _approval_of(w.c, view)  # the risk officer's approval, kept
        url = f"/v1/runs/{view['run_id']}/approval"
        headers = w.h("trader", **{"Idempotency-Key": "approve-once"})
        first = w.client.post(url, json=APPROVE, headers=headers)
        assert first.status_code == 200 and first.json()["outcome"] == "executed", first.text
        replayed = w.client.post(url, json=APPROVE, headers=headers)
        assert replayed.status_code == 200
        assert replayed.headers["idempotent-replayed"] == "true"
        no_key = w.client.post(url, json=APPROVE, headers=w.h("trader"))
        assert no_key.status_code == 409 and "already decided" in no_key.json()["detail"]
        assert len(w.orders()) == len(view["pending"]["proposals"])
        # The token, kept from before the approval, handed to the executor again: the
        # order it names is known, nothing is sent; asking the risk officer again for the
        # same proposal is denied as a duplicate.
        assert executor.submit(token).outcome == "known"
        _, fresh = _decision_of(w.c, view)
        assert "DUPLICATE_ORDER" in {v.code.value for v in fresh.violations}
        assert len(attack.sent) == len(view["pending"]["proposals"])
        invariants(attack, w.c, view["run_id"])


def test_an_approval_for_another_quantity_or_price_than_proposed_is_refused(
    attack: Attack,
) -> None:
    with web(attack) as w:
        view = awaiting(w.c)
        url = f"/v1/runs/{view['run_id']}/approval"
        proposed = view["pending"]["proposals"][0]["quantity"]
        larger = w.client.post(url, json={**APPROVE, "quantity": str(int(float(proposed)) * 10)},
                               headers=w.h("trader"))  # fmt: skip
        assert larger.status_code == 422 and "not smaller" in larger.json()["detail"]
        priced = w.client.post(url, json={**APPROVE, "limit_price": "0.01"},
                               headers=w.h("trader"))  # fmt: skip
        assert priced.status_code == 422  # no such field: a price is never approved by hand
        assert show_run(w.c, view["run_id"]).status == "awaiting_approval"
        # A valid token moved onto another order: the executor refuses to send it.
        executor, approved = _approval_of(w.c, view)
        order = approved.order
        for change in ({"quantity": order.quantity * 10},
                       {"limit_price": (order.limit_price or 1) * 2}):  # fmt: skip
            forged = dataclasses.replace(approved, order=order.model_copy(update=change))
            with pytest.raises(InvalidApprovalError, match="token invalid"):
                executor.submit(forged)
        assert attack.sent == [] and w.orders() == []
        refused = [e for e in w.c.ledger.audit.tail(50) if e.kind == "order_refused"]
        assert len(refused) == 2
        invariants(attack, w.c, view["run_id"])


def test_an_approval_after_expiry_is_refused(attack: Attack) -> None:
    from app.autopilot import JobSpec
    from app.autopilot._leader import Leader
    from app.autopilot._lock import ProcessLock
    from tests.autopilot.conftest import WALL, make_pilot

    with web(attack) as w:
        # The token: valid for a short while, refused by the executor after that.
        view = awaiting(w.c)
        as_of = datetime.fromisoformat(view["inputs"]["as_of"])
        _, approved = _approval_of(w.c, view)
        late, _ = _approval_of(w.c, view, at=approved.expires_at + timedelta(seconds=1))
        with pytest.raises(InvalidApprovalError, match="expired"):
            late.submit(approved)
        assert as_of < approved.expires_at
        # The autopilot's copilot proposal: rejected once it expired; approving it after
        # that is a 409 and sends nothing.
        wall = FixedClock(WALL)
        pilot = make_pilot(w.c, wall)
        pilot.store.add(JobSpec(name="ask", symbols=["MSFT"], every=timedelta(hours=1),
                                approval="copilot", expire_after=timedelta(minutes=30)),
                        wall.now())  # fmt: skip
        pilot.run_slot("ask", WALL)
        run_id = pilot.store.job("ask").last_run_id
        assert run_id is not None
        wall.advance(timedelta(minutes=31))
        assert Leader(pilot=pilot, lock=ProcessLock(), workers=0).expire_approvals() == [run_id]
        after = w.client.post(f"/v1/runs/{run_id}/approval", json=APPROVE, headers=w.h("trader"))
        assert (
            after.status_code == 409
            and "already decided (reject by autopilot" in after.json()["detail"]
        )
        assert attack.sent == [] and w.orders() == []
        invariants(attack, w.c, run_id)


def test_approving_through_a_viewer_key_is_403_and_sends_nothing(attack: Attack) -> None:
    with web(attack) as w:
        view = awaiting(w.c)
        url = f"/v1/runs/{view['run_id']}/approval"
        for body in (APPROVE, {"action": "reject"}):
            answer = w.client.post(url, json=body, headers=w.h("viewer"))
            assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
        assert show_run(w.c, view["run_id"]).status == "awaiting_approval"
        assert attack.sent == [] and w.orders() == []
        invariants(attack, w.c, view["run_id"])


def test_two_concurrent_approvals_of_one_run_then_one_order(attack: Attack) -> None:
    """Two servers (two containers on one ledger, so no shared in-process lock) and two
    clients of each approve the same run at the same moment."""
    c1 = attack.container()
    c2 = attack.container()
    with web(attack, c1) as w1, web(attack, c2) as w2:
        view = awaiting(c1)
        url = f"/v1/runs/{view['run_id']}/approval"

        def approve(i: int) -> int:
            w = (w1, w2)[i % 2]
            return w.client.post(url, json=APPROVE, headers=w.h("trader")).status_code

        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(approve, range(4)))
        assert 200 in codes and set(codes) <= {200, 409}, codes
        proposals = len(view["pending"]["proposals"])
        assert len(attack.sent) == proposals, attack.sent
        assert len(w1.orders()) == proposals
        assert show_run(c1, view["run_id"]).outcome == "executed"
        invariants(attack, c1, view["run_id"])


def test_an_approval_after_a_halt_sends_no_order(attack: Attack) -> None:
    with web(attack) as w:
        view = awaiting(w.c)
        halted = w.client.post("/v1/risk/halt", json={"reason": "drill"}, headers=w.h("viewer"))
        assert halted.status_code == 200
        done = w.client.post(f"/v1/runs/{view['run_id']}/approval", json=APPROVE,
                             headers=w.h("trader"))  # fmt: skip
        assert done.status_code == 200, done.text
        assert done.json()["outcome"] == "denied"
        verdicts = [e["payload"] for e in show_run(w.c, view["run_id"]).events or []
                    if e["kind"] == "decision" and e["node"] == "execute"]  # fmt: skip
        assert verdicts and all("STATE_HALTED" in v["reason_codes"] for v in verdicts)
        assert attack.sent == [] and w.orders() == []
        invariants(attack, w.c, view["run_id"])
