"""Helpers of the catalogue's families 3 (approval abuse), 4 (faults) and 5 (API and
chat): the API around an ``Attack`` container (its broker watched), keys of each role,
a run waiting for a person, and the invariants checked after each case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from agents.models import RunRequest
from app.api import create_app
from app.bootstrap import Container
from app.services.keys import KeyRequest, create_key
from app.services.runs import begin_run, drive_run, show_run
from tests.adversarial.conftest import Attack

ROLES = ("viewer", "trader", "admin")


@dataclass
class Web:
    """The API on a container of the harness: ``h(role)`` are that role's headers."""

    client: TestClient
    c: Container
    keys: dict[str, str]
    attack: Attack

    def h(self, role: str | None, **extra: str) -> dict[str, str]:
        return {**({"X-API-Key": self.keys[role]} if role else {}), **extra}

    def orders(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self.client.get("/v1/orders", headers=self.h("viewer")).json()[
            "orders"
        ]
        return got


@contextmanager
def web(attack: Attack, c: Container | None = None, **overrides: Any) -> Iterator[Web]:
    c = c or attack.container(**overrides)
    keys = {r: create_key(c, KeyRequest(name=f"{r}-key", role=r)).key for r in ROLES}  # type: ignore[arg-type]
    with TestClient(create_app(c, recover=False), raise_server_exceptions=False) as client:
        yield Web(client, c, keys, attack)


def awaiting(c: Container, symbols: tuple[str, ...] = ("MSFT",)) -> dict[str, Any]:
    """A copilot run (offline rules) paused for a person's approval: its view."""
    view = begin_run(c, RunRequest(symbols=list(symbols), mode="copilot"), {"surface": "test"})
    done = drive_run(c, view.run_id)
    assert done.status == "awaiting_approval", done
    assert done.pending and done.pending["proposals"], "the rules proposed nothing to approve"
    return show_run(c, view.run_id).model_dump(mode="json")


def invariants(attack: Attack, c: Container, run_id: str | None = None) -> None:
    """After a case: no order beyond limits reached the broker, each one sent is in the
    ledger exactly once, every run's record is intact and the audit chain verifies."""
    limits = c.limits
    ids = [str(o.client_order_id) for o in attack.sent]
    assert len(ids) == len(set(ids)), f"an order reached the broker twice: {ids}"
    ledger = {o.client_order_id: o for o in c.ledger.orders()}
    for order in attack.sent:
        qty = Decimal(order.quantity)
        assert qty.is_finite() and 0 < qty <= limits.max_order_qty, order
        assert order.client_order_id in ledger, f"sent but not recorded: {order}"
    if run_id is not None:
        view = show_run(c, run_id)
        assert view.tampered == [], view.tampered
    attack.check_audit()
