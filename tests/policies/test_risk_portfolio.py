"""The portfolio-level checks (position, exposure, cash, live breakers) and denials as a
whole. A denial is a value, never an error."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from core.types import Side
from policies.risk import (
    Approved,
    Ceilings,
    Decision,
    Denied,
    ReasonCode,
    WorkingOrder,
    load_limits,
)
from tests.policies.risk_builders import (
    AAPL,
    MSFT,
    T0,
    D,
    intent,
    later,
    limits,
    portfolio,
    run,
    state,
)


def codes(decision: Decision) -> set[ReasonCode]:
    assert isinstance(decision, Denied), f"expected a denial, got {decision}"
    return set(decision.codes)


# -- position, exposure and cash ------------------------------------------------------------


def test_submit_order_past_position_limit_with_working_orders_then_denies_max_position() -> None:
    rules = limits(max_position_notional=10_000)
    working = [WorkingOrder(AAPL, Side.BUY, D(30), D(100))]
    book = portfolio(positions={AAPL: 60}, working=working)  # 90 held or bought = 9,000

    decision = run(intent(qty=11, price=100), book=book, rules=rules)
    fits = run(intent(qty=10, price=100), book=book, rules=rules)

    assert codes(decision) == {ReasonCode.MAX_POSITION}
    assert isinstance(fits, Approved)


def test_submit_order_past_gross_exposure_then_denies_with_max_gross_exposure() -> None:
    rules = limits(max_gross_exposure="0.5")
    book = portfolio(cash=50_000, positions={MSFT: 100})  # equity 90,000; gross 40,000

    decision = run(intent(qty=60, price=100), book=book, rules=rules)  # +6,000 > 45,000

    assert codes(decision) == {ReasonCode.MAX_GROSS_EXPOSURE}


def test_submit_order_past_net_exposure_then_denies_with_max_net_exposure() -> None:
    ceilings = Ceilings(allow_leverage=True, max_gross_exposure=D(3))
    rules = load_limits({"allow_leverage": True, "max_net_exposure": "0.2"}, ceilings=ceilings)
    book = portfolio(cash=80_000, positions={MSFT: 50})  # equity 100,000; net 20,000

    decision = run(intent(qty=10, price=100), book=book, rules=rules)

    assert codes(decision) == {ReasonCode.MAX_NET_EXPOSURE}


def test_submit_buy_beyond_cash_counting_working_buys_then_denies_with_insufficient_balance() -> (
    None
):
    working = [
        WorkingOrder(AAPL, Side.BUY, D(40), D(100)),
        WorkingOrder(MSFT, Side.BUY, D(10), None),
    ]
    book = portfolio(cash=10_000, working=working)  # reserves 4,000 + 10 × 420 = 8,200

    decision = run(intent(qty=19, price=100), book=book)
    fits = run(intent(qty=18, price=100), book=book)

    assert codes(decision) == {ReasonCode.INSUFFICIENT_BALANCE}
    assert isinstance(fits, Approved)


def test_submit_sell_beyond_holdings_without_leverage_then_denies_with_insufficient_balance() -> (
    None
):
    book = portfolio(positions={AAPL: 10})

    decision = run(intent(side=Side.SELL, qty=11), book=book)

    assert codes(decision) == {ReasonCode.INSUFFICIENT_BALANCE}


def test_submit_short_sale_when_leverage_allowed_then_approves() -> None:
    ceilings = Ceilings(allow_leverage=True)
    rules = load_limits({"allow_leverage": True}, ceilings=ceilings)

    decision = run(intent(side=Side.SELL, qty=10), rules=rules)

    assert isinstance(decision, Approved)


def test_submit_order_with_no_equity_then_denies_with_max_gross_exposure() -> None:
    book = portfolio(cash=0)

    decision = run(intent(qty=1), book=book, risk=state(1_000))

    assert ReasonCode.MAX_GROSS_EXPOSURE in codes(decision)


def test_reducing_order_passes_even_when_the_position_is_already_over_its_limit() -> None:
    rules = limits(max_position_notional=1_000)
    book = portfolio(positions={AAPL: 50})  # 5,000 after limits were tightened

    grow = run(intent(qty=1), book=book, rules=rules)
    shrink = run(intent(side=Side.SELL, qty=10), book=book, rules=rules)

    assert codes(grow) == {ReasonCode.MAX_POSITION}
    assert isinstance(shrink, Approved)


# -- breakers measured live, and inputs that cannot be trusted ------------------------------


def test_submit_order_when_equity_fell_past_the_daily_loss_then_denies_with_daily_loss() -> None:
    book = portfolio(cash=94_000)
    risk = state(100_000)  # the day started at 100,000; the caller has not fed on_equity yet

    decision = run(intent(), book=book, risk=risk)

    assert codes(decision) == {ReasonCode.DAILY_LOSS}


def test_submit_order_when_drawdown_from_peak_past_threshold_then_denies_with_drawdown() -> None:
    book = portfolio(cash=89_000)
    risk = replace(state(89_000), peak_equity=D(100_000))

    decision = run(intent(), book=book, risk=risk)

    assert codes(decision) == {ReasonCode.DRAWDOWN}


def test_submit_order_with_yesterdays_risk_state_then_denies_with_risk_state_stale() -> None:
    risk = state(now=T0 - timedelta(days=1))

    decision = run(intent(), risk=risk)

    assert codes(decision) == {ReasonCode.RISK_STATE_STALE}


def test_submit_order_dated_in_the_future_then_denies_with_invalid_order() -> None:
    decision = run(intent(created_at=later(60)))

    assert codes(decision) == {ReasonCode.INVALID_ORDER}


def test_denial_lists_every_broken_rule_not_only_the_first() -> None:
    rules = limits(max_order_qty=5, allowed_symbols=["MSFT"])

    decision = run(intent(symbol=AAPL, qty="10", price="120.005", venue="binance"), rules=rules)

    assert codes(decision) >= {
        ReasonCode.SYMBOL_NOT_ALLOWED,
        ReasonCode.VENUE_NOT_ALLOWED,
        ReasonCode.UNKNOWN_INSTRUMENT,
        ReasonCode.PRICE_COLLAR,
        ReasonCode.MAX_ORDER_QTY,
    }


def test_each_violation_names_its_limit_and_the_value_that_broke_it() -> None:
    rules = limits(max_order_notional=5_000)

    decision = run(intent(qty=60, price=100), rules=rules)

    assert isinstance(decision, Denied)
    (violation,) = decision.violations
    assert (violation.limit, violation.value) == ("5000", "6000")
    assert "5000" in violation.message and "6000" in violation.message


def test_every_reason_code_has_a_test_that_produces_it() -> None:
    here = Path(__file__).parent
    sources = "".join(p.read_text(encoding="utf-8") for p in here.glob("test_risk_*.py"))

    missing = [code.name for code in ReasonCode if f"ReasonCode.{code.name}" not in sources]

    assert missing == []
