"""``tiller runs replay``: re-execute a recorded run's decision and report differences.

The graph runs again as of the run's recorded clock, on the account as recorded, with the
LLM's answers served from the run's own record (no model, no network), up to the risk
gate; nothing is sent and nothing of the user's account changes. What each node produces
is compared with what was recorded: a difference means the data, a model, the code or a
prompt changed since.
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.clock import FixedClock
from core.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from app.bootstrap import Container

# What each node's recorded output is compared on (account-state fields are inputs here).
_COMPARED = ("snapshots", "analysis", "forecasts", "policy", "proposals")
_ACCOUNT_FIELDS = ("trading_state",)


class ReplayReport(BaseModel):
    run_id: str
    identical: bool
    differences: list[str]
    llm_calls_replayed: int
    compared: list[str]


def _recorded(events: list[Any]) -> dict[str, Any]:
    """The recorded outputs, from the run's events."""
    out: dict[str, Any] = {"analysis": {}, "forecasts": {}, "policy": {}}
    for e in events:
        p = e.payload
        if e.node == "gather" and e.kind == "tool_call":
            out["snapshots"] = p["snapshots"]
        elif e.node == "analyst" and e.kind == "retrieval":
            out["analysis"][p["symbol"]] = p
        elif e.node in ("forecaster", "policy") and e.kind == "tool_call":
            key = "forecasts" if e.node == "forecaster" else "policy"
            out[key][p["symbol"]] = None if "error" in p else {
                k: v for k, v in p.items() if k != "tool"
            }  # fmt: skip
        elif e.node == "proposer" and e.kind == "proposal" and "proposals" not in out:
            out["proposals"] = p["proposals"]  # the first round
    return out


def replay_run(c: Container, run_id: str) -> ReplayReport:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.account import Account
    from agents.graph import build_graph
    from agents.models import RunRequest
    from agents.state import AgentState
    from app.services.runs import make_context
    from core.ledger import open_ledger
    from core.ledger.runlog import RunLog
    from core.llm import LLMCall, LLMSession
    from core.types import Symbol
    from policies.risk import TokenSigner

    record = c.ledger.get_run(run_id)
    if record is None:
        raise NotFoundError(f"no run {run_id!r}: `tiller runs list` shows the runs")
    if record.kind != "agent":
        raise ConfigError(f"run {run_id} is a {record.kind} run, not an agent run")
    events = RunLog(c.ledger).events(run_id)
    recorded = _recorded(events)
    if "snapshots" not in recorded:
        raise ConfigError(f"run {run_id} stopped before it gathered any data: nothing to replay")
    calls = [LLMCall.model_validate(e.payload) for e in events if e.kind == "llm_call"]
    as_of = datetime.fromisoformat(record.inputs["as_of"])
    request = RunRequest.model_validate({**record.inputs["request"], "mode": "copilot"})
    first = next(iter(recorded["snapshots"].values()))
    account = Account(
        cash=Decimal(first["cash"]),
        positions={Symbol(s): Decimal(v["position"]) for s, v in recorded["snapshots"].items()
                   if Decimal(v["position"])},
        working=(),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(f"sqlite:///{tmp}/replay.sqlite3")
        try:
            ctx = make_context(c, FixedClock(as_of), run_id)
            ctx.recorder = _Silent()
            ctx.account = account
            ctx.executor_factory = lambda clock: _executor(c, ledger, clock)
            ctx.signer = TokenSigner(secrets.token_bytes(32))
            ctx.llm = (
                LLMSession(None, max_tokens=10**12, max_cost_usd=Decimal(10**9),
                           prices=_prices(c), replay=calls)
                if calls else None
            )  # fmt: skip
            graph = build_graph(InMemorySaver())
            state: AgentState = {
                "run_id": run_id, "request": request.model_dump(mode="json"),
                "as_of": record.inputs["as_of"],
                "fixed_clock": record.inputs.get("fixed_clock", True), "notes": [],
            }  # fmt: skip
            config: RunnableConfig = {"configurable": {"thread_id": f"replay-{run_id}"}}
            graph.invoke(state, config, context=ctx, interrupt_before=["risk_gate"])
            values = dict(graph.get_state(config).values)
        finally:
            ledger.close()
    differences = _compare(recorded, values)
    if ctx.llm is not None:
        differences += [f"LLM: {d}" for d in ctx.llm.replay_differences()]
    return ReplayReport(
        run_id=run_id, identical=not differences, differences=differences,
        llm_calls_replayed=len(calls), compared=[k for k in _COMPARED if k in recorded],
    )  # fmt: skip


class _Silent:
    def event(self, node: str, kind: str, payload: Any) -> None:
        return None


def _prices(c: Container) -> Any:
    from core.llm import PriceTable

    return PriceTable.from_settings(c.settings)


def _executor(c: Container, ledger: Any, clock: Any) -> Any:
    from tools.executor import Executor, FillModel, PaperBroker

    broker = PaperBroker(cash={c.settings.paper_currency: c.settings.paper_cash},
                         instruments=c.paper_instruments(),
                         fill_model=FillModel(fee_rate=Decimal("0.001"),
                                              slippage=Decimal("0.0005")),
                         clock=clock)  # fmt: skip
    return Executor(broker=broker, ledger=ledger, signer=c.signer, limits=c.limits, clock=clock,
                    initial_equity=c.settings.paper_cash)  # fmt: skip


def _compare(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in _COMPARED:
        if key not in recorded:
            continue
        before, after = _norm(key, recorded[key]), _norm(key, replayed.get(key))
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            for sub in sorted(set(before) | set(after)):
                if before.get(sub) != after.get(sub):
                    out.append(f"{key}[{sub}]: recorded {_short(before.get(sub))}, "
                               f"replayed {_short(after.get(sub))}")  # fmt: skip
        else:
            out.append(f"{key}: recorded {_short(before)}, replayed {_short(after)}")
    return out


def _norm(key: str, value: Any) -> Any:
    if key == "snapshots" and isinstance(value, dict):
        return {s: {k: v for k, v in snap.items() if k not in _ACCOUNT_FIELDS}
                for s, snap in value.items()}  # fmt: skip
    return value


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
