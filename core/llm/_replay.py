"""Replaying a recorded run: what differs from the recording, and the recorded answers
and failures handed back as if the model had just produced them."""

from __future__ import annotations

from typing import Any

from core import errors
from core.llm._types import LLMCall, LLMReply

# Recorded failures come back as the same kind of error when replayed.
_ERROR_TYPES: dict[str, type[errors.TillerError]] = {
    cls.__name__: cls
    for cls in (
        errors.ConfigError,
        errors.DataError,
        errors.NotFoundError,
        errors.UnavailableError,
        errors.ThrottledError,
        errors.RejectedError,
        errors.StaleDataError,
        errors.AmbiguousOutcomeError,
    )
}


def describe_difference(seq: int, recorded: LLMCall, now: dict[str, Any]) -> str | None:
    where = f"call {seq} ({now['purpose']!r})"
    if recorded.purpose != now["purpose"]:
        return f"{where}: the recording made this call for {recorded.purpose!r}"
    if recorded.schema_name != now["schema_name"] or recorded.tools != now["tools"]:
        return (
            f"{where}: asked for schema {now['schema_name']} with tools {now['tools']}, "
            f"recorded {recorded.schema_name} with tools {recorded.tools}"
        )
    if recorded.messages == now["messages"]:
        return None
    if len(recorded.messages) != len(now["messages"]):
        return f"{where}: {len(now['messages'])} message(s) now, {len(recorded.messages)} recorded"
    for n, (old, new) in enumerate(zip(recorded.messages, now["messages"], strict=True), 1):
        if old != new:
            return (
                f"{where}: message {n} ({new.get('role')}) differs: recorded "
                f"{_clip(old.get('content', ''))!r}, now {_clip(new.get('content', ''))!r}"
            )
    return None


def reply_of(recorded: LLMCall) -> LLMReply:
    return LLMReply(
        text=recorded.response or "",
        model=recorded.model,
        prompt_tokens=recorded.prompt_tokens,
        completion_tokens=recorded.completion_tokens,
        latency_ms=recorded.latency_ms,
        tool_calls=recorded.tool_calls,
    )


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_of(recorded: LLMCall) -> errors.TillerError:
    """A recorded failure as the same kind of error (unknown kinds: unavailable)."""
    kind = _ERROR_TYPES.get(recorded.error_type or "", errors.UnavailableError)
    return kind(f"(replayed) {recorded.error}")
