"""forecaster: the quantile forecaster's view of each symbol, with its model card's
out-of-sample record (MASE against a random walk) so its weight matches its evidence."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.nodes._common import ctx_of, progress, record
from agents.signals import forecast_signal
from agents.state import AgentState
from core.errors import DataError, NotFoundError
from core.timeutil import parse_utc

NAME = "forecaster"


def forecaster(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    as_of = parse_utc(state["as_of"], name="as_of")
    timeframe = state["request"].get("timeframe", "1d")
    out: dict[str, dict[str, Any] | None] = {}
    notes: list[str] = []
    for symbol in state["snapshots"]:
        bars = ctx.store.bars(symbol, timeframe, as_of=as_of)
        try:
            signal = forecast_signal(
                ctx.forecaster_roots, symbol, timeframe, bars, as_of, ctx.models
            )
        except (NotFoundError, DataError) as exc:
            out[symbol] = None
            notes.append(f"forecaster, {symbol}: {exc}")
            record(ctx, NAME, "tool_call", {"tool": "forecaster", "symbol": symbol,
                                            "error": str(exc)})  # fmt: skip
            continue
        out[symbol] = dumped = signal.model_dump(mode="json")
        record(ctx, NAME, "tool_call", {"tool": "forecaster", "symbol": symbol, **dumped})
    summary = "; ".join(
        f"{s}: median {v['median_log_return']:+.2%} over {v['horizon']} bars "
        f"[{v['q10_log_return']:+.2%}, {v['q90_log_return']:+.2%}], "
        f"{'edge' if v['has_edge'] else 'no edge'}"
        if v
        else f"{s}: no model"
        for s, v in out.items()
    )
    progress(NAME, "finished", summary)
    return {"forecasts": out, "notes": notes}
