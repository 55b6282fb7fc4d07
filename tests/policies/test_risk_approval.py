"""What an approval carries: the exact order to send, its id, and a token bound to it."""

from __future__ import annotations

import pickle
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.errors import ConfigError
from core.types import OrderIntent, OrderType, Side, Symbol
from policies.risk import (
    Approved,
    Denied,
    ReasonCode,
    TokenSigner,
    client_order_id,
    is_reducing,
    load_limits,
    protected_price,
)
from tests.policies.risk_builders import (
    AAPL,
    BTC,
    KEY,
    SIGNER,
    T0,
    D,
    intent,
    later,
    limits,
    market,
    portfolio,
    run,
)


def approve(proposal: OrderIntent, **kwargs: Any) -> Approved:
    decision = run(proposal, **kwargs)
    assert isinstance(decision, Approved), decision
    return decision


def verifies(approved: Approved, order: OrderIntent | None = None, **changes: Any) -> bool:
    values: dict[str, Any] = {
        "token": approved.token,
        "order": approved.order if order is None else order,
        "client_order_id": approved.client_order_id,
        "limits_hash": approved.limits_hash,
        "now": T0,
    }
    values.update(changes)
    return SIGNER.verify(**values)


# -- a clean order --------------------------------------------------------------------------


def test_clean_limit_order_is_approved_unchanged_with_a_token_that_verifies() -> None:
    proposal = intent(qty=10, price="100.50")

    approved = approve(proposal)

    assert approved.order == proposal
    assert approved.limits_hash == load_limits(None).limits_hash()
    assert approved.expires_at == T0 + timedelta(seconds=30)
    assert verifies(approved)


def test_same_inputs_give_the_same_decision() -> None:
    first = approve(intent())
    second = approve(intent())

    assert first == second


# -- market orders become protected limits --------------------------------------------------


def test_market_buy_becomes_a_limit_at_reference_plus_collar_rounded_down_to_the_tick() -> None:
    view = market({AAPL: "123.457"})  # +5 % = 129.62985 → 129.62

    approved = approve(intent(qty=7), view=view)

    assert approved.order.order_type is OrderType.LIMIT
    assert approved.order.limit_price == D("129.62")
    assert approved.order.quantity == D(7)


def test_market_sell_becomes_a_limit_at_reference_minus_collar_rounded_up_to_the_tick() -> None:
    view = market({AAPL: "123.457"})  # −5 % = 117.28415 → 117.29
    book = portfolio(positions={AAPL: 10})

    approved = approve(intent(side=Side.SELL, qty=7), view=view, book=book)

    assert approved.order.limit_price == D("117.29")
    assert approved.order.quantity == D(7)


def test_protected_price_never_crosses_the_collar_edge() -> None:
    for ref in (D("0.07"), D("1.005"), D("99.999"), D("30123.456")):
        buy = protected_price(Side.BUY, ref, D("0.05"), D("0.01"))
        sell = protected_price(Side.SELL, ref, D("0.05"), D("0.01"))
        assert buy <= ref * D("1.05") and buy % D("0.01") == 0
        assert sell >= ref * D("0.95") and sell % D("0.01") == 0


def test_market_order_uses_the_bid_ask_mid_as_reference_when_both_are_quoted() -> None:
    view = market()
    quotes = dict(view.quotes)
    quotes[AAPL] = quotes[AAPL].model_copy(update={"bid": D("99.00"), "ask": D("101.00")})

    approved = approve(intent(), view=type(view)(quotes=quotes, instruments=view.instruments))

    assert approved.order.limit_price == D("105.00")


def test_a_market_buy_whose_protected_limit_rounds_to_zero_is_denied() -> None:
    view = market({BTC: "0.001"})  # +5 % = 0.00105, below one 0.01 tick

    decision = run(intent(symbol=BTC, qty=20_000), view=view)

    assert isinstance(decision, Denied)
    assert ReasonCode.PRICE_COLLAR in decision.codes


# -- the token binds every field ------------------------------------------------------------


_CHANGES: dict[str, Any] = {
    "intent_id": "intent-2",
    "symbol": Symbol("MSFT"),
    "side": Side.SELL,
    "quantity": D("10.001"),
    "order_type": OrderType.MARKET,
    "limit_price": D("100.51"),
    "venue": "binance",
    "reduce_only": True,
    "created_at": T0 + timedelta(microseconds=1),
    "rationale": "edited after approval",
}


def test_every_order_field_has_a_tampering_case() -> None:
    assert set(_CHANGES) == set(OrderIntent.model_fields)


@pytest.mark.parametrize("field", sorted(_CHANGES))
def test_changing_any_single_order_field_invalidates_the_token(field: str) -> None:
    approved = approve(intent(qty=10, price="100.50"))
    tampered = approved.order.model_copy(update={field: _CHANGES[field]})

    assert tampered != approved.order
    assert not verifies(approved, order=tampered)


def test_equal_decimals_in_another_spelling_keep_the_token_valid() -> None:
    approved = approve(intent(qty=10, price="100.50"))
    respelled = approved.order.model_copy(
        update={"quantity": D("10.000"), "limit_price": D("100.5")}
    )

    assert verifies(approved, order=respelled)


def test_token_for_another_client_order_id_or_limits_hash_fails() -> None:
    approved = approve(intent())

    assert not verifies(approved, client_order_id="tl-0000")
    assert not verifies(approved, limits_hash=limits(max_order_qty=5).limits_hash())


def test_token_is_valid_until_just_before_expiry_and_not_at_it() -> None:
    approved = approve(intent())

    assert verifies(approved, now=approved.expires_at - timedelta(microseconds=1))
    assert not verifies(approved, now=approved.expires_at)
    assert not verifies(approved, now=later(3600))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),
        lambda t: "v1.0" + t.split(".", 1)[1],
        lambda t: t.rsplit(".", 1)[0] + ".é",
        lambda t: "",
        lambda t: "v1.x.y",
    ],
)
def test_a_mangled_token_never_verifies(mangle: Any) -> None:
    approved = approve(intent())

    assert not verifies(approved, token=mangle(approved.token))


def test_a_token_extended_by_editing_its_expiry_fails() -> None:
    approved = approve(intent())
    _, expiry, mac = approved.token.split(".")
    extended = f"v1.{int(expiry) + 3_600_000_000}.{mac}"

    assert not verifies(approved, token=extended, now=later(60))


def test_a_token_signed_with_another_key_fails() -> None:
    approved = approve(intent())
    other = TokenSigner(b"x" * 32)

    assert not other.verify(
        approved.token, approved.order, approved.client_order_id, approved.limits_hash, T0
    )


# -- the signer keeps its key ---------------------------------------------------------------


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 31])
def test_signer_refuses_a_key_shorter_than_32_bytes(key: bytes) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        TokenSigner(key)


def test_signer_refuses_a_text_key() -> None:
    with pytest.raises(ConfigError, match="bytes"):
        TokenSigner("x" * 40)  # type: ignore[arg-type]


def test_signer_never_shows_or_pickles_its_key() -> None:
    signer = TokenSigner(KEY)

    assert KEY.decode() not in repr(signer) and KEY.decode() not in str(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


# -- client order ids -----------------------------------------------------------------------


def test_client_order_id_is_short_safe_and_prefixed() -> None:
    coid = approve(intent()).client_order_id

    assert len(coid) <= 36
    assert re.fullmatch(r"tl-[A-Za-z0-9_-]+", coid)


def test_same_proposal_approved_again_after_a_price_move_keeps_its_client_order_id() -> None:
    proposal = intent()

    first = approve(proposal)
    again = approve(proposal, view=market({AAPL: 101}))

    assert first.order.limit_price != again.order.limit_price
    assert first.client_order_id == again.client_order_id == client_order_id(proposal)


def test_another_intent_gets_another_client_order_id() -> None:
    first = approve(intent(intent_id="a"))
    second = approve(intent(intent_id="b"))

    assert first.client_order_id != second.client_order_id


# -- is_reducing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "qty", "position", "expected"),
    [
        (Side.SELL, "5", "10", True),
        (Side.SELL, "10", "10", True),
        (Side.SELL, "11", "10", False),  # would flip to a short
        (Side.BUY, "5", "10", False),
        (Side.BUY, "5", "-10", True),
        (Side.BUY, "11", "-10", False),
        (Side.SELL, "1", "0", False),
        (Side.BUY, "1", "0", False),
    ],
)
def test_is_reducing_only_when_the_order_shrinks_the_position_without_flipping_it(
    side: Side, qty: str, position: str, expected: bool
) -> None:
    assert is_reducing(intent(side=side, qty=qty), Decimal(position)) is expected


def test_approved_record_is_json_ready() -> None:
    record = approve(intent()).to_dict()

    assert record["decision"] == "approved"
    assert all(isinstance(v, str | None) for v in record.values())
