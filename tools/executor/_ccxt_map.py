"""Pure translations between ccxt and Tiller: errors into the taxonomy, markets into
instruments, order and trade dicts into ``OrderState`` and ``Fill``.

Numbers leave ccxt as floats or strings; they become Decimal through ``str`` (the
shortest repr of a float, so 0.1 stays 0.1), never through float arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from core.errors import (
    AmbiguousOutcomeError,
    ConfigError,
    NotFoundError,
    RejectedError,
    ThrottledError,
    TillerError,
    UnavailableError,
)
from core.types import Fill, Instrument, OrderStatus, Side, Symbol
from tools.executor._types import DuplicateOrderError, OrderState, SubmitThrottledError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ccxt families that mean "the venue looked at the order and refused it": nothing was
# placed. Everything else on a submit is treated as ambiguous (see classify_submit_error).
_DEFINITE = (
    ccxt.InsufficientFunds,  # Binance -2010 "Account has insufficient balance ..."
    ccxt.InvalidOrder,  # -2010 NEW_ORDER_REJECTED, -1013 filter failures, OrderNotFound
    ccxt.BadRequest,  # malformed parameters; BadSymbol
    ccxt.AuthenticationError,  # bad key or signature; PermissionDenied, AccountSuspended
    ccxt.OperationRejected,  # MarketClosed, RestrictedLocation, ...
    ccxt.NotSupported,
    ccxt.ArgumentsRequired,
)
_THROTTLED = (ccxt.DDoSProtection, ccxt.RateLimitExceeded)

_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


# -- errors ----------------------------------------------------------------------------
def classify_submit_error(
    exc: BaseException, *, venue: str, client_order_id: str, retry_after_s: float | None
) -> TillerError:
    """What a failed ``create_order`` means for the order.

    Definite refusals (``_DEFINITE``) become ``RejectedError`` (``DuplicateOrderError``
    for a client id already open at the venue). Everything else is ambiguous: network
    errors and timeouts (the request may have arrived), 5xx and Binance -1006/-1007 (the
    venue itself says the outcome is unknown), ccxt's generic ExchangeError (an
    unmapped code, a TLS failure mid-request), and exceptions from outside ccxt. A rate
    limit is ambiguous too (``SubmitThrottledError``): Binance documents a 429 as a
    refusal, but a proxy or CDN on the way answers 429 just the same and nothing in the
    answer proves which layer sent it; a wrong "ambiguous" costs one query, a wrong
    "rejected" can leave an order at the venue that the ledger does not know.
    """
    detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    cid = client_order_id
    if isinstance(exc, ccxt.DuplicateOrderId) or (
        isinstance(exc, _DEFINITE) and _mentions_duplicate(str(exc))
    ):
        return DuplicateOrderError(
            f"{venue} already has an open order with client id {cid} ({detail}): an earlier "
            "attempt got through; fetch it by client id, do not send again"
        )
    if isinstance(exc, _THROTTLED):
        wait = f"; the venue asks to wait {retry_after_s:g} s" if retry_after_s else ""
        return SubmitThrottledError(
            f"{venue} answered 'too many requests' to order {cid} ({detail}){wait}; treat "
            "it as unknown and resolve it by client id after waiting",
            retry_after_s,
        )
    if isinstance(exc, _DEFINITE):
        return RejectedError(f"{venue} refused order {cid}: {detail}")
    return AmbiguousOutcomeError(
        f"the outcome of order {cid} at {venue} is unknown ({detail}); query it by client "
        "id before doing anything else, never send it again blindly"
    )


def _mentions_duplicate(message: str) -> bool:
    text = message.lower()
    return "duplicate" in text and ("order" in text or "client" in text)


def classify_read_error(
    exc: ccxt.BaseError, *, venue: str, what: str, retry_after_s: float | None
) -> TillerError:
    """What a failed read (markets, order query, cancel, balances, trades) means. Reads
    change nothing, so the question is only whether asking again can help."""
    detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    if isinstance(exc, _THROTTLED):
        wait = f"wait {retry_after_s:g} s" if retry_after_s else "back off"
        return ThrottledError(f"{venue} rate-limited {what} ({detail}); {wait} and ask again")
    if isinstance(exc, ccxt.OperationFailed):
        return UnavailableError(f"could not {what} at {venue} ({detail}); ask again later")
    if isinstance(exc, ccxt.AuthenticationError):
        return ConfigError(
            f"{venue} refused the API key to {what} ({detail}); check TILLER_EXCHANGE_API_KEY, "
            "TILLER_EXCHANGE_API_SECRET and the key's permissions"
        )
    if isinstance(exc, ccxt.BadSymbol):
        return NotFoundError(f"{venue} does not know the symbol ({what}): {detail}")
    if isinstance(exc, ccxt.NotSupported):
        return ConfigError(f"{venue} cannot {what} through ccxt: {detail}")
    return RejectedError(f"{venue} refused to {what}: {detail}")


# -- numbers and times -------------------------------------------------------------------
def to_decimal(value: Any) -> Decimal | None:
    """A ccxt number (float, int, str or None) as Decimal; None for missing or non-finite."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def from_ms(value: Any) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(milliseconds=int(value))


# -- markets ---------------------------------------------------------------------------
def instruments_from_markets(
    markets: Mapping[str, Mapping[str, Any]], *, precision_mode: int, venue: str
) -> dict[Symbol, Instrument]:
    """Trading rules of every active spot market. ccxt states precision either as a step
    (TICK_SIZE: 0.01) or as a count of decimals (DECIMAL_PLACES: 2); both become a step.
    A market without a price or amount precision is left out: an order in it could not
    be checked, so the broker refuses it as unknown."""
    if precision_mode not in (TICK_SIZE, DECIMAL_PLACES):
        raise ConfigError(
            f"{venue} states precision in significant digits, which gives no fixed tick or "
            "lot size; Tiller supports exchanges whose ccxt precisionMode is TICK_SIZE or "
            "DECIMAL_PLACES"
        )
    found: dict[Symbol, Instrument] = {}
    for market in markets.values():
        if not market.get("spot") or market.get("active") is False:
            continue
        precision, limits = market.get("precision") or {}, market.get("limits") or {}
        tick = _step(precision.get("price"), precision_mode)
        lot = _step(precision.get("amount"), precision_mode)
        try:
            symbol = Symbol(market["symbol"])
        except ValueError:  # a venue-specific spelling outside our symbol grammar
            continue
        if tick is None or lot is None:
            continue
        found[symbol] = Instrument(
            symbol=symbol,
            venue=venue,
            tick_size=tick,
            lot_size=lot,
            min_qty=_limit(limits, "amount"),
            min_notional=_limit(limits, "cost"),
        )
    return found


def _step(value: Any, precision_mode: int) -> Decimal | None:
    number = to_decimal(value)
    if number is None or number <= 0:
        return None
    return number if precision_mode == TICK_SIZE else Decimal(1).scaleb(-int(number))


def _limit(limits: Mapping[str, Any], kind: str) -> Decimal:
    minimum = to_decimal((limits.get(kind) or {}).get("min"))
    return minimum if minimum is not None and minimum > 0 else Decimal(0)


# -- orders and trades -------------------------------------------------------------------
def order_status(raw_status: Any, filled: Decimal) -> OrderStatus:
    """ccxt's unified status as ours: an answer without a status means the venue only
    acknowledged the order (SENT); a status we do not know stays UNKNOWN, which still
    counts as working, so limits stay conservative until a query clears it up."""
    if raw_status is None:
        return OrderStatus.SENT
    status = _STATUS.get(str(raw_status).lower(), OrderStatus.UNKNOWN)
    if status is OrderStatus.OPEN and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def order_state(
    raw: Mapping[str, Any],
    *,
    client_order_id: str,
    symbol: Symbol,
    side: Side | None,
    venue: str,
    now: datetime,
) -> OrderState:
    """An order dict from ccxt as ``OrderState``. ``client_order_id`` and ``symbol`` come
    from the caller, not the answer: a Binance cancel answers with the *cancel's* client
    id, and the caller already knows which order it asked about."""
    filled = to_decimal(raw.get("filled")) or Decimal(0)
    quantity = to_decimal(raw.get("amount"))
    if quantity is None or quantity <= 0:
        raise ValueError(f"order {client_order_id} came back without a quantity: {raw}")
    updated = from_ms(
        raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp") or raw.get("timestamp")
    )
    when = updated or now
    venue_id = raw.get("id")
    parsed_side = Side(str(raw["side"]).lower()) if raw.get("side") else side
    if parsed_side is None:
        raise ValueError(f"order {client_order_id} came back without a side: {raw}")
    fills = tuple(
        fill_from_trade(t, order_id=client_order_id, symbol=symbol, side=parsed_side,
                        venue=venue, default_time=when)
        for t in raw.get("trades") or ()
        if t.get("id") is not None
    )  # fmt: skip
    return OrderState(
        client_order_id=client_order_id,
        venue_order_id=None if venue_id is None else str(venue_id),
        symbol=symbol,
        side=parsed_side,
        status=order_status(raw.get("status"), filled),
        quantity=quantity,
        filled_qty=filled,
        avg_price=_average(raw, filled),
        fills=fills,
        updated_at=when,
    )


def _average(raw: Mapping[str, Any], filled: Decimal) -> Decimal | None:
    if filled <= 0:
        return None
    average = to_decimal(raw.get("average"))
    if average is not None and average > 0:
        return average
    cost = to_decimal(raw.get("cost"))
    return cost / filled if cost is not None and cost > 0 else None


def fill_id(venue: str, symbol: Symbol, trade_id: Any) -> str:
    """Venues number trades per market, so the id is qualified by venue and symbol."""
    return f"{venue}:{symbol}:{trade_id}"


def fill_from_trade(
    raw: Mapping[str, Any],
    *,
    order_id: str,
    symbol: Symbol,
    side: Side | None,
    venue: str,
    default_time: datetime,
) -> Fill:
    """A ccxt trade dict (from ``fetch_my_trades`` or an order's ``trades``) as a Fill
    of ``order_id`` (our client order id). The fee is in the currency the venue charged
    it in (Binance: the asset received, or BNB). A negative fee (a rebate) is refused
    loudly by ``Fill`` rather than booked with the wrong sign."""
    fee = raw.get("fee") or {}
    fee_cost = to_decimal(fee.get("cost")) or Decimal(0)
    trade_side = Side(str(raw["side"]).lower()) if raw.get("side") else side
    if trade_side is None:
        raise ValueError(f"trade {raw.get('id')} of order {order_id} has no side")
    return Fill(
        order_id=order_id,
        fill_id=fill_id(venue, symbol, raw["id"]),
        symbol=symbol,
        side=trade_side,
        quantity=to_decimal(raw.get("amount")),
        price=to_decimal(raw.get("price")),
        fee=fee_cost,
        fee_currency=fee.get("currency") or symbol.quote or "USD",
        timestamp=from_ms(raw.get("timestamp")) or default_time,
    )
