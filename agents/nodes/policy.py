"""policy: the evolved RL policy's target position for each symbol, with its test-window
record against buy-and-hold and its deflated Sharpe ratio."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.nodes._common import ctx_of, progress, record
from agents.signals import policy_signal
from agents.state import AgentState
from core.errors import DataError, NotFoundError
from core.timeutil import parse_utc

NAME = "policy"


def policy(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = ctx_of(runtime)
    progress(NAME, "started")
    as_of = parse_utc(state["as_of"], name="as_of")
    timeframe = state["request"].get("timeframe", "1d")
    out: dict[str, dict[str, Any] | None] = {}
    notes: list[str] = []
    for symbol, snap in state["snapshots"].items():
        bars = ctx.store.bars(symbol, timeframe, as_of=as_of)
        held = 1 if Decimal(snap["position"]) > 0 else (-1 if Decimal(snap["position"]) < 0 else 0)
        try:
            signal = policy_signal(ctx.policy_roots, symbol, timeframe, bars, held, ctx.models)
        except (NotFoundError, DataError, ValueError) as exc:
            out[symbol] = None
            notes.append(f"policy, {symbol}: {exc}")
            record(ctx, NAME, "tool_call", {"tool": "policy", "symbol": symbol,
                                            "error": str(exc)})  # fmt: skip
            continue
        out[symbol] = dumped = signal.model_dump(mode="json")
        record(ctx, NAME, "tool_call", {"tool": "policy", "symbol": symbol, **dumped})
    names = {-1: "short", 0: "flat", 1: "long"}
    summary = "; ".join(
        f"{s}: {names[v['target_position']]} ({v['confidence']:.0%}), "
        f"{'edge' if v['has_edge'] else 'no demonstrated edge'}"
        if v
        else f"{s}: no policy"
        for s, v in out.items()
    )
    progress(NAME, "finished", summary)
    return {"policy": out, "notes": notes}
