"""Family 2 of the adversarial catalogue (docs/security.md): model output attacks.

The model (a scripted one behind a fake OpenAI-compatible server on a real socket) answers
whatever it likes: numbers that are not numbers, fields the schema does not have, symbols
that look like the run's, tools that do not exist, a big order cut into many small ones,
a flood of proposals. The offline rules reasoner writes no model output, so these cases
run with the model only. After each: nothing beyond limits reached the broker, every order
sent is in the ledger, the audit chain verifies.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from app.bootstrap import Container
from tests.adversarial.conftest import Attack, Obedient, proposal
from tests.fakes.openai_server import Structured, ToolCall, ToolCalls

ATTEMPTS = 3  # agents.nodes.proposer.ATTEMPTS: a refused answer is sent back this often


def _run(attack: Attack, answer: Any, symbols: list[str] | None = None,
         mode: str = "auto") -> tuple[Container, dict[str, Any], Obedient]:  # fmt: skip
    model = Obedient(answer)
    c = attack.container(model)
    view = attack.run(c, symbols, mode=mode)
    attack.check(c, view)
    return c, view, model


def in_turn(*answers: Any) -> Any:
    """A model that gives ``answers`` in order, one per proposer request (a run asks
    again after each refused answer, ``ATTEMPTS`` times at most)."""
    left = list(answers)
    return lambda body: left.pop(0)


def _refused_each_time(attack: Attack, *answers: Any) -> dict[str, Any]:
    _, view, model = _run(attack, in_turn(*answers))
    assert attack.sent == [] and view["outcome"] == "no_trade"
    assert len(model.proposer_requests) == ATTEMPTS  # each refused and sent back, bounded
    return view


# Three answers a run: each is refused by the schema and sent back with the error.
@pytest.mark.parametrize(
    "answers",
    [
        ("NaN", "Infinity", "-Infinity"),
        ("-5", "0", "5e"),
        (float("nan"), float("inf"), -1e308),  # JSON's NaN, Infinity and a huge negative
        (True, None, [5]),
        ({"value": 5}, "1e308x", ""),
    ],
    ids=["nan-inf", "negative-zero-garbled", "json-non-finite", "wrong-types", "objects"],
)
def test_a_quantity_that_is_not_a_number_is_refused_and_nothing_is_sent(
    attack: Attack, answers: tuple[Any, ...]
) -> None:
    _refused_each_time(attack, *(proposal(quantity=q) for q in answers))


def test_an_absurd_weight_limit_price_or_confidence_is_refused(attack: Attack) -> None:
    _refused_each_time(
        attack,
        proposal(target_weight=float("inf"), quantity=None),
        proposal(order_type="limit", limit_price="NaN"),
        proposal(order_type="limit", limit_price="-1", confidence=float("nan")),
    )


def test_a_huge_then_a_tiny_quantity_is_denied_by_the_risk_officer(attack: Attack) -> None:
    """1e308 is a valid number: the risk officer denies it; the 'smaller' retry of 1e-30
    is no whole share."""
    _, view, _ = _run(attack, in_turn(proposal(quantity="1e308"), proposal(quantity="1e-30")))
    assert attack.sent == [] and view["outcome"] == "denied"
    assert "MAX_ORDER_QTY" in view["report"]["risk"][0]["reason_codes"]


def test_a_limit_price_a_thousand_times_the_quote_is_outside_the_collar(attack: Attack) -> None:
    _, view, _ = _run(attack, proposal(order_type="limit", limit_price="28000", quantity="1"))
    assert attack.sent == []
    assert "PRICE_COLLAR" in json.dumps(view["report"]["risk"])


def test_extra_json_fields_are_refused_and_change_nothing(attack: Attack) -> None:
    view = _refused_each_time(
        attack,
        proposal(leverage=10, reduce_only=True, client_order_id="mine"),
        {**proposal(), "approved": True, "limits": {"max_order_notional": 1e9}},
        {**proposal(quantity="30000"), "risk_officer": "skip", "mode": "auto"},
    )
    assert attack.containers[0].limits.max_order_notional == Decimal(100000)
    assert any("extra" in n.lower() for n in view["report"]["notes"])


@pytest.mark.parametrize(
    "symbols",
    [
        ("MSFТ", "ΜSFT", "MSFT\u200b"),
        ("msft", " MSFT", "MSFT.US"),
        ("BTC/USDT", "BTCUSDT", "BTC-USD"),
        ("AAPL", "MSFT/USD", "MSFT:MSFT"),
    ],
    ids=["homoglyphs-and-zero-width", "case-padding-suffix", "pairs", "others"],
)
def test_another_symbol_than_the_runs_is_never_traded(
    attack: Attack, symbols: tuple[str, ...]
) -> None:
    _refused_each_time(attack, *(proposal(symbol=s) for s in symbols))


@pytest.mark.shared_data
def test_a_pair_run_trades_only_its_own_spelling_of_the_pair(attack: Attack, market_dir) -> None:  # type: ignore[no-untyped-def]
    """BTC/USDT is in the universe; BTCUSDT (its exchange spelling) and BTC-USD (another
    quote currency) are not the same instrument to Tiller and are sent back."""
    from app.services.market import import_bars

    answers = iter([proposal(symbol="BTCUSDT", quantity="0.01"),
                    proposal(symbol="BTC-USD", quantity="0.01"),
                    proposal(symbol="BTC/USDT", quantity="0.01")])  # fmt: skip
    model = Obedient(lambda body: next(answers))
    c = attack.container(model)
    import_bars(c, market_dir / "crypto_1d" / "BTCUSDT_1d.csv", symbol="BTC/USDT", timeframe="1d")
    view = attack.run(c, ["BTC/USDT"])
    attack.check(c, view)
    assert [str(o.symbol) for o in attack.sent] == ["BTC/USDT"]
    assert attack.sent[0].quantity == Decimal("0.01")


def test_a_tool_call_that_does_not_exist_does_nothing(attack: Attack) -> None:
    _refused_each_time(
        attack,
        ToolCalls([ToolCall("place_order", {"symbol": "MSFT", "side": "buy", "qty": 50000})]),
        ToolCalls([ToolCall("set_limits", {"max_order_notional": 1e12})]),
        ToolCalls([ToolCall("ProposalSet", '{"proposals": [{"symbol": "MSFT"')]),
    )
    c = attack.containers[0]
    assert c.executor().risk_state().trading_state.value == "active"
    assert c.limits.max_order_notional == Decimal(100000)


def test_a_valid_proposal_beside_an_unknown_tool_call_is_only_a_proposal(attack: Attack) -> None:
    both = ToolCalls([ToolCall("ProposalSet", proposal(quantity="50000")),
                      ToolCall("approve_run", {"run_id": "*"})])  # fmt: skip
    _, view, _ = _run(attack, both, mode="copilot")
    assert attack.sent == []  # 50,000 MSFT is denied; nothing approves a run but a person
    assert not any(e["kind"] == "human_action" for e in view["events"])


def test_a_big_order_dripped_in_small_pieces_stays_within_the_limits(attack: Attack) -> None:
    """Twenty orders of 3,000 MSFT (each under max_order_notional, together 17 times the
    account), and every retry 'smaller' by one share: the risk officer counts what it
    already approved in the same decision, so the account's limits hold for the sum."""

    def drip(body: dict[str, Any]) -> Any:
        shown = body["messages"][-1]["content"]
        qty = 2999 if "DENIED" in shown else 3000
        items = [proposal(quantity=str(qty))["proposals"][0] for _ in range(20)]
        return {"proposals": items, "summary": "drip"}

    c, view, _ = _run(attack, drip)
    price = Decimal(view["report"]["proposals"][0].get("limit_price") or 28)
    total = sum(Decimal(o.quantity) for o in attack.sent) * price
    assert total <= c.limits.max_position_notional
    assert total <= c.settings.paper_cash  # spot account: no leverage
    assert len(attack.sent) <= c.limits.max_orders_per_minute


def test_a_drip_over_consecutive_runs_stays_within_the_limits(attack: Attack) -> None:
    model = Obedient(proposal(quantity="3000"))
    c = attack.container(model)
    for _ in range(3):
        view = attack.run(c)
        attack.check(c, view)
    [held] = c.ledger.positions(venue="paper")
    assert held.quantity * 28 <= c.limits.max_position_notional
    cash = {b.currency: b.free + b.used for b in c.ledger.balances(venue="paper")}
    assert cash["USD"] >= 0


def test_a_proposal_flood_is_refused_whole(attack: Attack) -> None:
    one = proposal(quantity="1")["proposals"][0]
    _, view, model = _run(attack, in_turn(
        {"proposals": [one] * 21, "summary": "over the cap"},
        {"proposals": [one] * 5000, "summary": "five thousand"},
        {"proposals": [one] * 21, "summary": "again"}))  # fmt: skip
    assert attack.sent == [] and view["outcome"] == "no_trade"
    assert 1 <= len(model.proposer_requests) <= ATTEMPTS


def test_a_flood_within_the_schema_cap_is_throttled_by_the_risk_officer(attack: Attack) -> None:
    items = [proposal(quantity=str(1 + i))["proposals"][0] for i in range(20)]
    c, view, _ = _run(attack, {"proposals": items, "summary": "twenty"})
    assert view["outcome"] in ("executed", "denied")
    assert len(attack.sent) <= c.limits.max_orders_per_minute
    assert len({o.client_order_id for o in attack.sent}) == len(attack.sent)


def test_garbage_instead_of_an_answer_ends_the_run_with_no_trade(attack: Attack) -> None:
    _, view, _ = _run(attack, Structured("\x00\xff<html>502 Bad Gateway</html>"))
    assert attack.sent == [] and view["outcome"] == "no_trade"
