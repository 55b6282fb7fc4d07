"""What the chat needs beyond the other services: reading what a message asks for (a
question, a strategy, an agent run), and a strategy's backtest beside buy-and-hold.

The router is deterministic rules, so the chat works offline and says so ("routed by
offline rules"); the chat can always be told what a message is, which beats any guess.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from app.services.strategy import MAX_TEXT_CHARS, StrategyParseView, parse_view
from core.types import Symbol

if TYPE_CHECKING:
    from app.bootstrap import Container

IntentKind = Literal["question", "strategy", "agents"]
ROUTER_LABEL = "offline rules"

_QUESTION_WORDS = frozenset(
    ("what", "how", "why", "when", "who", "which", "where", "is", "are", "does", "do", "did",
     "can", "could", "should", "would", "explain", "tell", "describe", "define", "compare",
     "summarise", "summarize", "list")
)  # fmt: skip
_AGENTS = re.compile(
    r"\b(run|start|launch|ask|call)\b.{0,40}\bagents?\b|\bagents?\b.{0,20}\b(on|for)\b", re.I
)
_TRADING_VERB = re.compile(r"\b(buy|sell|go long|go short|short|enter|exit|long)\b", re.I)
_STRATEGY_HINT = re.compile(
    r"\b(when|if|once|crosses?|above|below|stop[- ]?loss|take[- ]?profit|trailing|"
    r"moving average|sma|ema|rsi|macd|bollinger|atr|breakout|backtest|strategy)\b",
    re.I,
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]*")
_AFTER_ON = re.compile(r"\b(?:on|for)\s+([A-Za-z0-9][A-Za-z0-9./_-]*)", re.I)


class Intent(BaseModel):
    """What a chat message asks for. ``symbols``: stored symbols it names, in order;
    ``unknown``: a symbol it names that is not stored; ``question``: what to ask back
    when the message cannot be acted on as it is."""

    kind: IntentKind
    text: str
    symbols: list[str] = []
    unknown: list[str] = []
    routed_by: str = ROUTER_LABEL
    forced: bool = False
    question: str | None = None


def stored_symbols(c: Container) -> list[str]:
    """Every symbol with stored bars, sorted."""
    return sorted({str(info.symbol) for info in c.store.catalog()})


def route_message(c: Container, text: str, force: IntentKind | None = None) -> Intent:
    """Read what ``text`` asks for; ``force`` (the person chose) overrides the rules."""
    text = text.strip()
    stored = stored_symbols(c)
    symbols = _named_symbols(text, stored)
    kind = force or _kind(text)
    unknown: list[str] = []
    question = None
    if kind == "agents":
        unknown = [s for s in _symbols_after_on(text) if s not in symbols and s not in stored]
        if not symbols:
            listed = ", ".join(stored[:12])
            question = (
                f"{unknown[0]} has no stored prices, so the agents cannot decide on it; "
                f"stored: {listed} (`tiller data import` adds more)"
                if unknown
                else f"Which symbol should the agents decide on? Stored: {listed}."
            )
    return Intent(
        kind=kind, text=text, symbols=symbols, unknown=unknown, forced=force is not None,
        question=question,
    )  # fmt: skip


def _kind(text: str) -> IntentKind:
    lowered = text.lower().lstrip("/ ")
    if lowered.startswith(("run ", "agents ")) or _AGENTS.search(text):
        return "agents"
    first = (lowered.split() or [""])[0].strip(",.:;!")
    asked = text.rstrip().endswith("?") or first in _QUESTION_WORDS
    if lowered.startswith(("backtest", "strategy:", "test ", "what if ")):
        return "strategy"
    if not asked and _TRADING_VERB.search(text) and _STRATEGY_HINT.search(text):
        return "strategy"
    return "question"


def _named_symbols(text: str, stored: list[str]) -> list[str]:
    """Stored symbols named in the text (``aapl``, ``AAPL``, ``BTC/USDT`` or ``BTCUSDT``)."""
    by_spelling = {s.upper(): s for s in stored} | {s.replace("/", "").upper(): s for s in stored}
    found: list[str] = []
    for token in _TOKEN.findall(text):
        symbol = by_spelling.get(token.rstrip(".").upper())
        # Lower-case words that happen to spell a ticker ("ibm" is fine, "fb" too) count
        # only when they are at least 2 letters: "a" or "t" are words, not tickers.
        if symbol and symbol not in found and len(token) >= 2:
            found.append(symbol)
    return found


def _symbols_after_on(text: str) -> list[str]:
    out = []
    for match in _AFTER_ON.finditer(text):
        word = match.group(1).rstrip(".,!?")
        if word.lower() in ("the", "a", "an", "my", "it", "this", "that"):
            continue
        try:
            out.append(str(Symbol(word)))
        except ValueError:
            continue
    return out


class StrategyRunRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    symbol: str = Field("AAPL", min_length=1, max_length=64)
    timeframe: str = Field("1d", min_length=1, max_length=8)
    start: datetime | None = None
    end: datetime | None = None
    fee: float | None = Field(None, ge=0, le=0.1)


class Curve(BaseModel):
    """A series for a chart: times and values, same length."""

    name: str
    times: list[datetime]
    values: list[float]


class StrategyRun(BaseModel):
    """The parsed strategy and, when it is a spec, its backtest beside buy-and-hold on
    the same bars, cash and fees. ``kind`` "question": ``parse.question`` says what is
    missing and nothing ran."""

    kind: Literal["backtest", "question"]
    request: StrategyRunRequest
    parse: StrategyParseView
    metrics: dict[str, Any] = {}
    buy_hold_metrics: dict[str, Any] = {}
    equity: Curve | None = None
    buy_hold: Curve | None = None
    drawdown: Curve | None = None
    trades: list[dict[str, Any]] = []
    assumptions: dict[str, Any] = {}


_METRICS = ("start", "end", "bars", "initial_cash", "final_equity", "total_return",
            "annualized_return", "volatility", "sharpe", "sortino", "max_drawdown",
            "max_drawdown_duration_days", "calmar", "n_trades", "win_rate", "exposure",
            "turnover", "fees_paid")  # fmt: skip


def strategy_backtest(c: Container, request: StrategyRunRequest) -> StrategyRun:
    """Parse the text (a refusal raises ``StrategyRefusedError`` with its hint), then
    backtest the spec and buy-and-hold over the same bars."""
    from app.services.backtests import BacktestRequest, backtest
    from app.services.strategy import read_strategy
    from tools.strategy import preset

    outcome = read_strategy(c, request.text)
    parsed = parse_view(outcome)
    if outcome.spec is None:
        return StrategyRun(kind="question", request=request, parse=parsed)
    spec = outcome.spec.model_dump(mode="json")
    hold = preset("buy-hold").model_dump(mode="json")
    hold.update(initial_cash=spec["initial_cash"], fee_rate=spec["fee_rate"],
                slippage=spec["slippage"])  # fmt: skip
    common = {"symbol": request.symbol, "timeframe": request.timeframe, "start": request.start,
              "end": request.end, "fee": request.fee, "equity_curve": True}  # fmt: skip
    mine = backtest(c, BacktestRequest(spec=spec, **common)).result.model_dump(mode="json")
    base = backtest(c, BacktestRequest(spec=hold, **common)).result.model_dump(mode="json")
    equity = _curve("strategy", mine["equity_curve"])
    return StrategyRun(
        kind="backtest", request=request, parse=parsed,
        metrics={k: mine.get(k) for k in _METRICS},
        buy_hold_metrics={k: base.get(k) for k in _METRICS},
        equity=equity, buy_hold=_curve("buy and hold", base["equity_curve"]),
        drawdown=_drawdown(equity), trades=mine.get("trades", []),
        assumptions=mine.get("assumptions", {}),
    )  # fmt: skip


def _curve(name: str, points: list[list[Any]]) -> Curve:
    return Curve(
        name=name,
        times=[datetime.fromisoformat(str(t)) for t, _ in points],
        values=[float(v) for _, v in points],
    )


def _drawdown(equity: Curve) -> Curve:
    """Fraction below the running peak at each point (0 at a new high, -0.25 a quarter
    below it)."""
    peak, out = float("-inf"), []
    for value in equity.values:
        peak = max(peak, value)
        out.append(value / peak - 1.0 if peak > 0 else 0.0)
    return Curve(name="drawdown", times=equity.times, values=out)
