"""The agent graph's speed: one offline run per node and end to end, LangGraph's cost per
node against calling the same node functions directly, LLM calls and tokens per decision
(against the fake OpenAI-compatible server), and agent-backtest decisions per second.

    .venv/bin/python bench/agents.py [--runs 7] [--state ~/.cache/tiller-bench-agents]

Everything runs on bundled AAPL as of its last stored bar (2013-03-01), with the models
loaded once and kept warm (one ``ModelCache`` for every run, as a long-lived process
would). ``--state`` holds the knowledge base (primers and bundled news are embedded there
on the first run, about a minute) and the checkpoints; the ledger is a fresh temporary
file each time, so no user data is read or written.

Named competitor: the same node functions called directly, one after another, with the
state merged by hand — what the graph would cost with no framework at all.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.runtime import Runtime  # noqa: E402

from agents.context import AgentContext  # noqa: E402
from agents.models import RunRequest  # noqa: E402
from agents.nodes.analyst import analyst  # noqa: E402
from agents.nodes.forecaster import forecaster  # noqa: E402
from agents.nodes.gather import gather  # noqa: E402
from agents.nodes.policy import policy  # noqa: E402
from agents.nodes.proposer import proposer  # noqa: E402
from agents.nodes.risk_gate import risk_gate  # noqa: E402
from agents.signals import ModelCache  # noqa: E402
from agents.state import AgentState  # noqa: E402
from app.bootstrap import Container, build  # noqa: E402
from app.services.runs import make_context, runner  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.ledger.runlog import RunLog  # noqa: E402

AS_OF = datetime(2013, 3, 2, tzinfo=UTC)  # the close of the last bundled AAPL bar
REQUEST = RunRequest(symbols=["AAPL"])  # copilot: the run stops at the approval
NODES = ("gather", "analyst", "forecaster", "policy", "proposer", "risk_gate")
CHAIN: tuple[tuple[str, Callable[..., dict[str, Any]]], ...] = (
    ("gather", gather), ("analyst", analyst), ("forecaster", forecaster),
    ("policy", policy), ("proposer", proposer), ("risk_gate", risk_gate),
)  # fmt: skip
Node = Callable[..., dict[str, Any]]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def container(state: Path, db: Path, **extra: Any) -> Container:
    return build(home=state, database_url=f"sqlite:///{db}", **extra)


# -- A: one run, per node and end to end ----------------------------------------------------
def timed_runs(
    c: Container, cache: ModelCache, runs: int
) -> tuple[list[float], dict[str, list[float]]]:
    """``runs`` copilot runs through the runs service (run log, SQLite checkpoints, the
    knowledge base), after one untimed warm-up run."""
    ends: list[float] = []
    per: dict[str, list[float]] = defaultdict(list)
    with runner(c) as r:
        base = r.make_context
        r.make_context = lambda clock, run_id: replace(base(clock, run_id), models=cache)
        for i in range(runs + 1):
            marks: dict[tuple[str, str], float] = {}

            def progress(
                event: dict[str, Any], marks: dict[tuple[str, str], float] = marks
            ) -> None:
                marks[(event["node"], event["status"])] = time.perf_counter()

            began = time.perf_counter()
            result = r.start(REQUEST, progress)
            took = time.perf_counter() - began
            assert result.status == "awaiting_approval", result.status
            if i == 0:
                continue
            ends.append(took)
            for node in NODES:
                if (node, "started") in marks and (node, "finished") in marks:
                    per[node].append(marks[(node, "finished")] - marks[(node, "started")])
    return ends, per


def report_runs(label: str, ends: list[float], per: dict[str, list[float]]) -> None:
    print(f"\n{label}: median of {len(ends)} runs, ms")
    for node in NODES:
        print(f"  {node:<12}{ms(median(per[node]))}")
    nodes = sum(median(per[n]) for n in NODES)
    print(f"  {'(outside)':<12}{ms(median(ends) - nodes)}   run log, checkpoints, graph")
    print(f"  {'end to end':<12}{ms(median(ends))}   (min {ms(min(ends)).strip()}, "
          f"max {ms(max(ends)).strip()})")  # fmt: skip


# -- B: the graph's cost per node vs direct calls -------------------------------------------
def chain_graph(nodes: Sequence[tuple[str, Node]], checkpointer: Any) -> Any:
    graph = StateGraph(AgentState, context_schema=AgentContext)
    previous = START
    for name, node in nodes:
        graph.add_node(name, node)
        graph.add_edge(previous, name)
        previous = name
    graph.add_edge(previous, END)
    return graph.compile(checkpointer=checkpointer)


def direct(
    nodes: Sequence[tuple[str, Node]], state: dict[str, Any], ctx: AgentContext
) -> dict[str, Any]:
    runtime = Runtime(context=ctx)
    for _, node in nodes:
        update = node(state, runtime)
        state = {**state, **update, "notes": state.get("notes", []) + update.get("notes", [])}
    return state


class Fresh:
    """A run record, a context and a first state per call (ids never repeat)."""

    def __init__(self, c: Container, cache: ModelCache) -> None:
        self.c, self.cache, self.log, self.n = c, cache, RunLog(c.ledger), 0

    def __call__(self) -> tuple[str, dict[str, Any], AgentContext]:
        self.n += 1
        record = self.log.start("agent", {"bench": self.n}, {})
        ctx = replace(make_context(self.c, FixedClock(AS_OF), record.id), models=self.cache)
        state = {"run_id": record.id, "request": REQUEST.model_dump(mode="json"),
                 "as_of": AS_OF.isoformat(), "fixed_clock": True, "notes": []}  # fmt: skip
        return record.id, state, ctx


def variants(nodes: Sequence[tuple[str, Node]], sqlite_path: Path) -> dict[str, Callable[..., Any]]:
    import sqlite3

    saver = SqliteSaver(sqlite3.connect(sqlite_path, check_same_thread=False))
    saver.setup()
    graphs = {"graph, no checkpointer": chain_graph(nodes, None),
              "graph + InMemorySaver": chain_graph(nodes, InMemorySaver()),
              "graph + SqliteSaver (sync)": chain_graph(nodes, saver)}  # fmt: skip

    def via(graph: Any) -> Callable[..., Any]:
        # durability="sync" as the runner uses it; langgraph 1.2.24 raises AttributeError
        # ('_put_checkpoint_fut') when it is passed to a graph without a checkpointer.
        extra = {"durability": "sync"} if graph.checkpointer is not None else {}

        def run(run_id: str, state: dict[str, Any], ctx: AgentContext) -> Any:
            config = {"configurable": {"thread_id": run_id}}
            return graph.invoke(state, config, context=ctx, **extra)

        return run

    out: dict[str, Callable[..., Any]] = {
        "direct calls": lambda _id, state, ctx: direct(nodes, state, ctx)
    }
    out.update({name: via(g) for name, g in graphs.items()})
    return out


def overhead(c: Container, cache: ModelCache, rounds: int, work: Path) -> None:
    fresh = Fresh(c, cache)
    real = variants(CHAIN, work / "real.sqlite3")
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits all alike
        for name, run in real.items():
            run_id, state, ctx = fresh()
            began = time.perf_counter()
            run(run_id, state, ctx)
            times[name].append(time.perf_counter() - began)
    base = median(times["direct calls"])
    print(f"\nthe six nodes up to the risk verdict (real work), median of {rounds}, ms per run")
    print(f"  {'':<28}{'ms':>8}  {'÷direct':>8}  {'extra ms/node':>13}")
    for name, values in times.items():
        m = median(values)
        print(f"  {name:<28}{ms(m)}  {m / base:7.3f}×  {(m - base) * 1000 / len(CHAIN):13.2f}")
    machinery(fresh, rounds * 10, work)


def _replay(update: dict[str, Any]) -> Node:
    # LangGraph passes the runtime to a parameter named ``runtime``, as the real nodes have.
    def node(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        return update

    return node


def machinery(fresh: Fresh, reps: int, work: Path) -> None:
    """The graph alone: nodes that return a recorded run's real updates instantly."""
    run_id, state, ctx = fresh()
    updates: list[tuple[str, dict[str, Any]]] = []
    runtime = Runtime(context=ctx)
    for name, node in CHAIN:
        update = node(state, runtime)
        updates.append((name, update))
        state = {**state, **update, "notes": state.get("notes", []) + update.get("notes", [])}
    replayed = [(name, _replay(update)) for name, update in updates]
    runs = variants(replayed, work / "replayed.sqlite3")
    times: dict[str, list[float]] = defaultdict(list)
    first = {"run_id": run_id, "request": state["request"], "as_of": state["as_of"],
             "fixed_clock": True, "notes": []}  # fmt: skip
    for i in range(reps):
        for name, run in runs.items():
            began = time.perf_counter()
            run(f"{run_id}-{i}-{name}", dict(first), ctx)
            times[name].append(time.perf_counter() - began)
    print(f"\nthe graph's own cost: the same six nodes replaying a real run's updates "
          f"instantly, median of {reps}, ms per node")  # fmt: skip
    for name, values in times.items():
        print(f"  {name:<28}{median(values) * 1000 / len(CHAIN):8.3f}")


# -- C: LLM calls and tokens per decision ---------------------------------------------------
def fake_llm(body: dict[str, Any]) -> Any:
    from agents.prompts import PROPOSER_SYSTEM
    from tests.fakes.openai_server import Structured, Text

    if body["messages"][0]["content"] == PROPOSER_SYSTEM:
        return Structured({"proposals": [{
            "symbol": "AAPL", "side": "buy", "quantity": "5", "evidence": [1],
            "rationale": "bench: the filings and news read as steady; a small add",
            "confidence": 0.4}], "summary": "bench: buy 5 AAPL"})  # fmt: skip
    return Text("Revenue kept growing [1]; the company names supply and demand risks [2].")


def llm_runs(state: Path, cache: ModelCache, runs: int, work: Path) -> list[float]:
    from tests.fakes.openai_server import FakeOpenAI, llm_overrides

    with FakeOpenAI(fake_llm) as server:
        c = container(state, work / "llm.sqlite3", **llm_overrides(server))
        ends, _ = timed_runs(c, cache, runs)
        log = RunLog(c.ledger)
        calls = [e.payload for r in log.list("agent", runs) for e in log.events(r.id)
                 if e.kind == "llm_call"]  # fmt: skip
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        by[call["purpose"]].append(call)
    print(f"\nLLM calls per decision, fake OpenAI-compatible server over HTTP ({runs} runs; "
          "tokens as the server counts them, ~4 characters a token)")  # fmt: skip
    print(f"  {'purpose':<16}{'calls':>6}{'prompt tok':>12}{'completion':>12}{'ms/call':>9}")
    for purpose, group in sorted(by.items()):
        print(f"  {purpose:<16}{len(group) / runs:6.2f}"
              f"{median([c['prompt_tokens'] for c in group]):12.0f}"
              f"{median([c['completion_tokens'] for c in group]):12.0f}"
              f"{median([c['latency_ms'] for c in group]):9.1f}")  # fmt: skip
    total = sum(c["prompt_tokens"] + c["completion_tokens"] for c in calls) / runs
    print(
        f"  per decision: {len(calls) / runs:.2f} calls, {total:,.0f} tokens; "
        f"end to end {ms(median(ends)).strip()} ms (median)"
    )
    return ends


# -- D: the agent backtest ------------------------------------------------------------------
def backtests(c: Container, cache: ModelCache, run_ms: float) -> None:
    from agents.backtest import backtest_agent
    from app.services.agent_backtest import AgentBacktestRequest, backtest_deps

    start, end = datetime(2012, 1, 1, tzinfo=UTC), datetime(2012, 12, 31, tzinfo=UTC)
    print("\nagent backtest, AAPL 2012, a decision every week (offline rules)")
    for kb in (False, True):
        request = AgentBacktestRequest(symbol="AAPL", start=start, end=end, knowledge_base=kb)
        deps = replace(backtest_deps(c, request, lambda: None), models=cache)
        report = backtest_agent(deps, "AAPL", start, end, "1w")
        rate = report.decisions_per_s or float("nan")
        print(f"  knowledge base {'on ' if kb else 'off'}: {report.decisions} decisions in "
              f"{report.elapsed_s:5.1f} s; {rate:5.2f} decisions/s after the first "
              f"({report.first_decision_s:.2f} s); {1000 / rate:6.1f} ms a decision = "
              f"{1000 / rate / run_ms:.2f}× one run through the runs service")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--state", type=Path,
                        default=Path.home() / ".cache" / "tiller-bench-agents")  # fmt: skip
    args = parser.parse_args()
    from importlib.metadata import version

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, langgraph "
          f"{version('langgraph')}, torch {torch.__version__}")  # fmt: skip
    cache = ModelCache()
    with tempfile.TemporaryDirectory(prefix="tiller-bench-agents-") as tmp:
        work = Path(tmp)
        c = container(args.state, work / "ledger.sqlite3")
        threads = torch.get_num_threads()
        ends, per = timed_runs(c, cache, args.runs)
        report_runs(f"offline run, AAPL, copilot, torch {threads} threads (default)", ends, per)
        torch.set_num_threads(1)
        ends, per = timed_runs(c, cache, args.runs)
        report_runs("offline run, AAPL, copilot, torch 1 thread", ends, per)
        overhead(c, cache, args.runs, work)
        llm_runs(args.state, cache, args.runs, work)
        backtests(c, cache, median(ends) * 1000)


if __name__ == "__main__":
    main()
