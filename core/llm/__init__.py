"""LLM access without LangChain: the ``ChatModel`` seam, one run's ``LLMSession``
(budget, recording, cache, replay), the price table and the response cache.

``agents.llm.build_chat_model`` builds the ``ChatModel`` for any OpenAI-compatible
endpoint; every other package takes a ``ChatModel`` or an ``LLMSession`` injected by
its caller (only ``agents/`` imports LangChain)."""

from core.llm._cache import CACHE_FILE, ResponseCache, request_key
from core.llm._prices import PriceTable
from core.llm._session import LLMSession, estimate_prompt_tokens
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

__all__ = [
    "CACHE_FILE",
    "BudgetExhaustedError",
    "ChatMessage",
    "ChatModel",
    "LLMCall",
    "LLMReply",
    "LLMSession",
    "PriceTable",
    "ReplayMismatchError",
    "ResponseCache",
    "StructuredOutputError",
    "estimate_prompt_tokens",
    "feedback",
    "parse_answer",
    "request_key",
]
