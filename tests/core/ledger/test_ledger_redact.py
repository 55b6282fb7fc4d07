"""The redactor that stands between every payload and the database."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.ledger import Redactor, secret_values
from core.ledger.redact import MASK, looks_secret
from core.settings import load_settings


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apiKey",
        "API-KEY",
        "secret",
        "exchange_api_secret",
        "password",
        "token_key",
        "signing_key",
        "hmac_key",
        "signature",
        "Authorization",
        "access_token",
        "passphrase",
    ],
)
def test_keys_that_name_a_secret_are_masked(name: str) -> None:
    assert looks_secret(name)
    assert Redactor().data({name: "abc", "other": 1}) == {name: MASK, "other": 1}


@pytest.mark.parametrize("name", ["token", "approval_token", "symbol", "key", "monkey", "reasons"])
def test_ordinary_keys_and_the_approval_token_are_kept(name: str) -> None:
    assert not looks_secret(name)
    assert Redactor().data({name: "abc"}) == {name: "abc"}


def test_known_secret_values_are_masked_anywhere_in_nested_data() -> None:
    redactor = Redactor(["s3cr3t-value"])
    data = {"a": ["s3cr3t-value", {"msg": "auth failed for s3cr3t-value!"}], "s3cr3t-value": 1}
    assert redactor.data(data) == {"a": [MASK, {"msg": f"auth failed for {MASK}!"}], MASK: 1}


def test_secrets_quoted_inside_error_text_are_masked() -> None:
    text = 'GET /order?symbol=BTC&signature=ab12cd&timestamp=1 {"apiKey": "K-99", "code": -2015}'
    masked = Redactor().text(text)
    assert "ab12cd" not in masked and "K-99" not in masked
    assert "symbol=BTC" in masked and "timestamp=1" in masked and "-2015" in masked


def test_short_secrets_mask_only_whole_values() -> None:
    redactor = Redactor(["abc"])
    assert redactor.data({"x": "abc", "y": "abcdef"}) == {"x": MASK, "y": "abcdef"}


def test_secret_values_reads_every_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLER_EXCHANGE_API_KEY", "key-123456")
    monkeypatch.setenv("TILLER_LLM_API_KEY", "llm-abcdef")
    found = secret_values(load_settings())
    assert sorted(found) == ["key-123456", "llm-abcdef"]
    assert Redactor().data({"k": SecretStr("x")}) == {"k": MASK}
