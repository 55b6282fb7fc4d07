"""Domain types shared by every package: money is Decimal, time is aware UTC.

Floats appear only inside numeric kernels (indicators, backtests); anything that
crosses a package boundary as a price, quantity or amount is a ``Decimal``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    model_validator,
)
from pydantic_core import core_schema

from core.errors import InvalidValueError
from core.timeutil import ensure_utc

UtcDatetime = Annotated[datetime, AfterValidator(ensure_utc)]
"""A datetime that must be timezone-aware; converted to UTC."""


def _finite_decimal(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    return value


Money = Annotated[Decimal, AfterValidator(_finite_decimal)]
NonNegativeMoney = Annotated[Decimal, AfterValidator(_finite_decimal), Field(ge=0)]
PositiveMoney = Annotated[Decimal, AfterValidator(_finite_decimal), Field(gt=0)]

_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-_]{0,31}(/[A-Z0-9][A-Z0-9.\-_]{0,31})?(:[A-Z0-9]+)?$")


class Symbol(str):
    """An instrument identifier: ``AAPL`` for a stock, ``BTC/USDT`` for a spot pair
    (ccxt's unified notation, optionally ``BTC/USDT:USDT`` for a derivative).

    Input is upper-cased and stripped; the exchange-native spelling ``BTCUSDT`` is
    *not* guessed into ``BTC/USDT`` (a quote currency cannot be inferred safely).
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if isinstance(value, Symbol):
            return value  # type: ignore[return-value]
        if not isinstance(value, str):
            raise TypeError(f"a symbol is a string, got {type(value).__name__}")
        text = value.strip().upper()
        if not _SYMBOL_RE.match(text):
            raise InvalidValueError(
                f"{value!r} is not a valid symbol: use a ticker such as AAPL or a pair "
                "such as BTC/USDT (letters, digits, '.', '-', '_', one '/')"
            )
        return super().__new__(cls, text)

    @property
    def base(self) -> str:
        return self.split("/")[0]

    @property
    def quote(self) -> str | None:
        parts = self.split(":")[0].split("/")
        return parts[1] if len(parts) == 2 else None

    @property
    def is_pair(self) -> bool:
        return "/" in self

    @property
    def slug(self) -> str:
        """A filesystem-safe form (``BTC/USDT`` → ``BTC-USDT``)."""
        return self.replace("/", "-").replace(":", "~")

    @classmethod
    def from_slug(cls, slug: str) -> Symbol:
        return cls(slug.replace("~", ":").replace("-", "/", 1) if "-" in slug else slug)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


_TF_RE = re.compile(r"^(\d+)([mhdw])$")
_TF_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


class Timeframe(str):
    """A bar length in ccxt notation: ``1m``, ``5m``, ``1h``, ``4h``, ``1d``, ``1w``."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if isinstance(value, Timeframe):
            return value  # type: ignore[return-value]
        text = str(value).strip()
        match = _TF_RE.match(text)
        if not match or int(match.group(1)) == 0:
            raise InvalidValueError(
                f"{value!r} is not a timeframe: use a number and a unit m/h/d/w, e.g. 1m, 1h, 1d"
            )
        return super().__new__(cls, text)

    @property
    def seconds(self) -> int:
        match = _TF_RE.match(self)
        assert match is not None
        return int(match.group(1)) * _TF_UNIT[match.group(2)]

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def periods_per_year(self) -> float:
        """Bars per year assuming continuous trading (crypto); equities pass 252 per day."""
        return 365.25 * 86400 / self.seconds

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bar(_Frozen):
    """One OHLCV bar. ``open_time`` is the bar's start; it closes at ``open_time + timeframe``
    and is only knowable after that moment."""

    symbol: Symbol
    timeframe: Timeframe
    open_time: UtcDatetime
    open: PositiveMoney
    high: PositiveMoney
    low: PositiveMoney
    close: PositiveMoney
    volume: NonNegativeMoney

    @property
    def close_time(self) -> datetime:
        return self.open_time + self.timeframe.delta

    @model_validator(mode="after")
    def _check_range(self) -> Bar:
        if self.high < self.low:
            raise ValueError(f"high {self.high} is below low {self.low}")
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            raise ValueError("open and close must lie within [low, high]")
        return self


def _new_id() -> str:
    return uuid.uuid4().hex


class OrderIntent(_Frozen):
    """What an agent or strategy wants to do. Not an order until the risk officer approves it.

    ``intent_id`` identifies this proposal; together with the order fields it determines
    the client order id, so the same approved intent can never become two orders.
    """

    intent_id: str = Field(default_factory=_new_id, min_length=1, max_length=64)
    symbol: Symbol
    side: Side
    quantity: PositiveMoney
    order_type: OrderType = OrderType.MARKET
    limit_price: PositiveMoney | None = None
    venue: str = "paper"
    reduce_only: bool = False
    created_at: UtcDatetime
    rationale: str = ""

    @model_validator(mode="after")
    def _check_price(self) -> OrderIntent:
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.order_type is OrderType.MARKET and self.limit_price is not None:
            raise ValueError("a market order takes no limit_price; use order_type='limit'")
        return self


class OrderStatus(StrEnum):
    """Lifecycle of an order as the ledger records it.

    PENDING_SEND: persisted, not yet sent. UNKNOWN: sent but the outcome is ambiguous
    (timeout, network error); resolve by querying, never by re-sending.
    """

    PENDING_SEND = "pending_send"
    SENT = "sent"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_working(self) -> bool:
        """Could still fill (or might, if UNKNOWN): counts against limits."""
        return self in _WORKING

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_WORKING = frozenset(
    {OrderStatus.PENDING_SEND, OrderStatus.SENT, OrderStatus.OPEN,
     OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN}
)  # fmt: skip
_FINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class Instrument(_Frozen):
    """Trading rules of a symbol at a venue (ccxt ``market`` precision and limits)."""

    symbol: Symbol
    venue: str = "paper"
    tick_size: PositiveMoney = Decimal("0.01")
    lot_size: PositiveMoney = Decimal("0.00000001")
    min_qty: NonNegativeMoney = Decimal(0)
    min_notional: NonNegativeMoney = Decimal(0)


class Quote(_Frozen):
    """A reference price observation; ``timestamp`` is when it was true at the venue."""

    symbol: Symbol
    timestamp: UtcDatetime
    last: PositiveMoney
    bid: PositiveMoney | None = None
    ask: PositiveMoney | None = None


class Fill(_Frozen):
    """An execution: part or all of an order traded at ``price``."""

    order_id: str
    fill_id: str
    symbol: Symbol
    side: Side
    quantity: PositiveMoney
    price: PositiveMoney
    fee: NonNegativeMoney = Decimal(0)
    fee_currency: str = "USD"
    timestamp: UtcDatetime


class Position(_Frozen):
    """A signed holding: quantity > 0 long, < 0 short; ``average_price`` of the open lot."""

    symbol: Symbol
    quantity: Money
    average_price: NonNegativeMoney = Decimal(0)

    def market_value(self, price: Decimal) -> Decimal:
        return self.quantity * price

    def unrealised_pnl(self, price: Decimal) -> Decimal:
        return (price - self.average_price) * self.quantity

    def apply(self, fill: Fill) -> tuple[Position, Decimal]:
        """Return the position after ``fill`` and the P&L the fill realised (before fees)."""
        if fill.symbol != self.symbol:
            raise ValueError(f"fill for {fill.symbol} applied to position in {self.symbol}")
        signed = fill.quantity * fill.side.sign
        new_qty = self.quantity + signed
        realised = Decimal(0)
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            total = abs(self.quantity) + fill.quantity
            avg = (abs(self.quantity) * self.average_price + fill.quantity * fill.price) / total
            return Position(symbol=self.symbol, quantity=new_qty, average_price=avg), realised
        closed = min(abs(self.quantity), fill.quantity)
        direction = 1 if self.quantity > 0 else -1
        realised = (fill.price - self.average_price) * closed * direction
        if new_qty == 0:
            avg = Decimal(0)
        elif (new_qty > 0) == (self.quantity > 0):
            avg = self.average_price
        else:  # flipped through zero: the remainder opened at the fill price
            avg = fill.price
        return Position(symbol=self.symbol, quantity=new_qty, average_price=avg), realised


class Portfolio(_Frozen):
    """Cash plus positions, in one quote currency."""

    cash: Money
    currency: str = "USD"
    positions: dict[Symbol, Position] = Field(default_factory=dict)

    def equity(self, prices: dict[Symbol, Decimal]) -> Decimal:
        total = self.cash
        for symbol, pos in self.positions.items():
            if pos.quantity == 0:
                continue
            if symbol not in prices:
                raise KeyError(f"no price for {symbol}: cannot value the portfolio")
            total += pos.market_value(prices[symbol])
        return total

    def gross_exposure(self, prices: dict[Symbol, Decimal]) -> Decimal:
        return sum(
            (abs(p.market_value(prices[s])) for s, p in self.positions.items() if p.quantity),
            Decimal(0),
        )

    def position(self, symbol: Symbol) -> Position:
        return self.positions.get(symbol) or Position(symbol=symbol, quantity=Decimal(0))
