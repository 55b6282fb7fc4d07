"""Canonical JSON: one byte sequence per value, so a hash computed today can be
recomputed by ``verify`` years later, on either backend."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from core.ledger._types import tidy_decimal


def utc_text(value: datetime) -> str:
    """``2024-01-02T03:04:05.000006Z``: fixed width, microseconds always present."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_jsonable(value: Any) -> Any:
    """Plain JSON types only. Decimals become strings (``1.50`` and ``1.5`` encode the
    same), datetimes ISO 8601 UTC; anything unknown is refused rather than ``str()``-ed,
    because an unstable ``repr`` would break the chain."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, str):
        return str(value)  # str subclasses (Symbol) as plain strings
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity have no JSON form; pass a finite number")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} has no JSON form; pass a finite Decimal")
        return format(tidy_decimal(value), "f")
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, Mapping):
        return _mapping(value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "model_dump"):  # pydantic models (OrderIntent, Fill, ...)
        return to_jsonable(value.model_dump())
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    raise TypeError(
        f"cannot encode {type(value).__name__} canonically; pass JSON types, Decimal, "
        "datetime, enums, dataclasses or pydantic models"
    )


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be strings, got {type(key).__name__}")
        out[str(key)] = to_jsonable(item)
    return out


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        to_jsonable(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def entry_message(seq: int, at: datetime, kind: str, payload_json: str) -> str:
    """The canonical JSON of ``{"at", "kind", "payload", "seq"}``, assembled from the
    stored payload text so verification never re-parses (or re-orders) it."""
    return (
        f'{{"at":{json.dumps(utc_text(at))},"kind":{json.dumps(kind, ensure_ascii=False)},'
        f'"payload":{payload_json},"seq":{int(seq)}}}'
    )


def entry_hash(prev_hash: str, seq: int, at: datetime, kind: str, payload_json: str) -> str:
    """sha256(prev_hash + canonical(seq, at, kind, payload)), hex."""
    message = prev_hash + entry_message(seq, at, kind, payload_json)
    return hashlib.sha256(message.encode("utf-8")).hexdigest()


def entry_mac(
    key: bytes, prev_hash: str, seq: int, at: datetime, kind: str, payload_json: str
) -> str:
    """HMAC-SHA256(key, prev_hash + canonical(seq, at, kind, payload)), hex: the keyed
    chain. Same message as ``entry_hash``; without the key nobody can recompute it."""
    message = prev_hash + entry_message(seq, at, kind, payload_json)
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()
