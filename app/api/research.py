"""Reading and research: questions to the knowledge base, strategies in plain English,
backtests, and market data. A request that may call an LLM counts against the key's
daily LLM budget."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Query

from app.api.deps import State, Viewer
from app.api.problems import AUTH_RESPONSES, NOT_FOUND
from app.services import backtests as bt
from app.services import knowledge, market
from app.services.backtests import BacktestRequest, BacktestView
from app.services.fields import SYMBOL_PATTERN, IsoTime, TimeframeText
from app.services.keys import KeyInfo
from app.services.knowledge import AnswerView, AskRequest
from app.services.market import BarsView
from app.services.strategy import StrategyParseView, StrategyText, parse_view, read_strategy
from app.services.usage import reserve, settle
from core.llm import LLMSession

router = APIRouter(prefix="/v1", responses=AUTH_RESPONSES)
T = TypeVar("T")


def _budgeted(state: State, key: KeyInfo, work: Callable[[LLMSession | None], T]) -> T:
    """``work`` with an LLM session, its cost reserved from the key's daily budget."""
    c = state.container
    session = knowledge.llm_session(c)
    reservation = reserve(c, key.id) if session is not None else None
    try:
        return work(session)
    finally:
        settle(c, reservation, session.cost_usd if session is not None else Decimal(0))


@router.post("/ask", response_model=AnswerView, tags=["research"])
def ask(body: AskRequest, key: Viewer, state: State) -> AnswerView:
    """An answer from the knowledge base with numbered citations ``[n]`` (extractive
    offline; an LLM's, checked to cite only passages it was given, when configured)."""
    return _budgeted(state, key, lambda llm: knowledge.ask(state.container, body, llm))


@router.post("/strategies/parse", response_model=StrategyParseView, tags=["research"])
def parse_strategy(body: StrategyText, key: Viewer, state: State) -> StrategyParseView:
    """Plain English → a validated strategy spec, or a question back; a refusal (not a
    strategy, or text that touches risk limits) is a 422 with its reason and hint."""
    return _budgeted(
        state, key, lambda llm: parse_view(read_strategy(state.container, body.text, llm))
    )


@router.post("/backtests", response_model=BacktestView, tags=["research"], responses=NOT_FOUND)
def backtest(body: BacktestRequest, key: Viewer, state: State) -> BacktestView:
    """Backtest a spec, a preset or plain English on stored bars: signals at each close,
    fills at the next open, costs included."""
    return _budgeted(state, key, lambda llm: bt.backtest(state.container, body, llm))


@router.get(
    "/market/{symbol:path}/bars", response_model=BarsView, tags=["market"], responses=NOT_FOUND
)
def bars(
    symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN, max_length=65,
                                description="e.g. AAPL, BTC/USDT")],
    key: Viewer, state: State,
    timeframe: Annotated[TimeframeText, Query()] = "1d",
    as_of: Annotated[IsoTime | None, Query(description="Only bars closed by then.")] = None,
    start: Annotated[IsoTime | None, Query()] = None,
    end: Annotated[IsoTime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> BarsView:  # fmt: skip
    """Stored bars as of a point in time (never a bar that had not closed by then)."""
    return market.bars(state.container, symbol, timeframe, as_of=as_of, start=start, end=end,
                       limit=limit)  # fmt: skip
