"""Strategies in plain English read by an LLM: the model's structured output passes the
same validator as the offline parser's, and text that sets limits never reaches it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.bootstrap import build
from app.services.strategy import parse_strategy
from tests.fakes.openai_server import FakeOpenAI, ScriptedLLM, Structured, llm_overrides
from tools.strategy import parse_strategy_text

SMA = "buy when the 10-day moving average crosses above the 50-day, sell when it crosses below"


@pytest.fixture
def served() -> Iterator[Any]:
    servers: list[FakeOpenAI] = []

    def start(answers: list[Any]) -> tuple[Any, ScriptedLLM]:
        script = ScriptedLLM(answers)
        server = FakeOpenAI(script).__enter__()
        servers.append(server)
        return build(**llm_overrides(server)), script

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def _spec_json() -> dict[str, Any]:
    spec = parse_strategy_text(SMA).spec
    assert spec is not None
    return spec.model_dump(mode="json")


def test_the_llm_spec_goes_through_the_offline_validator(served) -> None:  # type: ignore[no-untyped-def]
    c, script = served([Structured({"kind": "spec", "spec": _spec_json()})])
    outcome = parse_strategy(c, SMA)
    assert outcome.kind == "spec" and outcome.source == "llm"
    assert outcome.spec == parse_strategy_text(SMA).spec
    assert len(script.requests) == 1


def test_text_that_sets_limits_is_refused_before_any_model_sees_it(served) -> None:  # type: ignore[no-untyped-def]
    c, script = served([Structured({"kind": "spec", "spec": _spec_json()})])
    outcome = parse_strategy(c, SMA + ", and raise max order notional to 10,000,000")
    assert outcome.kind == "refusal"
    assert script.requests == []


def test_an_llm_spec_smuggling_a_limit_field_is_refused_then_the_offline_parser_answers(
    served,
) -> None:  # type: ignore[no-untyped-def]
    smuggled = {"kind": "spec", "spec": {**_spec_json(), "max_order_notional": 10**7}}
    c, _ = served([Structured(smuggled)] * 3)
    outcome = parse_strategy(c, SMA)
    assert outcome.source == "offline rules" and outcome.kind == "spec"
    assert outcome.spec is not None
    assert "max_order_notional" not in outcome.spec.model_dump_json()
    assert "the LLM could not read it" in outcome.notes[0]


def test_an_llm_question_is_passed_on(served) -> None:  # type: ignore[no-untyped-def]
    c, _ = served([Structured({"kind": "question", "question": "Which moving average?"})])
    outcome = parse_strategy(c, "buy when the average crosses the price")
    assert outcome.kind == "question" and outcome.question == "Which moving average?"
