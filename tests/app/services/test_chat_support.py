"""The services the chat adds: reading what a message asks for, a strategy beside
buy-and-hold, the paper account's equity rebuilt from its fills."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.bootstrap import Container, build
from app.services.account_history import account_history, fills
from app.services.chat_support import StrategyRunRequest, route_message, strategy_backtest
from app.services.strategy import StrategyRefusedError
from core.types import Fill, OrderIntent, OrderType, Side, Symbol


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Container:
    return build(home=tmp_path_factory.mktemp("chat-services") / "home")


@pytest.mark.parametrize(
    ("text", "kind", "symbols"),
    [
        ("run the agents on AAPL", "agents", ["AAPL"]),
        ("Run the agents on msft and ibm", "agents", ["MSFT", "IBM"]),
        ("what should the agents do for GOOG", "agents", ["GOOG"]),
        ("How does a trailing stop work in a backtest?", "question", []),
        ("What did Apple report in January 2013", "question", []),
        ("tell me about RSI, and when to buy", "question", []),
        ("buy when the 10-day moving average crosses above the 50-day", "strategy", []),
        ("Buy FB when RSI(14) drops below 30, sell when it rises above 70", "strategy", ["FB"]),
        ("backtest a 20/100 crossover on IBM", "strategy", ["IBM"]),
    ],
)
def test_a_message_is_read_as_a_question_a_strategy_or_an_agent_run(
    c: Container, text: str, kind: str, symbols: list[str]
) -> None:
    intent = route_message(c, text)
    assert (intent.kind, intent.symbols, intent.routed_by) == (kind, symbols, "offline rules")


def test_an_agent_run_without_a_stored_symbol_asks_which_one(c: Container) -> None:
    assert "Which symbol" in str(route_message(c, "run the agents").question)
    unknown = route_message(c, "run the agents on TSLA")
    assert unknown.unknown == ["TSLA"] and "TSLA has no stored prices" in str(unknown.question)
    assert "a" not in route_message(c, "run the agents on a stock").unknown


def test_what_the_person_chose_beats_the_rules(c: Container) -> None:
    intent = route_message(c, "run the agents on AAPL", force="question")
    assert (intent.kind, intent.forced) == ("question", True)


def test_a_strategy_and_buy_and_hold_share_bars_cash_and_fees(c: Container) -> None:
    start, end = datetime(2005, 1, 1, tzinfo=UTC), datetime(2007, 12, 31, tzinfo=UTC)
    text = "buy when the 10-day moving average crosses above the 50-day, sell when it crosses below"
    run = strategy_backtest(c, StrategyRunRequest(text=text, symbol="MSFT", start=start, end=end,
                                                  fee=0.002))  # fmt: skip
    assert run.kind == "backtest" and run.equity and run.buy_hold and run.drawdown
    assert run.equity.times == run.buy_hold.times == run.drawdown.times
    assert run.equity.times[0] >= start and run.equity.times[-1] <= end
    assert run.assumptions["fee_rate"] == 0.002
    assert run.metrics["final_equity"] == pytest.approx(run.equity.values[-1])
    assert run.buy_hold_metrics["n_trades"] == 1 and run.buy_hold_metrics["bars"] == len(
        run.equity.times
    )
    assert min(run.drawdown.values) == pytest.approx(-run.metrics["max_drawdown"])
    assert max(run.drawdown.values) == 0.0


def test_an_unclear_strategy_is_a_question_and_nothing_runs(c: Container) -> None:
    run = strategy_backtest(c, StrategyRunRequest(text="buy when RSI is low"))
    assert run.kind == "question" and run.equity is None
    assert "Below which level" in str(run.parse.question)
    with pytest.raises(StrategyRefusedError) as refused:
        strategy_backtest(c, StrategyRunRequest(text="buy when rsi(14) below 30, sell above 70"))
    assert refused.value.hint


def test_the_account_history_is_rebuilt_from_fills_with_positions_at_each_close(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    c = build(home=tmp_path_factory.mktemp("account") / "home")
    assert account_history(c).points == []
    fill(c, 1, Side.BUY, "10", "60", datetime(2013, 2, 25, 21, tzinfo=UTC))
    fill(c, 2, Side.SELL, "4", "62", datetime(2013, 2, 27, 21, tzinfo=UTC))

    points = account_history(c).points
    day = [datetime(2013, 2, d, tzinfo=UTC) for d in (26, 27, 28)]
    closes = [datetime(2013, 3, 1, tzinfo=UTC), datetime(2013, 3, 2, tzinfo=UTC)]
    opening = datetime(2013, 2, 23, tzinfo=UTC)  # the close of Friday the 22nd's bar
    assert [p.at for p in points] == [
        opening, datetime(2013, 2, 25, 21, tzinfo=UTC), day[0], day[1],
        datetime(2013, 2, 27, 21, tzinfo=UTC), day[2], *closes,
    ]  # fmt: skip
    bars = c.store.bars("AAPL", "1d")["close"]
    before = Decimal(str(bars[: datetime(2013, 2, 22, tzinfo=UTC)].iloc[-1]))
    assert (points[0].equity, points[0].holdings) == (100_000, 0)
    assert points[1].cash == Decimal(100_000) - 600 - 1
    assert points[1].holdings == 10 * before  # the last close before the fill, not after
    last = points[-1]
    assert last.cash == Decimal(100_000) - 600 - 1 + 248 - 1
    assert last.holdings == 6 * Decimal(str(bars.iloc[-1]))
    assert last.equity == last.cash + last.holdings
    assert [f.fill_id for f in fills(c)] == ["f2", "f1"]  # newest first


def fill(c: Container, n: int, side: Side, qty: str, price: str, at: datetime) -> None:
    intent = OrderIntent(
        intent_id=f"i{n}", symbol=Symbol("AAPL"), side=side, quantity=Decimal(qty),
        order_type=OrderType.MARKET, venue="paper", created_at=at,
    )  # fmt: skip
    c.ledger.record_order_pending(intent, f"o{n}")
    c.ledger.record_fill(Fill(
        order_id=f"o{n}", fill_id=f"f{n}", symbol=Symbol("AAPL"), side=side,
        quantity=Decimal(qty), price=Decimal(price), fee=Decimal(1), fee_currency="USD",
        timestamp=at,
    ))  # fmt: skip
