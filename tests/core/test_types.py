from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core import Fill, FixedClock, OrderIntent, Position, Side, Symbol, Timeframe
from core.errors import ConfigError
from core.settings import load_settings
from core.timeutil import ensure_utc, parse_utc

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_symbol_normalises_case_and_whitespace() -> None:
    assert Symbol(" btc/usdt ") == "BTC/USDT"
    assert Symbol("BTC/USDT").base == "BTC"
    assert Symbol("BTC/USDT").quote == "USDT"
    assert Symbol("AAPL").quote is None


@pytest.mark.parametrize("bad", ["", "BTC//USDT", "BTC USDT", "/USDT", "A" * 40])
def test_symbol_rejects_malformed_text_with_a_hint(bad: str) -> None:
    with pytest.raises(ValueError, match="not a valid symbol"):
        Symbol(bad)


def test_symbol_slug_round_trips() -> None:
    for text in ("BTC/USDT", "AAPL", "BRK.B", "BTC/USDT:USDT"):
        assert Symbol.from_slug(Symbol(text).slug) == text


def test_timeframe_parses_seconds_and_refuses_zero() -> None:
    assert Timeframe("4h").seconds == 4 * 3600
    assert Timeframe("1d").delta == timedelta(days=1)
    with pytest.raises(ValueError, match="not a timeframe"):
        Timeframe("0m")
    with pytest.raises(ValueError, match="not a timeframe"):
        Timeframe("1y")


def test_naive_datetimes_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2024, 1, 1))
    assert parse_utc("2024-01-01") == T0
    with pytest.raises(ConfigError, match="ISO 8601"):
        parse_utc("yesterday-ish")


def test_order_intent_requires_limit_price_for_limit_orders() -> None:
    with pytest.raises(ValidationError, match="limit_price"):
        OrderIntent(
            symbol=Symbol("AAPL"), side=Side.BUY, quantity=Decimal(1), order_type="limit",
            created_at=T0,
        )  # fmt: skip


def test_order_intent_refuses_non_positive_or_nan_quantity() -> None:
    for qty in (Decimal(0), Decimal(-1), Decimal("NaN")):
        with pytest.raises(ValidationError):
            OrderIntent(symbol=Symbol("AAPL"), side=Side.BUY, quantity=qty, created_at=T0)


def _fill(side: Side, qty: str, price: str) -> Fill:
    return Fill(
        order_id="o", fill_id="f", symbol=Symbol("AAPL"), side=side,
        quantity=Decimal(qty), price=Decimal(price), timestamp=T0,
    )  # fmt: skip


def test_position_averages_up_and_realises_on_reduce() -> None:
    pos = Position(symbol=Symbol("AAPL"), quantity=Decimal(0))
    pos, pnl = pos.apply(_fill(Side.BUY, "10", "100"))
    pos, pnl = pos.apply(_fill(Side.BUY, "10", "110"))
    assert pos.quantity == 20 and pos.average_price == 105 and pnl == 0
    pos, pnl = pos.apply(_fill(Side.SELL, "5", "120"))
    assert pos.quantity == 15 and pos.average_price == 105 and pnl == 75


def test_position_flip_through_zero_opens_remainder_at_fill_price() -> None:
    pos = Position(symbol=Symbol("AAPL"), quantity=Decimal(10), average_price=Decimal(100))
    pos, pnl = pos.apply(_fill(Side.SELL, "15", "90"))
    assert pos.quantity == -5 and pos.average_price == 90 and pnl == -100


def test_fixed_clock_moves_only_forward() -> None:
    clock = FixedClock(T0)
    clock.advance(timedelta(hours=1))
    assert clock.now() == T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(T0)


def test_settings_read_env_prefix_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLER_EXCHANGE_API_KEY", "very-secret-value")
    settings = load_settings()
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in settings.model_dump_json()
    assert settings.exchange_api_key is not None
    assert settings.exchange_api_key.get_secret_value() == "very-secret-value"


def test_settings_default_under_tiller_home(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TILLER_HOME", str(tmp_path / "h"))
    settings = load_settings()
    assert settings.market_data_dir == (tmp_path / "h").resolve() / "data"
    assert settings.ledger_url.startswith("sqlite:///")


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLER_EXCHANGE_TIMEOUT_MS", "-5")
    with pytest.raises(ConfigError, match="TILLER_EXCHANGE_TIMEOUT_MS"):
        load_settings()


def test_placeholder_secret_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLER_ENV", "production")
    monkeypatch.setenv("TILLER_LLM_API_KEY", "changeme")
    with pytest.raises(ConfigError, match="placeholder"):
        load_settings()
