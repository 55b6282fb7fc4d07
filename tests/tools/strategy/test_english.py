"""Strategies in plain English: what the offline parser reads, asks back, and refuses,
and the canonical rendering that reads back into the same spec."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.strategy import (
    ParseOutcome,
    StrategySpec,
    parse_spec,
    parse_strategy_text,
    preset,
    preset_names,
    render_strategy,
    validate_llm_spec,
)

PRICE_FIELDS = ["open", "high", "low", "close", "volume"]


def logic(spec: StrategySpec) -> dict[str, Any]:
    """What a spec does, whatever its indicators are called: every reference to an
    indicator is replaced by the indicator's definition; name and description dropped."""
    data = spec.model_dump(mode="json", exclude={"name", "description"})
    defs = {n: json.dumps(i, sort_keys=True) for n, i in data.pop("indicators").items()}

    def sub(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: sub(v) for k, v in x.items()}
        if isinstance(x, list):
            return [sub(v) for v in x]
        if isinstance(x, str) and x.partition(".")[0] in defs:
            head, dot, out = x.partition(".")
            return defs[head] + dot + out
        return x

    return sub(data)


def spec_of(text: str) -> StrategySpec:
    outcome = parse_strategy_text(text)
    assert outcome.kind == "spec", outcome
    assert outcome.spec is not None and outcome.source == "offline rules"
    return outcome.spec


def data_of(text: str) -> dict[str, Any]:
    return spec_of(text).model_dump(mode="json")


# --- every preset, in ordinary words ------------------------------------------------

PRESET_PHRASINGS = [
    ("sma-cross", "buy when the 10-day moving average crosses above the 50-day and sell when "
                  "it crosses back below"),
    ("sma-cross", "Go long when SMA(10) crosses over SMA(50); exit when SMA(10) crosses under "
                  "SMA(50)."),
    ("sma-cross", "when the 10 day sma crosses above the 50 day sma, buy, and when it crosses "
                  "back below, sell"),
    ("sma-cross", "buy when the 10-bar simple moving average crosses above the 50-bar simple "
                  "moving average, sell on the reverse cross"),
    ("rsi-reversion", "buy when RSI(14) crosses back above 30, sell when it crosses above 70, "
                      "10% stop loss"),
    ("rsi-reversion", "Buy when the 14-day RSI rises back above 30 and sell when it rises above "
                      "70. Use a 10% stop-loss."),
    ("rsi-reversion", "RSI mean reversion"),
    ("buy-hold", "buy and hold"),
    ("buy-hold", "Just buy & hold."),
    ("buy-hold", "buy-and-hold"),
    ("macd-trend", "MACD trend following"),
    ("macd-trend", "buy when the MACD crosses above its signal line and the price is above the "
                   "200-day EMA; sell when the MACD crosses below its signal line"),
    ("macd-trend", "go long when MACD(12,26,9) crosses above the signal line while price > "
                   "EMA(200), exit when it crosses back below"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text"), PRESET_PHRASINGS)
def test_ordinary_phrasing_of_a_preset_then_the_presets_logic(name: str, text: str) -> None:
    assert logic(spec_of(text)) == logic(preset(name))


def test_every_preset_is_covered_by_a_phrasing() -> None:
    assert {name for name, _ in PRESET_PHRASINGS} == set(preset_names())


def test_preset_named_by_its_name_then_the_preset_itself_with_a_note_saying_so() -> None:
    outcome = parse_strategy_text("MACD trend following")
    assert outcome.spec == preset("macd-trend")
    assert any("macd-trend preset" in n for n in outcome.notes)


def test_preset_name_with_settings_then_the_settings_override_the_preset() -> None:
    spec = spec_of("RSI mean reversion with a 5% stop loss and fees of 0.05%")
    assert spec.stop_loss == 0.05 and spec.fee_rate == 0.0005
    assert spec.entry == preset("rsi-reversion").entry


def test_rsi_drops_below_30_then_read_literally_not_as_the_reversion_preset() -> None:
    # "drops below 30" fires as RSI falls into oversold; the preset waits for it to cross
    # back above 30. The parser says what was written rather than guessing the preset.
    spec = spec_of("buy when RSI(14) drops below 30, sell when it goes above 70, 10% stop loss")
    assert spec.model_dump()["entry"] == {"op": "crosses_below", "left": "rsi", "right": 30.0}
    assert spec.model_dump()["exit"] == {"op": "crosses_above", "left": "rsi", "right": 70.0}
    assert spec.stop_loss == 0.1


def test_every_preset_renders_to_text_that_parses_back_to_it() -> None:
    for name in preset_names():
        assert spec_of(render_strategy(preset(name))) == preset(name)


# --- the vocabulary -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "indicator"),
    [
        ("buy when the close is above the 20-day SMA", "sma20", {"kind": "sma", "window": 20}),
        ("buy when the close is above the 30-bar EMA", "ema30", {"kind": "ema", "window": 30}),
        ("buy when volume is above its 20-day average", "sma20_volume",
         {"kind": "sma", "window": 20, "source": "volume"}),
        ("buy when RSI(7) is below 20", "rsi7", {"kind": "rsi", "window": 7}),
        ("buy when the ATR(10) is above 2", "atr10", {"kind": "atr", "window": 10}),
        ("buy when the 12-day rate of change is above 5", "roc12", {"kind": "roc", "window": 12}),
        ("buy when the MACD(5, 35, 5) crosses above its signal line", "macd5_35_5",
         {"kind": "macd", "fast": 5, "slow": 35, "signal": 5}),
        ("buy when the close crosses below the lower Bollinger Bands(20, 2.5)", "bb_2p5",
         {"kind": "bbands", "window": 20, "k": 2.5}),
    ],
)  # fmt: skip
def test_indicator_with_its_period_then_that_indicator(
    text: str, name: str, indicator: dict[str, Any]
) -> None:
    got = data_of(text)["indicators"]
    assert name in got
    assert {k: got[name][k] for k in indicator} == indicator


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("buy when the 5-day EMA crosses above the 20-day EMA",
         {"op": "crosses_above", "left": "ema5", "right": "ema20"}),
        ("buy when the price falls below the 20-day SMA",
         {"op": "crosses_below", "left": "close", "right": "sma20"}),
        ("buy when RSI is greater than 55", {"op": "gt", "left": "rsi", "right": 55.0}),
        ("buy when RSI < 25", {"op": "lt", "left": "rsi", "right": 25.0}),
        ("buy when the 10-day rate of change exceeds -2.5",
         {"op": "gt", "left": "roc10", "right": -2.5}),
        ("buy when the MACD histogram turns positive",
         {"op": "crosses_above", "left": "macd.hist", "right": 0.0}),
        ("buy when the close is above the upper Bollinger band",
         {"op": "gt", "left": "close", "right": "bb.upper"}),
        ("buy when the high is above the middle Bollinger band",
         {"op": "gt", "left": "high", "right": "bb.middle"}),
        ("buy on the golden cross", {"op": "crosses_above", "left": "sma50", "right": "sma200"}),
    ],
)  # fmt: skip
def test_comparison_words_then_the_comparison(text: str, entry: dict[str, Any]) -> None:
    assert data_of(text)["entry"] == entry


def test_and_or_not_and_parentheses_then_the_same_tree() -> None:
    data = data_of(
        "buy when RSI is below 30 and (the close is above the 200-day SMA or the 10-day rate "
        "of change is above 0) and not (ATR is above 5)"
    )
    assert data["entry"] == {
        "op": "and",
        "all": [
            {"op": "lt", "left": "rsi", "right": 30.0},
            {
                "op": "or",
                "any": [
                    {"op": "gt", "left": "close", "right": "sma200"},
                    {"op": "gt", "left": "roc10", "right": 0.0},
                ],
            },
            {"op": "not", "cond": {"op": "gt", "left": "atr", "right": 5.0}},
        ],
    }


def test_is_not_above_then_a_negated_comparison() -> None:
    entry = data_of("buy when RSI is not above 60")["entry"]
    assert entry == {"op": "not", "cond": {"op": "gt", "left": "rsi", "right": 60.0}}


def test_named_indicators_then_the_names_are_kept() -> None:
    data = data_of(
        "Let fast be the 5-day EMA. Let slow be the 35-day EMA. Buy when fast crosses above "
        "slow. Sell when fast crosses below slow."
    )
    assert data["indicators"]["fast"]["window"] == 5
    assert data["entry"] == {"op": "crosses_above", "left": "fast", "right": "slow"}


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("buy when RSI crosses above 30, sell when it crosses above 70, long only", "long_only"),
        ("buy when RSI crosses above 30, sell when it crosses above 70, long and short",
         "long_short"),
        ("buy when RSI crosses above 30, sell when it crosses above 70. Short only.",
         "short_only"),
        ("buy when RSI crosses above 30, short when it crosses above 70", "long_short"),
    ],
)  # fmt: skip
def test_direction_words_then_the_direction(text: str, direction: str) -> None:
    assert data_of(text)["direction"] == direction


def test_only_short_rules_then_short_only_with_the_long_rules_reversed() -> None:
    spec = spec_of(
        "short when the 20-day EMA crosses below the 100-day EMA, cover when it crosses back above"
    )
    assert spec.direction == "short_only"
    # The spec's short entry defaults to the long exit, and the short exit to the entry.
    assert spec.model_dump()["exit"]["op"] == "crosses_below"
    assert spec.model_dump()["entry"]["op"] == "crosses_above"


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("invest 50% of equity per trade", "sizing", {"kind": "fixed_fraction", "fraction": 0.5}),
        ("target 15% volatility over 30 days, capped at 80% of equity", "sizing",
         {"kind": "volatility_target", "target_vol": 0.15, "lookback": 30, "max_fraction": 0.8}),
        ("with an 8% stop loss", "stop_loss", 0.08),
        ("take profit at 25%", "take_profit", 0.25),
        ("a 15% trailing stop", "trailing_stop", 0.15),
        ("fees 10 bps", "fee_rate", 0.001),
        ("commission of 0.2% per trade", "fee_rate", 0.002),
        ("no fees", "fee_rate", 0.0),
        ("fees 0.2% round trip", "fee_rate", 0.001),
        ("with a 2% stop and a 6% target", "take_profit", 0.06),
        ("slippage 0.05%", "slippage", 0.0005),
        ("start with $50,000", "initial_cash", "50000"),
        ("initial capital 1m", "initial_cash", "1000000"),
    ],
)  # fmt: skip
def test_settings_words_then_the_setting(text: str, field: str, value: Any) -> None:
    data = data_of(f"buy when RSI crosses above 30, sell when it crosses above 70, {text}")
    assert data[field] == value


def test_defaults_are_stated_in_the_notes() -> None:
    outcome = parse_strategy_text("buy when the 10-day SMA crosses above the 50-day SMA")
    notes = " | ".join(outcome.notes)
    assert "no sell rule" in notes
    assert "defaults: long only, 100% of equity per position, fee 0.1% per fill" in notes
    assert "N-day window is N bars" in notes


def test_volatility_target_without_lookback_or_cap_then_both_defaults_said() -> None:
    outcome = parse_strategy_text("buy when RSI crosses above 30, target 20% volatility")
    assert outcome.spec is not None
    assert outcome.spec.model_dump()["sizing"]["lookback"] == 20
    assert "volatility measured over the last 20 bars (the default)" in outcome.notes
    assert any("capped at 100% of equity" in n for n in outcome.notes)


def test_the_stock_or_the_price_then_the_close_and_a_note_saying_so() -> None:
    outcome = parse_strategy_text("buy when the stock closes above its 200-day moving average")
    assert outcome.spec is not None
    assert outcome.spec.model_dump()["entry"] == {"op": "gt", "left": "close", "right": "sma200"}
    assert "'stock' read as the closing price" in outcome.notes


def test_plain_rsi_then_the_usual_window_is_assumed_and_said() -> None:
    outcome = parse_strategy_text("buy when RSI crosses above 30")
    assert outcome.spec is not None
    assert outcome.spec.model_dump()["indicators"]["rsi"]["window"] == 14
    assert any("RSI with the usual settings (14)" in n for n in outcome.notes)


# --- ambiguity: a question, not a guess ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("buy when the moving average crosses the price", "how many bars"),
        ("buy when the 10-day SMA crosses the 50-day SMA", "above or below"),
        ("use a stop", "stop-loss percentage"),
        ("buy when RSI crosses above 30 with a trailing stop", "trailing-stop distance"),
        ("buy when the rate of change is above 5", "Rate of change over how many bars"),
        ("buy when RSI is oversold", "Oversold by which measure"),
        ("buy the dip", "by which measure"),
        ("buy when the fast moving average crosses above the slow one", "Which windows"),
        ("buy when the 10-week SMA crosses above the 40-week SMA", "how many bars"),
        ("sell when RSI is above 70", "When should it buy"),
        ("buy when RSI crosses above 30, stop loss 0.1", "Write it as a percentage"),
        ("buy when RSI crosses above 30, 5% stop loss, 8% stop loss", "given twice"),
        ("buy when RSI crosses above 30, buy when RSI crosses above 40", "Two 'buy' rules"),
        ("buy when MACD crosses above its signal line and the price is above the 50-day SMA, "
         "sell when it crosses below 0", "Does 'it' mean"),
        ("buy when the price is above the bollinger band", "Which Bollinger band"),
    ],
)  # fmt: skip
def test_ambiguous_text_then_a_question(text: str, asks: str) -> None:
    outcome = parse_strategy_text(text)
    assert outcome.kind == "question", outcome
    assert outcome.spec is None
    assert asks in (outcome.question or "")


def test_two_open_points_then_one_question_asks_both() -> None:
    outcome = parse_strategy_text("buy when the moving average crosses the price, use a stop")
    assert outcome.kind == "question"
    assert "how many bars" in (outcome.question or "")
    assert "stop-loss percentage" in (outcome.question or "")


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["what's the weather", "make me rich", "   ", "hello there", "buy and hold " * 2000]
)
def test_not_a_strategy_then_a_refusal_saying_so(text: str) -> None:
    outcome = parse_strategy_text(text)
    assert outcome.kind == "refusal" and outcome.spec is None
    assert outcome.hint


def test_unknown_condition_then_a_refusal_quoting_it() -> None:
    outcome = parse_strategy_text("buy when the moon is full")
    assert outcome.kind == "refusal"
    assert "'the moon is full'" in (outcome.reason or "")


@pytest.mark.parametrize(
    "text",
    ["buy when RSI crosses above 30. Never trade on Mondays.", "when rsi is below 30 70, buy"],
)
def test_words_left_over_then_refused_rather_than_ignored(text: str) -> None:
    assert parse_strategy_text(text).kind == "refusal"


@pytest.mark.parametrize(
    "text",
    [
        "ignore the risk limits",
        "max order notional 1,000,000",
        "use 10x leverage",
        "disable the kill switch",
        "buy when RSI crosses above 30 and set max position notional to 5,000,000",
        "buy and hold, skip the approval step",
        "buy when the 10-day SMA crosses above the 50-day SMA, trade live with real money",
        "buy when RSI crosses above 30; halt trading after a 20% drawdown",
        "buy on margin when RSI crosses above 30",
    ],
)
def test_text_that_touches_limits_then_refused_whole_and_nothing_applied(text: str) -> None:
    outcome = parse_strategy_text(text)
    assert outcome.kind == "refusal" and outcome.spec is None
    assert "not part of a strategy" in (outcome.reason or "")
    assert "docs/risk.md" in (outcome.hint or "")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("buy when the MACD(26, 12, 9) crosses above its signal line", "must be shorter than"),
        ("buy when RSI crosses above 30, invest 150% of equity per position",
         "less than or equal to 1"),
        ("buy when RSI crosses above 30, stop loss 120%", "less than 1"),
    ],
)  # fmt: skip
def test_impossible_values_then_refused_with_the_validators_reason(text: str, says: str) -> None:
    outcome = parse_strategy_text(text)
    assert outcome.kind == "refusal"
    assert says in (outcome.reason or "")


# --- one validator for the offline parser and a language model ------------------------


def test_llm_spec_json_then_validated_to_the_same_spec_labelled_llm() -> None:
    offline = spec_of("buy when the 10-day SMA crosses above the 50-day SMA, 5% trailing stop")
    outcome = validate_llm_spec(offline.model_dump(mode="json"))
    assert outcome.kind == "spec" and outcome.source == "llm"
    assert outcome.spec == offline


@pytest.mark.parametrize(
    "extra",
    [
        {"max_order_notional": 1_000_000},
        {"leverage": 10},
        {"description": "ignore the risk limits"},
        {"kill_switch": False},
    ],
)
def test_llm_spec_touching_limits_then_refused_like_the_offline_path(extra: dict) -> None:
    outcome = validate_llm_spec({**preset("sma-cross").model_dump(mode="json"), **extra})
    assert outcome.kind == "refusal" and outcome.source == "llm"
    assert "not part of a strategy" in (outcome.reason or "")


def test_llm_spec_with_a_typo_then_refused_with_the_specs_own_message() -> None:
    outcome = validate_llm_spec({**preset("sma-cross").model_dump(mode="json"), "stop_los": 0.1})
    assert outcome.kind == "refusal"
    assert "did you mean 'stop_loss'" in (outcome.reason or "")


def test_llm_spec_with_an_infinite_threshold_then_refused() -> None:
    data = {"entry": {"op": "gt", "left": "close", "right": float("inf")}}
    assert validate_llm_spec(data).kind == "refusal"


def test_llm_path_with_the_users_text_then_the_same_text_guard() -> None:
    data = preset("buy-hold").model_dump(mode="json")
    assert validate_llm_spec(data, source_text="buy and hold").kind == "spec"
    refused = validate_llm_spec(data, source_text="buy and hold with 5x leverage")
    assert refused.kind == "refusal"


SALAD = (  # words to shuffle: vocabulary, out of order
    "buy sell short cover when and or not ( ) , . it the 10 50 30 % day sma ema rsi macd "
    "signal line bollinger upper band atr roc crosses above below back is than > price close "
    "volume its stop loss trailing fees start with let fast be = week"
)


@settings(max_examples=60, deadline=None)
@given(
    st.text(max_size=60)
    | st.tuples(
        st.sampled_from(["", "when ", "buy when ", "let fast be "]),
        st.lists(st.sampled_from(SALAD.split()), max_size=16).map(" ".join),
        st.sampled_from(["", ", buy", ", then sell", ", sell when it crosses back below"]),
    ).map("".join)
)
def test_any_text_then_an_outcome_never_an_exception(text: str) -> None:
    outcome = parse_strategy_text(text)
    assert (outcome.spec is not None) == (outcome.kind == "spec")


def test_outcome_kind_and_its_field_must_agree() -> None:
    with pytest.raises(ValueError, match="needs its question"):
        ParseOutcome(kind="question")
    assert ParseOutcome(kind="refusal", reason="no").model_dump(mode="json")["spec"] is None


# --- canonical English round trip ---------------------------------------------------


def _touches_limits(text: str) -> bool:
    return "not part of a strategy" in (parse_strategy_text(text).reason or "")


# Names and free text (a name, a description) may say anything but touch the limits:
# such text is refused whole, by design.
NAMES = st.one_of(
    st.sampled_from(["fast", "slow", "trend", "rsi", "macd", "bb", "sma10", "my ind", "Fast"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    st.text(
        alphabet=st.characters(exclude_categories=("Cs", "Co"), exclude_characters="`."),
        min_size=1,
        max_size=10,
    ),
).filter(lambda n: n not in PRICE_FIELDS and not _touches_limits(n))
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30).filter(
    lambda t: not _touches_limits(t)
)
OUTPUTS = {"macd": ["", ".macd", ".signal", ".hist"], "bbands": ["", ".upper", ".middle", ".lower"]}


def _windowed(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda w, s: {"kind": kind, "window": w, "source": s},
        st.integers(1, 400),
        st.sampled_from(PRICE_FIELDS),
    )


INDICATORS = st.one_of(
    _windowed("sma"),
    _windowed("ema"),
    _windowed("roc"),
    st.builds(lambda w: {"kind": "rsi", "window": w}, st.integers(2, 100)),
    st.builds(lambda w: {"kind": "atr", "window": w}, st.integers(1, 100)),
    st.tuples(st.integers(1, 50), st.integers(2, 100), st.integers(1, 50))
    .filter(lambda t: t[0] < t[1])
    .map(lambda t: {"kind": "macd", "fast": t[0], "slow": t[1], "signal": t[2]}),
    st.builds(
        lambda w, k: {"kind": "bbands", "window": w, "k": k},
        st.integers(2, 200),
        st.floats(0, 10, exclude_min=True),
    ),
)


def _conditions(operands: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    compare = st.builds(
        lambda op, a, b: {"op": op, "left": a, "right": b},
        st.sampled_from(["crosses_above", "crosses_below", "gt", "lt"]),
        operands,
        operands,
    )
    return st.recursive(
        compare,
        lambda kids: st.one_of(
            st.lists(kids, min_size=1, max_size=3).map(lambda xs: {"op": "and", "all": xs}),
            st.lists(kids, min_size=1, max_size=3).map(lambda xs: {"op": "or", "any": xs}),
            kids.map(lambda c: {"op": "not", "cond": c}),
        ),
        max_leaves=6,
    )


FRACTION = st.floats(0, 1, exclude_min=True)
SIZING = st.one_of(
    st.builds(lambda f: {"kind": "fixed_fraction", "fraction": f}, FRACTION),
    st.builds(
        lambda t, lb, m: {"kind": "volatility_target", "target_vol": t, "lookback": lb,
                          "max_fraction": m},
        st.floats(0, 5, exclude_min=True), st.integers(2, 500), FRACTION,
    ),
)  # fmt: skip


@st.composite
def specs(draw: st.DrawFn) -> StrategySpec:
    names = draw(st.lists(NAMES, max_size=4, unique=True))
    indicators = {n: draw(INDICATORS) for n in names}
    refs = PRICE_FIELDS + [
        n + o for n, i in indicators.items() for o in OUTPUTS.get(i["kind"], [""])
    ]
    cond = _conditions(
        st.one_of(st.sampled_from(refs), st.floats(allow_nan=False, allow_infinity=False))
    )
    maybe = st.none() | cond
    return parse_spec({
        "name": draw(st.just("custom") | TEXT.filter(lambda t: 1 <= len(t) <= 80)),
        "description": draw(st.just("") | TEXT),
        "indicators": indicators,
        "entry": draw(cond),
        "exit": draw(maybe),
        "short_entry": draw(maybe),
        "short_exit": draw(maybe),
        "direction": draw(st.sampled_from(["long_only", "long_short", "short_only"])),
        "sizing": draw(SIZING),
        "stop_loss": draw(st.none() | st.floats(0, 1, exclude_min=True, exclude_max=True)),
        "take_profit": draw(st.none() | st.floats(0, 100, exclude_min=True)),
        "trailing_stop": draw(st.none() | st.floats(0, 1, exclude_min=True, exclude_max=True)),
        "fee_rate": draw(st.floats(0, 0.1, exclude_max=True)),
        "slippage": draw(st.floats(0, 0.1, exclude_max=True)),
        "initial_cash": draw(st.decimals(Decimal("0.01"), Decimal("1e12"), places=2)),
    })  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(specs())
def test_rendered_spec_then_parses_back_to_the_same_spec(spec: StrategySpec) -> None:
    text = render_strategy(spec)
    outcome = parse_strategy_text(text)
    assert outcome.kind == "spec", (text, outcome)
    assert outcome.spec == spec, text
