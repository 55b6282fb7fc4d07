"""Backtesting the agent: the whole graph walked through history, one decision per step.

At each step the run's clock is a ``FixedClock`` set to a bar's close, so every node
reads market data and the knowledge base exactly as of then (the store never returns a
bar that had not closed, retrieval never a document published later) and the quote the
risk officer checks is fresh. The agent runs in ``auto`` mode against its own paper
broker, which fills with the backtester's fill model at the *next* bar's open: the
execute node only sends (``fill_on_quote=False``); the bars that follow a decision are
fed to the broker before the next one, and the executor books the fills.

Nothing here touches the user's ledger, paper account or checkpoints: each backtest has
a throwaway SQLite ledger in a temporary folder, a paper broker seeded with the starting
cash, its own risk-token key and no checkpointer. Models are loaded once (``ModelCache``)
and reused by every step.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agents._backtest_market import Book, Feed, figures, plan
from agents._memo_embedder import MemoEmbedder
from agents.context import AgentContext, NullRecorder, Recorder, RulesConfig
from agents.models import OFFLINE_LABEL, RunRequest
from agents.signals import ModelCache
from core.clock import FixedClock
from core.errors import ConfigError
from core.ledger import Balance, Ledger
from core.types import Instrument, Symbol, Timeframe
from tools.executor import FillModel

if TYPE_CHECKING:
    from core.llm import LLMSession
    from policies.risk import Limits, TokenSigner
    from rag_index.service import KnowledgeBase
    from tools.executor import Executor
    from tools.market_data import BarStore

Progress = Callable[[dict[str, Any]], None]
# The backtester's costs (tools/backtest and the paper broker share this fill model).
DEFAULT_FILL_MODEL = FillModel(fee_rate=Decimal("0.001"), slippage=Decimal("0.0005"))


@dataclass
class BacktestDeps:
    """What an agent backtest needs, built by the composition root (``app/services``).
    ``llm`` makes one session per decision (its budget is per run); it returns None
    offline, and the rules reason."""

    store: BarStore
    limits: Limits
    instruments: Mapping[Symbol, Instrument]
    forecaster_roots: list[Path]
    policy_roots: list[Path]
    initial_cash: Decimal
    kb: KnowledgeBase | None = None
    llm: Callable[[], LLMSession | None] = lambda: None
    fill_model: FillModel = DEFAULT_FILL_MODEL
    models: ModelCache = field(default_factory=ModelCache)
    rules: RulesConfig = field(default_factory=RulesConfig)
    recorder: Recorder = field(default_factory=NullRecorder)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CurveStats(_Model):
    final_equity: Decimal
    total_return: float
    sharpe: float | None
    max_drawdown: float


class CurvePoint(_Model):
    at: datetime
    agent: Decimal
    buy_hold: Decimal


class BacktestStep(_Model):
    """One decision and what the agent saw when it made it."""

    as_of: datetime
    saw_last_bar_open: datetime
    saw_quote: Decimal
    saw_documents: list[str]
    newest_document_at: datetime | None
    outcome: str
    decision: str
    orders: list[str]
    position: Decimal  # held before the decision
    equity: Decimal  # marked at the decision's quote, before it
    llm_calls: int


class BacktestFill(_Model):
    at: datetime
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal


class LLMUsage(_Model):
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)


class AgentBacktestReport(_Model):
    symbol: str
    timeframe: str
    every: str
    start: datetime
    end: datetime
    reasoned_by: str
    first_decision: datetime
    final_mark: datetime
    decisions: int
    outcomes: dict[str, int]
    orders: int
    trades: int
    fees_paid: Decimal
    initial_cash: Decimal
    agent: CurveStats
    buy_hold: CurveStats
    llm: LLMUsage
    elapsed_s: float
    first_decision_s: float  # includes loading the models
    decisions_per_s: float | None  # after the first (models loaded)
    assumptions: dict[str, str]
    notes: list[str]
    curve: list[CurvePoint]
    fills: list[BacktestFill]
    steps: list[BacktestStep]


def backtest_agent(
    deps: BacktestDeps, symbol: str, start: datetime, end: datetime, every: str,
    progress: Progress | None = None, *, timeframe: str = "1d",
) -> AgentBacktestReport:  # fmt: skip
    """Walk the agent graph from ``start`` to ``end``, deciding every ``every``."""
    sym, tf, step = Symbol(symbol), Timeframe(timeframe), Timeframe(every)
    if step.seconds < tf.seconds:
        raise ConfigError(f"--every {step} is shorter than the {tf} bars it decides on")
    if end <= start:
        raise ConfigError(f"--end {end:%Y-%m-%d} is not after --start {start:%Y-%m-%d}")
    frame = deps.store.bars(str(sym), str(tf))  # the simulated market, never shown to the agent
    schedule = plan(frame.index, tf, start, end, step.delta, str(sym))
    with _one_torch_thread(), tempfile.TemporaryDirectory(prefix="tiller-agent-backtest-") as tmp:
        clock = FixedClock(schedule.decisions[0])
        from core.ledger import open_ledger

        ledger = open_ledger(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}", clock=clock)
        try:
            walk = _Walk(deps, sym, tf, clock, ledger, Feed(frame, sym, tf, schedule.decisions[0]))
            began = time.perf_counter()
            first = 0.0
            for i, as_of in enumerate(schedule.decisions):
                walk.decide(i, as_of)
                first = first or time.perf_counter() - began
                if progress is not None:
                    progress(walk.progress_line(i, len(schedule.decisions)))
            walk.settle(schedule.final)
            elapsed = time.perf_counter() - began
        finally:
            ledger.close()
    return walk.report(start, end, step, elapsed, first)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """The models run one small window per call: two busy torch threads on two shared
    cores collapse (a forecast took 175 ms with 2 threads, 8 ms with 1, here)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Walk:
    """One backtest's moving parts: the clock, the throwaway account and what it saw."""

    def __init__(self, deps: BacktestDeps, symbol: Symbol, tf: Timeframe, clock: FixedClock,
                 ledger: Ledger, feed: Feed) -> None:  # fmt: skip
        from agents.graph import build_graph
        from policies.risk import TokenSigner
        from tools.executor import PaperBroker

        self.deps, self.symbol, self.tf, self.clock, self.feed = deps, symbol, tf, clock, feed
        self.book = Book(symbol, deps.initial_cash)
        self.broker = PaperBroker(
            cash={self.book.quote: deps.initial_cash}, instruments=deps.instruments,
            fill_model=deps.fill_model, clock=clock,
        )  # fmt: skip
        self.signer = TokenSigner(secrets.token_bytes(32))  # never the user's key
        self.executor = self._executor(ledger, self.signer)
        self.graph = build_graph(None)  # no checkpoints: nothing here is ever resumed
        self.kb = (
            None if deps.kb is None else replace(deps.kb, embedder=MemoEmbedder(deps.kb.embedder))
        )
        self.steps: list[BacktestStep] = []
        self.curve: list[tuple[datetime, Decimal, Decimal]] = []
        self.first_price: Decimal | None = None
        self.llm = LLMUsage()
        self.orders = 0
        self.labels: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    def _executor(self, ledger: Ledger, signer: TokenSigner) -> Executor:
        from tools.executor import Executor, startup

        executor = Executor(
            broker=self.broker, ledger=ledger, signer=signer, limits=self.deps.limits,
            clock=self.clock, initial_equity=self.deps.initial_cash,
        )  # fmt: skip
        startup(executor)
        return executor

    def _catch_up(self, until: datetime) -> Decimal:
        """Let the market run to ``until``: fills booked, balances recorded; the mark."""
        self.clock.set(until)
        self.book.apply(self.feed.advance(self.broker, until))
        self.executor.sync()
        free = self.broker.balances()
        self.executor.ledger.set_balances(self.broker.venue, [
            Balance(asset, free.get(asset, Decimal(0)), total - free.get(asset, Decimal(0)))
            for asset, total in self.book.totals().items() if total > 0
        ])  # fmt: skip
        price = self.feed.close_at(until)
        if self.first_price is None:
            self.first_price = price
        buy_hold = self.deps.initial_cash * price / self.first_price
        self.curve.append((until, self.book.equity(price), buy_hold))
        return price

    def decide(self, i: int, as_of: datetime) -> None:
        self._catch_up(as_of)
        position, equity = self.book.quantity, self.curve[-1][1]
        session = self.deps.llm()
        ctx = AgentContext(
            store=self.deps.store, clock=self.clock, limits=self.deps.limits,
            signer=self.signer, instruments=self.deps.instruments,
            executor_factory=lambda _clock: self.executor,
            forecaster_roots=self.deps.forecaster_roots, policy_roots=self.deps.policy_roots,
            kb=self.kb, llm=session, recorder=self.deps.recorder, rules=self.deps.rules,
            currency=self.book.quote, initial_cash=self.deps.initial_cash,
            models=self.deps.models, fill_on_quote=False,
        )  # fmt: skip
        request = RunRequest(symbols=[str(self.symbol)], as_of=as_of, mode="auto",
                             timeframe=str(self.tf))  # fmt: skip
        # fixed_clock stays False: that flag means "the data ends before now", which is
        # not why this run is in the past (its note would say so wrongly).
        state = self.graph.invoke(
            {"run_id": f"backtest-{i:05d}", "request": request.model_dump(mode="json"),
             "as_of": as_of.isoformat(), "fixed_clock": False, "notes": []},
            context=ctx,
        )  # fmt: skip
        calls = list(session.calls) if session is not None else []
        self._count(state, calls)
        self.steps.append(self._step(state, as_of, position, equity, len(calls)))

    def _count(self, state: dict[str, Any], calls: list[Any]) -> None:
        self.orders += len(state.get("orders", []))
        self.labels[state.get("proposed_by") or OFFLINE_LABEL] += 1
        for note in state.get("notes", []):
            self.notes[note] += 1
        for key, tool in (("forecasts", "forecaster"), ("policy", "policy")):
            signal = (state.get(key) or {}).get(str(self.symbol))
            if signal and signal.get("uses_future_data"):
                self.notes[f"the {tool} was trained on bars after the decision, so the "
                           "rules gave it no weight"] += 1  # fmt: skip
        fresh = [c for c in calls if not c.cached]
        self.llm = LLMUsage(
            calls=self.llm.calls + len(calls), cached=self.llm.cached + len(calls) - len(fresh),
            prompt_tokens=self.llm.prompt_tokens + sum(c.prompt_tokens for c in fresh),
            completion_tokens=self.llm.completion_tokens + sum(c.completion_tokens for c in fresh),
            cost_usd=self.llm.cost_usd + sum((Decimal(c.cost_usd) for c in fresh), Decimal(0)),
        )  # fmt: skip

    def _step(self, state: dict[str, Any], as_of: datetime, position: Decimal,
              equity: Decimal, calls: int) -> BacktestStep:  # fmt: skip
        snap = state["snapshots"][str(self.symbol)]
        evidence = (state.get("analysis") or {}).get(str(self.symbol), {}).get("evidence", [])
        dates = [e["published_at"] for e in evidence if e.get("published_at")]
        return BacktestStep(
            as_of=as_of, saw_last_bar_open=snap["last_bar_open"], saw_quote=snap["quote"]["last"],
            saw_documents=sorted({e["doc_id"] for e in evidence}),
            newest_document_at=max(dates) if dates else None,
            outcome=state.get("outcome", "failed"), decision=state.get("proposal_summary", ""),
            orders=[f"{o['side']} {o['quantity']} {o['symbol']}: {o['status']}"
                    for o in state.get("orders", [])],
            position=position, equity=_cents(equity), llm_calls=calls,
        )  # fmt: skip

    def settle(self, final: datetime) -> None:
        """The last decision's orders fill on the bars after it; mark at the window's end."""
        self._catch_up(final)

    def progress_line(self, i: int, total: int) -> dict[str, Any]:
        last = self.steps[-1]
        return {"step": i + 1, "steps": total, "as_of": last.as_of.isoformat(),
                "outcome": last.outcome, "equity": str(last.equity)}  # fmt: skip

    def report(
        self, start: datetime, end: datetime, every: Timeframe, elapsed: float, first: float
    ) -> AgentBacktestReport:
        from tools.backtest import periods_per_year

        ppy = periods_per_year(str(self.symbol), str(every))
        agent = figures([a for _, a, _ in self.curve], ppy)
        hold = figures([b for _, _, b in self.curve], ppy)
        decisions = len(self.steps)
        return AgentBacktestReport(
            symbol=str(self.symbol), timeframe=str(self.tf), every=str(every), start=start,
            end=end, reasoned_by=" / ".join(sorted(self.labels)),
            first_decision=self.steps[0].as_of, final_mark=self.curve[-1][0],
            decisions=decisions, outcomes=dict(Counter(s.outcome for s in self.steps)),
            orders=self.orders, trades=self.book.fills, fees_paid=_cents(self.book.fees),
            initial_cash=self.deps.initial_cash,
            agent=CurveStats(final_equity=_cents(self.curve[-1][1]), **vars(agent)),
            buy_hold=CurveStats(final_equity=_cents(self.curve[-1][2]), **vars(hold)),
            llm=self.llm, elapsed_s=elapsed, first_decision_s=first,
            decisions_per_s=(decisions - 1) / (elapsed - first) if decisions > 1 else None,
            assumptions=self._assumptions(ppy), notes=[
                f"{note} ({n} of {decisions} decisions)" for note, n in self.notes.items()
            ],
            curve=[CurvePoint(at=t, agent=_cents(a), buy_hold=_cents(b)) for t, a, b in self.curve],
            fills=[BacktestFill(at=f.timestamp, side=f.side.value, quantity=f.quantity,
                                price=f.price, fee=f.fee) for f in self.book.history],
            steps=self.steps,
        )  # fmt: skip

    def _assumptions(self, ppy: float) -> dict[str, str]:
        model = self.deps.fill_model
        return {
            "decisions": "the whole agent graph in auto mode at each step, as of a bar's close "
            "(market data and knowledge base point in time)",
            "fills": f"paper broker at the next bar's open, fee {model.fee_rate * 100:g}% "
            f"and slippage {model.slippage * 100:g}% per fill; market orders become limits "
            "at the risk officer's collar",
            "buy_hold": "the symbol held from the first decision's close to the final mark, "
            "no costs (the data's own return over the window)",
            "marks": "equity marked at each decision's close (before it) and at the close "
            "of the window's last bar",
            "sharpe": f"per-step simple returns, risk-free rate 0, {ppy:g} steps a year",
            "account": "a throwaway ledger and paper account; the user's are not touched",
        }
