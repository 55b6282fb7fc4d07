"""The order-level checks, each named after the situation it denies: trading state,
allow-lists, instrument rules, reference price, collar, precision, size and throttles."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from core.types import Instrument, OrderIntent, OrderType, Side
from policies.risk import (
    Approved,
    Decision,
    Denied,
    MarketView,
    ReasonCode,
    RiskState,
    TradingState,
    WorkingOrder,
    halt,
    on_order_submitted,
    on_trade_closed,
)
from tests.policies.risk_builders import (
    AAPL,
    BTC,
    INSTRUMENTS,
    MSFT,
    T0,
    D,
    intent,
    later,
    limits,
    market,
    portfolio,
    quote,
    run,
    state,
)


def codes(decision: Decision) -> set[ReasonCode]:
    assert isinstance(decision, Denied), f"expected a denial, got {decision}"
    return set(decision.codes)


# -- trading state, cooldown, reduce-only ---------------------------------------------------


def test_submit_order_when_trading_halted_then_denies_with_state_halted() -> None:
    risk = halt(state(), "operator kill switch", T0)

    decision = run(intent(), risk=risk)

    assert ReasonCode.STATE_HALTED in codes(decision)


def test_submit_reducing_order_when_trading_halted_then_still_denies() -> None:
    book = portfolio(positions={AAPL: 50})
    risk = halt(state(105_000), "kill switch", T0)

    decision = run(intent(side=Side.SELL, qty=10), book=book, risk=risk)

    assert ReasonCode.STATE_HALTED in codes(decision)


def test_submit_order_that_adds_exposure_when_reducing_then_denies_with_state_reducing() -> None:
    book = portfolio(positions={AAPL: 50})
    risk = replace(state(105_000), trading_state=TradingState.REDUCING)

    decision = run(intent(side=Side.BUY, qty=5), book=book, risk=risk)

    assert codes(decision) == {ReasonCode.STATE_REDUCING}


def test_submit_order_that_shrinks_a_long_when_reducing_then_approves() -> None:
    book = portfolio(positions={AAPL: 50})
    risk = replace(state(105_000), trading_state=TradingState.REDUCING)

    decision = run(intent(side=Side.SELL, qty=20), book=book, risk=risk)

    assert isinstance(decision, Approved)


def test_submit_sell_that_would_flip_a_long_when_reducing_then_denies_with_state_reducing() -> None:
    book = portfolio(positions={AAPL: 50})
    risk = replace(state(105_000), trading_state=TradingState.REDUCING)

    decision = run(intent(side=Side.SELL, qty=51), book=book, risk=risk)

    assert ReasonCode.STATE_REDUCING in codes(decision)


def test_submit_sell_when_working_sells_already_cover_the_long_while_reducing_then_denies() -> None:
    working = [WorkingOrder(AAPL, Side.SELL, D(50), D(100))]
    book = portfolio(positions={AAPL: 50}, working=working)
    risk = replace(state(105_000), trading_state=TradingState.REDUCING)

    decision = run(intent(side=Side.SELL, qty=10), book=book, risk=risk)

    assert ReasonCode.STATE_REDUCING in codes(decision)


def test_submit_order_during_cooldown_after_losing_streak_then_denies_with_cooldown() -> None:
    rules = limits(cooldown_after_losses=2)
    risk = state()
    for _ in range(2):
        risk = on_trade_closed(risk, D(-50), T0, rules)

    decision = run(intent(), rules=rules, risk=risk, now=later(60))

    assert ReasonCode.COOLDOWN in codes(decision)


def test_submit_reducing_order_during_cooldown_then_approves() -> None:
    rules = limits(cooldown_after_losses=1)
    book = portfolio(positions={AAPL: 50})
    risk = on_trade_closed(state(105_000), D(-50), T0, rules)

    decision = run(intent(side=Side.SELL, qty=10), book=book, rules=rules, risk=risk)

    assert isinstance(decision, Approved)


def test_submit_order_after_cooldown_expired_then_approves() -> None:
    rules = limits(cooldown_after_losses=1, cooldown="1h")
    risk = on_trade_closed(state(), D(-50), T0, rules)
    now = later(3601)

    decision = run(intent(created_at=now), rules=rules, risk=risk, now=now, view=market(at=now))

    assert isinstance(decision, Approved)


def test_submit_reduce_only_order_that_would_open_a_position_then_denies_with_reduce_only() -> None:
    decision = run(intent(side=Side.SELL, qty=10, reduce_only=True))

    assert ReasonCode.REDUCE_ONLY in codes(decision)


# -- allow-lists and instruments ------------------------------------------------------------


def test_submit_order_for_symbol_not_on_allow_list_then_denies_with_symbol_not_allowed() -> None:
    rules = limits(allowed_symbols=["MSFT"])

    decision = run(intent(symbol=AAPL), rules=rules)

    assert ReasonCode.SYMBOL_NOT_ALLOWED in codes(decision)


def test_submit_order_to_venue_not_on_allow_list_then_denies_with_venue_not_allowed() -> None:
    decision = run(intent(venue="binance"))

    assert ReasonCode.VENUE_NOT_ALLOWED in codes(decision)


def test_submit_order_type_not_allowed_then_denies_with_order_type_not_allowed() -> None:
    rules = limits(allowed_order_types=["limit"])

    decision = run(intent(order_type=OrderType.MARKET), rules=rules)

    assert ReasonCode.ORDER_TYPE_NOT_ALLOWED in codes(decision)


def test_submit_order_without_instrument_rules_then_denies_with_unknown_instrument() -> None:
    view = MarketView(quotes=market().quotes, instruments={MSFT: INSTRUMENTS[MSFT]})

    decision = run(intent(symbol=AAPL), view=view)

    assert ReasonCode.UNKNOWN_INSTRUMENT in codes(decision)


def test_submit_order_for_instrument_at_another_venue_then_denies_with_unknown_instrument() -> None:
    rules = limits(allowed_venues=["paper", "binance"])
    elsewhere = {**INSTRUMENTS, AAPL: Instrument(symbol=AAPL, venue="binance", lot_size=D(1))}

    decision = run(
        intent(symbol=AAPL, venue="paper"), rules=rules, view=market(instruments=elsewhere)
    )

    assert ReasonCode.UNKNOWN_INSTRUMENT in codes(decision)


# -- reference price ------------------------------------------------------------------------


def test_submit_order_without_a_quote_then_denies_with_no_reference_price() -> None:
    view = market(prices={MSFT: 400})

    decision = run(intent(symbol=AAPL), view=view)

    assert codes(decision) == {ReasonCode.NO_REFERENCE_PRICE}


def test_submit_market_order_without_a_quote_is_never_sent_unpriced() -> None:
    view = market(prices={})

    decision = run(intent(symbol=AAPL, order_type=OrderType.MARKET), view=view)

    assert isinstance(decision, Denied)


def test_submit_order_with_a_stale_quote_then_denies_with_stale_reference_price() -> None:
    now = later(31)  # max_quote_age is 30 s

    decision = run(intent(created_at=now), now=now)

    assert codes(decision) == {ReasonCode.STALE_REFERENCE_PRICE}


def test_submit_order_with_a_quote_exactly_max_age_old_then_approves() -> None:
    now = later(30)

    decision = run(intent(created_at=now), now=now)

    assert isinstance(decision, Approved)


def test_submit_order_with_a_quote_from_the_future_then_denies_with_no_reference_price() -> None:
    view = market(at=later(60))

    decision = run(intent(), view=view)

    assert ReasonCode.NO_REFERENCE_PRICE in codes(decision)


def test_submit_order_with_a_crossed_quote_then_denies_with_no_reference_price() -> None:
    crossed = quote(AAPL, 100).model_copy(update={"bid": D("100.5"), "ask": D("99.5")})
    view = MarketView(quotes={**market().quotes, AAPL: crossed}, instruments=INSTRUMENTS)

    decision = run(intent(), view=view)

    assert ReasonCode.NO_REFERENCE_PRICE in codes(decision)


def test_submit_order_when_a_held_symbol_has_no_quote_then_denies_with_no_reference_price() -> None:
    book = portfolio(positions={MSFT: 10})
    view = market(prices={AAPL: 100})

    decision = run(intent(symbol=AAPL), book=book, view=view)

    assert isinstance(decision, Denied)
    assert [v.code for v in decision.violations] == [ReasonCode.NO_REFERENCE_PRICE]
    assert "MSFT" in decision.violations[0].message


def test_submit_order_when_a_held_quote_is_stale_then_denies_with_stale_reference_price() -> None:
    book = portfolio(positions={MSFT: 10})
    quotes = {**market().quotes, MSFT: quote(MSFT, 400, at=T0 - timedelta(minutes=5))}
    view = MarketView(quotes=quotes, instruments=INSTRUMENTS)

    decision = run(intent(symbol=AAPL), book=book, view=view)

    assert codes(decision) == {ReasonCode.STALE_REFERENCE_PRICE}


# -- price collar and exchange precision ----------------------------------------------------


@pytest.mark.parametrize("price", ["105.01", "94.99"])
def test_submit_limit_outside_the_price_collar_then_denies_with_price_collar(price: str) -> None:
    decision = run(intent(price=price))

    assert codes(decision) == {ReasonCode.PRICE_COLLAR}


@pytest.mark.parametrize("price", ["105.00", "95.00"])
def test_submit_limit_on_the_collar_edge_then_approves(price: str) -> None:
    decision = run(intent(price=price))

    assert isinstance(decision, Approved)


def test_submit_limit_price_off_the_tick_then_denies_with_tick_size() -> None:
    decision = run(intent(price="100.005"))

    assert codes(decision) == {ReasonCode.TICK_SIZE}


def test_submit_quantity_off_the_lot_then_denies_with_lot_size() -> None:
    decision = run(intent(symbol=BTC, qty="0.0015"))

    assert codes(decision) == {ReasonCode.LOT_SIZE}


def test_submit_quantity_below_the_minimum_then_denies_with_min_qty() -> None:
    instruments = {**INSTRUMENTS, MSFT: Instrument(symbol=MSFT, lot_size=D(1), min_qty=D(5))}

    decision = run(intent(symbol=MSFT, qty=4), view=market(instruments=instruments))

    assert codes(decision) == {ReasonCode.MIN_QTY}


def test_submit_order_below_the_venue_min_notional_then_denies_with_min_notional() -> None:
    decision = run(intent(symbol=BTC, qty="0.001", price="9000"), view=market({BTC: 9000}))

    assert codes(decision) == {ReasonCode.MIN_NOTIONAL}


# -- order size -----------------------------------------------------------------------------


def test_submit_quantity_above_the_cap_then_denies_with_max_order_qty() -> None:
    rules = limits(max_order_qty=100)

    decision = run(intent(qty=101), rules=rules)

    assert codes(decision) == {ReasonCode.MAX_ORDER_QTY}


def test_submit_quantity_above_the_symbol_cap_then_denies_with_max_order_qty() -> None:
    rules = limits(max_order_qty_by_symbol={"BTC/USDT": "0.5"})

    decision = run(intent(symbol=BTC, qty="0.6"), rules=rules)
    other = run(intent(symbol=AAPL, qty=6), rules=rules)

    assert codes(decision) == {ReasonCode.MAX_ORDER_QTY}
    assert isinstance(other, Approved)


def test_submit_order_worth_more_than_the_max_notional_then_denies_with_max_order_notional() -> (
    None
):
    rules = limits(max_order_notional=5_000)

    decision = run(intent(qty=50, price="100.01"), rules=rules)

    assert codes(decision) == {ReasonCode.MAX_ORDER_NOTIONAL}


def test_submit_market_order_is_valued_at_its_protected_price_for_max_notional() -> None:
    rules = limits(max_order_notional=5_000)  # 48 × 105 (the protected limit) = 5,040

    decision = run(intent(qty=48), rules=rules)

    assert codes(decision) == {ReasonCode.MAX_ORDER_NOTIONAL}


# -- duplicates and throttles ---------------------------------------------------------------


def _sent(risk: RiskState, proposal: OrderIntent, seconds_ago: float, now: datetime) -> RiskState:
    """``risk`` after ``proposal`` was approved and sent ``seconds_ago`` before ``now``."""
    when = now - timedelta(seconds=seconds_ago)
    approved = run(proposal, now=when, view=market(at=when))
    assert isinstance(approved, Approved)
    return on_order_submitted(risk, approved, when)


def test_submit_same_order_within_the_duplicate_window_then_denies_with_duplicate_order() -> None:
    now = later(5)
    risk = _sent(state(), intent(qty=10, intent_id="first"), 3, now)

    decision = run(intent(qty=10, intent_id="second", created_at=now), risk=risk, now=now)

    assert codes(decision) == {ReasonCode.DUPLICATE_ORDER}


def test_submit_same_order_after_the_duplicate_window_then_approves() -> None:
    now = later(20)
    risk = _sent(state(), intent(qty=10, intent_id="first"), 11, now)  # window is 10 s

    decision = run(intent(qty=10, intent_id="second", created_at=now), risk=risk, now=now)

    assert isinstance(decision, Approved)


def test_submit_order_beyond_the_per_minute_rate_then_denies_with_rate_limit_minute() -> None:
    rules = limits(max_orders_per_minute=3)
    now = later(59)
    risk = state()
    for i in range(3):
        risk = _sent(risk, intent(qty=1 + i, intent_id=f"i{i}"), 50 - i, now)

    decision = run(
        intent(qty=9, created_at=now), rules=rules, risk=risk, now=now, view=market(at=now)
    )
    a_minute_later = now + timedelta(seconds=60)
    calm = run(
        intent(qty=9, created_at=a_minute_later),
        rules=rules,
        risk=risk,
        now=a_minute_later,
        view=market(at=a_minute_later),
    )

    assert codes(decision) == {ReasonCode.RATE_LIMIT_MINUTE}
    assert isinstance(calm, Approved)


def test_submit_order_beyond_the_daily_count_then_denies_with_rate_limit_day() -> None:
    rules = limits(max_orders_per_day=2)
    risk = replace(state(), orders_today=2)

    decision = run(intent(), rules=rules, risk=risk)

    assert codes(decision) == {ReasonCode.RATE_LIMIT_DAY}
