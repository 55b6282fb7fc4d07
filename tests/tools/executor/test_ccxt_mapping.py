"""The pure ccxt translations: the error table, precision modes, statuses, numbers.

The fake server is reached at 127.0.0.1, where ccxt's binance uses its generic error
table; on api.binance.com it uses the spot table, which maps some codes to other
classes (-1007 is BadResponse there, RequestTimeout here). The table below feeds the
classifier the classes both tables produce.
"""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE

from core.errors import (
    AmbiguousOutcomeError,
    ConfigError,
    NotFoundError,
    RejectedError,
    ThrottledError,
    UnavailableError,
)
from core.types import OrderStatus, Symbol
from tools.executor import DuplicateOrderError, SubmitThrottledError
from tools.executor._ccxt_map import (
    classify_read_error,
    classify_submit_error,
    instruments_from_markets,
    order_status,
    to_decimal,
)

STATUS_UNKNOWN = (
    'binance {"code":-1007,"msg":"Timeout waiting for response from backend server. '
    'Send status unknown; execution status unknown."}'
)

UNEXPECTED_RESPONSE = '{"code":-1006,"msg":"Execution status unknown."}'

SUBMIT_TABLE = [
    # definite refusals: nothing was placed
    (ccxt.InsufficientFunds("Account has insufficient balance"), RejectedError),
    (ccxt.InvalidOrder('{"code":-1013,"msg":"Filter failure: LOT_SIZE"}'), RejectedError),
    (ccxt.OrderNotFound("-2013"), RejectedError),
    (ccxt.BadSymbol("-1121 Invalid symbol."), RejectedError),
    (ccxt.AuthenticationError("-2015 Invalid API-key"), RejectedError),
    (ccxt.PermissionDenied("This account may not place orders."), RejectedError),
    (ccxt.InvalidOrder('{"code":-2010,"msg":"Duplicate order sent."}'), DuplicateOrderError),
    (ccxt.DuplicateOrderId("clientOrderId already exists"), DuplicateOrderError),
    # unknown outcome: query before anything else
    (ccxt.RequestTimeout("binance POST .../order"), AmbiguousOutcomeError),
    (ccxt.NetworkError("Connection aborted."), AmbiguousOutcomeError),
    (ccxt.ExchangeNotAvailable("503 Service Unavailable"), AmbiguousOutcomeError),
    (ccxt.BadResponse(STATUS_UNKNOWN), AmbiguousOutcomeError),  # -1007 on real spot URLs
    (ccxt.RequestTimeout(STATUS_UNKNOWN), AmbiguousOutcomeError),  # -1007 on other URLs
    (ccxt.OperationFailed(UNEXPECTED_RESPONSE), AmbiguousOutcomeError),  # -1006
    (ccxt.ExchangeError('{"code":-9999,"msg":"new code"}'), AmbiguousOutcomeError),
    (RuntimeError("bug after the request left"), AmbiguousOutcomeError),
    (ccxt.RateLimitExceeded("-1015 Too many new orders"), SubmitThrottledError),
    (ccxt.DDoSProtection("429 Too Many Requests"), SubmitThrottledError),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "expected"), SUBMIT_TABLE, ids=lambda v: type(v).__name__)
def test_submit_errors_are_classified_by_what_they_mean_for_the_order(
    exc: BaseException, expected: type[Exception]
) -> None:
    result = classify_submit_error(exc, venue="binance", client_order_id="c1", retry_after_s=None)

    assert type(result) is expected
    assert "c1" in str(result)
    if isinstance(result, RejectedError):
        assert not isinstance(result, AmbiguousOutcomeError)


READ_TABLE = [
    (ccxt.RequestTimeout("timed out"), UnavailableError),
    (ccxt.ExchangeNotAvailable("502"), UnavailableError),
    (ccxt.DDoSProtection("429"), ThrottledError),
    (ccxt.RateLimitExceeded("-1003"), ThrottledError),
    (ccxt.AuthenticationError("-2015"), ConfigError),
    (ccxt.BadSymbol("-1121"), NotFoundError),
    (ccxt.ExchangeError("something definite"), RejectedError),
]


@pytest.mark.parametrize(("exc", "expected"), READ_TABLE, ids=lambda v: type(v).__name__)
def test_read_errors_say_whether_asking_again_can_help(
    exc: ccxt.BaseError, expected: type[Exception]
) -> None:
    result = classify_read_error(exc, venue="binance", what="query order", retry_after_s=None)

    assert type(result) is expected


def _market(symbol: str, price: object, amount: object, **extra: object) -> dict[str, object]:
    return {
        "symbol": symbol,
        "spot": True,
        "active": True,
        "precision": {"price": price, "amount": amount},
        "limits": {"amount": {"min": 0.001}, "cost": {"min": 10.0}},
        **extra,
    }


def test_tick_size_and_decimal_places_precision_give_the_same_steps() -> None:
    ticks = instruments_from_markets(
        {"A/USD": _market("A/USD", 0.05, 0.001)}, precision_mode=TICK_SIZE, venue="x"
    )
    places = instruments_from_markets(
        {"A/USD": _market("A/USD", 2, 3)}, precision_mode=DECIMAL_PLACES, venue="x"
    )

    a = Symbol("A/USD")
    assert (ticks[a].tick_size, ticks[a].lot_size) == (Decimal("0.05"), Decimal("0.001"))
    assert (places[a].tick_size, places[a].lot_size) == (Decimal("0.01"), Decimal("0.001"))
    assert (ticks[a].min_qty, ticks[a].min_notional) == (Decimal("0.001"), Decimal("10.0"))


def test_markets_that_cannot_be_checked_are_left_out() -> None:
    markets = {
        "A/USD": _market("A/USD", 0.01, 0.01),
        "B/USD": _market("B/USD", None, 0.01),  # no price precision
        "C/USD": _market("C/USD", 0.01, 0.01, active=False),
        "C/USD:USD": _market("C/USD:USD", 0.01, 0.01, spot=False),
    }

    found = instruments_from_markets(markets, precision_mode=TICK_SIZE, venue="x")

    assert list(found) == [Symbol("A/USD")]


def test_significant_digits_precision_is_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match="significant digits"):
        instruments_from_markets({}, precision_mode=SIGNIFICANT_DIGITS, venue="x")


@pytest.mark.parametrize(
    ("raw", "filled", "expected"),
    [
        ("open", "0", OrderStatus.OPEN),
        ("open", "0.5", OrderStatus.PARTIALLY_FILLED),
        ("closed", "1", OrderStatus.FILLED),
        ("canceled", "0.5", OrderStatus.CANCELED),
        ("expired", "0", OrderStatus.EXPIRED),
        ("rejected", "0", OrderStatus.REJECTED),
        (None, "0", OrderStatus.SENT),  # an acknowledgement without a state
        ("canceling", "0", OrderStatus.UNKNOWN),  # still counts as working
    ],
)
def test_order_status_mapping(raw: str | None, filled: str, expected: OrderStatus) -> None:
    assert order_status(raw, Decimal(filled)) is expected


def test_numbers_become_decimal_through_their_shortest_text() -> None:
    assert to_decimal(0.1) == Decimal("0.1")  # not 0.1000000000000000055511151231257827
    assert to_decimal("30000.12345678") == Decimal("30000.12345678")
    assert to_decimal(None) is None and to_decimal(float("nan")) is None
