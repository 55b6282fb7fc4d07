"""Helpers shared by the executor tests (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import ccxt

from core.settings import Settings
from core.types import Side, Symbol
from tests.fakes.binance_server import FakeBinance
from tools.executor import BrokerOrder
from tools.market_data._fetch import make_exchange

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
BTC = Symbol("BTC/USDT")
# Short, so a reply held back by the fake server times out quickly.
TIMEOUT_MS = 400


def exchange_for(server: FakeBinance, *, sandbox: bool = False) -> ccxt.Exchange:
    settings = Settings(
        _env_file=None,
        exchange_id="binance",
        exchange_api_key="test-key",
        exchange_api_secret="test-secret",
        exchange_timeout_ms=TIMEOUT_MS,
    )
    overrides = server.api_overrides(sandbox=sandbox)
    exchange = make_exchange("binance", settings, api_overrides=overrides, sandbox=sandbox)
    # The fake has no rate limits; ccxt's limiter would only slow the suite down.
    exchange.enableRateLimit = False
    return exchange


def market_buy(cid: str, qty: str = "0.1", symbol: Symbol = BTC) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=cid, symbol=symbol, side=Side.BUY, quantity=Decimal(qty), venue="binance"
    )


def limit_order(cid: str, side: Side, qty: str, price: str, symbol: Symbol = BTC) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        order_type="limit",
        limit_price=Decimal(price),
        venue="binance",
    )


def posts(server: FakeBinance) -> int:
    """How many new-order requests reached the venue."""
    return sum(1 for r in server.requests_to("/api/v3/order") if r.method == "POST")
