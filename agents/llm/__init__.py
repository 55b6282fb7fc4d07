"""LLM providers for the agents (the only package that imports LangChain's model
classes). ``build_chat_model(settings)`` is the one constructor the composition root
uses; the result is a ``core.llm.ChatModel``."""

from __future__ import annotations

from agents.llm._openai import OpenAIChatModel
from core.llm import ChatModel
from core.settings import Settings


def build_chat_model(settings: Settings, *, retry_backoff_s: float = 0.5) -> ChatModel | None:
    """The configured endpoint's chat model, or None when no LLM is configured
    (``TILLER_LLM_BASE_URL`` and ``TILLER_LLM_MODEL`` unset): callers then take their
    offline path. ``retry_backoff_s`` is the first wait after a 429/5xx/timeout without
    a Retry-After (doubling each time); tests shorten it."""
    if not settings.llm_enabled:
        return None
    assert settings.llm_base_url is not None and settings.llm_model is not None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAIChatModel(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_completion_tokens=settings.llm_max_completion_tokens,
        structured_method=settings.llm_structured_method,
        retry_backoff_s=retry_backoff_s,
    )


__all__ = ["OpenAIChatModel", "build_chat_model"]
