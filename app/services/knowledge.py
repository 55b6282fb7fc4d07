"""Questions to the knowledge base: answers with numbered citations, point in time."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.services.fields import IsoTime, SymbolText

if TYPE_CHECKING:
    from app.bootstrap import Container
    from core.llm import LLMSession
    from rag_index.answer import Answer

_PRIMED: set[int] = set()  # containers whose knowledge base has the primers checked
_PRIMING = threading.Lock()


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2_000, pattern=r"\S")
    k: StrictInt = Field(6, ge=1, le=20, description="Passages to answer from.")
    collection: str | None = Field(None, min_length=1, max_length=100)
    tickers: list[SymbolText] = Field(default_factory=list, max_length=20)
    forms: list[str] = Field(default_factory=list, max_length=20)
    as_of: IsoTime | None = Field(
        None, description="Point in time: only documents published by then."
    )


class CitationView(BaseModel):
    """``[n]`` in the answer: the passage, where it comes from, and the quoted span."""

    model_config = ConfigDict(extra="allow")

    n: int
    doc_id: str
    title: str | None = None
    quote: str | None = None
    start: int | None = None
    end: int | None = None


class AnswerView(BaseModel):
    question: str
    answer: str
    mode: Literal["extractive", "llm", "none"]
    citations: list[CitationView]
    as_of: datetime | None
    model: str | None
    warnings: list[str]


def llm_session(c: Container) -> LLMSession | None:
    """One request's LLM session (the per-run budget), or None offline."""
    if c.chat_model is None:
        return None
    from core.llm import LLMSession

    return LLMSession.from_settings(c.chat_model, c.settings)


def ask(c: Container, request: AskRequest, llm: LLMSession | None = None) -> AnswerView:
    """Extractive offline; with ``llm``, the model's answer, checked to cite only the
    passages it was given. The bundled primers are ingested on first use."""
    import torch

    from rag_index.types import Filters

    # The embedder is small: on a 2-core machine one thread is several times faster per
    # question than two whenever anything else holds a core (as for agent runs).
    torch.set_num_threads(1)
    kb = c.knowledge_base
    with _PRIMING:
        if id(c) not in _PRIMED:
            kb.ensure_primers()
            _PRIMED.add(id(c))
    filters = Filters(
        collection=request.collection, tickers=tuple(t.upper() for t in request.tickers),
        forms=tuple(f.upper() for f in request.forms), as_of=request.as_of,
    )  # fmt: skip
    return answer_view(kb.ask(request.question, filters, k=request.k, llm=llm))


def answer_view(answer: Answer) -> AnswerView:
    data: dict[str, Any] = answer.to_json()
    return AnswerView.model_validate(data)
