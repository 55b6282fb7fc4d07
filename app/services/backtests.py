"""Backtests of a strategy given as a spec, a preset or plain English: signals at each
close, fills at the next open, costs included (the ``tools.backtest`` engine)."""

from __future__ import annotations

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


class BacktestView(BaseModel):
    parse: StrategyParseView | None = Field(None, description="How the text was read.")
    result: dict[str, Any] = Field(description="Metrics, trades and assumptions.")


def backtest(c: Container, request: BacktestRequest, llm: LLMSession | None = None) -> BacktestView:
    from tools.backtest import run_backtest

    spec, parsed = _strategy(c, request, llm)
    symbol, timeframe = str(Symbol(request.symbol)), str(Timeframe(request.timeframe))
    frame = c.store.bars(symbol, timeframe, start=request.start, end=request.end)
    result = run_backtest(spec, frame, symbol=symbol, timeframe=timeframe)
    return BacktestView(parse=parsed, result=result.to_json(include_equity=request.equity_curve))


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
