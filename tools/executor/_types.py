"""The broker seam: what an order looks like on its way to a venue, what comes back, and
the contract every broker (paper or live) keeps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from core.errors import AmbiguousOutcomeError, RejectedError
from core.types import (
    Fill,
    Instrument,
    NonNegativeMoney,
    OrderIntent,
    OrderStatus,
    OrderType,
    PositiveMoney,
    Side,
    Symbol,
    UtcDatetime,
)

# Binance's rule for newClientOrderId, the strictest among the venues we target: an id
# that passes here is accepted unchanged everywhere, so it can be derived and persisted
# before sending without any venue rewriting it.
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,36}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BrokerOrder(_Frozen):
    """An approved order as a broker receives it. ``client_order_id`` is the caller's
    idempotency key: the same id always means the same order."""

    client_order_id: str
    symbol: Symbol
    side: Side
    quantity: PositiveMoney
    order_type: OrderType = OrderType.MARKET
    limit_price: PositiveMoney | None = None
    venue: str = "paper"
    reduce_only: bool = False

    @field_validator("client_order_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not _CLIENT_ID_RE.match(value):
            raise ValueError(
                f"client order id {value!r} must be 1-36 characters of letters, digits and "
                "'.', '_', ':', '/', '-' (the strictest venue rule, Binance's)"
            )
        return value

    @model_validator(mode="after")
    def _check_price(self) -> BrokerOrder:
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.order_type is OrderType.MARKET and self.limit_price is not None:
            raise ValueError("a market order takes no limit_price; use order_type='limit'")
        return self

    @classmethod
    def from_intent(cls, intent: OrderIntent, client_order_id: str) -> BrokerOrder:
        return cls(
            client_order_id=client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            venue=intent.venue,
            reduce_only=intent.reduce_only,
        )


class OrderState(_Frozen):
    """What the venue says about an order at ``updated_at``.

    ``fills`` holds the executions reported *with this answer* (a venue's order query may
    report none even when ``filled_qty`` > 0); the complete, de-duplicated record of
    executions is ``Broker.fills_since``. ``avg_price`` is None until something filled.
    """

    client_order_id: str
    venue_order_id: str | None = None
    symbol: Symbol
    side: Side
    status: OrderStatus
    quantity: PositiveMoney
    filled_qty: NonNegativeMoney = Decimal(0)
    avg_price: PositiveMoney | None = None
    fills: tuple[Fill, ...] = ()
    updated_at: UtcDatetime

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty


class DuplicateOrderError(RejectedError):
    """The venue refused the order because an order with this client id is already open
    there: an earlier attempt got through. Look it up with ``fetch_order``; never re-send."""


class SubmitThrottledError(AmbiguousOutcomeError):
    """A submit was answered "too many requests". Venues normally refuse such a request
    unprocessed, but a 429 can come from any proxy on the way and nothing proves which
    layer answered, so the outcome is treated as unknown: wait ``retry_after_s`` (when the
    venue said), then resolve it with ``fetch_order`` like any other ambiguous submit."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@runtime_checkable
class Broker(Protocol):
    """A venue that takes orders. Contract, for every implementation:

    - ``venue`` names the venue; an order whose ``venue`` differs is rejected unsent.
    - ``instruments()`` gives the trading rules (tick, lot, minimums) of every symbol the
      venue trades. ``UnavailableError`` when they cannot be loaded.
    - ``submit(order)`` sends the order once and returns its state. It raises
      ``RejectedError`` when the venue definitely refused it (nothing was placed;
      ``DuplicateOrderError`` when the client id is already open there), and
      ``AmbiguousOutcomeError`` when the outcome is unknown (timeout, network error, 5xx,
      Binance -1007 "execution status unknown", a 429). A broker NEVER retries a submit:
      the caller resolves an ambiguous outcome with ``fetch_order``. Submitting an id
      the broker has already placed returns that order, never a second one, where the
      venue allows (paper: always; Binance: only while the first order is open).
    - ``fetch_order(client_order_id, symbol)`` returns the order's state, or None when
      the venue positively does not know the id (Binance -2013). A failure to ask is
      ``UnavailableError`` (``ThrottledError`` for rate limits), never None.
    - ``cancel(client_order_id, symbol)`` returns the state after the attempt: CANCELED,
      or the final state the order had already reached. ``NotFoundError`` for an id the
      venue does not know; ``UnavailableError`` when it could not ask (a cancel is safe
      to retry).
    - ``open_orders(symbol=None)`` lists working orders (all symbols when None).
    - ``balances()`` gives the free (unreserved) amount per asset; zero amounts omitted.
    - ``fills_since(since, symbol)`` lists executions at or after ``since``, oldest first,
      each ``fill_id`` once: a venue reporting a fill twice or out of order must not
      change what a ledger built from this list holds.
    """

    @property
    def venue(self) -> str: ...

    def instruments(self) -> Mapping[Symbol, Instrument]: ...

    def submit(self, order: BrokerOrder) -> OrderState: ...

    def fetch_order(self, client_order_id: str, symbol: Symbol) -> OrderState | None: ...

    def cancel(self, client_order_id: str, symbol: Symbol) -> OrderState: ...

    def open_orders(self, symbol: Symbol | None = None) -> list[OrderState]: ...

    def balances(self) -> dict[str, Decimal]: ...

    def fills_since(self, since: datetime, symbol: Symbol) -> list[Fill]: ...
