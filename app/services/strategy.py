"""Strategies in plain English: one function for every surface. With an LLM configured
the model reads the text (structured output, the same validator as offline); if it
fails or its budget is spent, the offline parser answers and says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import UnavailableError

if TYPE_CHECKING:
    from app.bootstrap import Container
    from tools.strategy import ParseOutcome


def parse_strategy(c: Container, text: str) -> ParseOutcome:
    from tools.strategy import parse_strategy_text

    chat = c.chat_model
    if chat is None:
        return parse_strategy_text(text)
    from agents.strategy import parse_with_llm
    from core.llm import BudgetExhaustedError, LLMSession, StructuredOutputError

    session = LLMSession.from_settings(chat, c.settings)
    try:
        return parse_with_llm(text, session)
    except (StructuredOutputError, BudgetExhaustedError, UnavailableError) as exc:
        offline = parse_strategy_text(text)
        note = f"the LLM could not read it ({exc}); the offline rules did"
        return offline.model_copy(update={"notes": [note, *offline.notes]})
