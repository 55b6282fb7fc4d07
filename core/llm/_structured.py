"""Validating a model's structured answer ourselves, so a bad answer can go back to the
model with the exact error (LangChain's parsers would only raise)."""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from core.llm._types import ChatMessage

T = TypeVar("T", bound=BaseModel)

# Many models wrap JSON in a Markdown fence even when told not to; the content is fine.
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


def parse_answer(text: str, schema: type[T]) -> tuple[T | None, list[str]]:
    """The answer as a ``schema`` instance, or ``None`` and the problems in words a model
    can act on (bad JSON, a missing field, a wrong type)."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1)
    if not candidate:
        return None, ["the answer was empty: reply with one JSON object"]
    try:
        return schema.model_validate_json(candidate), []
    except ValidationError as exc:
        return None, _problems(exc)


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        if error["type"] == "json_invalid":
            problems.append(f"the answer is not valid JSON ({error['msg']})")
            continue
        where = ".".join(str(part) for part in error["loc"]) or "the answer"
        problems.append(f"{where}: {error['msg']}")
    return problems


def feedback(schema: type[BaseModel], problems: list[str]) -> ChatMessage:
    """The user turn that sends an unusable answer's problems back to the model."""
    listed = "\n".join(f"- {p}" for p in problems)
    return ChatMessage(
        "user",
        f"Your previous answer could not be used:\n{listed}\n"
        f"Reply again with only a JSON object matching the {schema.__name__} schema, "
        "fixing exactly these problems.",
    )
