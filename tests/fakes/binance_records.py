"""Orders and trades of the fake Binance account, serialised the way Binance's spot REST
API spells them (decimal strings with 8 places, millisecond times)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.binance_server import Market


def fmt(value: Decimal) -> str:
    return f"{value:.8f}"


@dataclass
class FakeOrder:
    order_id: int
    client_id: str
    market: Market
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET
    quantity: Decimal
    price: Decimal | None  # limit price; None for market orders
    reserved_price: Decimal  # per unit locked at placement: the limit or the market price
    time_in_force: str | None
    time_ms: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    update_ms: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.market.id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_id,
            "price": fmt(self.price or Decimal(0)),
            "origQty": fmt(self.quantity),
            "executedQty": fmt(self.executed),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force or "GTC",
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt(Decimal(0)),
            "icebergQty": fmt(Decimal(0)),
            "time": self.time_ms,
            "updateTime": self.update_ms or self.time_ms,
            "isWorking": True,
            "workingTime": self.time_ms,
            "origQuoteOrderQty": fmt(Decimal(0)),
            "selfTradePreventionMode": "NONE",
        }


@dataclass(frozen=True)
class FakeTrade:
    trade_id: int
    order: FakeOrder
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.order.market.id,
            "id": self.trade_id,
            "orderId": self.order.order_id,
            "orderListId": -1,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "quoteQty": fmt(self.price * self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.order.side == "BUY",
            "isMaker": self.order.type == "LIMIT",
            "isBestMatch": True,
        }

    def fill_json(self) -> dict[str, Any]:
        return {
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }
