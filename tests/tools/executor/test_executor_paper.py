"""The executor over the paper broker: the whole path offline, and the loss cooldown
fed from closed round trips."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.ledger import open_ledger
from core.types import Bar, Instrument, OrderIntent, Quote, Side, Symbol
from policies.risk import Approved, MarketView, PortfolioView, TokenSigner, check, load_limits
from tools.executor import Executor, FillModel, PaperBroker, startup
from tools.executor._executor import closed_trade_pnl

AAPL = Symbol("AAPL")
T0 = datetime(2024, 1, 2, 15, tzinfo=UTC)
SIGNER = TokenSigner(b"paper-test-key-0123456789abcdef0")
LIMITS = load_limits(None)
INSTRUMENT = Instrument(symbol=AAPL, tick_size=Decimal("0.01"), lot_size=Decimal(1))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Executor, PaperBroker, FixedClock]]:
    clock = FixedClock(T0)
    broker = PaperBroker(
        {"USD": Decimal(100_000)}, [INSTRUMENT], FillModel(Decimal("0.001"), Decimal(0)), clock
    )
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}", clock=clock) as ledger:
        executor = Executor(broker=broker, ledger=ledger, signer=SIGNER, limits=LIMITS,
                            clock=clock, initial_equity=Decimal(100_000))  # fmt: skip
        startup(executor)
        yield executor, broker, clock


def trade(
    executor: Executor, broker: PaperBroker, clock: FixedClock, side: Side, price: str, n: int
) -> None:
    clock.advance(timedelta(minutes=5))
    now = clock.now()
    quote = Quote(symbol=AAPL, timestamp=now, last=Decimal(price))
    broker.on_quote(quote)
    held = {p.symbol: p.quantity for p in executor.ledger.positions()}
    proposal = OrderIntent(
        intent_id=f"t{n}", symbol=AAPL, side=side, quantity=Decimal(10), created_at=now
    )
    decision = check(proposal, PortfolioView(cash=Decimal(100_000), positions=held),
                     MarketView({AAPL: quote}, {AAPL: INSTRUMENT}), LIMITS,
                     executor.risk_state(), now, signer=SIGNER)  # fmt: skip
    assert isinstance(decision, Approved), decision
    executor.submit(decision)
    clock.advance(timedelta(minutes=1))
    p = Decimal(price)
    bar = Bar(symbol=AAPL, timeframe="1m", open_time=clock.now(), open=p, high=p * 2,
              low=p / 2, close=p, volume=Decimal(1000))  # fmt: skip
    executor.record_fills(broker.on_bar(bar))


def test_three_losing_round_trips_start_the_cooldown(world) -> None:  # type: ignore[no-untyped-def]
    executor, broker, clock = world
    for i in range(3):
        trade(executor, broker, clock, Side.BUY, "100", 2 * i)
        trade(executor, broker, clock, Side.SELL, "95", 2 * i + 1)
    state = executor.risk_state()
    assert state.cooldown_until is not None and state.cooldown_until > clock.now()
    assert executor.ledger.positions()[0].quantity == 0
    assert executor.ledger.audit.verify().ok


def test_closed_trade_pnl_counts_only_the_last_round_trip_net_of_fees(world) -> None:  # type: ignore[no-untyped-def]
    executor, broker, clock = world
    trade(executor, broker, clock, Side.BUY, "100", 0)
    trade(executor, broker, clock, Side.SELL, "110", 1)  # +100 before fees
    trade(executor, broker, clock, Side.BUY, "100", 2)
    trade(executor, broker, clock, Side.SELL, "90", 3)  # -100 before fees
    fills = executor.ledger.fills()
    fees = sum(f.fee for f in fills[2:])
    assert closed_trade_pnl(fills) == Decimal(-100) - fees
    assert executor.risk_state().consecutive_losses == 1
