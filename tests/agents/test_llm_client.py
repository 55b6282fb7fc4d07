"""The ChatOpenAI-backed chat model over real HTTP against the fake OpenAI server: text,
tool calls, the three structured-output methods, retries only where retrying can help,
and errors that say which setting to fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from agents.llm import build_chat_model
from core.errors import ConfigError, RejectedError, ThrottledError, UnavailableError
from core.llm import ChatMessage, ChatModel, LLMSession, StructuredOutputError
from core.settings import load_settings
from tests.fakes.openai_server import (
    Fail,
    FakeOpenAI,
    ScriptedLLM,
    Slow,
    Structured,
    Text,
    ToolCall,
    ToolCalls,
    llm_overrides,
)

ASK = [ChatMessage("system", "You are terse."), ChatMessage("user", "Say hello.")]
QUOTE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_quote",
        "description": "The latest quote of a symbol.",
        "parameters": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
    },
}


class Order(BaseModel):
    """A trade to propose."""

    symbol: str = Field(description="Ticker, e.g. AAPL")
    quantity: int = Field(gt=0, description="Whole shares")


def _chat(server: FakeOpenAI, **settings: Any) -> ChatModel:
    chat = build_chat_model(load_settings(**llm_overrides(server, **settings)), retry_backoff_s=0)
    assert chat is not None
    return chat


def _session(server: FakeOpenAI, **settings: Any) -> LLMSession:
    return LLMSession.from_settings(_chat(server, **settings), load_settings())


def test_invoke_when_model_answers_text_then_reply_carries_text_and_token_counts() -> None:
    script = ScriptedLLM([Text("Hello.", usage=(12, 3))])
    with FakeOpenAI(script, api_key="sk-test") as server:
        reply = _chat(server).invoke(ASK)

    assert reply.text == "Hello."
    assert (reply.prompt_tokens, reply.completion_tokens) == (12, 3)
    assert reply.model == "test-model" and reply.tool_calls == []
    sent = script.requests[0]
    assert sent["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]
    assert sent["temperature"] == 0.0 and sent["model"] == "test-model"


def test_invoke_with_tools_when_model_calls_one_then_tool_call_comes_back_unexecuted() -> None:
    script = ScriptedLLM([ToolCalls([ToolCall("get_quote", {"symbol": "AAPL"})])])
    with FakeOpenAI(script) as server:
        reply = _chat(server).invoke(ASK, tools=[QUOTE_TOOL])

    assert reply.tool_calls == [{"id": "call_0", "name": "get_quote", "args": {"symbol": "AAPL"}}]
    assert script.requests[0]["tools"][0]["function"]["name"] == "get_quote"


def test_invoke_when_tool_arguments_are_not_json_then_call_kept_with_error() -> None:
    script = ScriptedLLM([ToolCalls([ToolCall("get_quote", '{"symbol": ')])])
    with FakeOpenAI(script) as server:
        reply = _chat(server).invoke(ASK, tools=[QUOTE_TOOL])

    (call,) = reply.tool_calls
    assert call["name"] == "get_quote" and call["args"] == '{"symbol": '
    assert call["error"]


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_structured_when_answer_valid_then_validated_model_for_each_method(method: str) -> None:
    script = ScriptedLLM([Structured({"symbol": "AAPL", "quantity": 5})])
    with FakeOpenAI(script) as server:
        order = _session(server, llm_structured_method=method).structured(
            ASK, Order, purpose="proposer"
        )

    assert order == Order(symbol="AAPL", quantity=5)
    sent = script.requests[0]
    if method == "function_calling":
        assert sent["tool_choice"]["function"]["name"] == "Order"
        assert "Ticker, e.g. AAPL" in str(sent["tools"])  # a field's description instructs
    elif method == "json_schema":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["name"] == "Order"
    else:
        assert sent["response_format"] == {"type": "json_object"}
        assert '"quantity"' in sent["messages"][-1]["content"]  # the schema is in the prompt


def test_structured_when_first_answer_schema_invalid_then_error_fed_back_and_corrected() -> None:
    script = ScriptedLLM(
        [
            Structured({"symbol": "AAPL", "quantity": -3}),
            Structured({"symbol": "AAPL", "quantity": 3}),
        ]
    )
    with FakeOpenAI(script) as server:
        session = _session(server)
        order = session.structured(ASK, Order, purpose="proposer")

    assert order.quantity == 3
    retry = script.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"symbol": "AAPL", "quantity": -3}'}
    assert "quantity: Input should be greater than 0" in retry[-1]["content"]
    assert [c.error is None for c in session.calls] == [False, True]


def test_structured_when_answer_is_malformed_json_then_retried_with_the_parse_error() -> None:
    script = ScriptedLLM(
        [Structured('{"symbol": "AAPL", '), Structured({"symbol": "MSFT", "quantity": 1})]
    )
    with FakeOpenAI(script) as server:
        order = _session(server).structured(ASK, Order, purpose="proposer")

    assert order.symbol == "MSFT"
    assert "not valid JSON" in script.requests[1]["messages"][-1]["content"]


def test_structured_when_never_valid_then_structured_output_error_after_attempts() -> None:
    script = ScriptedLLM([Structured({"symbol": "AAPL"})] * 5)
    with FakeOpenAI(script) as server:
        session = _session(server)
        with pytest.raises(StructuredOutputError, match="quantity: Field required") as caught:
            session.structured(ASK, Order, purpose="proposer", attempts=3)

    assert len(script.requests) == 3 and script.remaining == 2
    assert len(caught.value.problems) == 3
    assert len(session.calls) == 3


def test_structured_when_validate_rejects_then_its_reason_goes_back_to_the_model() -> None:
    script = ScriptedLLM(
        [
            Structured({"symbol": "TSLA", "quantity": 10_000}),
            Structured({"symbol": "AAPL", "quantity": 10}),
        ]
    )

    def in_universe(order: Order) -> list[str]:
        return [] if order.symbol == "AAPL" else [f"{order.symbol} is not in the universe (AAPL)"]

    with FakeOpenAI(script) as server:
        order = _session(server).structured(ASK, Order, purpose="proposer", validate=in_universe)

    assert order.symbol == "AAPL"
    assert "TSLA is not in the universe" in script.requests[1]["messages"][-1]["content"]


def test_invoke_when_server_slower_than_timeout_then_retried_then_unavailable() -> None:
    script = ScriptedLLM([Slow(3.0), Slow(3.0)])
    with FakeOpenAI(script) as server:
        chat = _chat(server, llm_timeout_s=0.2, llm_max_retries=1)
        with pytest.raises(UnavailableError, match=r"within 0.2 s \(2 attempt"):
            chat.invoke(ASK)

    assert len(script.requests) == 2


def test_invoke_when_rate_limited_once_then_retried_and_answers() -> None:
    script = ScriptedLLM([Fail(429), Text("Hello.")])
    with FakeOpenAI(script) as server:
        reply = _chat(server).invoke(ASK)

    assert reply.text == "Hello." and len(script.requests) == 2


def test_invoke_when_rate_limit_persists_then_throttled_after_bounded_retries() -> None:
    script = ScriptedLLM([Fail(429)] * 5)
    with FakeOpenAI(script) as server, pytest.raises(ThrottledError, match="429"):
        _chat(server, llm_max_retries=2).invoke(ASK)

    assert len(script.requests) == 3


def test_invoke_when_rate_limit_asks_for_a_long_wait_then_gives_up_at_once() -> None:
    script = ScriptedLLM([Fail(429, headers={"retry-after": "600"}), Text("late")])
    with FakeOpenAI(script) as server, pytest.raises(ThrottledError, match="wait 600 s"):
        _chat(server).invoke(ASK)

    assert len(script.requests) == 1


def test_invoke_when_server_errors_persist_then_unavailable_after_bounded_retries() -> None:
    script = ScriptedLLM([Fail(500), Fail(503), Fail(502), Text("never")])
    with (
        FakeOpenAI(script) as server,
        pytest.raises(UnavailableError, match=r"HTTP 502\) after 3 attempt"),
    ):
        _chat(server, llm_max_retries=2).invoke(ASK)

    assert script.remaining == 1


def test_invoke_when_key_refused_then_config_error_names_setting_without_retry() -> None:
    with FakeOpenAI(lambda body: "x", api_key="right") as server:
        chat = _chat(server, llm_api_key="wrong")
        with pytest.raises(ConfigError, match="TILLER_LLM_API_KEY"):
            chat.invoke(ASK)

    assert server.attempts == 1


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (404, ConfigError, "TILLER_LLM_BASE_URL"),
        (400, RejectedError, "refused the request"),
        (422, RejectedError, "refused the request"),
    ],
)
def test_invoke_when_request_refused_then_error_says_how_to_fix_without_retry(
    status: int, error: type[Exception], hint: str
) -> None:
    script = ScriptedLLM([Fail(status, "nope"), Text("never")])
    with FakeOpenAI(script) as server, pytest.raises(error, match=hint):
        _chat(server).invoke(ASK)

    assert len(script.requests) == 1


def test_invoke_when_structured_request_refused_then_hint_names_the_method_setting() -> None:
    script = ScriptedLLM([Fail(400, "response_format is not supported")])
    with FakeOpenAI(script) as server:
        session = _session(server, llm_structured_method="json_schema")
        with pytest.raises(RejectedError, match="TILLER_LLM_STRUCTURED_METHOD"):
            session.structured(ASK, Order, purpose="proposer")


def test_invoke_when_nothing_listens_then_unavailable_names_the_url() -> None:
    settings = load_settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    chat = build_chat_model(settings, retry_backoff_s=0)
    assert chat is not None

    with pytest.raises(UnavailableError, match=r"cannot reach the LLM at http://127\.0\.0\.1:9/v1"):
        chat.invoke(ASK)


def test_invoke_when_server_sends_no_chat_completion_then_unavailable() -> None:
    from tests.fakes._http import Reply

    with (
        FakeOpenAI(lambda body: Reply(200, {"unexpected": True})) as server,
        pytest.raises(UnavailableError, match="not an OpenAI chat completion"),
    ):
        _chat(server).invoke(ASK)


def test_build_chat_model_when_no_llm_configured_then_none() -> None:
    assert build_chat_model(load_settings()) is None
