"""Answers quote retrieved passages verbatim, with spans; an LLM may cite only what it got."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.llm import build_chat_model
from core.errors import ConfigError
from core.llm import LLMSession
from core.settings import load_settings
from rag_index.answer import extractive_answer, llm_answer, sentence_spans
from rag_index.retriever import reciprocal_rank_fusion
from rag_index.types import Chunk, ScoredChunk
from tests.fakes.openai_server import FakeOpenAI, llm_overrides

DOC = (
    "Item 1A. Risk Factors\n"
    "The Company depends on component suppliers, many of them single-source. "
    "Supply disruptions in Asia could delay products and raise costs. "
    "Ok.\n"
    "Item 7. Results\n"
    "Net sales grew two percent during the fiscal year to a record level."
)


def _chunk(start: int, end: int, n: int, section: tuple[str, ...]) -> Chunk:
    return Chunk(
        chunk_id=f"doc:{n}", doc_id="doc", collection="default", ordinal=n,
        text=DOC[start:end], start=start, end=end, section=section,
        title="Example 10-K", tickers=("EXM",), form="10-K",
        published_at=datetime(2024, 11, 1, tzinfo=UTC), source="example.html", kind="filing",
    )  # fmt: skip


def _hits() -> list[ScoredChunk]:
    risk_end = DOC.index("Item 7.")
    return [
        ScoredChunk(_chunk(0, risk_end - 1, 0, ("Item 1A. Risk Factors",)), 1.0),
        ScoredChunk(_chunk(risk_end, len(DOC), 1, ("Item 7. Results",)), 0.5),
    ]


def _quotes(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentence_spans_when_text_has_short_fragments_then_they_are_dropped() -> None:
    text = "Ok. This sentence has enough words in it. No. Another sentence with five words here."

    assert _quotes(text) == [
        "This sentence has enough words in it.",
        "Another sentence with five words here.",
    ]


def test_sentence_spans_when_lines_wrap_then_sentence_is_whole_and_headings_skipped() -> None:
    text = (
        "## Protective exits: stop-loss and trailing stop\n\n"
        "`trailing_stop: 0.15` closes a long if the price falls\n15 % below the best price. "
        "Both are checked inside\nevery bar.\n\n"
        "- A list item that wraps onto\n  a second line is one sentence.\n"
        "Revenue | 2024 | $391,035 | 2%\n"
        "Exits record their reason, which"
    )

    quotes = _quotes(text)

    assert (
        quotes[0]
        == "`trailing_stop: 0.15` closes a long if the price falls\n15 % below the best price."
    )
    assert "Both are checked inside\nevery bar." in quotes
    assert "- A list item that wraps onto\n  a second line is one sentence." in quotes
    assert "Revenue | 2024 | $391,035 | 2%" in quotes  # table rows are quotable facts
    assert not any(q.startswith("#") for q in quotes)  # headings are not answers
    assert not any(q.startswith("Exits record") for q in quotes)  # cut by the chunker


def test_sentence_spans_when_passage_starts_mid_sentence_then_that_fragment_is_dropped() -> None:
    assert _quotes(
        "supplier yields have matured and capacity grew. The Company relies on partners."
    ) == ["The Company relies on partners."]


def test_extractive_answer_when_asked_about_suppliers_then_quotes_risk_sentence_with_exact_span(
    embedder: object,
) -> None:
    answer = extractive_answer(
        "Which supply chain risks are described?", _hits(), embedder, max_sentences=2
    )  # type: ignore[arg-type]

    assert answer.mode == "extractive"
    assert answer.citations, "an answer must cite"
    top = answer.citations[0]
    assert DOC[top.start : top.end] == top.quote
    assert "suppl" in top.quote.lower()
    assert top.chunk.section == ("Item 1A. Risk Factors",)
    assert "[1]" in answer.text


def test_extractive_answer_when_no_passages_then_says_nothing_answers(embedder: object) -> None:
    answer = extractive_answer("anything?", [], embedder)  # type: ignore[arg-type]

    assert answer.mode == "none"
    assert answer.citations == []


def _session(server: FakeOpenAI) -> LLMSession:
    settings = load_settings(**llm_overrides(server))
    return LLMSession.from_settings(build_chat_model(settings), settings)


def test_llm_answer_when_model_cites_given_passage_then_citation_kept(embedder: Any) -> None:
    def reply(body: dict[str, object]) -> str:
        assert "[1]" in str(body["messages"])  # passages were numbered
        return "Suppliers are often single-source [1]. Sales grew [2]. See also [7]."

    with FakeOpenAI(reply, api_key="sk-test") as server:
        session = _session(server)
        answer = llm_answer(
            "What about suppliers?", _hits(), lambda m: session.complete(m, purpose="ask"), embedder
        )

    assert answer.mode == "llm"
    assert [c.n for c in answer.citations] == [1, 2]
    assert "[7]" not in answer.text
    assert any("[7]" in w for w in answer.warnings)
    assert server.requests[0]["model"] == "test-model"
    assert server.requests[0]["temperature"] == 0.0
    assert [c.purpose for c in session.calls] == ["ask"]


def test_llm_answer_when_model_cites_nothing_then_falls_back_to_extractive(
    embedder: Any,
) -> None:
    with FakeOpenAI(lambda body: "Apple is a great company.") as server:
        session = _session(server)
        answer = llm_answer(
            "Which supply risks?", _hits(), lambda m: session.complete(m, purpose="ask"), embedder
        )

    assert answer.mode == "extractive"
    assert answer.citations
    assert any("cited none" in w for w in answer.warnings)


def test_ask_when_llm_demanded_but_none_given_then_config_error_names_settings(
    embedder: object, tmp_path: Path
) -> None:
    from rag_index.service import KnowledgeBase
    from rag_index.stores import LocalStore

    kb = KnowledgeBase(LocalStore(tmp_path / "kb", embedder.dim), embedder)  # type: ignore[arg-type, attr-defined]

    with pytest.raises(ConfigError, match="TILLER_LLM_BASE_URL"):
        kb.ask("Which supply risks?", use_llm=True)
    kb.close()


def test_rrf_when_lists_overlap_then_shared_items_rank_first_and_ties_are_stable() -> None:
    a, b = _hits()
    c = ScoredChunk(_chunk(0, 10, 2, ()), 0.1)

    fused = reciprocal_rank_fusion([[a, b], [b, c]], k=3, rrf_k=60)

    assert [h.chunk.chunk_id for h in fused] == ["doc:1", "doc:0", "doc:2"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_extractive_answer_when_two_copies_of_a_filing_then_a_sentence_is_quoted_once(
    embedder: object,
) -> None:
    first, _ = _hits()
    copy = dataclasses.replace(first.chunk, chunk_id="copy:0", doc_id="copy", source="copy.md")
    hits = [first, ScoredChunk(copy, 0.9)]

    answer = extractive_answer("Which supply chain risks?", hits, embedder, max_sentences=3)  # type: ignore[arg-type]

    quotes = [" ".join(c.quote.split()) for c in answer.citations]
    assert len(quotes) == len(set(quotes))
