"""The LLM path: a configured chat model labels the sentences, when one is configured.

The model gets the team's labelling rule and up to ``LLM_BATCH`` numbered sentences per
call, and answers with a structured list (one verdict per sentence: label and its
confidence). Every sentence must be answered exactly once; a reply that misses or repeats
one goes back to the model with the problem (``LLMSession.structured``), and after the
retries the call fails with the session's error rather than inventing a label.

Probabilities: the label gets the model's stated confidence (at least 1/3) and the other
two share the rest equally. A model's stated confidence is not calibrated: with a
``temperature`` (fitted by ``fit_llm_temperature`` on labelled sentences the model has
not been tuned on, such as the "calib" split) the rows become
``softmax(log(rows) / temperature)``, which keeps every label and moves the confidence
towards what the model's answers were worth there. The default, 1, keeps the stated
confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from tools.sentiment._data import Example
from tools.sentiment._types import LABELS, fit_temperature, softmax

LLM_BATCH = 20
T = TypeVar("T", bound=BaseModel)

_RULE = (
    "You label the financial tone of sentences for an investor in the company named (or "
    "the asset, or the broad market for macro news): negative, neutral or positive.\n"
    "- neutral: factual or scheduled items, results in line, reaffirmed guidance, "
    "boilerplate and risk-factor hedging ('could adversely affect'), and changes too small "
    "to matter.\n"
    "- Figures compared with a prior period carry tone by what they measure: profit, "
    "revenue, orders, margins up is positive; losses, debt, costs, ratios where lower is "
    "better up is negative.\n"
    "- Mixed sentences: what an investor weighs more (guidance over the past quarter, the "
    "main clause over a 'despite' clause); evenly balanced is neutral.\n"
    "- A hedge that still states a direction ('may need to write down', 'is likely to "
    "approve') keeps that direction.\n"
    "Answer for every numbered sentence exactly once, with your confidence (0 to 1) that "
    "the label is right."
)


class Verdict(BaseModel):
    n: int = Field(description="The sentence's number as given.")
    label: Literal["negative", "neutral", "positive"] = Field(description="Its tone.")
    confidence: float = Field(ge=0.0, le=1.0, description="Probability the label is right.")


class Verdicts(BaseModel):
    verdicts: list[Verdict] = Field(description="One verdict per numbered sentence.")


class StructuredLLM(Protocol):
    """What the scorer needs of ``core.llm.LLMSession``: a validated structured call."""

    @property
    def model(self) -> str: ...

    def structured(
        self,
        messages: Sequence[Any],
        schema: type[T],
        *,
        purpose: str,
        attempts: int = 3,
        validate: Callable[[T], list[str]] | None = None,
    ) -> T: ...


class LLMScorer:
    """``Scorer`` over a configured chat model (see the module doc)."""

    def __init__(self, session: StructuredLLM, *, temperature: float = 1.0) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.session = session
        self.name = f"llm:{session.model}"
        self.temperature = temperature

    def stated_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The probabilities as the model stated them (no temperature)."""
        out = np.zeros((len(texts), len(LABELS)))
        for start in range(0, len(texts), LLM_BATCH):
            batch = texts[start : start + LLM_BATCH]
            out[start : start + len(batch)] = self._batch(batch)
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        stated = self.stated_proba(texts)
        if self.temperature == 1.0:
            return stated
        return softmax(_logits(stated), self.temperature)

    def _batch(self, texts: Sequence[str]) -> np.ndarray:
        from core.llm import ChatMessage

        numbered = "\n".join(f"{n}. {' '.join(t.split())}" for n, t in enumerate(texts, 1))
        messages = [ChatMessage("system", _RULE), ChatMessage("user", numbered)]
        answer = self.session.structured(
            messages, Verdicts, purpose="sentiment", validate=_complete(len(texts))
        )
        rows = np.zeros((len(texts), len(LABELS)))
        for verdict in answer.verdicts:
            confidence = max(verdict.confidence, 1 / len(LABELS))
            rows[verdict.n - 1] = (1 - confidence) / (len(LABELS) - 1)
            rows[verdict.n - 1, LABELS.index(verdict.label)] = confidence
        return rows


def _logits(probabilities: np.ndarray) -> np.ndarray:
    # A stated confidence of 1 leaves 0 for the others; clip so the log stays finite.
    return np.log(np.clip(probabilities, 1e-6, 1.0))


def fit_llm_temperature(scorer: LLMScorer, examples: Sequence[Example]) -> float:
    """The temperature that makes ``scorer``'s stated confidences match how often it was
    right on ``examples`` (minimum log loss; above 1 when it overstates its confidence).
    Costs one LLM call per ``LLM_BATCH`` examples; pass it to ``LLMScorer(temperature=)``."""
    stated = scorer.stated_proba([e.text for e in examples])
    return fit_temperature(_logits(stated), [e.label for e in examples])


def _complete(count: int) -> Callable[[Verdicts], list[str]]:
    """The problems of a reply that does not answer sentences 1..count exactly once."""

    def problems(answer: Verdicts) -> list[str]:
        numbers = [v.n for v in answer.verdicts]
        missing = sorted(set(range(1, count + 1)) - set(numbers))
        found = []
        if missing:
            found.append(f"no verdict for sentence(s) {missing}")
        extra = sorted({n for n in numbers if not 1 <= n <= count or numbers.count(n) > 1})
        if extra:
            found.append(f"sentence number(s) {extra} are out of range or answered twice")
        return found

    return problems
