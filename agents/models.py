"""The values the agents exchange: what a run is asked, what each node finds, what the
proposer proposes and what the risk officer decides.

They are pydantic models so every surface (CLI ``--json``, API, chat) renders the same
schema, and so an LLM's structured output is validated by the same code as the offline
reasoner's. The graph's state holds them as plain JSON (``model_dump(mode="json")``):
checkpoints stay readable by any process and never need pickling.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.types import Symbol, UtcDatetime

OFFLINE_LABEL = "offline rules, no LLM"
RunMode = Literal["copilot", "auto"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunRequest(_Model):
    """What a person (or the autopilot) asks the agents to do."""

    symbols: list[str] = Field(min_length=1, max_length=20)
    as_of: UtcDatetime | None = Field(
        None, description="Decide as of this time (UTC); default now, or the last stored bar."
    )
    mode: RunMode = "copilot"
    timeframe: str = "1d"

    @field_validator("symbols")
    @classmethod
    def _normalise(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            symbol = str(Symbol(raw))
            if symbol not in out:
                out.append(symbol)
        return out


class Quote(_Model):
    last: Decimal
    timestamp: UtcDatetime


class Snapshot(_Model):
    """Point-in-time view of one symbol and the account, as of the run's clock."""

    symbol: str
    timeframe: str
    as_of: UtcDatetime
    bars: int
    last_bar_open: UtcDatetime
    quote: Quote
    return_20: float = Field(description="log return over the last 20 bars")
    volatility_20: float = Field(description="annualised volatility of the last 20 returns")
    sma_50: float | None
    sma_200: float | None
    position: Decimal
    cash: Decimal
    equity: Decimal
    trading_state: str
    data_note: str | None = None


class Citation(_Model):
    """A numbered pointer to an exact passage: ``[n]`` in any text resolves here."""

    n: int
    doc_id: str
    title: str | None
    section: str
    char_start: int
    char_end: int
    published_at: UtcDatetime | None
    form: str | None
    ticker: str | None
    text: str


class Finding(_Model):
    claim: str
    citations: list[int] = Field(min_length=1, description="[n] numbers of the evidence")
    sentiment: Literal["negative", "neutral", "positive"] | None = None
    sentiment_score: float | None = Field(None, description="P(positive) - P(negative)")


class AnalystReport(_Model):
    symbol: str
    query: str
    as_of: UtcDatetime
    findings: list[Finding]
    evidence: list[Citation]
    news_sentiment: float | None = Field(
        None, description="mean P(pos) - P(neg) over retrieved news; None without news"
    )
    news_items: int = 0
    produced_by: str = OFFLINE_LABEL
    brief: str | None = None
    notes: list[str] = Field(default_factory=list)


class ForecastSignal(_Model):
    symbol: str
    model_id: str
    horizon: int
    median_log_return: float = Field(description="median cumulative log return to the horizon")
    q10_log_return: float
    q90_log_return: float
    volatility: float = Field(description="forecast sigma of the cumulative log return")
    volatility_ewma: float | None
    mase_vs_random_walk: float | None = Field(
        None, description="out-of-sample MASE of the median (< 1 beats a random walk)"
    )
    has_edge: bool = Field(description="True only if the card shows it beat a random walk")
    uses_future_data: bool = Field(description="model trained on bars after the forecast origin")
    note: str


class PolicySignal(_Model):
    symbol: str
    policy_id: str
    target_position: int = Field(ge=-1, le=1)
    confidence: float
    test_sharpe: float | None
    buy_hold_sharpe: float | None
    sharpe_diff_vs_buy_hold: dict[str, float | str] | None
    deflated_sharpe: float | None
    has_edge: bool = Field(description="True only if significantly better than buy-and-hold")
    uses_future_data: bool
    note: str


class TradeProposal(_Model):
    """One order the proposer suggests. Either ``quantity`` or ``target_weight``."""

    symbol: str = Field(description="one of the run's symbols, exactly as given")
    side: Literal["buy", "sell"]
    quantity: Decimal | None = Field(None, description="units to trade (> 0)")
    target_weight: float | None = Field(
        None, description="alternative to quantity: the position's target share of equity"
    )
    order_type: Literal["market", "limit"] = "market"
    limit_price: Decimal | None = Field(None, description="required for a limit order")
    rationale: str = Field(max_length=4000)
    evidence: list[int] = Field(default_factory=list, description="citation numbers relied on")
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("quantity", "limit_price")
    @classmethod
    def _finite_positive(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (not value.is_finite() or value <= 0):
            raise ValueError("must be a finite number greater than 0")
        return value

    @field_validator("target_weight")
    @classmethod
    def _weight(cls, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or not 0 <= value <= 1):
            raise ValueError("must be a finite share of equity between 0 and 1")
        return value

    @model_validator(mode="after")
    def _sizing(self) -> TradeProposal:
        if (self.quantity is None) == (self.target_weight is None):
            raise ValueError("give exactly one of quantity and target_weight")
        if self.order_type == "limit" and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.order_type == "market" and self.limit_price is not None:
            raise ValueError("a market order takes no limit_price")
        return self


class ProposalSet(_Model):
    """The proposer's whole answer: zero or more proposals, and why."""

    proposals: list[TradeProposal] = Field(default_factory=list, max_length=20)
    summary: str = Field(max_length=4000)


class RiskVerdict(_Model):
    """The risk officer's decision on one proposal (sized to an order)."""

    symbol: str
    side: str
    quantity: str
    order_type: str
    limit_price: str | None
    approved: bool
    reason_codes: list[str] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)
    client_order_id: str | None = None
    expires_at: datetime | None = None
    checked_at: datetime
    round: int
    stage: Literal["gate", "execute"] = Field(
        "gate", description="gate: the proposal's check; execute: the fresh check before sending"
    )
    intent: dict[str, Any] = Field(description="the order as checked (deterministic id)")


class ApprovalDecision(_Model):
    """What a person decided about a run waiting for approval."""

    action: Literal["approve", "reject"]
    quantity: Decimal | None = Field(None, description="approve a smaller quantity")
    operator: str = Field(min_length=1, max_length=128)
    reason: str = Field("", max_length=1000)

    @field_validator("quantity")
    @classmethod
    def _positive(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (not value.is_finite() or value <= 0):
            raise ValueError("must be a finite number greater than 0")
        return value


class OrderOutcome(_Model):
    client_order_id: str
    symbol: str
    side: str
    quantity: str
    status: str
    outcome: str
    filled_qty: str
    avg_fill_price: str | None
    error: str | None = None
