"""One run's access to an LLM: a ``ChatModel`` behind a budget, a recorder, an optional
response cache, and a replay mode that answers from a recorded run."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from core import errors
from core.llm._cache import ResponseCache, request_key
from core.llm._prices import PriceTable
from core.llm._replay import describe_difference, error_of, reply_of
from core.llm._structured import feedback, parse_answer
from core.llm._types import (
    BudgetExhaustedError,
    ChatMessage,
    ChatModel,
    LLMCall,
    LLMReply,
    ReplayMismatchError,
    StructuredOutputError,
)
from core.settings import Settings

T = TypeVar("T", bound=BaseModel)
Check = Callable[[LLMReply], list[str]]

_NO_LLM = (
    "no LLM is configured: set TILLER_LLM_BASE_URL (e.g. http://localhost:11434/v1) "
    "and TILLER_LLM_MODEL"
)


def estimate_prompt_tokens(
    messages: Sequence[ChatMessage],
    schema: type[BaseModel] | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
) -> int:
    """A deliberately generous guess (4 characters a token, plus framing), used only to
    refuse a call before it is made; real counts come from the server."""
    chars = sum(len(m.content) + 16 for m in messages)
    if schema is not None:
        chars += len(json.dumps(schema.model_json_schema()))
    if tools:
        chars += len(json.dumps(list(tools), default=str))
    return math.ceil(chars / 4)


class LLMSession:
    """Per run: a ``ChatModel`` + a budget + a recorder (+ optional cache or replay).

    - The budget is checked before every call from an estimate (prompt characters / 4
      plus ``max_completion_tokens``); when the run's tokens or dollars cannot cover it,
      ``BudgetExhaustedError`` is raised and no request is sent. Afterwards the server's
      token counts are charged (estimates when it reports none: ``tokens_estimated``).
      A model missing from the price table costs 0 (``priced=False``), so only the token
      budget bounds it.
    - Every call, answered or failed, becomes an ``LLMCall`` appended to ``calls`` and
      passed to ``on_call`` before the answer is used.
    - ``cache``: an identical request (model, messages, schema, tools) is answered from
      the cache for free (``cached=True``; not charged to either budget).
    - ``replay``: answers come from the recorded calls in order and nothing reaches the
      network. A request that differs from its recording (messages, purpose, schema,
      tools) is *recorded* as a difference in ``differences`` and the recorded answer is
      still used, so one replay reports every difference; ``replay_strict=True`` raises
      ``ReplayMismatchError`` at the first one instead. Asking for more calls than were
      recorded always raises ``ReplayMismatchError``. Budgets are charged the recorded
      amounts, so a replay stops where the original did.
    - Calls are serialised (one at a time per session), which keeps ``seq``, budgets and
      replay order consistent when graph nodes run in parallel threads.
    """

    def __init__(
        self,
        chat: ChatModel | None,
        *,
        max_tokens: int,
        max_cost_usd: Decimal,
        prices: PriceTable,
        on_call: Callable[[LLMCall], None] | None = None,
        replay: Sequence[LLMCall] | None = None,
        cache: ResponseCache | None = None,
        max_completion_tokens: int = 1024,
        replay_strict: bool = False,
    ) -> None:
        self.chat = chat
        self.max_tokens = max_tokens
        self.max_cost_usd = max_cost_usd
        self.prices = prices
        self.on_call = on_call
        self.cache = cache
        self.max_completion_tokens = max_completion_tokens
        self.replay_strict = replay_strict
        self.calls: list[LLMCall] = []
        self.tokens_used = 0
        self.cost_usd = Decimal(0)
        self.differences: list[str] = []
        self._replay = list(replay) if replay is not None else None
        self._lock = threading.RLock()

    @classmethod
    def from_settings(
        cls,
        chat: ChatModel | None,
        settings: Settings,
        *,
        on_call: Callable[[LLMCall], None] | None = None,
        replay: Sequence[LLMCall] | None = None,
        cache: ResponseCache | None = None,
        replay_strict: bool = False,
    ) -> LLMSession:
        return cls(
            chat,
            max_tokens=settings.llm_max_tokens_per_run,
            max_cost_usd=settings.llm_max_cost_per_run_usd,
            prices=PriceTable.from_settings(settings),
            on_call=on_call,
            replay=replay,
            cache=cache,
            max_completion_tokens=settings.llm_max_completion_tokens,
            replay_strict=replay_strict,
        )

    @property
    def model(self) -> str:
        if self.chat is not None:
            return self.chat.model
        if self._replay:
            return self._replay[0].model
        return "none"

    @property
    def model_name(self) -> str:
        """The same as ``model`` (the name the agents' reports print)."""
        return self.model

    @property
    def replaying(self) -> bool:
        return self._replay is not None

    @property
    def available(self) -> bool:
        """Whether a call can be answered at all (a model, or a recording to replay)."""
        return self.chat is not None or self._replay is not None

    # -- the three ways to call -------------------------------------------------------

    def invoke(
        self,
        messages: Sequence[ChatMessage],
        *,
        purpose: str,
        schema: type[BaseModel] | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> LLMReply:
        """One recorded call; the reply as the model gave it (tool calls included)."""
        return self._call(list(messages), purpose, schema, tools, None)

    def complete(self, messages: Sequence[ChatMessage], *, purpose: str) -> str:
        return self._call(list(messages), purpose, None, None, None).text

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[T],
        *,
        purpose: str,
        attempts: int = 3,
        validate: Callable[[T], list[str]] | None = None,
    ) -> T:
        """An answer validated by ``schema`` and then by ``validate`` (a non-empty list of
        problems rejects it). A rejected answer goes back to the model with its problems,
        at most ``attempts`` calls in all; then ``StructuredOutputError``."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        conversation = list(messages)
        history: list[list[str]] = []
        for _ in range(attempts):
            verdict = _Verdict(schema, validate)
            reply = self._call(conversation, purpose, schema, None, verdict)
            if verdict.value is not None:
                return verdict.value
            history.append(verdict.problems)
            conversation += [
                ChatMessage("assistant", reply.text),
                feedback(schema, verdict.problems),
            ]
        raise StructuredOutputError(purpose, schema.__name__, history)

    def replay_differences(self) -> list[str]:
        """Every difference seen so far, plus recorded calls the replay never asked for."""
        found = list(self.differences)
        if self._replay is not None and len(self._replay) > len(self.calls):
            left = self._replay[len(self.calls) :]
            purposes = ", ".join(f"#{c.seq} {c.purpose}" for c in left)
            found.append(f"the recording holds {len(left)} call(s) never asked for: {purposes}")
        return found

    # -- internals ----------------------------------------------------------------------

    def _call(
        self,
        messages: list[ChatMessage],
        purpose: str,
        schema: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None,
        check: Check | None,
    ) -> LLMReply:
        with self._lock:
            if self._replay is not None:
                return self._from_replay(messages, purpose, schema, tools, check)
            if self.chat is None:
                raise errors.ConfigError(_NO_LLM)
            return self._from_model(self.chat, messages, purpose, schema, tools, check)

    def _from_model(
        self,
        chat: ChatModel,
        messages: list[ChatMessage],
        purpose: str,
        schema: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None,
        check: Check | None,
    ) -> LLMReply:
        base = self._base(purpose, chat.model, messages, schema, tools)
        key = request_key(chat.model, messages, schema, tools) if self.cache is not None else None
        if self.cache is not None and key is not None:
            started = time.perf_counter()
            hit = self.cache.get(key)
            if hit is not None:
                self._record(base, hit, check, cost=Decimal(0), cached=True, started=started)
                return hit
        self._check_budget(chat.model, estimate_prompt_tokens(messages, schema, tools))
        started = time.perf_counter()
        try:
            reply = chat.invoke(messages, schema=schema, tools=tools)
        except Exception as exc:
            self._append(
                LLMCall(
                    **base,
                    response=None,
                    latency_ms=_ms_since(started),
                    error=str(exc),
                    error_type=type(exc).__name__,
                    priced=self.prices.lookup(chat.model) is not None,
                )
            )
            raise
        if reply.prompt_tokens == 0 and reply.completion_tokens == 0:
            reply = reply.model_copy(
                update={
                    "prompt_tokens": estimate_prompt_tokens(messages, schema, tools),
                    "completion_tokens": math.ceil(len(reply.text) / 4),
                }
            )
            base["tokens_estimated"] = True
        cost = self.prices.cost(chat.model, reply.prompt_tokens, reply.completion_tokens)
        if cost is None:
            cost = self.prices.cost(reply.model, reply.prompt_tokens, reply.completion_tokens)
        self.tokens_used += reply.prompt_tokens + reply.completion_tokens
        self.cost_usd += cost or Decimal(0)
        if self.cache is not None and key is not None:
            self.cache.put(key, reply)
        self._record(base, reply, check, cost=cost, cached=False, latency=reply.latency_ms)
        return reply

    def _from_replay(
        self,
        messages: list[ChatMessage],
        purpose: str,
        schema: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None,
        check: Check | None,
    ) -> LLMReply:
        assert self._replay is not None
        seq = len(self.calls) + 1
        recorded = self._replay[seq - 1] if seq <= len(self._replay) else None
        if recorded is None or not recorded.cached:
            model = recorded.model if recorded is not None else self.model
            self._check_budget(model, estimate_prompt_tokens(messages, schema, tools))
        if recorded is None:
            raise ReplayMismatchError(
                f"the replay asks for LLM call {seq} ({purpose!r}) but the recording holds "
                f"only {len(self._replay)}: the code now makes more calls than it did"
            )
        base = self._base(purpose, recorded.model, messages, schema, tools)
        difference = describe_difference(seq, recorded, base)
        if recorded.response is not None and check is not None:
            reply = reply_of(recorded)
            problems = check(reply)
            now = f"answer did not validate: {'; '.join(problems)}" if problems else None
            if now != recorded.error:
                difference = difference or (
                    f"call {seq} ({purpose!r}): the recorded answer was judged "
                    f"{recorded.error or 'valid'!r} and is now judged {now or 'valid'!r}"
                )
        if difference:
            self.differences.append(difference)
            if self.replay_strict:
                raise ReplayMismatchError(difference)
        if not recorded.cached:
            self.tokens_used += recorded.prompt_tokens + recorded.completion_tokens
            self.cost_usd += Decimal(recorded.cost_usd)
        self._append(recorded.model_copy(update={"seq": seq, "replayed": True}))
        if recorded.response is None:
            raise error_of(recorded)
        return reply_of(recorded)

    def _base(
        self,
        purpose: str,
        model: str,
        messages: list[ChatMessage],
        schema: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        return {
            "seq": len(self.calls) + 1,
            "purpose": purpose,
            "model": model,
            "messages": [m.to_dict() for m in messages],
            "schema_name": schema.__name__ if schema is not None else None,
            "tools": [_tool_name(t) for t in tools or []],
        }

    def _check_budget(self, model: str, prompt_estimate: int) -> None:
        needed = prompt_estimate + self.max_completion_tokens
        if self.tokens_used + needed > self.max_tokens:
            raise BudgetExhaustedError(
                "token",
                "TILLER_LLM_MAX_TOKENS_PER_RUN",
                f"{self.tokens_used:,} tokens",
                f"{self.max_tokens:,}",
                f"{needed:,}",
            )
        cost = self.prices.cost(model, prompt_estimate, self.max_completion_tokens)
        if cost is not None and self.cost_usd + cost > self.max_cost_usd:
            raise BudgetExhaustedError(
                "cost",
                "TILLER_LLM_MAX_COST_PER_RUN_USD",
                f"${self.cost_usd}",
                f"${self.max_cost_usd}",
                f"${cost}",
            )

    def _record(
        self,
        base: dict[str, Any],
        reply: LLMReply,
        check: Check | None,
        *,
        cost: Decimal | None,
        cached: bool,
        started: float | None = None,
        latency: float | None = None,
    ) -> None:
        problems = check(reply) if check is not None else []
        self._append(
            LLMCall(
                **{**base, "model": reply.model},
                response=reply.text,
                tool_calls=reply.tool_calls,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                cost_usd=str(cost if cost is not None else Decimal(0)),
                latency_ms=latency if latency is not None else _ms_since(started or 0.0),
                cached=cached,
                error=f"answer did not validate: {'; '.join(problems)}" if problems else None,
                error_type="invalid_answer" if problems else None,
                priced=cost is not None,
            )
        )

    def _append(self, call: LLMCall) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)


class _Verdict(Generic[T]):
    """Judges one structured answer; keeps the value when it passes."""

    def __init__(self, schema: type[T], validate: Callable[[T], list[str]] | None) -> None:
        self.schema = schema
        self.validate = validate
        self.value: T | None = None
        self.problems: list[str] = []

    def __call__(self, reply: LLMReply) -> list[str]:
        value, problems = parse_answer(reply.text, self.schema)
        if value is not None and self.validate is not None:
            problems = list(self.validate(value))
        self.value = value if not problems else None
        self.problems = problems
        return problems


def _tool_name(tool: dict[str, Any]) -> str:
    function = tool.get("function")
    if isinstance(function, dict) and "name" in function:
        return str(function["name"])
    return str(tool.get("name", "?"))


def _ms_since(started: float) -> float:
    return max((time.perf_counter() - started) * 1000.0, 0.0)
