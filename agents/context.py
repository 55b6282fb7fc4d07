"""What every node may use: the run's dependencies, passed as LangGraph's runtime context.

Nothing here is checkpointed: a resumed run gets fresh dependencies built by the same
composition root (``app/bootstrap``), while its state comes from the checkpoint. The
LLM (when there is one) sees none of these objects; it only ever receives text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agents.signals import ModelCache
from core.clock import Clock
from core.types import Instrument, Symbol

if TYPE_CHECKING:
    from core.llm import LLMSession
    from policies.risk import Limits, TokenSigner
    from rag_index.service import KnowledgeBase
    from tools.executor import Executor
    from tools.market_data import BarStore


class Recorder(Protocol):
    """Writes a run's record as it happens (``agents.record.RunRecorder``)."""

    def event(self, node: str, kind: str, payload: Mapping[str, Any]) -> None: ...


class NullRecorder:
    def event(self, node: str, kind: str, payload: Mapping[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class RulesConfig:
    """The offline reasoner's documented parameters (see agents/rules.py)."""

    neutral_weight: Decimal = Decimal("0.05")  # share of equity held with no view at all
    max_weight: Decimal = Decimal("0.10")  # never more than this per symbol
    rebalance_band: Decimal = Decimal("0.01")  # ignore changes below 1 % of equity
    strong_bearish: float = -0.5  # a score at or below this exits the position


@dataclass
class AgentContext:
    """The run's dependencies. ``executor`` builds (once) the executor bound to the run's
    clock; ``kb`` may be None (the analyst then says it had nothing to read)."""

    store: BarStore
    clock: Clock
    limits: Limits
    signer: TokenSigner
    instruments: Mapping[Symbol, Instrument] | None  # None: ask the run's broker (a venue)
    executor_factory: Callable[[Clock], Executor]
    forecaster_roots: list[Path]
    policy_roots: list[Path]
    venue: str = "paper"
    kb: KnowledgeBase | None = None
    llm: LLMSession | None = None  # None: the offline rules reason, and say so
    recorder: Recorder = field(default_factory=NullRecorder)
    rules: RulesConfig = field(default_factory=RulesConfig)
    currency: str = "USD"
    initial_cash: Decimal = Decimal(100_000)
    models: ModelCache = field(default_factory=ModelCache)
    fill_on_quote: bool = True  # paper: fill at the run's quote right after sending
    account: Any = None  # an agents.account.Account to use instead of the ledger's (replay)
    _executor: Executor | None = None

    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self.executor_factory(self.clock)
        return self._executor

    @property
    def uses_llm(self) -> bool:
        return self.llm is not None
