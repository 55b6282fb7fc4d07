"""A minimal client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama,
LM Studio, llama.cpp server). Configured by ``TILLER_LLM_BASE_URL``, ``TILLER_LLM_MODEL``
and optionally ``TILLER_LLM_API_KEY``; with them unset, callers use their offline path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import ConfigError, RejectedError, UnavailableError
from core.settings import Settings


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


class ChatClient:
    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, *, timeout_s: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatClient:
        if not settings.llm_enabled:
            raise ConfigError(
                "no LLM is configured: set TILLER_LLM_BASE_URL (e.g. http://localhost:11434/v1) "
                "and TILLER_LLM_MODEL"
            )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        assert settings.llm_base_url is not None and settings.llm_model is not None
        return cls(settings.llm_base_url, settings.llm_model, key)

    def complete(self, messages: list[ChatMessage], *, temperature: float = 0.0) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": temperature,
        }
        url = f"{self.base_url}/chat/completions"
        try:
            response = httpx.post(url, json=payload, headers=self._headers, timeout=self._timeout)
        except httpx.TimeoutException:
            raise UnavailableError(
                f"the LLM at {self.base_url} did not answer in {self._timeout:.0f} s"
            ) from None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"cannot reach the LLM at {self.base_url}: {exc}") from None
        status = response.status_code
        if status in (401, 403):
            raise ConfigError(
                f"the LLM at {self.base_url} refused the API key (HTTP {status}): "
                "check TILLER_LLM_API_KEY"
            )
        if status == 404:
            raise ConfigError(
                f"{url} answered 404: TILLER_LLM_BASE_URL should end at the API root (often /v1), "
                f"and TILLER_LLM_MODEL ({self.model!r}) must be a model the server has"
            )
        if status == 429 or status >= 500:
            raise UnavailableError(
                f"the LLM at {self.base_url} is unavailable (HTTP {status}); retry later"
            )
        if status >= 400:
            raise RejectedError(
                f"the LLM at {self.base_url} refused the request (HTTP {status}): "
                f"{response.text[:300]}"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UnavailableError(
                f"the LLM at {self.base_url} sent a reply that is not an OpenAI chat "
                f"completion: {response.text[:200]!r}"
            ) from None
        if not isinstance(content, str):
            raise UnavailableError(f"the LLM at {self.base_url} sent no text content")
        return content
