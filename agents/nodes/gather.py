"""gather: a point-in-time snapshot of each symbol and of the account at the run's clock.

Bars come from the store cut at ``as_of`` (a bar is returned only once it has closed);
the quote the risk officer will use is the last close, stamped with that bar's close
time, so its age at the run's clock is exactly how stale it is.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agents.account import read_account
from agents.context import AgentContext
from agents.models import Quote, RunRequest, Snapshot
from agents.nodes._common import ctx_of, progress, record
from agents.state import AgentState
from core.errors import DataError, NotFoundError
from core.types import Symbol, Timeframe

NAME = "gather"


def gather(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    request = RunRequest.model_validate(state["request"])
    now = ctx.clock.now()
    account = read_account(ctx)
    trading_state = ctx.executor().risk_state().trading_state.value
    frames = {s: ctx.store.bars(s, request.timeframe, as_of=now) for s in request.symbols}
    marks: dict[str, Decimal] = {}
    for symbol, frame in frames.items():
        if len(frame) == 0:
            raise DataError(
                f"no {request.timeframe} bars of {symbol} closed by {now:%Y-%m-%d %H:%M}"
            )
        marks[symbol] = Decimal(str(frame["close"].iloc[-1]))
    tf = Timeframe(request.timeframe)
    quotes = {
        s: {
            "last": str(marks[s]),
            "timestamp": (f.index[-1].to_pydatetime() + tf.delta).isoformat(),
        }
        for s, f in frames.items()
    }
    # The risk officer values every position, not only the run's symbols: held symbols
    # get their quote too (none when no bar is stored: it then denies, failing closed).
    for held in account.positions:
        if str(held) not in quotes:
            quote = _held_quote(ctx, str(held), tf, now)
            if quote is not None:
                quotes[str(held)] = quote
                marks[str(held)] = Decimal(quote["last"])
    equity = account.equity(marks)
    snapshots: dict[str, dict[str, Any]] = {}
    for symbol, frame in frames.items():
        close = frame["close"].to_numpy(dtype=float)
        last_open = frame.index[-1].to_pydatetime()
        returns = np.diff(np.log(close[-21:]))
        per_year = 252.0 if not Symbol(symbol).is_pair else tf.periods_per_year()
        snap = Snapshot(
            symbol=symbol, timeframe=request.timeframe, as_of=now, bars=len(frame),
            last_bar_open=last_open,
            quote=Quote(last=marks[symbol], timestamp=last_open + tf.delta),
            return_20=float(np.log(close[-1] / close[-21])) if len(close) > 20 else 0.0,
            volatility_20=_annualised(returns, per_year),
            sma_50=_sma(close, 50), sma_200=_sma(close, 200),
            position=account.positions.get(Symbol(symbol), Decimal(0)),
            cash=account.cash, equity=equity, trading_state=trading_state,
            data_note=_data_note(state, last_open + tf.delta),
        )  # fmt: skip
        snapshots[symbol] = snap.model_dump(mode="json")
    record(ctx, NAME, "tool_call", {"tool": "market_data.bars", "snapshots": snapshots})
    summary = ", ".join(
        f"{s} {float(v['quote']['last']):.2f} ({v['bars']} bars to {v['last_bar_open'][:10]})"
        for s, v in snapshots.items()
    )
    progress(NAME, "finished", f"{summary}; equity {equity:.2f}, trading {trading_state}")
    return {"snapshots": snapshots, "quotes": quotes}


def _held_quote(
    ctx: AgentContext, symbol: str, tf: Timeframe, now: datetime
) -> dict[str, str] | None:
    try:
        frame = ctx.store.bars(symbol, str(tf), as_of=now)
    except NotFoundError:
        return None
    if len(frame) == 0:
        return None
    close_time = frame.index[-1].to_pydatetime() + tf.delta
    return {"last": str(Decimal(str(frame["close"].iloc[-1]))), "timestamp": close_time.isoformat()}


def _annualised(returns: np.ndarray, per_year: float) -> float:
    return float(returns.std(ddof=1) * math.sqrt(per_year)) if len(returns) > 2 else 0.0


def _sma(close: np.ndarray, window: int) -> float | None:
    return float(close[-window:].mean()) if len(close) >= window else None


def _data_note(state: AgentState, quote_time: Any) -> str | None:
    if not state.get("fixed_clock"):
        return None
    return (
        f"stored data ends at {quote_time:%Y-%m-%d %H:%M} UTC: the run is made as of then, "
        "with the clock fixed there (the same path a backtest of the agent uses)"
    )
