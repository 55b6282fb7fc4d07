"""One run's LLM session: the budget refuses a call before it is sent, every call is
recorded with tokens and cost, a replay answers from the recording without a network
and reports what changed, and the response cache makes a rerun free."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agents.llm import build_chat_model
from core.errors import ConfigError
from core.llm import (
    BudgetExhaustedError,
    ChatMessage,
    LLMCall,
    LLMSession,
    PriceTable,
    ReplayMismatchError,
    ResponseCache,
)
from core.settings import load_settings
from tests.fakes.openai_server import (
    Fail,
    FakeOpenAI,
    ScriptedLLM,
    Structured,
    Text,
    llm_overrides,
)

ASK = [ChatMessage("system", "Be brief."), ChatMessage("user", "What now?")]


class Decision(BaseModel):
    action: str
    quantity: int


def _session(server: FakeOpenAI | None, *, model: str = "gpt-4o-mini", **kw: Any) -> LLMSession:
    chat = None
    if server is not None:
        settings = load_settings(**llm_overrides(server, llm_model=model))
        chat = build_chat_model(settings, retry_backoff_s=0)
    defaults: dict[str, Any] = {
        "max_tokens": 50_000,
        "max_cost_usd": Decimal("0.50"),
        "prices": PriceTable.from_settings(load_settings()),
    }
    return LLMSession(chat, **(defaults | kw))


@pytest.fixture
def recorded() -> list[LLMCall]:
    """A run's calls: a brief, then a decision that validated at the second attempt."""
    script = ScriptedLLM(
        [
            Text("Looks calm.", usage=(40, 5)),
            Structured({"action": "buy"}, usage=(60, 8)),
            Structured({"action": "buy", "quantity": 10}, usage=(90, 9)),
        ]
    )
    with FakeOpenAI(script) as server:
        session = _session(server)
        session.complete(ASK, purpose="analyst")
        session.structured(ASK, Decision, purpose="proposer")
    # What the run record stores is JSON; replay reads it back from there.
    return [LLMCall.model_validate_json(c.model_dump_json()) for c in session.calls]


def test_complete_then_cost_comes_from_the_price_table_and_call_is_recorded() -> None:
    seen: list[LLMCall] = []
    script = ScriptedLLM([Text("Hold.", usage=(1000, 500))])
    with FakeOpenAI(script) as server:
        session = _session(server, on_call=seen.append)
        assert session.complete(ASK, purpose="analyst") == "Hold."

    # gpt-4o-mini: $0.15 per million prompt tokens, $0.60 per million answer tokens.
    assert session.cost_usd == Decimal("0.00045")
    assert session.tokens_used == 1500
    (call,) = seen
    assert call == session.calls[0]
    assert (call.seq, call.purpose, call.model) == (1, "analyst", "gpt-4o-mini")
    assert call.messages == [m.to_dict() for m in ASK]
    assert (call.response, call.cost_usd, call.priced, call.cached) == (
        "Hold.",
        "0.00045000",
        True,
        False,
    )
    assert call.latency_ms > 0


def test_complete_when_model_is_in_no_price_table_then_costs_zero_marked_unpriced() -> None:
    with FakeOpenAI(ScriptedLLM([Text("Hold.", usage=(1000, 500))])) as server:
        session = _session(server, model="llama3.1:8b")
        session.complete(ASK, purpose="analyst")

    assert session.cost_usd == 0 and session.tokens_used == 1500
    assert session.calls[0].cost_usd == "0" and session.calls[0].priced is False


def test_price_table_when_dated_snapshot_then_priced_as_its_model_but_variants_are_not() -> None:
    prices = PriceTable.from_settings(load_settings())

    assert prices.cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == Decimal("0.15")
    assert prices.cost("GPT-4o", 0, 1_000_000) == Decimal("10")
    assert prices.cost("gpt-4o-audio-preview", 1000, 1000) is None


def test_prices_from_environment_add_to_the_built_in_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "TILLER_LLM_PRICES", '{"my-model": {"input_per_mtok": "1", "output_per_mtok": "2"}}'
    )
    prices = PriceTable.from_settings(load_settings())

    assert prices.cost("my-model", 1_000_000, 1_000_000) == Decimal(3)
    assert prices.lookup("gpt-4o-mini") is not None


def test_complete_when_token_budget_cannot_cover_the_call_then_no_request_is_sent() -> None:
    with FakeOpenAI(ScriptedLLM([Text("never")])) as server:
        session = _session(server, max_tokens=500, max_completion_tokens=1024)
        with pytest.raises(BudgetExhaustedError, match="TILLER_LLM_MAX_TOKENS_PER_RUN"):
            session.complete(ASK, purpose="analyst")

    assert server.attempts == 0
    assert session.calls == []


def test_complete_when_earlier_calls_spent_the_tokens_then_next_call_is_refused() -> None:
    script = ScriptedLLM([Text("first", usage=(2900, 50)), Text("never")])
    with FakeOpenAI(script) as server:
        session = _session(server, max_tokens=3000, max_completion_tokens=100)
        session.complete(ASK, purpose="analyst")
        with pytest.raises(BudgetExhaustedError, match="token budget is spent: 2,950 tokens"):
            session.complete(ASK, purpose="proposer")

    assert server.attempts == 1 and len(session.calls) == 1


def test_complete_when_cost_budget_would_be_exceeded_then_refused_naming_the_setting() -> None:
    script = ScriptedLLM([Text("first", usage=(3400, 100)), Text("never")])
    with FakeOpenAI(script) as server:
        session = _session(
            server, model="gpt-4o", max_cost_usd=Decimal("0.01"), max_completion_tokens=100
        )
        session.complete(ASK, purpose="analyst")  # $0.0095 of $0.01; the next may need $0.001
        with pytest.raises(BudgetExhaustedError, match="TILLER_LLM_MAX_COST_PER_RUN_USD") as err:
            session.complete(ASK, purpose="proposer")

    assert err.value.budget == "cost" and err.value.exit_code == 2
    assert server.attempts == 1


def test_every_call_is_recorded_including_one_that_failed() -> None:
    seen: list[LLMCall] = []
    with FakeOpenAI(ScriptedLLM([Text("ok"), Fail(401)])) as server:
        session = _session(server, on_call=seen.append)
        session.complete(ASK, purpose="analyst")
        with pytest.raises(ConfigError, match="TILLER_LLM_API_KEY"):
            session.complete(ASK, purpose="proposer")

    assert [c.seq for c in seen] == [1, 2]
    failed = seen[1]
    assert failed.response is None and failed.error_type == "ConfigError"
    assert "TILLER_LLM_API_KEY" in (failed.error or "")


def test_complete_when_server_reports_no_usage_then_tokens_are_estimated_and_charged() -> None:
    with FakeOpenAI(ScriptedLLM([Text("Hold the position.", usage=False)])) as server:
        session = _session(server)
        session.complete(ASK, purpose="analyst")

    assert session.calls[0].tokens_estimated is True
    assert session.tokens_used > 0


def test_session_without_a_model_then_config_error_names_the_settings() -> None:
    with pytest.raises(ConfigError, match="TILLER_LLM_BASE_URL"):
        _session(None).complete(ASK, purpose="analyst")


def test_replay_returns_the_recorded_answers_without_any_model(recorded: list[LLMCall]) -> None:
    session = _session(None, replay=recorded)  # no model, no server: nothing can be sent

    brief = session.complete(ASK, purpose="analyst")
    decision = session.structured(ASK, Decision, purpose="proposer")

    assert brief == "Looks calm."
    assert decision == Decision(action="buy", quantity=10)
    assert session.replay_differences() == []
    assert [c.model_dump(exclude={"replayed"}) for c in session.calls] == [
        c.model_dump(exclude={"replayed"}) for c in recorded
    ]
    assert all(c.replayed for c in session.calls)
    assert session.tokens_used == 40 + 5 + 60 + 8 + 90 + 9


def test_replay_when_a_prompt_changed_then_the_difference_is_reported(
    recorded: list[LLMCall],
) -> None:
    session = _session(None, replay=recorded)
    changed = [ASK[0], ChatMessage("user", "What now, exactly?")]

    session.complete(changed, purpose="analyst")
    session.structured(ASK, Decision, purpose="proposer")

    (difference,) = session.replay_differences()
    assert "call 1 ('analyst'): message 2 (user) differs" in difference
    assert "What now, exactly?" in difference


def test_replay_when_strict_and_a_prompt_changed_then_mismatch_error() -> None:
    recorded = [LLMCall(seq=1, purpose="analyst", model="m", messages=[], response="x")]
    session = _session(None, replay=recorded, replay_strict=True)

    with pytest.raises(ReplayMismatchError, match=r"2 message\(s\) now, 0 recorded"):
        session.complete(ASK, purpose="analyst")


def test_replay_when_code_asks_more_calls_than_recorded_then_mismatch_error(
    recorded: list[LLMCall],
) -> None:
    session = _session(None, replay=recorded[:1])
    session.complete(ASK, purpose="analyst")

    with pytest.raises(ReplayMismatchError, match="holds only 1"):
        session.complete(ASK, purpose="proposer")


def test_replay_when_code_asks_fewer_calls_then_unused_recordings_are_reported(
    recorded: list[LLMCall],
) -> None:
    session = _session(None, replay=recorded)
    session.complete(ASK, purpose="analyst")

    (difference,) = session.replay_differences()
    assert "2 call(s) never asked for: #2 proposer, #3 proposer" in difference


def test_replay_when_recorded_call_failed_then_same_kind_of_error() -> None:
    failed = LLMCall(
        seq=1,
        purpose="analyst",
        model="m",
        messages=[m.to_dict() for m in ASK],
        response=None,
        error="the LLM at X is unavailable",
        error_type="UnavailableError",
    )
    from core.errors import UnavailableError

    with pytest.raises(UnavailableError, match=r"\(replayed\) the LLM at X"):
        _session(None, replay=[failed]).complete(ASK, purpose="analyst")


def test_cache_when_same_request_again_then_answered_free_without_a_request(
    tmp_path: Path,
) -> None:
    script = ScriptedLLM([Structured({"action": "hold", "quantity": 0}, usage=(500, 20))])
    with FakeOpenAI(script) as server:
        with ResponseCache(tmp_path / "llm_cache.sqlite3") as cache:
            first = _session(server, cache=cache)
            first.structured(ASK, Decision, purpose="proposer")
        with ResponseCache(tmp_path / "llm_cache.sqlite3") as cache:  # a later run
            again = _session(server, cache=cache)
            decision = again.structured(ASK, Decision, purpose="proposer")

    assert decision == Decision(action="hold", quantity=0)
    assert server.attempts == 1
    (call,) = again.calls
    assert call.cached is True and call.cost_usd == "0"
    assert again.cost_usd == 0 and again.tokens_used == 0
    assert first.cost_usd > 0


def test_cache_when_schema_differs_then_no_hit(tmp_path: Path) -> None:
    class Other(BaseModel):
        action: str

    script = ScriptedLLM(
        [Structured({"action": "hold", "quantity": 0}), Structured({"action": "hold"})]
    )
    with FakeOpenAI(script) as server, ResponseCache(tmp_path / "c.sqlite3") as cache:
        _session(server, cache=cache).structured(ASK, Decision, purpose="proposer")
        other = _session(server, cache=cache).structured(ASK, Other, purpose="proposer")

    assert other == Other(action="hold")
    assert server.attempts == 2
    assert script.requests[1]["tools"][0]["function"]["name"] == "Other"
