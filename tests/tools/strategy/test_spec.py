from __future__ import annotations

from typing import Any

import pytest

from core.errors import ConfigError
from tools.strategy import parse_spec, preset, preset_names

BASE: dict[str, Any] = {
    "indicators": {"fast": {"kind": "sma", "window": 10}, "slow": {"kind": "sma", "window": 50}},
    "entry": {"op": "crosses_above", "left": "fast", "right": "slow"},
    "exit": {"op": "crosses_below", "left": "fast", "right": "slow"},
}


def test_every_preset_is_a_valid_spec() -> None:
    for name in preset_names():
        assert preset(name).name == name


def test_unknown_field_is_rejected_with_a_did_you_mean() -> None:
    with pytest.raises(
        ConfigError, match=r"stop_los: unknown field \(did you mean 'stop_loss'\?\)"
    ):
        parse_spec({**BASE, "stop_los": 0.05})


def test_window_zero_is_rejected_naming_the_indicator() -> None:
    spec = {**BASE, "indicators": {**BASE["indicators"], "fast": {"kind": "sma", "window": 0}}}
    with pytest.raises(ConfigError, match=r"indicators\.fast.*window.*greater than or equal to 1"):
        parse_spec(spec)


def test_fraction_above_one_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"fraction.*less than or equal to 1"):
        parse_spec({**BASE, "sizing": {"kind": "fixed_fraction", "fraction": 1.5}})


def test_unknown_indicator_kind_lists_the_valid_kinds() -> None:
    spec = {
        **BASE,
        "indicators": {"fast": {"kind": "hma", "window": 3}, "slow": BASE["indicators"]["slow"]},
    }
    with pytest.raises(ConfigError, match="use one of 'sma', 'ema'"):
        parse_spec(spec)


def test_reference_to_undefined_indicator_suggests_the_closest() -> None:
    spec = {**BASE, "entry": {"op": "gt", "left": "fsat", "right": "slow"}}
    with pytest.raises(ConfigError, match="did you mean 'fast'"):
        parse_spec(spec)


def test_macd_fast_must_be_shorter_than_slow() -> None:
    spec = {"indicators": {"m": {"kind": "macd", "fast": 30, "slow": 20}}, "entry": BASE["entry"]}
    with pytest.raises(ConfigError, match=r"fast .* must be shorter than slow"):
        parse_spec({**spec, "indicators": {**spec["indicators"], **BASE["indicators"]}})


def test_fee_and_stop_bounds_are_enforced() -> None:
    for field, value in (("fee_rate", -0.001), ("stop_loss", 1.5), ("trailing_stop", 0)):
        with pytest.raises(ConfigError, match=field):
            parse_spec({**BASE, field: value})


def test_sizing_defaults_to_fixed_fraction_when_kind_omitted() -> None:
    spec = parse_spec({**BASE, "sizing": {"fraction": 0.25}})
    assert spec.sizing.kind == "fixed_fraction"


def test_nested_conditions_and_multi_output_indicators_parse() -> None:
    spec = parse_spec(
        {
            "indicators": {"bb": {"kind": "bbands", "window": 20}, "m": {"kind": "macd"}},
            "entry": {
                "op": "and",
                "all": [
                    {"op": "lt", "left": "close", "right": "bb.lower"},
                    {"op": "not", "cond": {"op": "lt", "left": "m.hist", "right": 0}},
                ],
            },
            "exit": {"op": "or", "any": [{"op": "gt", "left": "close", "right": "bb.upper"}]},
        }
    )
    assert spec.warmup() == 26 + 9


def test_unknown_preset_suggests_a_name() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'sma-cross'"):
        preset("sma-crss")


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_condition_against_a_non_finite_number_then_refused_not_run_with_zero_trades(
    number: float,
) -> None:
    spec = {**BASE, "entry": {"op": "gt", "left": "close", "right": number}}
    with pytest.raises(ConfigError, match=r"entry\.gt\.right: Input should be a finite number$"):
        parse_spec(spec)


def test_fee_of_nan_then_refused_as_not_finite() -> None:
    with pytest.raises(ConfigError, match="fee_rate: Input should be a finite number"):
        preset("buy-hold", fee_rate=float("nan"))


def test_conditions_nested_beyond_reason_then_refused_in_one_line() -> None:
    cond: dict[str, Any] = {"op": "gt", "left": "close", "right": 1}
    for _ in range(200):
        cond = {"op": "not", "cond": cond}
    with pytest.raises(ConfigError, match="nested more than 64 levels deep") as info:
        parse_spec({**BASE, "entry": cond})
    assert "\n" not in str(info.value)
