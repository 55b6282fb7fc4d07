"""The live broker: a spot account at any ccxt exchange, through the unified API.

It sends each order exactly once with the caller's client order id, and classifies
every failure by what it means for the order (see ``classify_submit_error``); resolving
an ambiguous outcome is the caller's job, by ``fetch_order`` on the same client id.
Reads are not retried here either: the executor owns the retry policy, and a broker
that retried silently would hide how stale its answers are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

import ccxt

from core.clock import Clock
from core.errors import AmbiguousOutcomeError, NotFoundError, RejectedError, UnavailableError
from core.timeutil import ensure_utc
from core.types import Fill, Instrument, Side, Symbol
from tools.executor._ccxt_map import (
    classify_read_error,
    classify_submit_error,
    fill_from_trade,
    instruments_from_markets,
    order_state,
    to_decimal,
)
from tools.executor._rules import check_order_rules
from tools.executor._types import BrokerOrder, OrderState
from tools.market_data._fetch import retry_after_s

_T = TypeVar("_T")
_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRADES_PAGE = 1000
# Binance answers at most 24 hours of account trades per request (startTime alone means
# the following 24 h), so trade history is walked a day at a time on every venue.
_TRADES_WINDOW = timedelta(hours=24)
# Venues that state no request validity window: a conservative guess.
_DEFAULT_AMBIGUITY = timedelta(seconds=60)


def _ms(when: datetime) -> int:
    return (ensure_utc(when) - _EPOCH) // _MS


def _number(value: Decimal) -> float | str:
    """An amount for ccxt: a float when it round-trips exactly (what every ccxt exchange
    class accepts), else the string (ccxt formats strings without float rounding)."""
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def _trade_key(trade: Mapping[str, Any]) -> tuple[int, int, str]:
    trade_id = str(trade.get("id"))
    return int(trade.get("timestamp") or 0), len(trade_id), trade_id  # numeric ids sort


class CcxtBroker:
    """``Broker`` over a ccxt exchange (build it with
    ``tools.market_data.make_exchange(..., sandbox=settings.exchange_sandbox)``).

    Orders go out with ccxt's unified ``clientOrderId`` parameter (Binance:
    ``newClientOrderId``) and are looked up and canceled by it. Spot markets only. The
    broker sets one option on the exchange it is given (listing open orders without a
    symbol); like the exchange, it is meant for one thread.
    """

    def __init__(self, exchange: ccxt.Exchange, *, clock: Clock) -> None:
        self._exchange = exchange
        self._clock = clock
        self._instruments: dict[Symbol, Instrument] | None = None
        # Trade lists carry the venue's order id only; remember which client id it is.
        self._client_ids: dict[str, str] = {}
        # Listing open orders across all symbols is what start-up reconciliation needs;
        # ccxt's binance refuses it unless told the heavier request weight is accepted.
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False

    @property
    def venue(self) -> str:
        return str(self._exchange.id)

    @property
    def ambiguity_window(self) -> timedelta:
        """The least time to wait after an ambiguous submit before reading None from
        ``fetch_order`` as "never placed". Binance refuses a signed request that arrives
        later than ``recvWindow`` after its timestamp, so a request still in flight
        cannot create an order after this; but its -1007 documentation sets no bound on
        when an order the backend did take becomes visible, so keep such an order
        UNKNOWN (counted against limits) until a query after this window, and let
        start-up reconciliation check again."""
        window = self._exchange.options.get("recvWindow")
        return timedelta(milliseconds=int(window)) if window else _DEFAULT_AMBIGUITY

    # -- Broker -------------------------------------------------------------------------
    def instruments(self) -> Mapping[Symbol, Instrument]:
        if self._instruments is None:
            markets = self._read("load markets", self._exchange.load_markets)
            self._instruments = instruments_from_markets(
                markets, precision_mode=self._exchange.precisionMode, venue=self.venue
            )
        return MappingProxyType(self._instruments)

    def submit(self, order: BrokerOrder) -> OrderState:
        """Send ``order`` once. Checks that fail before sending raise ``RejectedError``
        (wrong venue, unknown symbol, off-lot quantity, off-tick price) or
        ``UnavailableError`` (markets could not be loaded): nothing was sent then."""
        self._check(order)
        symbol, cid = str(order.symbol), order.client_order_id
        price = None if order.limit_price is None else _number(order.limit_price)
        try:
            raw = self._exchange.create_order(
                symbol, order.order_type.value, order.side.value, _number(order.quantity),
                price, self._params(order),
            )  # fmt: skip
        # Deliberately broad: whatever happened once the request may have left, the
        # order's fate is classified (definite refusal or unknown), never dropped.
        except Exception as exc:
            wait = retry_after_s(self._exchange)
            raise classify_submit_error(
                exc, venue=self.venue, client_order_id=cid, retry_after_s=wait
            ) from exc
        try:
            return self._state(raw, cid, order.symbol, order.side)
        except (ValueError, TypeError, KeyError) as exc:
            raise AmbiguousOutcomeError(
                f"{self.venue} accepted order {cid} but its answer could not be read ({exc}); "
                "query it by client id"
            ) from exc

    def fetch_order(self, client_order_id: str, symbol: Symbol) -> OrderState | None:
        try:
            raw = self._exchange.fetch_order(None, str(symbol), {"clientOrderId": client_order_id})
        except ccxt.OrderNotFound:  # Binance -2013: the venue has no order with this id
            return None
        except ccxt.BaseError as exc:
            raise self._read_error(exc, f"query order {client_order_id}") from exc
        return self._state(raw, client_order_id, symbol, None)

    def cancel(self, client_order_id: str, symbol: Symbol) -> OrderState:
        try:
            raw = self._exchange.cancel_order(None, str(symbol), {"clientOrderId": client_order_id})
        except ccxt.OrderNotFound as exc:
            # Binance answers -2011 "Unknown order sent." both for an id it never saw and
            # for an order that already finished; only a query tells them apart.
            state = self.fetch_order(client_order_id, symbol)
            if state is None:
                raise NotFoundError(
                    f"{self.venue} has no order {client_order_id} in {symbol}"
                ) from exc
            return state
        except ccxt.BaseError as exc:
            raise self._read_error(exc, f"cancel order {client_order_id}") from exc
        return self._state(raw, client_order_id, symbol, None)

    def open_orders(self, symbol: Symbol | None = None) -> list[OrderState]:
        wanted = None if symbol is None else str(symbol)
        raw_orders = self._read("list open orders", self._exchange.fetch_open_orders, wanted)
        return [
            self._state(
                raw, str(raw.get("clientOrderId") or raw["id"]), Symbol(raw["symbol"]), None
            )
            for raw in raw_orders
        ]

    def balances(self) -> dict[str, Decimal]:
        raw = self._read("read balances", self._exchange.fetch_balance)
        free = {asset: to_decimal(amount) for asset, amount in (raw.get("free") or {}).items()}
        return {asset: amount for asset, amount in free.items() if amount}

    def fills_since(self, since: datetime, symbol: Symbol) -> list[Fill]:
        """Executions in ``symbol`` at or after ``since``, oldest first, each trade once
        (a venue listing a trade twice, or out of order, changes nothing). History is
        read a day per request, so pass a recent ``since`` (the last fill booked)."""
        trades = self._trades(ensure_utc(since), symbol)
        since_ms = _ms(since)
        ordered = sorted(
            (t for t in trades.values() if int(t.get("timestamp") or 0) >= since_ms),
            key=_trade_key,
        )
        return [self._fill(t, symbol) for t in ordered]

    # -- internals ------------------------------------------------------------------------
    def _check(self, order: BrokerOrder) -> None:
        if order.venue != self.venue:
            raise RejectedError(f"order for venue {order.venue!r} sent to {self.venue!r}")
        instrument = self.instruments().get(order.symbol)
        if instrument is None:
            raise RejectedError(f"{self.venue} has no spot market {order.symbol}")
        check_order_rules(order, instrument, None)

    def _params(self, order: BrokerOrder) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        # Spot venues have no reduce-only flag (Binance refuses the unknown parameter); on
        # spot a sell can only reduce what is held anyway.
        if order.reduce_only and self._exchange.market(str(order.symbol)).get("contract"):
            params["reduceOnly"] = True
        return params

    def _state(
        self, raw: Mapping[str, Any], cid: str, symbol: Symbol, side: Side | None
    ) -> OrderState:
        state = order_state(
            raw, client_order_id=cid, symbol=symbol, side=side, venue=self.venue,
            now=self._clock.now(),
        )  # fmt: skip
        if state.venue_order_id is not None:
            self._client_ids[state.venue_order_id] = cid
        return state

    def _trades(self, since: datetime, symbol: Symbol) -> dict[str, Mapping[str, Any]]:
        now = self._clock.now()
        found: dict[str, Mapping[str, Any]] = {}
        cursor = since
        while cursor <= now:
            window_end = cursor + _TRADES_WINDOW - _MS
            # The last window is left open so a trade stamped a little after our clock
            # (clock skew) is not skipped.
            params = {"until": _ms(window_end)} if window_end < now else {}
            page = self._read(
                f"list trades of {symbol}", self._exchange.fetch_my_trades,
                str(symbol), _ms(cursor), _TRADES_PAGE, params,
            )  # fmt: skip
            for trade in page:
                found.setdefault(str(trade["id"]), trade)
            if len(page) < _TRADES_PAGE:
                cursor = window_end + _MS
                continue
            newest = max(int(t["timestamp"]) for t in page)
            if newest <= _ms(cursor):
                raise UnavailableError(
                    f"{self.venue} lists over {_TRADES_PAGE} trades of {symbol} in one "
                    "millisecond; they cannot be paged by time"
                )
            cursor = _EPOCH + newest * _MS  # that millisecond again: repeats merge by id
        return found

    def _fill(self, trade: Mapping[str, Any], symbol: Symbol) -> Fill:
        venue_order = str(trade.get("order"))
        return fill_from_trade(
            trade, order_id=self._client_id(venue_order, symbol), symbol=symbol, side=None,
            venue=self.venue, default_time=self._clock.now(),
        )  # fmt: skip

    def _client_id(self, venue_order_id: str, symbol: Symbol) -> str:
        """The client id of a venue order id: remembered, or asked once (an order placed
        by an earlier process)."""
        if venue_order_id not in self._client_ids:
            raw = self._read(
                f"query order {venue_order_id}", self._exchange.fetch_order,
                venue_order_id, str(symbol),
            )  # fmt: skip
            self._client_ids[venue_order_id] = str(raw.get("clientOrderId") or venue_order_id)
        return self._client_ids[venue_order_id]

    def _read(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return fn(*args)
        except ccxt.BaseError as exc:
            raise self._read_error(exc, what) from exc

    def _read_error(self, exc: ccxt.BaseError, what: str) -> Exception:
        wait = retry_after_s(self._exchange)
        return classify_read_error(exc, venue=self.venue, what=what, retry_after_s=wait)
