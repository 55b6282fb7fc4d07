"""Backtesting the agent (``tiller run backtest``): the composition root's side of it.

The engine (``agents.backtest``) gets the user's market data, limits, models and
knowledge base, read only, and builds its own throwaway ledger, paper account and
risk-token key. With an LLM configured, every answer goes through the response cache in
the state folder, so a rerun of the same backtest is free and identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from core.types import UtcDatetime

if TYPE_CHECKING:
    from agents.backtest import AgentBacktestReport, BacktestDeps, Progress
    from app.bootstrap import Container
    from core.llm import LLMSession


class AgentBacktestRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    start: UtcDatetime
    end: UtcDatetime
    every: str = Field("1w", description="time between decisions, e.g. 1d, 1w")
    timeframe: str = "1d"
    knowledge_base: bool = Field(True, description="let the analyst read the knowledge base")


def backtest_agent_run(
    c: Container, request: AgentBacktestRequest, progress: Progress | None = None
) -> AgentBacktestReport:
    from agents.backtest import backtest_agent

    with _llm_factory(c) as llm:
        deps = backtest_deps(c, request, llm)
        return backtest_agent(
            deps, request.symbol, request.start, request.end, request.every, progress,
            timeframe=request.timeframe,
        )  # fmt: skip


def backtest_deps(
    c: Container, request: AgentBacktestRequest, llm: Callable[[], LLMSession | None]
) -> BacktestDeps:
    from agents.backtest import BacktestDeps
    from tools.forecaster import SHIPPED_DIR as FORECASTERS
    from tools.forecaster import user_registry as forecaster_registry
    from tools.policy import SHIPPED_DIR as POLICIES
    from tools.policy import user_registry as policy_registry

    state = c.settings.state_path
    return BacktestDeps(
        store=c.store, limits=c.limits, instruments=c.paper_instruments(),
        forecaster_roots=[forecaster_registry(state), FORECASTERS],
        policy_roots=[policy_registry(state), POLICIES],
        initial_cash=c.settings.paper_cash,
        kb=c.knowledge_base if request.knowledge_base else None, llm=llm,
    )  # fmt: skip


@contextmanager
def _llm_factory(c: Container) -> Iterator[Callable[[], LLMSession | None]]:
    """One session per decision (the budget is per run), all sharing the response cache."""
    if not c.settings.llm_enabled:
        yield lambda: None
        return
    from core.llm import LLMSession, ResponseCache

    chat = c.chat_model
    with ResponseCache.open_default(c.settings) as cache:
        yield lambda: LLMSession.from_settings(chat, c.settings, cache=cache)
