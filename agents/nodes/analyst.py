"""analyst: what the filings and news published by ``as_of`` say about each symbol.

Retrieval always carries ``as_of`` (never a document published later) and the symbol's
ticker. Offline, findings are the best supporting sentences quoted verbatim, each with
its citation; with an LLM, a short brief is written from the same numbered passages,
given to the model only as quoted data with their provenance, and any citation of a
passage it was not given is removed (as ``tiller ask`` does).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.models import OFFLINE_LABEL, AnalystReport, Citation, Finding
from agents.nodes._common import ctx_of, progress, record
from agents.prompts import analyst_messages
from agents.state import AgentState
from core.timeutil import parse_utc

NAME = "analyst"
QUERY = "{symbol} outlook revenue earnings guidance demand risks"
K = 8


def analyst(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    as_of = parse_utc(state["as_of"], name="as_of")
    reports: dict[str, dict[str, Any]] = {}
    for symbol in state["snapshots"]:
        report = _analyse(ctx, symbol, as_of)
        reports[symbol] = report.model_dump(mode="json")
        record(ctx, NAME, "retrieval", reports[symbol])
    summary = "; ".join(
        f"{s}: {len(r['findings'])} cited finding(s), {r['news_items']} news item(s)"
        + (f", news tone {r['news_sentiment']:+.2f}" if r["news_sentiment"] is not None else "")
        for s, r in reports.items()
    )
    progress(NAME, "finished", summary)
    return {"analysis": reports}


def _analyse(ctx: AgentContext, symbol: str, as_of: datetime) -> AnalystReport:
    query = QUERY.format(symbol=symbol)
    if ctx.kb is None:
        return AnalystReport(symbol=symbol, query=query, as_of=as_of, findings=[], evidence=[],
                             notes=["no knowledge base is open: nothing was read"])  # fmt: skip
    from rag_index.answer import extractive_answer
    from rag_index.types import Filters

    filters = Filters(collection=None, tickers=(symbol,), as_of=as_of)
    hits = ctx.kb.search(query, K, filters)
    if not hits:
        note = (
            f"no filing or news about {symbol} published by {as_of:%Y-%m-%d %H:%M} UTC "
            "is in the knowledge base (`tiller kb ingest` adds some)"
        )
        return AnalystReport(symbol=symbol, query=query, as_of=as_of, findings=[], evidence=[],
                             notes=[note])  # fmt: skip
    answer = extractive_answer(query, hits, ctx.kb.embedder, max_sentences=4)
    # One number per quoted span (two sentences of one passage are two citations), so
    # every [n] resolves to exactly one span.
    evidence = [_citation(c, n) for n, c in enumerate(answer.citations, start=1)]
    tones = _tones([c.text for c in evidence])
    findings = [
        Finding(claim=" ".join(c.text.split()), citations=[c.n], sentiment=label,
                sentiment_score=s)
        for c, (label, s) in zip(evidence, tones, strict=True)
    ]  # fmt: skip
    news = [h for h in hits if h.chunk.kind == "news"]
    news_tone = _tones([h.chunk.text for h in news])
    mean_tone = sum(s for _, s in news_tone) / len(news_tone) if news_tone else None
    report = AnalystReport(
        symbol=symbol, query=query, as_of=as_of, findings=findings, evidence=evidence,
        news_sentiment=mean_tone, news_items=len(news),
    )  # fmt: skip
    if ctx.llm is not None:
        report = _with_brief(ctx, report)
    return report


def _citation(c: Any, n: int) -> Citation:
    chunk = c.chunk
    return Citation(
        n=n, doc_id=chunk.doc_id, title=chunk.title, section=" > ".join(chunk.section),
        char_start=c.start, char_end=c.end, published_at=chunk.published_at, form=chunk.form,
        ticker=chunk.tickers[0] if chunk.tickers else None, text=c.quote,
    )  # fmt: skip


def _tones(texts: list[str]) -> list[tuple[Any, float]]:
    if not texts:
        return []
    from tools.sentiment import score

    results = score(texts)
    return [(r.label, r.scores["positive"] - r.scores["negative"]) for r in results]


_CITED = re.compile(r"\[(\d+)\]")


def _with_brief(ctx: AgentContext, report: AnalystReport) -> AnalystReport:
    """An LLM brief from the same evidence; citations of passages it was not given are
    removed, and a brief that cites nothing is dropped (the extractive findings stand)."""
    assert ctx.llm is not None
    if not report.evidence:
        return report
    from core.errors import UnavailableError
    from core.llm import BudgetExhaustedError

    try:
        text = ctx.llm.complete(analyst_messages(report), purpose="analyst.brief")
    except (BudgetExhaustedError, UnavailableError) as exc:
        note = f"no LLM brief ({exc}); the extractive findings stand"
        return report.model_copy(update={"notes": [*report.notes, note]})
    given = {c.n for c in report.evidence}
    cleaned = _CITED.sub(lambda m: m.group(0) if int(m.group(1)) in given else "", text)
    notes = list(report.notes)
    if cleaned != text:
        notes.append("citations of passages the model was not given were removed")
    if not any(int(n) in given for n in _CITED.findall(cleaned)):
        notes.append("the model's brief cited no passage: kept the extractive findings only")
        return report.model_copy(update={"notes": notes})
    model = ctx.llm.model_name
    return report.model_copy(
        update={"brief": cleaned.strip(), "produced_by": f"LLM {model}", "notes": notes}
    )


__all__ = ["NAME", "OFFLINE_LABEL", "analyst"]
