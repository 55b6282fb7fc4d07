"""Approval tokens and client order ids.

A token is an HMAC-SHA256 over a canonical encoding of *every* field of the approved
order, its client order id, the limits hash and the expiry. The executor verifies it
against the order it is about to send, so a raw proposal, an edited order or an approval
issued under other limits can never be sent by mistake.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from core.errors import ConfigError
from core.types import OrderIntent
from policies.risk._limits import canonical_decimal

MIN_KEY_BYTES = 32
CLIENT_ORDER_ID_PREFIX = "tl-"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Sorted once: a field added to OrderIntent later is covered without touching this file.
_ORDER_FIELDS = tuple((name, f"{len(name)}:{name}") for name in sorted(OrderIntent.model_fields))
_FIELD_INDEX = {name: index for index, (name, _) in enumerate(_ORDER_FIELDS)}


def _encode_value(value: Any) -> str:
    # A one-letter type tag keeps None, "None", a Decimal and a string apart.
    if isinstance(value, str):  # most fields: ids, symbol, enums, venue, rationale
        return "s" + value
    if isinstance(value, Decimal):
        return "d" + canonical_decimal(value)
    if value is None:
        return "n"
    if isinstance(value, bool):
        return "b1" if value else "b0"
    if isinstance(value, datetime):  # µs since the epoch: one spelling whatever the zone
        return "t" + str(epoch_micros(value))
    return "r" + repr(value)


def encode_order(order: OrderIntent) -> str:
    """Length-prefixed ``name value`` pairs of every order field, in name order.

    Length prefixes (not separators) make the encoding unambiguous whatever the fields
    contain, so two different orders can never encode alike.
    """
    return "".join(encode_order_parts(order))


def encode_order_parts(order: OrderIntent) -> list[str]:
    """The pieces ``encode_order`` joins, one per field in name order."""
    parts = []
    for name, prefix in _ORDER_FIELDS:
        text = _encode_value(getattr(order, name))
        parts.append(f"{prefix}{len(text)}:{text}")
    return parts


def reencode(parts: list[str], order: OrderIntent, changed: tuple[str, ...]) -> str:
    """``encode_order(order)`` given the parts of an order that differs only in ``changed``."""
    parts = list(parts)
    for name in changed:
        index = _FIELD_INDEX[name]
        text = _encode_value(getattr(order, name))
        parts[index] = f"{_ORDER_FIELDS[index][1]}{len(text)}:{text}"
    return "".join(parts)


def client_order_id(proposal: OrderIntent) -> str:
    """A deterministic id (≤ 36 chars of ``[A-Za-z0-9_-]``) for the order a proposal becomes.

    It is derived from the proposal (its ``intent_id`` and every field as proposed), not
    from the protected price a market order is converted to: approving the same proposal
    again after the price moved yields the same id, so the venue refuses a second order.
    """
    return client_order_id_of(encode_order(proposal))


def client_order_id_of(encoded_proposal: str) -> str:
    """``client_order_id`` from an ``encode_order`` result (saves encoding twice)."""
    digest = hashlib.sha256(b"tiller.coid/1\x00" + encoded_proposal.encode()).hexdigest()
    return CLIENT_ORDER_ID_PREFIX + digest[:32]


def epoch_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


class TokenSigner:
    """Signs and verifies approval tokens with a secret key (≥ 32 bytes).

    The key is held only inside an HMAC object: it is not an attribute, and it never
    appears in ``repr``/``str`` or a pickle.
    """

    __slots__ = ("_mac",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray):
            raise ConfigError("the token key must be bytes (e.g. secrets.token_bytes(32))")
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"the token key is too short: {len(key)} bytes, need at least "
                f"{MIN_KEY_BYTES} (generate one with secrets.token_bytes(32))"
            )
        self._mac = hmac.new(bytes(key), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "TokenSigner(key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a TokenSigner holds a secret key and cannot be pickled")

    def sign(
        self, order: OrderIntent, client_order_id: str, limits_hash: str, expires_at: datetime
    ) -> str:
        """Return ``v1.<expiry µs since epoch>.<hex HMAC>``."""
        return self.sign_encoded(encode_order(order), client_order_id, limits_hash, expires_at)

    def sign_encoded(
        self, encoded_order: str, client_order_id: str, limits_hash: str, expires_at: datetime
    ) -> str:
        """``sign`` for an order already passed through ``encode_order``."""
        expiry = epoch_micros(expires_at)
        return f"v1.{expiry}.{self._digest(encoded_order, client_order_id, limits_hash, expiry)}"

    def verify(
        self,
        token: str,
        order: OrderIntent,
        client_order_id: str,
        limits_hash: str,
        now: datetime,
    ) -> bool:
        """True only if ``token`` was signed for exactly these values and has not expired."""
        if not isinstance(token, str) or not token.isascii():
            return False
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit():
            return False
        expiry = int(parts[1])
        if str(expiry) != parts[1]:  # one spelling per token: no leading zeros
            return False
        if epoch_micros(now) >= expiry:
            return False
        expected = self._digest(encode_order(order), client_order_id, limits_hash, expiry)
        return hmac.compare_digest(expected.encode(), parts[2].encode())

    def _digest(self, encoded: str, client_order_id: str, limits_hash: str, expiry: int) -> str:
        mac = self._mac.copy()
        tail = f"{len(client_order_id)}:{client_order_id}{len(limits_hash)}:{limits_hash}{expiry}"
        mac.update(b"tiller.token/1\x00" + (encoded + tail).encode())
        return mac.hexdigest()
