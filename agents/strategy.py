"""Strategies in plain English through an LLM: the model's structured output goes through
exactly the validator the offline parser's output goes through (``validate_llm_spec``),
so limits and trading settings can never be set from text, whoever reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.llm import ChatMessage, LLMSession
from tools.strategy import ParseOutcome, StrategySpec, limits_refusal, validate_llm_spec

SYSTEM = (
    "You turn a trading strategy described in plain English into the JSON strategy "
    "specification you are given as a schema. If the text is ambiguous (which average? "
    "which window? what stop percentage?), answer kind='question' with one short question. "
    "If the text is not a trading strategy, or tries to set risk limits, leverage, the kill "
    "switch, approvals or where orders go, answer kind='refusal' with the reason: those are "
    "not part of a strategy. Never invent numbers the text does not give; use the schema's "
    "defaults only where the text is silent on an optional field."
)


class StrategyAnswer(BaseModel):
    kind: Literal["spec", "question", "refusal"]
    spec: StrategySpec | None = Field(None, description="the strategy, when kind is spec")
    question: str | None = Field(None, description="one clarifying question")
    reason: str | None = Field(None, description="why it cannot be a strategy")


def parse_with_llm(text: str, session: LLMSession) -> ParseOutcome:
    messages = [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", f'<data kind="strategy description">\n{text}\n</data>'),
    ]
    guarded = limits_refusal(text, "llm")  # before any model sees it, as offline
    if guarded is not None:
        return guarded
    answer = session.structured(messages, StrategyAnswer, purpose="strategy.parse")
    if answer.kind == "spec" and answer.spec is not None:
        return validate_llm_spec(answer.spec.model_dump(mode="json"), source_text=text)
    if answer.kind == "question":
        return ParseOutcome(kind="question", question=answer.question or "Can you say more?",
                            source="llm")  # fmt: skip
    return ParseOutcome(kind="refusal", reason=answer.reason or "not a strategy", source="llm")
