"""The trading-state machine: breakers move towards HALTED and latch; only a resume returns."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from core.errors import ConfigError
from policies.risk import (
    ReasonCode,
    RiskState,
    TradingState,
    halt,
    on_equity,
    on_new_day,
    on_order_submitted,
    on_trade_closed,
    resume,
)
from tests.policies.risk_builders import T0, D, intent, later, limits, run, state

LIMITS = limits()  # daily loss 5 %, REDUCING at 10 % drawdown, HALTED at 20 %


def fed(risk: RiskState, *equities: int | str) -> RiskState:
    for i, equity in enumerate(equities):
        risk = on_equity(risk, D(equity), later(i), LIMITS)
    return risk


def test_fresh_state_is_active_with_day_and_peak_at_the_starting_equity() -> None:
    risk = state(100_000)

    assert risk.trading_state is TradingState.ACTIVE
    assert (risk.day, risk.day_start_equity, risk.peak_equity) == (T0.date(), 100_000, 100_000)


def test_loss_past_the_daily_limit_on_mark_to_market_equity_moves_to_reducing() -> None:
    risk = fed(state(100_000), 96_000, 95_000)

    assert risk.trading_state is TradingState.REDUCING
    assert risk.reason_code is ReasonCode.DAILY_LOSS


def test_drawdown_past_the_reducing_threshold_moves_to_reducing() -> None:
    risk = replace(state(100_000), day_start_equity=D(89_000))  # not a daily loss

    risk = fed(risk, 120_000, 107_000)  # 10.8 % below the 120,000 peak

    assert risk.trading_state is TradingState.REDUCING
    assert risk.reason_code is ReasonCode.DRAWDOWN


def test_drawdown_past_the_maximum_halts() -> None:
    risk = fed(state(100_000), 80_000)

    assert risk.trading_state is TradingState.HALTED
    assert risk.reason_code is ReasonCode.DRAWDOWN
    assert "20" in (risk.halted_reason or "")


def test_breakers_latch_when_equity_recovers() -> None:
    risk = fed(state(100_000), 94_000, 120_000, 130_000)

    assert risk.trading_state is TradingState.REDUCING


def test_breakers_latch_across_a_new_day() -> None:
    risk = fed(state(100_000), 94_000)

    risk = on_equity(risk, D(94_000), T0 + timedelta(days=1), LIMITS)

    assert risk.trading_state is TradingState.REDUCING
    assert risk.day == (T0 + timedelta(days=1)).date()
    assert risk.day_start_equity == D(94_000)


def test_reducing_escalates_to_halted_but_halted_never_softens_to_reducing() -> None:
    risk = fed(state(100_000), 94_000, 79_000, 95_000)

    assert risk.trading_state is TradingState.HALTED


def test_a_zero_percent_limit_trips_on_any_loss_but_not_without_one() -> None:
    strict = limits(max_daily_loss_pct=0, reducing_drawdown_pct=0, max_drawdown_pct=0)

    flat = on_equity(state(100_000), D(100_000), T0, strict)
    lost = on_equity(state(100_000), D("99999.99"), T0, strict)

    assert flat.trading_state is TradingState.ACTIVE
    assert lost.trading_state is TradingState.HALTED


@pytest.mark.parametrize("equity", ["NaN", "-1", "Infinity"])
def test_unusable_equity_halts(equity: str) -> None:
    risk = on_equity(state(), Decimal(equity), T0, LIMITS)

    assert risk.trading_state is TradingState.HALTED


def test_only_resume_leaves_halted() -> None:
    risk = halt(state(), "operator", T0)
    for step in (
        lambda r: on_equity(r, D(200_000), later(1), LIMITS),
        lambda r: on_new_day(r, (T0 + timedelta(days=1)).date(), D(200_000)),
        lambda r: on_trade_closed(r, D(500), later(2), LIMITS),
    ):
        risk = step(risk)
        assert risk.trading_state is TradingState.HALTED

    resumed, _ = resume(risk, "checked the venue", later(3), operator="ana")

    assert resumed.trading_state is TradingState.ACTIVE


@pytest.mark.parametrize(("reason", "operator"), [("", "ana"), ("   ", "ana"), ("ok", " ")])
def test_resume_needs_a_reason_and_an_operator(reason: str, operator: str) -> None:
    with pytest.raises(ConfigError, match="resuming trading needs"):
        resume(halt(state(), "x", T0), reason, T0, operator=operator)


def test_resume_returns_an_audit_ready_record() -> None:
    risk = fed(state(100_000), 80_000)

    _, record = resume(risk, "  limits reviewed ", later(5), operator="ana", equity=D(80_000))

    assert record == {
        "event": "risk.resume",
        "at": later(5).isoformat(),
        "operator": "ana",
        "reason": "limits reviewed",
        "from_state": "halted",
        "to_state": "active",
        "previous_reason": risk.halted_reason,
        "previous_reason_code": "DRAWDOWN",
        "equity_baseline": "80000",
    }


def test_resume_with_equity_accepts_the_loss_so_far() -> None:
    risk = fed(state(100_000), 80_000)

    resumed, _ = resume(risk, "accepted", later(5), operator="ana", equity=D(80_000))
    after = on_equity(resumed, D(79_000), later(6), LIMITS)

    assert after.trading_state is TradingState.ACTIVE
    assert (after.peak_equity, after.day_start_equity) == (80_000, 80_000)


def test_resume_without_equity_trips_again_while_the_loss_stands() -> None:
    risk = fed(state(100_000), 80_000)

    resumed, _ = resume(risk, "try again", later(5), operator="ana")
    after = on_equity(resumed, D(80_000), later(6), LIMITS)

    assert after.trading_state is TradingState.HALTED


def test_halt_always_works_and_keeps_the_first_reason() -> None:
    risk = halt(state(), "", T0)
    again = halt(risk, "second", later(1))

    assert risk.trading_state is TradingState.HALTED
    assert risk.halted_reason == "halted by operator"
    assert again == risk


def test_consecutive_losses_start_a_cooldown_and_a_win_resets_the_streak() -> None:
    rules = limits(cooldown_after_losses=2, cooldown="1h")

    one = on_trade_closed(state(), D(-1), T0, rules)
    reset = on_trade_closed(one, D(1), T0, rules)
    two = on_trade_closed(on_trade_closed(reset, D(-1), T0, rules), D(-1), later(10), rules)

    assert (one.consecutive_losses, one.cooldown_until) == (1, None)
    assert reset.consecutive_losses == 0
    assert two.cooldown_until == later(10) + timedelta(hours=1)


def test_a_break_even_trade_neither_counts_nor_resets_the_streak() -> None:
    rules = limits(cooldown_after_losses=3)

    risk = on_trade_closed(on_trade_closed(state(), D(-1), T0, rules), D(0), T0, rules)

    assert risk.consecutive_losses == 1


def test_submissions_count_today_and_forget_after_a_day() -> None:
    approved = run(intent())
    assert approved.approved
    risk = on_order_submitted(state(), approved, T0)  # type: ignore[arg-type]

    risk = on_order_submitted(risk, approved, T0 + timedelta(days=1, seconds=1))  # type: ignore[arg-type]

    assert risk.orders_today == 2
    assert [s.at for s in risk.submissions] == [T0 + timedelta(days=1, seconds=1)]


def test_a_new_day_resets_the_daily_count_and_baseline_and_cannot_go_back() -> None:
    risk = replace(state(100_000), orders_today=7)
    tomorrow = (T0 + timedelta(days=1)).date()

    risk = on_new_day(risk, tomorrow, D(90_000))

    assert (risk.orders_today, risk.day_start_equity, risk.peak_equity) == (0, 90_000, 100_000)
    with pytest.raises(ValueError, match="cannot go back"):
        on_new_day(risk, T0.date(), D(1))


def test_state_summary_is_json_ready() -> None:
    summary = fed(state(100_000), 80_000).to_dict()

    assert summary["trading_state"] == "halted" and summary["reason_code"] == "DRAWDOWN"
