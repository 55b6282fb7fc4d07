"""One agent run as a card: the evidence with its citations, the forecast with its
interval, the policy's view with its out-of-sample record, the proposal, the risk
officer's verdicts, the approval and the orders.

Built from the run's record in the ledger, never from process memory: a run waiting for
approval shows the same card after a page reload, in another process, or a week later.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from app.services.runs import show_run

if TYPE_CHECKING:
    from app.bootstrap import Container


class ForecastRange(BaseModel):
    """The forecast as simple returns over its horizon: median and the 10 %–90 % band."""

    horizon: int
    median: float
    low: float
    high: float


class SymbolCard(BaseModel):
    symbol: str
    quote: str | None = None
    quote_at: datetime | None = None
    data_note: str | None = None
    findings: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    brief: str | None = None
    news_sentiment: float | None = None
    news_items: int = 0
    analysis_by: str | None = None
    forecast: dict[str, Any] | None = None
    forecast_range: ForecastRange | None = None
    forecast_error: str | None = None
    policy: dict[str, Any] | None = None
    policy_error: str | None = None


class RunCard(BaseModel):
    run_id: str
    status: str
    outcome: str | None
    started_at: datetime
    finished_at: datetime | None
    mode: str
    as_of: str | None
    fixed_clock: bool
    llm: str | None  # the model the run could call; None: offline rules only
    proposed_by: str | None
    decision: str | None
    symbols: list[SymbolCard]
    proposals: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    pending: dict[str, Any] | None
    approval: dict[str, Any] | None
    orders: list[dict[str, Any]]
    notes: list[str]
    error: str | None
    tampered: list[str]
    llm_calls: int = 0

    @property
    def awaiting(self) -> bool:
        return self.status == "awaiting_approval"


def run_card(c: Container, run_id: str) -> RunCard:
    """The card of one run (``NotFoundError`` for an unknown id)."""
    view = show_run(c, run_id, events=True)
    inputs = view.inputs
    request = inputs.get("request", {})
    cards = {s: SymbolCard(symbol=s) for s in request.get("symbols", [])}
    found: dict[str, Any] = {
        "proposals": [], "verdicts": [], "orders": [], "notes": [],
        "approval": None, "by": None, "decision": None, "llm_calls": 0,
    }  # fmt: skip
    for event in view.events or []:
        _take(event, cards, found)
    if view.pending:
        found["proposals"] = view.pending.get("proposals", found["proposals"])
    report = view.report or {}
    return RunCard(
        run_id=view.run_id, status=view.status, outcome=view.outcome,
        started_at=view.started_at, finished_at=view.finished_at,
        mode=request.get("mode", "copilot"), as_of=inputs.get("as_of"),
        fixed_clock=bool(inputs.get("fixed_clock")), llm=inputs.get("llm"),
        proposed_by=found["by"] or report.get("proposed_by"),
        decision=found["decision"] or report.get("decision"),
        symbols=list(cards.values()), proposals=found["proposals"],
        verdicts=found["verdicts"], pending=view.pending, approval=found["approval"],
        orders=found["orders"], notes=[*found["notes"], *report.get("notes", [])],
        error=view.error, tampered=view.tampered, llm_calls=found["llm_calls"],
    )  # fmt: skip


def _take(event: dict[str, Any], cards: dict[str, SymbolCard], found: dict[str, Any]) -> None:
    """Fold one recorded event into the card."""
    node, kind, p = event["node"], event["kind"], event["payload"]
    if node == "gather" and kind == "tool_call":
        for symbol, snap in (p.get("snapshots") or {}).items():
            card = cards.setdefault(symbol, SymbolCard(symbol=symbol))
            quote = snap.get("quote") or {}
            card.quote = quote.get("last")
            stamp = quote.get("timestamp")
            card.quote_at = datetime.fromisoformat(stamp) if stamp else None
            card.data_note = snap.get("data_note")
    elif node == "analyst" and kind == "retrieval":
        card = cards.setdefault(p["symbol"], SymbolCard(symbol=p["symbol"]))
        card.findings, card.evidence = p.get("findings", []), p.get("evidence", [])
        card.brief, card.news_sentiment = p.get("brief"), p.get("news_sentiment")
        card.news_items, card.analysis_by = p.get("news_items", 0), p.get("produced_by")
    elif node in ("forecaster", "policy") and kind == "tool_call":
        _take_model(node, p, cards)
    elif kind == "proposal":
        found["proposals"], found["by"] = p.get("proposals", []), p.get("by")
        found["decision"] = p.get("summary")
        found["notes"].extend(p.get("notes", []))
    elif kind == "decision":
        found["verdicts"].append({"node": node, **{k: v for k, v in p.items() if k != "intent"}})
    elif kind == "human_action":
        found["approval"] = p
    elif kind == "order":
        found["orders"].append(p)
    elif kind == "llm_call":
        found["llm_calls"] += 1


def _take_model(node: str, p: dict[str, Any], cards: dict[str, SymbolCard]) -> None:
    card = cards.setdefault(p["symbol"], SymbolCard(symbol=p["symbol"]))
    figures = {k: v for k, v in p.items() if k not in ("tool", "error")}
    if node == "forecaster":
        if "error" in p:
            card.forecast_error = str(p["error"])
            return
        card.forecast = figures
        card.forecast_range = ForecastRange(
            horizon=int(p["horizon"]), median=math.expm1(p["median_log_return"]),
            low=math.expm1(p["q10_log_return"]), high=math.expm1(p["q90_log_return"]),
        )  # fmt: skip
    elif "error" in p:
        card.policy_error = str(p["error"])
    else:
        card.policy = figures


def awaiting_runs(c: Container, limit: int = 20) -> list[str]:
    """Ids of agent runs waiting for a person, newest first (what a reloaded chat shows)."""
    from app.services.runs import list_runs

    return [v.run_id for v in list_runs(c, limit=200) if v.status == "awaiting_approval"][:limit]
