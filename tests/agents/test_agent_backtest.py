"""Backtesting the agent: the whole graph walked through bundled AAPL history, point in
time (a planted future bar and a planted future news item are never seen early), filled
at the next bar's open, against buy-and-hold, on a throwaway account."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from agents.backtest import AgentBacktestReport, BacktestDeps, backtest_agent
from agents.models import OFFLINE_LABEL
from agents.signals import ModelCache
from core.errors import DataError
from core.types import Instrument, Symbol
from knowledge_base import make_doc_id
from policies.risk import load_limits
from tools.forecaster import SHIPPED_DIR as FORECASTERS
from tools.market_data import BarStore, bundled_frame, open_store
from tools.policy import SHIPPED_DIR as POLICIES

AAPL = Symbol("AAPL")
SLIPPAGE = Decimal("0.0005")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class _Events:
    """Records what every node reported, one list per decision (a decision starts with
    gather's market-data call)."""

    def __init__(self) -> None:
        self.steps: list[list[tuple[str, str, dict[str, Any]]]] = []

    def event(self, node: str, kind: str, payload: Mapping[str, Any]) -> None:
        # gather reports several events (started, its tool call, finished): a decision
        # starts with the first of them
        if node == "gather" and (
            not self.steps or any(n != "gather" for n, _, _ in self.steps[-1])
        ):
            self.steps.append([])
        self.steps[-1].append((node, kind, json.loads(json.dumps(payload, default=str))))

    def tool(self, step: int, name: str) -> dict[str, Any]:
        return next(p for n, k, p in self.steps[step] if p.get("tool") == name)


@pytest.fixture(scope="module")
def models() -> ModelCache:
    """One cache for the module: the shipped models load once, as in one backtest."""
    return ModelCache()


def _store(folder: Path, frame: pd.DataFrame) -> BarStore:
    store = open_store(folder)
    store.write("AAPL", "1d", frame, source="test")
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> BarStore:
    return _store(tmp_path_factory.mktemp("bars"), bundled_frame("AAPL"))


def _deps(store: BarStore, models: ModelCache, **extra: Any) -> BacktestDeps:
    instruments = {AAPL: Instrument(symbol=AAPL, venue="paper", lot_size=Decimal(1))}
    return BacktestDeps(
        store=store, limits=load_limits(None), instruments=instruments,
        forecaster_roots=[FORECASTERS], policy_roots=[POLICIES],
        initial_cash=Decimal(100_000), models=models, **extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def half_year(store: BarStore, models: ModelCache) -> AgentBacktestReport:
    deps = _deps(store, models)
    return backtest_agent(deps, "AAPL", _utc("2012-01-01"), _utc("2012-06-30"), "1w")


def test_backtest_when_a_spike_is_planted_after_a_step_then_no_earlier_step_sees_it(
    store: BarStore, models: ModelCache, tmp_path: Path
) -> None:
    frame = bundled_frame("AAPL")
    spike = pd.Timestamp("2012-02-14", tz="UTC")  # opens at the close a step decides at
    frame.loc[spike, ["high", "close"]] = frame.loc[spike, "open"] * 50
    spiked = _store(tmp_path / "spiked", frame)
    window = (_utc("2012-01-23"), _utc("2012-02-25"))
    seen, seen_spiked = _Events(), _Events()

    plain = backtest_agent(_deps(store, models, recorder=seen), "AAPL", *window, "1w")
    planted = backtest_agent(_deps(spiked, models, recorder=seen_spiked), "AAPL", *window, "1w")

    before = [i for i, s in enumerate(plain.steps) if s.as_of <= spike]
    assert [s.as_of.day for s in plain.steps[: len(before)]] == [24, 31, 7, 14]
    for i in before:
        assert planted.steps[i] == plain.steps[i]
        for tool in ("market_data.bars", "forecaster", "policy"):
            assert seen_spiked.tool(i, tool) == seen.tool(i, tool)
    after = len(before)  # the first step once the spike bar has closed
    assert planted.steps[after].decision != plain.steps[after].decision


@pytest.fixture
def news_kb(tmp_path: Path, embedder: Any) -> Any:
    from rag_index.service import KnowledgeBase
    from rag_index.stores import LocalStore

    items = [
        {"id": "early", "published_at": "2012-01-10T21:30:00Z", "tickers": ["AAPL"],
         "title": "Apple guidance", "source": "test desk",
         "text": "Apple raised its revenue guidance on strong iPhone demand."},
        {"id": "future", "published_at": "2012-02-08T00:00:01Z", "tickers": ["AAPL"],
         "title": "Apple warning", "source": "test desk",
         "text": "Apple cut its earnings outlook and warned of weak demand and rising risks."},
    ]  # fmt: skip
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items), encoding="utf-8")
    kb = KnowledgeBase(LocalStore(tmp_path / "kb", embedder.dim), embedder)
    report = kb.ingest(path, collection="news")
    assert len(report.added) == 2
    yield kb
    kb.close()


def test_backtest_when_news_is_published_after_a_step_then_that_step_never_cites_it(
    store: BarStore, models: ModelCache, news_kb: Any
) -> None:
    early, future = make_doc_id("news:early"), make_doc_id("news:future")
    deps = _deps(store, models, kb=news_kb)

    report = backtest_agent(deps, "AAPL", _utc("2012-01-01"), _utc("2012-02-20"), "1w")

    by_day = {s.as_of.date().isoformat(): s for s in report.steps}
    for step in report.steps:
        assert step.newest_document_at is None or step.newest_document_at <= step.as_of
    assert by_day["2012-01-04"].saw_documents == []
    assert early in by_day["2012-01-11"].saw_documents
    # Decided at 2012-02-08 00:00:00, one second before the warning was published.
    assert future not in by_day["2012-02-08"].saw_documents
    assert future in by_day["2012-02-15"].saw_documents


def test_backtest_buy_and_hold_when_compared_with_stored_closes_then_matches_the_data(
    half_year: AgentBacktestReport,
) -> None:
    closes = bundled_frame("AAPL")["close"]
    first = closes[pd.Timestamp("2012-01-03", tz="UTC")]  # closes at the first decision
    last = closes[pd.Timestamp("2012-06-29", tz="UTC")]  # the window's last bar

    assert half_year.first_decision == _utc("2012-01-04")
    assert half_year.final_mark == _utc("2012-06-30")
    assert half_year.buy_hold.total_return == pytest.approx(last / first - 1, rel=1e-9)
    assert half_year.buy_hold.final_equity == pytest.approx(Decimal(100_000) * Decimal(
        str(last)) / Decimal(str(first)), abs=Decimal("0.01"))  # fmt: skip


def test_backtest_offline_half_year_then_reports_both_curves_labelled_offline(
    half_year: AgentBacktestReport,
) -> None:
    assert half_year.reasoned_by == OFFLINE_LABEL
    assert half_year.decisions == 26 == len(half_year.steps)
    assert len(half_year.curve) == 27  # a mark before each decision, and the final one
    assert half_year.curve[0].agent == half_year.curve[0].buy_hold == Decimal(100_000)
    assert half_year.agent.final_equity == half_year.curve[-1].agent
    assert half_year.trades >= 1 and half_year.agent.final_equity != Decimal(100_000)
    assert half_year.llm.calls == 0 and half_year.llm.cost_usd == 0
    assert sum(half_year.outcomes.values()) == 26
    for step in half_year.steps:  # each step saw exactly the bar that closed at its as-of
        assert step.saw_last_bar_open + pd.Timedelta(days=1) == step.as_of


def test_backtest_fills_when_the_agent_trades_then_at_the_next_bars_open(
    half_year: AgentBacktestReport,
) -> None:
    bars = bundled_frame("AAPL")
    decided = [s.as_of for s in half_year.steps if s.orders]
    assert len(half_year.fills) == len(decided)
    for fill, as_of in zip(half_year.fills, decided, strict=True):
        next_open = bars.index[bars.index >= pd.Timestamp(as_of)][0]
        assert fill.at == next_open.to_pydatetime()
        sign = 1 if fill.side == "buy" else -1
        expected = Decimal(str(bars.loc[next_open, "open"])) * (1 + sign * SLIPPAGE)
        assert fill.price == expected


def test_backtest_when_the_window_holds_one_bar_then_data_error_names_the_range(
    store: BarStore, models: ModelCache
) -> None:
    with pytest.raises(DataError, match="fewer than two 1d bars of AAPL") as caught:
        backtest_agent(
            _deps(store, models), "AAPL", _utc("2012-01-03"), _utc("2012-01-03T12:00"), "1w"
        )
    assert "2000-03-01 → 2013-03-01" in str(caught.value)


def test_backtest_cli_then_reports_json_and_leaves_the_users_ledger_untouched() -> None:
    from app.bootstrap import build
    from app.cli.run_backtest import backtest

    user = build()
    before = (user.ledger.audit.head(), user.ledger.balances(), user.ledger.orders())
    app = typer.Typer()
    app.command("backtest")(backtest)
    app.command("version")(lambda: None)  # two commands: "backtest" stays a subcommand
    args = ["backtest", "--symbol", "AAPL", "--start", "2012-01-01", "--end", "2012-02-29",
            "--no-kb", "--json"]  # fmt: skip

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["reasoned_by"] == OFFLINE_LABEL and report["trades"] >= 1
    assert {"agent", "buy_hold", "curve", "llm"} <= set(report) and "steps" not in report
    after = build()
    assert (after.ledger.audit.head(), after.ledger.balances(), after.ledger.orders()) == before
    assert not (after.settings.state_path / "checkpoints.sqlite3").exists()


def _proposer_answers(body: dict[str, Any]) -> Any:
    from tests.fakes.openai_server import Structured

    return Structured({"proposals": [{"symbol": "AAPL", "side": "buy", "quantity": "3",
                                      "rationale": "scripted", "confidence": 0.5}],
                       "summary": "scripted: buy 3"})  # fmt: skip


def test_backtest_with_an_llm_when_rerun_then_answers_come_from_the_cache_for_free() -> None:
    from app.bootstrap import build
    from app.services.agent_backtest import AgentBacktestRequest, backtest_agent_run
    from tests.fakes.openai_server import FakeOpenAI, llm_overrides

    request = AgentBacktestRequest(symbol="AAPL", start=_utc("2012-01-01"),
                                   end=_utc("2012-01-20"), knowledge_base=False)  # fmt: skip
    with FakeOpenAI(_proposer_answers) as server:
        first = backtest_agent_run(build(**llm_overrides(server)), request)
        asked = len(server.requests)
        again = backtest_agent_run(build(**llm_overrides(server)), request)

    assert first.reasoned_by == "LLM test-model" and first.decisions == 3
    assert asked == first.llm.calls == 3 and first.llm.cached == 0
    assert first.llm.prompt_tokens > 0 and first.trades >= 1
    assert len(server.requests) == asked  # the rerun reached no model
    assert again.llm.calls == again.llm.cached == 3 and again.llm.prompt_tokens == 0
    assert again.steps == first.steps and again.fills == first.fills
