"""Limits may only tighten the hard-coded ceilings, and a limit is never "no limit"."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.types import OrderType, Symbol
from policies.risk import CEILINGS, Ceilings, Limits, load_limits, load_limits_file
from policies.risk._limits import Kind, limit_fields

REPO = Path(__file__).resolve().parents[2]


def test_no_overrides_gives_the_ceilings_plus_default_allow_lists() -> None:
    limits = load_limits(None)

    for field in limit_fields(Ceilings):
        assert getattr(limits, field.name) == getattr(CEILINGS, field.name)
    assert limits.allowed_symbols is None
    assert limits.allowed_venues == frozenset({"paper"})


def test_tighter_values_are_accepted() -> None:
    limits = load_limits(
        {
            "max_order_notional": 5_000,
            "max_position_notional": "20000.50",
            "price_collar_pct": 1.5,
            "max_quote_age": "5s",
            "duplicate_window": "1m",
            "cooldown": 7200,
            "max_orders_per_minute": 5,
            "cooldown_after_losses": 2,
            "allowed_order_types": ["limit"],
            "allow_leverage": False,
        }
    )

    assert limits.max_order_notional == Decimal(5_000)
    assert limits.max_position_notional == Decimal("20000.50")
    assert limits.price_collar_pct == Decimal("1.5")
    assert limits.max_quote_age == timedelta(seconds=5)
    assert limits.duplicate_window == timedelta(minutes=1)
    assert limits.cooldown == timedelta(hours=2)
    assert limits.allowed_order_types == frozenset({OrderType.LIMIT})


@pytest.mark.parametrize(
    ("field", "value", "ceiling"),
    [
        ("max_order_notional", 100_001, "100000"),
        ("max_gross_exposure", "1.5", "1"),
        ("price_collar_pct", 6, "5"),
        ("max_quote_age", 31, "30s"),
        ("max_orders_per_day", 501, "500"),
        ("max_drawdown_pct", 25, "20"),
        ("cooldown_after_losses", 4, "3"),
        ("duplicate_window", "5s", "10s"),  # for a window, shorter is looser
        ("cooldown", "10m", "1800s"),
        ("allow_leverage", True, "false"),
    ],
)
def test_a_looser_value_is_refused_naming_the_field_the_value_and_the_ceiling(
    field: str, value: Any, ceiling: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_limits({field: value})

    message = str(error.value)
    assert field in message and "looser" in message and ceiling in message


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), "-inf", "NaN", "Infinity"])
def test_an_unset_or_non_finite_limit_is_a_configuration_error_never_no_limit(value: Any) -> None:
    with pytest.raises(ConfigError, match="max_order_notional"):
        load_limits({"max_order_notional": value})


@pytest.mark.parametrize("field", ["max_order_notional", "max_orders_per_day", "max_quote_age"])
def test_a_negative_limit_is_refused(field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_limits({field: -1})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_order_notional", True),
        ("max_order_notional", "lots"),
        ("max_orders_per_day", "2.5"),
        ("max_quote_age", "soon"),
        ("allow_leverage", "no"),
        ("allowed_order_types", ["stop"]),
        ("allowed_symbols", ["not a symbol"]),
        ("allowed_venues", ["*"]),
        ("max_order_qty_by_symbol", {"BTC/USDT": None}),
    ],
)
def test_a_malformed_value_is_refused_with_the_field_name(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        load_limits({field: value})


def test_an_unknown_key_is_refused_with_a_did_you_mean() -> None:
    with pytest.raises(ConfigError, match="did you mean 'max_order_notional'"):
        load_limits({"max_order_notionl": 10})


def test_a_reducing_threshold_above_the_halting_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="REDUCING comes before HALTED"):
        load_limits({"reducing_drawdown_pct": 8, "max_drawdown_pct": 6})


def test_per_symbol_quantity_caps_may_only_tighten() -> None:
    limits = load_limits({"max_order_qty_by_symbol": {"btc/usdt": "0.5"}})

    assert limits.order_qty_cap(Symbol("BTC/USDT")) == Decimal("0.5")
    assert limits.order_qty_cap(Symbol("AAPL")) == CEILINGS.max_order_qty
    with pytest.raises(ConfigError, match=r"max_order_qty_by_symbol\[AAPL\]"):
        load_limits({"max_order_qty_by_symbol": {"AAPL": 2_000_000}})


def test_allow_lists_take_symbols_or_star_and_named_venues() -> None:
    limits = load_limits({"allowed_symbols": ["aapl", "BTC/USDT"], "allowed_venues": ["Binance"]})

    assert limits.allowed_symbols == frozenset({Symbol("AAPL"), Symbol("BTC/USDT")})
    assert limits.allowed_venues == frozenset({"binance"})
    assert load_limits({"allowed_symbols": "*"}).allowed_symbols is None


def test_limits_layered_on_limits_may_only_narrow_the_allow_lists() -> None:
    base = load_limits({"allowed_symbols": ["AAPL", "MSFT"], "allowed_venues": ["paper"]})

    narrower = load_limits({"allowed_symbols": ["AAPL"]}, ceilings=base)

    assert narrower.allowed_symbols == frozenset({Symbol("AAPL")})
    with pytest.raises(ConfigError, match="allowed_symbols"):
        load_limits({"allowed_symbols": ["AAPL", "IBM"]}, ceilings=base)
    with pytest.raises(ConfigError, match="allowed_venues"):
        load_limits({"allowed_venues": ["binance"]}, ceilings=base)


def test_limits_hash_ignores_spelling_and_changes_with_any_value() -> None:
    a = load_limits({"price_collar_pct": "2.50", "max_quote_age": 10})
    b = load_limits({"price_collar_pct": 2.5, "max_quote_age": "10s"})
    c = load_limits({"price_collar_pct": "2.49", "max_quote_age": 10})

    assert a.limits_hash() == b.limits_hash()
    assert a.limits_hash() != c.limits_hash()
    assert len(a.limits_hash()) == 64


def test_limits_hash_is_stable_across_processes() -> None:
    # Pinned: a change here means every issued token and audit record changes meaning.
    assert load_limits(None).limits_hash() == load_limits({}).limits_hash()
    assert load_limits(None).as_dict()["max_order_notional"] == "100000"


def test_ceilings_refuse_ill_formed_values_in_code() -> None:
    with pytest.raises(ConfigError, match="max_order_notional"):
        Ceilings(max_order_notional=Decimal("NaN"))
    with pytest.raises(ConfigError, match="max_orders_per_day"):
        Ceilings(max_orders_per_day=-1)


def test_limits_file_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "limits.toml"
    path.write_text(
        'max_order_notional = 2500\nallowed_symbols = ["AAPL"]\nmax_quote_age = "10s"\n'
        '[max_order_qty_by_symbol]\n"BTC/USDT" = 0.25\n',
        encoding="utf-8",
    )

    limits = load_limits_file(path)

    assert limits.max_order_notional == Decimal(2500)
    assert limits.order_qty_cap(Symbol("BTC/USDT")) == Decimal("0.25")


def test_limits_file_in_json_reads_decimals_exactly(tmp_path: Path) -> None:
    path = tmp_path / "limits.json"
    path.write_text(json.dumps({"max_gross_exposure": 0.1}), encoding="utf-8")

    assert load_limits_file(path).max_gross_exposure == Decimal("0.1")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("limits.toml", "max_order_notional = ", "not valid TOML"),
        ("limits.json", '{"max_order_notional": NaN}', "never 'no limit'|finite"),
        ("limits.yaml", "max_order_notional: 1", "must end in .toml or .json"),
        ("limits.json", "[1, 2]", "top level must be a table"),
        ("limits.toml", "max_order_notional = 1e9", "looser"),
    ],
)
def test_a_bad_limits_file_is_refused_naming_the_file(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError, match=message) as error:
        load_limits_file(path)
    assert str(path) in str(error.value)


def test_a_missing_limits_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_limits_file(tmp_path / "absent.toml")


def test_every_limit_is_documented_with_its_default_in_docs_risk_md() -> None:
    doc = (REPO / "docs" / "risk.md").read_text(encoding="utf-8")
    defaults = Limits().as_dict()

    for field in limit_fields(Limits):
        assert f"`{field.name}`" in doc, f"{field.name} is not documented"
        if field.metadata["kind"] in (Kind.DECIMAL_MAX, Kind.INT_MAX):
            row = next(line for line in doc.splitlines() if line.startswith(f"| `{field.name}`"))
            assert str(defaults[field.name]) in row, f"{field.name}'s default is not in its row"


def test_the_limits_file_example_in_docs_risk_md_loads(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "risk.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "limits.toml"
    path.write_text(example, encoding="utf-8")

    limits = load_limits_file(path)

    assert limits.max_order_notional == Decimal(2_500)
    assert limits.allowed_venues == frozenset({"paper", "binance"})
