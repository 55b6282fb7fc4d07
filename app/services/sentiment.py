"""The financial tone of texts (``tools.sentiment``) as every surface reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from app.bootstrap import Container
    from tools.sentiment import SentimentResult

EMPTY_LINE = "empty text"
Label = Literal["negative", "neutral", "positive"]


class ToneView(BaseModel):
    label: Label
    confidence: float
    scores: dict[str, float]
    model: str


class ToneLineView(BaseModel):
    """One line of a file scored: its tone, or ``error`` for a line with no text (dumped
    with ``exclude_unset`` so a line carries only what applies to it)."""

    line: int
    label: Label | None = None
    confidence: float | None = None
    scores: dict[str, float] | None = None
    model: str | None = None
    error: str | None = None


def tone(result: SentimentResult) -> ToneView:
    return ToneView.model_validate(result.to_json())


def score_one(text: str, scorer: Any) -> ToneView:
    from tools.sentiment import score_one as _score

    return tone(_score(text, scorer=scorer))


def score_lines(batch: list[tuple[int, str]], scorer: Any) -> list[ToneLineView]:
    """Each ``(line number, text)`` scored in input order; blank lines get an error."""
    from tools.sentiment import score

    texts = [t for _, t in batch if t.strip()]
    results = iter(score(texts, scorer=scorer)) if texts else iter(())
    return [
        ToneLineView(line=number, **next(results).to_json())
        if text.strip()
        else ToneLineView(line=number, error=EMPTY_LINE)
        for number, text in batch
    ]


def llm_scorer(c: Container) -> Any:
    """The LLM path (``tools.sentiment.LLMScorer``) over the configured chat model, with
    the settings' per-run budget. ``ConfigError`` saying what to set when none is
    configured."""
    from core.errors import ConfigError
    from core.llm import LLMSession
    from tools.sentiment import LLMScorer

    if c.chat_model is None:
        raise ConfigError(
            "--model llm needs an LLM: set TILLER_LLM_BASE_URL and TILLER_LLM_MODEL "
            "(and TILLER_LLM_API_KEY if the server wants one), or use the default model"
        )
    return LLMScorer(LLMSession.from_settings(c.chat_model, c.settings))
