"""The two outcomes of a risk check. A denial is a value, never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.types import OrderIntent
from policies.risk._limits import canonical_decimal
from policies.risk._reasons import ReasonCode, Violation
from policies.risk._state import Fingerprint


@dataclass(frozen=True, slots=True)
class Approved:
    """Permission to send exactly ``order`` (which may differ from the proposal: a market
    order becomes a protected limit) under ``client_order_id`` until ``expires_at``.

    ``fingerprint`` identifies the proposal for duplicate detection; hand the whole
    ``Approved`` to ``on_order_submitted`` once the order is sent.
    """

    order: OrderIntent
    client_order_id: str
    token: str
    expires_at: datetime
    limits_hash: str
    fingerprint: Fingerprint

    @property
    def approved(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        """An audit-ready record (strings only; the token is a capability, not the key)."""
        order = self.order
        return {
            "decision": "approved",
            "intent_id": order.intent_id,
            "client_order_id": self.client_order_id,
            "symbol": str(order.symbol),
            "side": order.side.value,
            "quantity": canonical_decimal(order.quantity),
            "order_type": order.order_type.value,
            "limit_price": None if order.limit_price is None else str(order.limit_price),
            "venue": order.venue,
            "token": self.token,
            "expires_at": self.expires_at.isoformat(),
            "limits_hash": self.limits_hash,
        }


@dataclass(frozen=True, slots=True)
class Denied:
    """The proposal may not be sent; ``violations`` lists every rule it broke."""

    violations: tuple[Violation, ...]
    intent: OrderIntent

    @property
    def approved(self) -> bool:
        return False

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(v.code for v in self.violations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": "denied",
            "intent_id": self.intent.intent_id,
            "violations": [v.to_dict() for v in self.violations],
        }


Decision = Approved | Denied
