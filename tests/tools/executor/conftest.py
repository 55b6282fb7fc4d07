"""A fake Binance on a local port, a ccxt exchange with API keys pointed at it, and a
CcxtBroker over that exchange. Real sockets, real ccxt, no internet."""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import pytest

from core.clock import FixedClock
from tests.fakes.binance_server import FakeBinance
from tests.tools.executor._support import NOW, exchange_for
from tools.executor import CcxtBroker


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance(now=NOW) as fake:
        fake.account.deposit("USDT", "100000")
        fake.account.deposit("BTC", "2")
        yield fake


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def exchange(server: FakeBinance) -> ccxt.Exchange:
    return exchange_for(server)


@pytest.fixture
def broker(exchange: ccxt.Exchange, clock: FixedClock) -> CcxtBroker:
    broker = CcxtBroker(exchange, clock=clock)
    broker.instruments()  # load markets now, so request logs in tests hold only their own
    return broker
