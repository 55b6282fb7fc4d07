"""Strategies in plain English: one function for every surface. With an LLM configured
the model reads the text (structured output, the same validator as offline); if it
fails or its budget is spent, the offline parser answers and says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from core.errors import ConfigError, UnavailableError

# The offline parser refuses longer text too; the API refuses it before reading the body.
MAX_TEXT_CHARS = 20_000

if TYPE_CHECKING:
    from app.bootstrap import Container
    from core.llm import LLMSession
    from tools.strategy import ParseOutcome


def parse_strategy(c: Container, text: str, session: LLMSession | None = None) -> ParseOutcome:
    """``session``: the LLM session to read with (the caller keeps its cost); by default
    one with the per-run budget when an LLM is configured."""
    from tools.strategy import parse_strategy_text

    chat = c.chat_model
    if chat is None:
        return parse_strategy_text(text)
    from agents.strategy import parse_with_llm
    from core.llm import BudgetExhaustedError, LLMSession, StructuredOutputError

    session = session or LLMSession.from_settings(chat, c.settings)
    try:
        return parse_with_llm(text, session)
    except (StructuredOutputError, BudgetExhaustedError, UnavailableError) as exc:
        offline = parse_strategy_text(text)
        note = f"the LLM could not read it ({exc}); the offline rules did"
        return offline.model_copy(update={"notes": [note, *offline.notes]})


class StrategyRefusedError(ConfigError):
    """The text cannot become a strategy; the message says why."""

    code = "strategy_refused"


class StrategyUnclearError(ConfigError):
    """The text is a strategy but leaves something open; the message is the question."""

    code = "strategy_unclear"


class StrategyText(BaseModel):
    text: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS,
        description="The strategy in English, e.g. 'buy when the 10-day moving average "
        "crosses above the 50-day, sell when it crosses back below, 8% stop loss'.",
    )  # fmt: skip


class StrategyParseView(BaseModel):
    """What the text was read as: a spec (with its canonical English), or a question."""

    kind: Literal["spec", "question", "refusal"]
    spec: dict[str, Any] | None
    question: str | None
    reason: str | None
    hint: str | None
    notes: list[str]
    source: str
    canonical_text: str | None


def read_strategy(c: Container, text: str, session: LLMSession | None = None) -> ParseOutcome:
    """A spec or a question; a refusal is ``StrategyRefusedError`` (with its hint)."""
    outcome = parse_strategy(c, text, session)
    if outcome.kind == "refusal":
        raise StrategyRefusedError(str(outcome.reason), hint=outcome.hint)
    return outcome


def parse_view(outcome: ParseOutcome) -> StrategyParseView:
    from tools.strategy import render_strategy

    data = outcome.model_dump(mode="json")
    text = render_strategy(outcome.spec) if outcome.spec is not None else None
    return StrategyParseView.model_validate({**data, "canonical_text": text})
