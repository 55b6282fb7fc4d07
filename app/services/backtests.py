"""Backtests of a strategy given as a spec, a preset or plain English: signals at each
close, fills at the next open, costs included (the ``tools.backtest`` engine)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, model_validator

from app.services.fields import IsoTime, SymbolText, TimeframeText
from app.services.strategy import (
    MAX_TEXT_CHARS,
    StrategyParseView,
    StrategyUnclearError,
    parse_view,
    read_strategy,
)
from core.types import Symbol, Timeframe

if TYPE_CHECKING:
    from app.bootstrap import Container
    from core.llm import LLMSession
    from tools.backtest import BacktestResult
    from tools.strategy import StrategySpec


class BacktestRequest(BaseModel):
    """Exactly one of ``spec``, ``preset`` or ``text``."""

    model_config = ConfigDict(extra="forbid")

    symbol: SymbolText = "AAPL"
    timeframe: TimeframeText = "1d"
    spec: dict[str, Any] | None = Field(None, description="A strategy spec (JSON object).")
    preset: str | None = Field(None, max_length=64, description="e.g. sma-cross, buy-hold")
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT_CHARS,
                             description="The strategy in plain English.")  # fmt: skip
    start: IsoTime | None = None
    end: IsoTime | None = None
    fee: StrictFloat | None = Field(None, ge=0, le=0.1, description="Fee rate per fill.")
    equity_curve: StrictBool = False

    @model_validator(mode="after")
    def _one_strategy(self) -> BacktestRequest:
        given = [name for name in ("spec", "preset", "text") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of spec, preset or text")
        return self


class BacktestResultView(BaseModel):
    """One backtest: the metrics (returns and ratios as fractions; ``None`` where not
    defined, e.g. a Sharpe ratio without volatility), every trade, the assumptions
    (fees, slippage, fills), and the equity curve when asked for."""

    symbol: str
    timeframe: str
    strategy: str
    start: datetime = Field(description="Open time of the first bar.")
    end: datetime = Field(description="Open time of the last bar.")
    bars: int
    initial_cash: float
    final_equity: float
    total_return: float | None
    annualized_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    max_drawdown_duration_bars: int
    max_drawdown_duration_days: float
    calmar: float | None
    n_trades: int
    win_rate: float | None
    exposure: float | None
    turnover: float | None
    fees_paid: float | None
    trades: list[dict[str, Any]]
    assumptions: dict[str, Any]
    equity_curve: list[tuple[datetime, float]] | None = Field(
        None, description="[open time, equity] per bar; only when asked for."
    )

    @classmethod
    def of(cls, result: BacktestResult, *, equity_curve: bool = False) -> BacktestResultView:
        return cls.model_validate(result.to_json(include_equity=equity_curve))


class BacktestView(BaseModel):
    parse: StrategyParseView | None = Field(None, description="How the text was read.")
    result: BacktestResultView = Field(description="Metrics, trades and assumptions.")


def backtest(c: Container, request: BacktestRequest, llm: LLMSession | None = None) -> BacktestView:
    spec, parsed = _strategy(c, request, llm)
    result = run_spec(c, spec, request.symbol, request.timeframe, start=request.start,
                      end=request.end, equity_curve=request.equity_curve)  # fmt: skip
    return BacktestView(parse=parsed, result=result)


def run_spec(
    c: Container, spec: StrategySpec, symbol: str, timeframe: str, *,
    start: datetime | None = None, end: datetime | None = None, equity_curve: bool = False,
) -> BacktestResultView:  # fmt: skip
    """Backtest a validated spec on the stored bars opening in [start, end]."""
    from tools.backtest import run_backtest

    sym, tf = str(Symbol(symbol)), str(Timeframe(timeframe))
    frame = c.store.bars(sym, tf, start=start, end=end)
    result = run_backtest(spec, frame, symbol=sym, timeframe=tf)
    return BacktestResultView.of(result, equity_curve=equity_curve)


def _strategy(
    c: Container, request: BacktestRequest, llm: LLMSession | None
) -> tuple[StrategySpec, StrategyParseView | None]:
    from tools.strategy import parse_spec, preset

    fee: dict[str, Any] = {} if request.fee is None else {"fee_rate": request.fee}
    if request.preset is not None:
        return preset(request.preset, **fee), None
    if request.spec is not None:
        return parse_spec({**request.spec, **fee}), None
    assert request.text is not None
    outcome = read_strategy(c, request.text, llm)
    if outcome.spec is None:
        raise StrategyUnclearError(
            str(outcome.question),
            hint="say it in the text and send it again; POST /v1/strategies/parse shows what "
            "is read",
        )
    spec = outcome.spec if not fee else parse_spec({**outcome.spec.model_dump(), **fee})
    return spec, parse_view(outcome)
