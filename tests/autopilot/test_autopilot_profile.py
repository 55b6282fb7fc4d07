"""The autopilot's limits profile only ever tightens the main limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.autopilot import AUTOPILOT_DEFAULTS, profile_limits
from core.errors import ConfigError
from policies.risk import load_limits

MAIN = load_limits(None)  # the built-in ceilings


def test_no_profile_file_then_smaller_orders_positions_fewer_orders_earlier_breakers() -> None:
    profile = profile_limits(MAIN)
    assert profile.max_order_notional == Decimal(10_000) < MAIN.max_order_notional
    assert profile.max_position_notional == Decimal(25_000) < MAIN.max_position_notional
    assert profile.max_orders_per_day == 20 < MAIN.max_orders_per_day
    assert profile.max_daily_loss_pct == Decimal(2) < MAIN.max_daily_loss_pct
    assert profile.max_drawdown_pct == Decimal(10) < MAIN.max_drawdown_pct
    assert profile.allowed_venues == MAIN.allowed_venues  # everything else as the main limits


def test_main_limits_tighter_than_the_defaults_then_the_main_value_is_kept() -> None:
    main = load_limits({"max_order_notional": 500, "max_orders_per_day": 3})
    profile = profile_limits(main)
    assert profile.max_order_notional == Decimal(500) and profile.max_orders_per_day == 3
    for name in AUTOPILOT_DEFAULTS:
        assert getattr(profile, name) <= getattr(main, name)


def test_profile_file_tightens_further_then_used(tmp_path: Path) -> None:
    path = tmp_path / "autopilot.toml"
    path.write_text('max_order_notional = 2500\nallowed_symbols = ["AAPL"]\nmax_drawdown_pct = 4\n')
    profile = profile_limits(MAIN, path)
    assert profile.max_order_notional == Decimal(2500)
    assert profile.allowed_symbols == frozenset({"AAPL"})
    assert profile.max_drawdown_pct == Decimal(4) and profile.reducing_drawdown_pct == Decimal(4)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("max_order_notional = 20000\n", "max_order_notional = 20000 is looser than"),
        ("max_orders_per_day = 600\n", "max_orders_per_day = 600 is looser than"),
        ('allowed_venues = ["paper", "binance"]\n', "allowed_venues"),
        ("allow_leverage = true\n", "allow_leverage"),
        ("max_oder_notional = 1\n", "did you mean 'max_order_notional'"),
    ],
)
def test_profile_file_looser_than_the_main_limits_then_refused_naming_the_field(
    tmp_path: Path, text: str, complaint: str
) -> None:
    main = load_limits({"max_order_notional": 15_000})
    path = tmp_path / "autopilot.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=complaint) as caught:
        profile_limits(main, path)
    assert "may only tighten" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content", "complaint"),
    [("missing.toml", None, "cannot read"), ("limits.yaml", "x: 1", "must end in .toml"),
     ("bad.json", "{not json", "is not valid JSON"), ("list.json", "[1]", "top level")],
)  # fmt: skip
def test_unreadable_profile_file_then_config_error(
    tmp_path: Path, name: str, content: str | None, complaint: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=complaint):
        profile_limits(MAIN, path)
