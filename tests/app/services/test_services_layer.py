"""The service layer called directly, as the CLI, the API and the chat call it: each takes
and returns pydantic models. One container for the module (on bundled data)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.bootstrap import Container, build
from app.services import backtests, health, idempotency, keys, knowledge, market, portfolio
from app.services import usage as usage_svc
from app.services.audit import verify
from app.services.backtests import BacktestRequest
from app.services.knowledge import AskRequest
from app.services.strategy import StrategyRefusedError, StrategyUnclearError, parse_view
from app.services.strategy import read_strategy as read
from core.errors import NotFoundError

SMA_TEXT = "buy when the 10-day moving average crosses above the 50-day, sell when it crosses below"


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Container:
    return build(home=tmp_path_factory.mktemp("services") / "home")


def test_bars_as_of_a_date_end_with_the_last_bar_closed_by_then(c: Container) -> None:
    as_of = datetime(2010, 1, 6, tzinfo=UTC)
    view = market.bars(c, "aapl", as_of=as_of, limit=3)
    assert view.symbol == "AAPL" and len(view.bars) == 3
    assert view.bars[-1].open_time == datetime(2010, 1, 5, tzinfo=UTC)  # closed at the 6th
    with pytest.raises(NotFoundError):
        market.bars(c, "NOSUCH")


def test_a_backtest_from_a_preset_a_spec_or_english_reports_the_same_engine(c: Container) -> None:
    preset = backtests.backtest(c, BacktestRequest(preset="sma-cross", symbol="AAPL"))
    assert preset.parse is None and preset.result.symbol == "AAPL"
    assert preset.result.n_trades > 0 and preset.result.sharpe is not None
    text = backtests.backtest(c, BacktestRequest(text=SMA_TEXT, fee=0.0005))
    assert text.parse is not None and text.parse.kind == "spec"
    assert text.result.assumptions["fee_rate"] == 0.0005
    assert "10" in str(text.parse.canonical_text)


def test_a_backtest_needs_exactly_one_strategy(c: Container) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        BacktestRequest(preset="sma-cross", text=SMA_TEXT)
    with pytest.raises(ValidationError, match="exactly one"):
        BacktestRequest()


def test_english_that_leaves_something_open_is_a_question_and_a_backtest_says_so(
    c: Container,
) -> None:
    outcome = read(c, "buy when the moving average crosses")
    assert parse_view(outcome).kind == "question"
    with pytest.raises(StrategyUnclearError):
        backtests.backtest(c, BacktestRequest(text="buy when the moving average crosses"))
    with pytest.raises(StrategyRefusedError) as refused:
        read(c, "raise my position limit to 50% and buy")
    assert refused.value.hint


def test_an_empty_account_is_all_cash_and_has_no_orders(c: Container) -> None:
    book = portfolio.portfolio(c)
    assert book.cash == book.equity == Decimal(100_000) and book.positions == []
    assert portfolio.orders(c) == []
    status = portfolio.risk_status(c)
    assert status.state["trading_state"] == "active" and status.audit_chain_ok
    with pytest.raises(Exception, match="unknown order status"):
        portfolio.orders(c, status="nonsense")


def test_questions_are_answered_with_citations_and_never_from_later_documents(
    c: Container,
) -> None:
    answer = knowledge.ask(c, AskRequest(question="How does a trailing stop work?"))
    assert answer.mode == "extractive" and answer.citations
    assert all(f"[{x.n}]" in answer.answer for x in answer.citations)
    news = {"question": "What did Apple announce?", "collection": "news", "tickers": ["AAPL"]}
    late = knowledge.ask(c, AskRequest(**news))
    dates = sorted(str(x.model_extra["date"]) for x in late.citations)  # type: ignore[index]
    assert dates and dates[-1] >= "2012-10"
    cut = datetime(2012, 10, 1, tzinfo=UTC)
    early = knowledge.ask(c, AskRequest(**news, as_of=cut))
    assert all(str(x.model_extra["date"]) < cut.isoformat() for x in early.citations)  # type: ignore[index]


def test_keys_are_checked_by_hash_roles_nest_and_revocation_is_immediate(c: Container) -> None:
    made = keys.create_key(c, keys.KeyRequest(name="svc", role="trader"))
    assert keys.authenticate(c, made.key) == keys.KeyInfo(**made.model_dump(exclude={"key"}))
    assert keys.authenticate(c, made.key[:-1] + "x") is None
    assert keys.allows("admin", "trader") and keys.allows("trader", "viewer")
    assert not keys.allows("viewer", "trader")
    keys.revoke_key(c, made.id)
    assert keys.authenticate(c, made.key) is None
    with pytest.raises(NotFoundError):
        keys.revoke_key(c, "ffffffffffff")


def test_an_idempotency_key_returns_the_stored_answer_and_refuses_another_request(
    c: Container,
) -> None:
    digest = idempotency.request_hash("POST /x", {"a": 1})
    assert idempotency.claim(c, "k1", "i1", "POST /x", digest) is None
    idempotency.complete(c, "k1", "i1", 202, {"run_id": "r1"})
    stored = idempotency.claim(c, "k1", "i1", "POST /x", digest)
    assert stored == idempotency.Stored(202, {"run_id": "r1"})
    other = idempotency.request_hash("POST /x", {"a": 2})
    with pytest.raises(idempotency.IdempotencyConflictError, match="different request"):
        idempotency.claim(c, "k1", "i1", "POST /x", other)
    assert idempotency.claim(c, "k2", "i1", "POST /x", digest) is None  # per API key


def test_a_keys_daily_llm_budget_is_reserved_per_request_and_refunded(tmp_path: Path) -> None:
    c = build(home=tmp_path / "home", llm_base_url="http://127.0.0.1:9/v1", llm_model="m",
              llm_max_cost_per_run_usd=Decimal("0.40"),
              api_llm_budget_per_key_usd_per_day=Decimal("1.00"))  # fmt: skip
    first = usage_svc.reserve(c, "k")
    second = usage_svc.reserve(c, "k")
    with pytest.raises(usage_svc.BudgetSpentError) as spent:
        usage_svc.reserve(c, "k")
    assert 0 < spent.value.retry_after <= 86_400
    assert usage_svc.reserve(c, "other-key") is not None
    usage_svc.settle(c, first, Decimal("0.05"))
    usage_svc.settle(c, second, Decimal(0))
    assert usage_svc.spent_today(c, "k") == Decimal("0.05")
    assert usage_svc.reserve(c, "k") is not None


def test_readiness_checks_the_database_the_store_and_the_models(c: Container) -> None:
    report = health.readiness(c)
    assert report.ready and [k.name for k in report.checks] == ["database", "market_data", "models"]


def test_audit_verify_reports_an_intact_chain(c: Container) -> None:
    report = verify(c)
    assert report.ok and report.entries == report.head_seq and not report.halted_now
