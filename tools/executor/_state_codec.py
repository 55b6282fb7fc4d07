"""Lossless JSON encoding of the risk officer's state, for the ledger's risk_state row.

``RiskState.to_dict`` is a human summary; this keeps every field (submissions included,
which the duplicate and throttle checks need) so a restart decides exactly as before.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from policies.risk import ReasonCode, RiskState, Submission, TradingState


def encode_state(state: RiskState) -> dict[str, Any]:
    return {
        "v": 1,
        "trading_state": state.trading_state.value,
        "day": state.day.isoformat(),
        "day_start_equity": str(state.day_start_equity),
        "peak_equity": str(state.peak_equity),
        "submissions": [[s.at.isoformat(), list(s.fingerprint)] for s in state.submissions],
        "orders_today": state.orders_today,
        "consecutive_losses": state.consecutive_losses,
        "cooldown_until": _iso(state.cooldown_until),
        "halted_reason": state.halted_reason,
        "reason_code": None if state.reason_code is None else state.reason_code.value,
        "changed_at": _iso(state.changed_at),
    }


def decode_state(data: dict[str, Any]) -> RiskState:
    if data.get("v") != 1:
        raise ValueError(f"unknown risk state encoding version {data.get('v')!r}")
    return RiskState(
        trading_state=TradingState(data["trading_state"]),
        day=date.fromisoformat(data["day"]),
        day_start_equity=Decimal(data["day_start_equity"]),
        peak_equity=Decimal(data["peak_equity"]),
        submissions=tuple(
            Submission(datetime.fromisoformat(at), tuple(fp)) for at, fp in data["submissions"]
        ),
        orders_today=int(data["orders_today"]),
        consecutive_losses=int(data["consecutive_losses"]),
        cooldown_until=_time(data.get("cooldown_until")),
        halted_reason=data.get("halted_reason"),
        reason_code=None if data.get("reason_code") is None else ReasonCode(data["reason_code"]),
        changed_at=_time(data.get("changed_at")),
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
