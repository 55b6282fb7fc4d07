"""``ChatModel`` for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, LM Studio,
llama.cpp server) through ``langchain_openai.ChatOpenAI``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import openai
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from core.errors import ConfigError, RejectedError, ThrottledError, UnavailableError
from core.llm import ChatMessage, LLMReply

log = logging.getLogger("tiller.agents.llm")

Method = Literal["function_calling", "json_schema", "json_mode"]

# Retried: the server may answer next time. Never retried: 4xx, which will not change.
_TRANSIENT = (openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)
# A Retry-After longer than this is not waited out inside a run: the error says so.
_MAX_WAIT_S = 30.0
# Local servers ignore the key, but the OpenAI SDK refuses to start without one.
_NO_KEY = "not-needed"


class OpenAIChatModel:
    """One ``ChatOpenAI`` client; ``invoke`` follows the ``core.llm.ChatModel`` contract.

    Retries are ours, not the SDK's (``max_retries=0`` on the client): the SDK would
    also retry 408/409 and connection failures, and its back-off cannot be shortened.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_completion_tokens: int | None = 1024,
        structured_method: Method = "function_calling",
        retry_backoff_s: float = 0.5,
        temperature: float = 0.0,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.structured_method = structured_method
        self.retry_backoff_s = retry_backoff_s
        self._llm = ChatOpenAI(
            model=model,
            base_url=self.base_url,
            api_key=SecretStr(api_key or _NO_KEY),
            timeout=timeout_s,
            max_retries=0,
            temperature=temperature,
            max_tokens=max_completion_tokens,
        )

    def invoke(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: type[BaseModel] | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> LLMReply:
        runnable, extra, schema_tool = self._bind(schema, tools)
        prompt = [_to_langchain(m) for m in messages] + extra
        started = time.perf_counter()
        message = self._with_retries(lambda: runnable.invoke(prompt), bool(schema or tools))
        latency_ms = (time.perf_counter() - started) * 1000.0
        return _reply(message, self.model, latency_ms, schema_tool)

    def _bind(
        self, schema: type[BaseModel] | None, tools: Sequence[dict[str, Any]] | None
    ) -> tuple[Runnable[LanguageModelInput, BaseMessage], list[BaseMessage], str | None]:
        """The client with the request's tools or answer format, extra prompt turns, and
        the name of the tool whose arguments are the structured answer."""
        offered = [convert_to_openai_tool(t) for t in tools or []]
        if schema is None:
            return (self._llm.bind_tools(offered) if offered else self._llm), [], None
        spec = convert_to_openai_tool(schema)["function"]
        # With tools as well, only function calling can carry both (OpenAI's structured
        # outputs would demand every tool be strict).
        if self.structured_method == "function_calling" or offered:
            choice: str | dict[str, Any] = (
                "auto" if offered else {"type": "function", "function": {"name": spec["name"]}}
            )
            bound = self._llm.bind_tools([*offered, {"type": "function", "function": spec}])
            return bound.bind(tool_choice=choice), [], spec["name"]
        if self.structured_method == "json_schema":
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": spec["name"], "schema": spec["parameters"]},
            }
            return self._llm.bind(response_format=response_format), [], None
        # json_mode: the server only promises JSON, so the prompt carries the schema.
        instruction = SystemMessage(
            "Answer with one JSON object, nothing else, that matches this JSON schema:\n"
            + json.dumps(spec["parameters"])
        )
        return self._llm.bind(response_format={"type": "json_object"}), [instruction], None

    def _with_retries(self, call: Callable[[], BaseMessage], shaped: bool) -> BaseMessage:
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except _TRANSIENT as exc:
                wait = self._wait(exc, attempt)
                if attempt == attempts or wait is None:
                    raise self._unavailable(exc, attempt) from None
                log.warning("LLM call failed (%s); retry %d in %.2f s", _why(exc), attempt, wait)
                time.sleep(wait)
            except openai.APIConnectionError as exc:
                raise UnavailableError(
                    f"cannot reach the LLM at {self.base_url} ({exc}): is the server running "
                    "and TILLER_LLM_BASE_URL right?"
                ) from None
            except openai.APIStatusError as exc:
                raise self._refused(exc, shaped) from None
            except (KeyError, TypeError, ValueError, openai.APIResponseValidationError) as exc:
                raise UnavailableError(
                    f"the LLM at {self.base_url} sent a reply that is not an OpenAI chat "
                    f"completion: {str(exc)[:200]}"
                ) from None
        raise AssertionError("unreachable")

    def _wait(self, exc: Exception, attempt: int) -> float | None:
        """Seconds before the next attempt: the server's Retry-After when it gives one
        (None when it asks for longer than a run should sit idle), else exponential."""
        asked = _retry_after(exc)
        if asked is not None:
            return None if asked > _MAX_WAIT_S else asked
        return float(self.retry_backoff_s * 2 ** (attempt - 1))

    def _unavailable(self, exc: Exception, attempts: int) -> UnavailableError:
        tries = f"{attempts} attempt(s)"
        if isinstance(exc, openai.APITimeoutError):
            return UnavailableError(
                f"the LLM at {self.base_url} did not answer within {self.timeout_s:g} s "
                f"({tries}); raise TILLER_LLM_TIMEOUT_S for a slow local model, or retry later"
            )
        if isinstance(exc, openai.RateLimitError):
            asked = _retry_after(exc)
            later = f"it asks to wait {asked:g} s" if asked is not None else "retry later"
            return ThrottledError(
                f"the LLM at {self.base_url} is rate-limiting (HTTP 429) after {tries}; {later}"
            )
        status = getattr(exc, "status_code", "5xx")
        return UnavailableError(
            f"the LLM at {self.base_url} is unavailable (HTTP {status}) after {tries}; retry later"
        )

    def _refused(self, exc: openai.APIStatusError, shaped: bool) -> Exception:
        status = exc.status_code
        if status in (401, 403):
            return ConfigError(
                f"the LLM at {self.base_url} refused the API key (HTTP {status}): "
                "check TILLER_LLM_API_KEY"
            )
        if status == 404:
            return ConfigError(
                f"the LLM at {self.base_url} answered 404: TILLER_LLM_BASE_URL should end at "
                f"the API root (often /v1), and TILLER_LLM_MODEL ({self.model!r}) must be a "
                "model the server has"
            )
        hint = (
            "; if the server cannot do tools or response formats, set "
            "TILLER_LLM_STRUCTURED_METHOD (function_calling, json_schema or json_mode)"
            if shaped
            else ""
        )
        return RejectedError(
            f"the LLM at {self.base_url} refused the request (HTTP {status}): "
            f"{_message(exc)[:300]}{hint}"
        )


def _to_langchain(message: ChatMessage) -> BaseMessage:
    if message.role == "system":
        return SystemMessage(message.content)
    if message.role == "user":
        return HumanMessage(message.content)
    if message.role == "assistant":
        return AIMessage(message.content)
    raise ValueError(f"unknown chat role {message.role!r}: use system, user or assistant")


def _reply(
    message: BaseMessage, model: str, latency_ms: float, schema_tool: str | None
) -> LLMReply:
    if not isinstance(message, AIMessage | AIMessageChunk):
        raise UnavailableError(f"the LLM sent a {type(message).__name__}, not an answer")
    text: str = str(message.text)
    calls: list[dict[str, Any]] = []
    for call in message.tool_calls:
        if schema_tool is not None and call["name"] == schema_tool:
            text = json.dumps(call["args"])
            schema_tool = None  # only the first call to the answer tool is the answer
            continue
        calls.append({"id": call.get("id"), "name": call["name"], "args": call["args"]})
    for bad in message.invalid_tool_calls:
        raw = bad.get("args") or ""
        if schema_tool is not None and bad.get("name") == schema_tool:
            text = raw  # unparseable JSON: the session reports it back to the model
            schema_tool = None
            continue
        calls.append(
            {"id": bad.get("id"), "name": bad.get("name"), "args": raw, "error": bad.get("error")}
        )
    usage: dict[str, Any] = dict(message.usage_metadata or {})
    metadata = message.response_metadata or {}
    return LLMReply(
        text=text,
        model=str(metadata.get("model_name") or model),
        prompt_tokens=int(usage.get("input_tokens", 0) or 0),
        completion_tokens=int(usage.get("output_tokens", 0) or 0),
        latency_ms=max(latency_ms, 0.0),
        tool_calls=calls,
    )


def _retry_after(exc: Exception) -> float | None:
    """The wait a 429/503 asks for, in seconds (OpenAI sends retry-after-ms too)."""
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    try:
        if "retry-after-ms" in headers:
            return max(float(headers["retry-after-ms"]) / 1000.0, 0.0)
        if "retry-after" in headers:
            return max(float(headers["retry-after"]), 0.0)
    except ValueError:
        return None  # an HTTP date: rare from LLM servers; fall back to our back-off
    return None


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])
    return exc.message


def _why(exc: Exception) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    return f"HTTP {getattr(exc, 'status_code', '?')}"
