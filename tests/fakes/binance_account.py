"""The private half of the fake Binance: one test account with balances, an order book
and a trade history, served over the spot REST endpoints ccxt's ``binance`` calls.

Behaviour copied from Binance's spot API documentation, because the broker's correctness
depends on exactly these details:

- ``newClientOrderId`` must be unique among *open* orders only (a duplicate is refused with
  -2010 "Duplicate order sent."); once the first order is final the id can be reused.
- An unknown order is -2013 "Order does not exist." on a query and -2011 "Unknown order
  sent." on a cancel (also for an order that is already final).
- A cancel answers with ``origClientOrderId`` = the order's id and ``clientOrderId`` = a new
  id naming the cancel itself.
- Market orders fill at once (``FULL`` responses carry the fills); limit orders rest until a
  test fills them with :meth:`FakeAccount.fill`. Commission is charged in the asset received.
- ``myTrades`` answers at most 24 hours per request (startTime alone means the next 24 h).
- Signatures and timestamps are accepted as sent: the fake tests the broker, not HMAC.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from tests.fakes._http import Reply, Request
from tests.fakes.binance_records import FakeOrder, FakeTrade, fmt

if TYPE_CHECKING:
    from tests.fakes.binance_server import FakeBinance, Market

ORDER = "/api/v3/order"
OPEN_ORDERS = "/api/v3/openOrders"
ACCOUNT = "/api/v3/account"
MY_TRADES = "/api/v3/myTrades"

DUPLICATE_ORDER = {"code": -2010, "msg": "Duplicate order sent."}
INSUFFICIENT_BALANCE = {
    "code": -2010,
    "msg": "Account has insufficient balance for requested action.",
}
ORDER_DOES_NOT_EXIST = {"code": -2013, "msg": "Order does not exist."}
UNKNOWN_ORDER = {"code": -2011, "msg": "Unknown order sent."}
STATUS_UNKNOWN = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. "
    "Send status unknown; execution status unknown.",
}
_DAY_MS = 86_400_000
_OPEN = ("NEW", "PARTIALLY_FILLED")


@dataclass
class _Wallet:
    free: Decimal = Decimal(0)
    locked: Decimal = Decimal(0)


@dataclass
class FakeAccount:
    """State and fault knobs of the test account. Every method takes the server's lock,
    so tests may call knobs while ccxt requests are being served."""

    server: FakeBinance
    fee_rate: Decimal = Decimal("0.001")
    hold_market_orders: bool = False  # True: market orders rest as NEW until fill()
    trades_out_of_order: bool = False  # True: myTrades answers newest first
    orders: list[FakeOrder] = field(default_factory=list)
    trades: list[FakeTrade] = field(default_factory=list)
    prices: dict[str, Decimal] = field(default_factory=dict)
    _wallets: dict[str, _Wallet] = field(default_factory=dict)
    _twice: set[int] = field(default_factory=set)
    _unknown_next: list[bool] = field(default_factory=list)
    _order_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _trade_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def install(self) -> None:
        routes: dict[tuple[str, str], Callable[[Request], Reply]] = {
            ("POST", ORDER): self._new_order,
            ("GET", ORDER): self._query_order,
            ("DELETE", ORDER): self._cancel_order,
            ("GET", OPEN_ORDERS): self._open_orders,
            ("GET", ACCOUNT): self._account,
            ("GET", MY_TRADES): self._my_trades,
        }
        for (method, path), handler in routes.items():
            self.server.add_route(method, path, lambda _s, r, h=handler: h(r))

    # -- set-up and inspection (test thread) ------------------------------------------
    def deposit(self, asset: str, amount: Decimal | str) -> None:
        with self._lock:
            self._wallet(asset).free += Decimal(amount)

    def free(self, asset: str) -> Decimal:
        with self._lock:
            return self._wallet(asset).free

    def locked(self, asset: str) -> Decimal:
        with self._lock:
            return self._wallet(asset).locked

    def set_price(self, market_id: str, price: Decimal | str) -> None:
        """The price market orders on ``market_id`` execute at."""
        with self._lock:
            self.prices[market_id] = Decimal(price)

    def order(self, client_id: str) -> FakeOrder | None:
        """The latest order placed with ``client_id`` (ids may be reused once final)."""
        with self._lock:
            return next((o for o in reversed(self.orders) if o.client_id == client_id), None)

    # -- fault knobs --------------------------------------------------------------------
    def accept_then_timeout(self, seconds: float) -> None:
        """Place the next new order, but answer only after ``seconds`` (longer than the
        client's timeout): the client sees a timeout for an order that exists."""
        self.server.delay_next(1, seconds, path=ORDER, method="POST")

    def status_unknown_next(self, *, placed: bool) -> None:
        """Answer the next new order with HTTP 503 and Binance's -1007 "execution status
        unknown", having placed the order (``placed=True``) or not."""
        with self._lock:
            self._unknown_next.append(placed)

    def throttle_next(self, *, retry_after_s: int = 1, times: int = 1) -> None:
        """Refuse the next ``times`` new orders with HTTP 429 and a Retry-After header,
        as Binance does when an order rate limit is broken (nothing is placed)."""
        self.server.fail_next(
            times, 429, path=ORDER, method="POST", headers={"Retry-After": str(retry_after_s)}
        )

    def report_twice(self, trade_id: int) -> None:
        """List this trade twice in every myTrades answer (a duplicate fill report)."""
        with self._lock:
            self._twice.add(trade_id)

    def fill(
        self, client_id: str, qty: Decimal | str | None = None, price: Decimal | str | None = None
    ) -> FakeTrade:
        """Execute ``qty`` (default: all that remains) of an open order at ``price``
        (default: its limit price, else the market price) and return the trade."""
        with self._lock:
            order = self.order(client_id)
            if order is None or order.status not in _OPEN:
                raise ValueError(f"no open order {client_id!r} to fill")
            amount = order.remaining if qty is None else Decimal(qty)
            at = Decimal(price) if price is not None else order.price or self._price(order.market)
            return self._execute(order, amount, at)

    # -- handlers (server threads) ------------------------------------------------------
    def _new_order(self, request: Request) -> Reply:
        with self._lock:
            if self._unknown_next:
                placed = self._unknown_next.pop(0)
                if placed:
                    self._place(_params(request))
                return self._reply(503, STATUS_UNKNOWN)
            return self._place(_params(request))

    def _place(self, p: dict[str, str]) -> Reply:
        market = self.server.markets.get(p.get("symbol", ""))
        if market is None:
            return self._reply(400, {"code": -1121, "msg": "Invalid symbol."})
        missing = [k for k in ("side", "type", "quantity") if not p.get(k)]
        if p.get("type") == "LIMIT":
            missing += [k for k in ("price", "timeInForce") if not p.get(k)]
        if missing:
            msg = f"Mandatory parameter '{missing[0]}' was not sent, was empty/null, or malformed."
            return self._reply(400, {"code": -1102, "msg": msg})
        qty, price = Decimal(p["quantity"]), Decimal(p["price"]) if "price" in p else None
        refusal = self._filter_failure(market, qty, price) or self._duplicate(p)
        if refusal is None:
            refusal = self._reserve(market, p["side"], qty, price or self._price(market))
        if refusal is not None:
            return refusal
        order = FakeOrder(
            order_id=next(self._order_ids),
            client_id=p.get("newClientOrderId") or f"auto-{len(self.orders)}",
            market=market,
            side=p["side"],
            type=p["type"],
            quantity=qty,
            price=price if p["type"] == "LIMIT" else None,
            reserved_price=price or self._price(market),
            time_in_force=p.get("timeInForce"),
            time_ms=self.server.now_ms,
        )
        self.orders.append(order)
        fills = []
        if order.type == "MARKET" and not self.hold_market_orders:
            fills.append(self._execute(order, qty, self._price(market)).fill_json())
        body = {**order.to_json(), "transactTime": self.server.now_ms, "fills": fills}
        return self._reply(200, body)

    def _filter_failure(self, market: Market, qty: Decimal, price: Decimal | None) -> Reply | None:
        if qty <= 0 or qty % Decimal(market.step_size) or qty < Decimal(market.min_qty):
            return self._reply(400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"})
        if price is not None and (price <= 0 or price % Decimal(market.tick_size)):
            return self._reply(400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"})
        if qty * (price or self._price(market)) < Decimal(market.min_notional):
            return self._reply(400, {"code": -1013, "msg": "Filter failure: NOTIONAL"})
        return None

    def _duplicate(self, p: dict[str, str]) -> Reply | None:
        client_id = p.get("newClientOrderId")
        taken = any(o.client_id == client_id and o.status in _OPEN for o in self.orders)
        return self._reply(400, DUPLICATE_ORDER) if client_id and taken else None

    def _reserve(self, market: Market, side: str, qty: Decimal, price: Decimal) -> Reply | None:
        asset, amount = (market.quote, qty * price) if side == "BUY" else (market.base, qty)
        wallet = self._wallet(asset)
        if wallet.free < amount:
            return self._reply(400, INSUFFICIENT_BALANCE)
        wallet.free -= amount
        wallet.locked += amount
        return None

    def _query_order(self, request: Request) -> Reply:
        with self._lock:
            order = self._find(_params(request))
            if order is None:
                return self._reply(400, ORDER_DOES_NOT_EXIST)
            return self._reply(200, order.to_json())

    def _cancel_order(self, request: Request) -> Reply:
        with self._lock:
            p = _params(request)
            order = self._find(p)
            if order is None or order.status not in _OPEN:
                return self._reply(400, UNKNOWN_ORDER)
            self._release(order)
            order.status, order.update_ms = "CANCELED", self.server.now_ms
            body = {
                **order.to_json(),
                "origClientOrderId": order.client_id,
                "clientOrderId": p.get("newClientOrderId") or f"cancel-{order.order_id}",
                "transactTime": self.server.now_ms,
            }
            return self._reply(200, body)

    def _open_orders(self, request: Request) -> Reply:
        with self._lock:
            symbol = _params(request).get("symbol")
            rows = [
                o.to_json()
                for o in self.orders
                if o.status in _OPEN and symbol in (None, o.market.id)
            ]
            return self._reply(200, rows)

    def _account(self, _request: Request) -> Reply:
        with self._lock:
            balances = [
                {"asset": a, "free": fmt(w.free), "locked": fmt(w.locked)}
                for a, w in sorted(self._wallets.items())
            ]
            body = {
                "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                "sellerCommission": 0, "canTrade": True, "canWithdraw": True,
                "canDeposit": True, "brokered": False, "requireSelfTradePrevention": False,
                "updateTime": self.server.now_ms, "accountType": "SPOT",
                "balances": balances, "permissions": ["SPOT"],
            }  # fmt: skip
            return self._reply(200, body)

    def _my_trades(self, request: Request) -> Reply:
        with self._lock:
            p = _params(request)
            start, end = p.get("startTime"), p.get("endTime")
            if start and end and int(end) - int(start) > _DAY_MS:
                msg = "More than 24 hours between startTime and endTime."
                return self._reply(400, {"code": -1127, "msg": msg})
            lo = int(start) if start else (int(end) - _DAY_MS if end else None)
            hi = int(end) if end else (lo + _DAY_MS if lo is not None else None)
            rows = [
                t
                for t in self.trades
                if t.order.market.id == p.get("symbol")
                and (lo is None or lo <= t.time_ms <= (hi or 0))
                and t.trade_id >= int(p.get("fromId", 0))
                and ("orderId" not in p or t.order.order_id == int(p["orderId"]))
            ][: int(p.get("limit", 500))]
            rows = [r for t in rows for r in ([t, t] if t.trade_id in self._twice else [t])]
            if self.trades_out_of_order:
                rows.reverse()
            return self._reply(200, [t.to_json() for t in rows])

    # -- bookkeeping ----------------------------------------------------------------------
    def _execute(self, order: FakeOrder, qty: Decimal, price: Decimal) -> FakeTrade:
        if not 0 < qty <= order.remaining:
            raise ValueError(f"cannot fill {qty} of {order.client_id}: {order.remaining} remain")
        market, notional = order.market, qty * price
        reserved = qty * order.reserved_price  # what _reserve locked for this quantity
        if order.side == "BUY":
            self._wallet(market.quote).locked -= reserved
            self._wallet(market.quote).free += reserved - notional  # price improvement back
            received, asset = qty, market.base
        else:
            self._wallet(market.base).locked -= qty
            received, asset = notional, market.quote
        commission = (received * self.fee_rate).quantize(Decimal("1e-8"), ROUND_DOWN)
        self._wallet(asset).free += received - commission
        order.executed += qty
        order.cum_quote += notional
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        order.update_ms = self.server.now_ms
        trade = FakeTrade(
            next(self._trade_ids), order, price, qty, commission, asset, self.server.now_ms
        )
        self.trades.append(trade)
        return trade

    def _release(self, order: FakeOrder) -> None:
        market = order.market
        if order.side == "BUY":
            amount, wallet = order.remaining * order.reserved_price, self._wallet(market.quote)
        else:
            amount, wallet = order.remaining, self._wallet(market.base)
        wallet.locked -= amount
        wallet.free += amount

    def _find(self, p: dict[str, str]) -> FakeOrder | None:
        mine = [o for o in self.orders if o.market.id == p.get("symbol")]
        if "orderId" in p:
            return next((o for o in mine if o.order_id == int(p["orderId"])), None)
        client_id = p.get("origClientOrderId")
        return next((o for o in reversed(mine) if o.client_id == client_id), None)

    def _price(self, market: Market) -> Decimal:
        return self.prices.get(market.id, Decimal(str(market.price)))

    def _wallet(self, asset: str) -> _Wallet:
        return self._wallets.setdefault(asset, _Wallet())

    def _reply(self, status: int, body: Any) -> Reply:
        return Reply(status, body)


def _params(request: Request) -> dict[str, str]:
    """Binance reads parameters from the query string and a form body; the query wins."""
    body = dict(parse_qsl(request.body.decode())) if request.body else {}
    return {**body, **request.query}
