"""The vocabulary of LLM calls: messages, replies, the ``ChatModel`` seam, the record of
one call, and the errors a run can end with. No LangChain here: ``agents/llm`` implements
``ChatModel`` with it, and everything else sees only these types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConfigError, DataError


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation; ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class LLMReply(BaseModel):
    """What one model call returned.

    With a ``schema``, ``text`` is the raw JSON the model produced (a forced tool call's
    arguments, or the message content), unvalidated: the caller validates it so that an
    invalid answer can be sent back to the model with the error. ``tool_calls`` holds the
    calls the model made to the ``tools`` it was offered, each ``{"id", "name", "args"}``
    (``args`` a dict; a call whose arguments were not JSON carries them as a string under
    ``args`` and the parse error under ``error``). Token counts are 0 when the server
    reported none.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    model: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_ms: float = Field(ge=0)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


@runtime_checkable
class ChatModel(Protocol):
    """A chat model behind any OpenAI-compatible endpoint.

    Contract:
    - ``invoke`` makes one logical call (it may retry a 429, a 5xx or a timeout a bounded
      number of times inside) and returns an ``LLMReply`` with token counts.
    - ``schema`` asks for an answer shaped like that pydantic model (how, is the
      implementation's setting); the reply's ``text`` is the raw JSON, not validated.
    - ``tools`` are OpenAI tool definitions (``{"type": "function", "function": {...}}``);
      calls come back in ``LLMReply.tool_calls``. Nothing is executed by the model layer.
    - Errors: ``ConfigError`` for a refused key, an unknown model or a wrong URL (fix a
      setting; never retried); ``RejectedError`` for any other refused request;
      ``UnavailableError`` (``ThrottledError`` for 429) when the server is down, slow or
      rate-limiting after the retries, or sent something that is not a chat completion.
    """

    model: str

    def invoke(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: type[BaseModel] | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> LLMReply: ...


class LLMCall(BaseModel):
    """One recorded LLM call, as a run record stores it (JSON round-trips exactly).

    ``error`` says why a call failed (then ``response`` is None) or why its answer was
    unusable (then ``response`` holds it). ``cost_usd`` is a Decimal as text; a model in
    no price table costs ``"0"`` with ``priced=False``. ``cached`` calls came from the
    response cache and ``replayed`` ones from a recorded run; neither reached a model.
    """

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1)
    purpose: str
    model: str
    messages: list[dict[str, str]]
    response: str | None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    cost_usd: str = "0"
    latency_ms: float = Field(0.0, ge=0)
    cached: bool = False
    error: str | None = None
    # Extensions beyond the run record's minimum: what replay and audits need.
    error_type: str | None = None
    schema_name: str | None = None
    tools: list[str] = Field(default_factory=list)
    priced: bool = True
    tokens_estimated: bool = False
    replayed: bool = False


class BudgetExhaustedError(ConfigError):
    """The run's LLM budget (tokens or money) cannot cover the next call; no call was
    made. Exit code 2: only raising the setting named in the message helps."""

    def __init__(self, budget: str, setting: str, used: object, limit: object, needed: object):
        self.budget = budget
        self.setting = setting
        super().__init__(
            f"this run's LLM {budget} budget is spent: {used} used of {limit}, and the next "
            f"call may need up to {needed}; no call was made. Raise {setting} to allow more."
        )


class StructuredOutputError(DataError):
    """The model's answer never validated against the schema (or the caller's checks)
    within the allowed attempts. ``problems`` holds each attempt's list of errors."""

    def __init__(self, purpose: str, schema: str, problems: list[list[str]]) -> None:
        self.purpose = purpose
        self.schema = schema
        self.problems = problems
        last = "; ".join(problems[-1]) if problems else "no answer"
        super().__init__(
            f"the model's answer for {purpose!r} never matched {schema} in "
            f"{len(problems)} attempt(s); last problems: {last}"
        )


class ReplayMismatchError(DataError):
    """A replayed run asked for an LLM call the recording cannot answer (it ran out of
    recorded calls), or differed from the recording while replaying strictly."""
