"""The graph's state: plain JSON under typed keys, so a checkpoint written by one process
is read by another without pickling (see ``agents.models`` for each value's schema).

Nodes return partial updates. ``notes`` accumulates (a reducer appends); every other key
is replaced by the node that owns it.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

Outcome = Literal[
    "running", "awaiting_approval", "no_trade", "denied", "rejected", "executed", "failed"
]


class AgentState(TypedDict, total=False):
    run_id: str
    request: dict[str, Any]  # RunRequest
    as_of: str  # the run's clock (ISO 8601, UTC)
    fixed_clock: bool  # True when the data ends before now: the run is replayed in time
    snapshots: dict[str, dict[str, Any]]  # symbol -> Snapshot
    quotes: dict[str, dict[str, str]]  # symbol -> {last, timestamp}: the run's and held symbols
    analysis: dict[str, dict[str, Any]]  # symbol -> AnalystReport
    forecasts: dict[str, dict[str, Any] | None]  # symbol -> ForecastSignal (None: no model)
    policy: dict[str, dict[str, Any] | None]  # symbol -> PolicySignal (None: no policy)
    proposals: list[dict[str, Any]]  # TradeProposal, the current round
    proposal_summary: str
    proposed_by: str
    round: int  # proposer rounds so far (at most 2: one retry after a denial)
    verdicts: list[dict[str, Any]]  # RiskVerdict of the current round
    verdict_history: list[dict[str, Any]]
    approval: dict[str, Any] | None  # ApprovalDecision
    human_approved: bool  # a person approved exactly the current proposals
    orders: list[dict[str, Any]]  # OrderOutcome
    outcome: Outcome
    report: dict[str, Any]
    notes: Annotated[list[str], operator.add]
