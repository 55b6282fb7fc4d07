"""A fake Binance REST server for tests: real sockets, real ccxt, no internet.

It speaks the subset of Binance's public spot API that ccxt's ``binance`` class calls to
load markets and fetch candles, serves deterministic synthetic klines, records every
request, and injects faults (429, 5xx, definite rejections, slow responses) on demand.

Routes live in a table keyed by (method, path). The private endpoints of one test
account (orders, balances, trades) and their fault knobs live in ``server.account``
(see ``tests.fakes.binance_account``).

Usage::

    with FakeBinance(now=datetime(2024, 1, 2, tzinfo=UTC)) as server:
        exchange = make_exchange("binance", api_overrides=server.api_overrides())
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt

from tests.fakes._http import Reply, Request
from tests.fakes.binance_account import FakeAccount

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERVAL_MS = {
    f"{n}{unit}": n * ms
    for unit, ms, counts in (
        ("m", 60_000, (1, 3, 5, 15, 30)),
        ("h", 3_600_000, (1, 2, 4, 6, 8, 12)),
        ("d", 86_400_000, (1, 3)),
        ("w", 604_800_000, (1,)),
    )
    for n in counts
}
# Binance weeks start on Monday; the epoch was a Thursday.
_WEEK_OFFSET_MS = 4 * 86_400_000

INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}
TOO_MANY_REQUESTS = {
    "code": -1003,
    "msg": "Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.",
}
SERVER_ERROR = {"code": -1000, "msg": "An unknown error occurred while processing the request."}


@dataclass(frozen=True)
class Market:
    base: str
    quote: str
    price: float  # level the synthetic prices oscillate around
    listed: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    # exchangeInfo filters (PRICE_FILTER, LOT_SIZE, NOTIONAL), as Binance spells them
    tick_size: str = "0.01000000"
    step_size: str = "0.00001000"
    min_qty: str = "0.00001000"
    min_notional: str = "5.00000000"

    @property
    def id(self) -> str:
        return self.base + self.quote

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


# Filters as real Binance lists them for these pairs (mid-2025).
DEFAULT_MARKETS = (
    Market("BTC", "USDT", 30_000.0),
    Market("ETH", "USDT", 2_000.0, step_size="0.00010000", min_qty="0.00010000"),
    Market(
        "ETH",
        "BTC",
        0.06,
        tick_size="0.00001000",
        step_size="0.00010000",
        min_qty="0.00010000",
        min_notional="0.00010000",
    ),
    Market("SOL", "USDT", 100.0, step_size="0.00100000", min_qty="0.00100000"),
)


@dataclass
class _Fault:
    remaining: int
    path: str | None
    reply: Reply | None  # None: answer normally, only late
    delay_s: float = 0.0
    method: str | None = None

    def matches(self, request: Request) -> bool:
        return (
            self.remaining > 0
            and self.path in (None, request.path)
            and self.method in (None, request.method)
        )


Handler = Callable[["FakeBinance", Request], Reply]


def _error(status: int, code: int, msg: str) -> Reply:
    return Reply(status, {"code": code, "msg": msg})


class FakeBinance:
    """The server. Thread-safe: handlers run on the server's threads, tests on theirs."""

    def __init__(self, *, now: datetime, markets: tuple[Market, ...] = DEFAULT_MARKETS) -> None:
        self.now = now
        self.markets = {m.id: m for m in markets}
        self._routes: dict[tuple[str, str], Handler] = {}
        self._faults: list[_Fault] = []
        self._log: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for path in ("/api/v3/ping", "/fapi/v1/ping", "/dapi/v1/ping"):
            self.add_route("GET", path, lambda _s, _r: Reply(200, {}))
        self.add_route("GET", "/api/v3/time", _server_time)
        self.add_route("GET", "/api/v3/exchangeInfo", _spot_exchange_info)
        # ccxt's binance loads linear and inverse futures too; there are none here.
        self.add_route("GET", "/fapi/v1/exchangeInfo", _empty_exchange_info)
        self.add_route("GET", "/dapi/v1/exchangeInfo", _empty_exchange_info)
        self.add_route("GET", "/api/v3/klines", _klines)
        # With API keys set, ccxt's load_markets also asks for currencies and margin pairs.
        self.add_route("GET", "/sapi/v1/capital/config/getall", _all_coins)
        self.add_route("GET", "/sapi/v1/margin/allPairs", lambda _s, _r: Reply(200, []))
        self.add_route("GET", "/sapi/v1/margin/isolated/allPairs", lambda _s, _r: Reply(200, []))
        self.account = FakeAccount(self)
        self.account.install()

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> FakeBinance:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True  # a deliberately slow reply must not block stop()
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def api_overrides(self, *, sandbox: bool = False) -> dict[str, str]:
        """Every ``urls['api']`` entry of ccxt's binance, moved to this server (paths kept,
        so requests arrive at the same paths real Binance serves). ``sandbox``: the entries
        of the test network instead, for an exchange in sandbox mode."""
        api: dict[str, str] = ccxt.binance().urls["test" if sandbox else "api"]
        return {key: self.base_url + urlsplit(url).path for key, url in api.items()}

    # -- routes and faults ------------------------------------------------------------
    def add_route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def fail_next(
        self,
        times: int,
        status: int,
        body: Any = None,
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path`` with ``method``, or any) with
        this reply, without running the route. The default body is Binance's for the
        status (429 → -1003, else -1000); a str body is sent as an HTML page, anything
        else as JSON."""
        if body is None:
            body = TOO_MANY_REQUESTS if status == 429 else SERVER_ERROR
        reply = Reply(status, body, headers or {})
        with self._lock:
            self._faults.append(_Fault(times, path, reply, method=method))

    def delay_next(
        self, times: int, seconds: float, *, path: str | None = None, method: str | None = None
    ) -> None:
        """Run the route for the next ``times`` matching requests at once (so an order is
        placed) but send the answer only after ``seconds``."""
        with self._lock:
            self._faults.append(_Fault(times, path, None, seconds, method))

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # -- dispatch (called on server threads) ------------------------------------------
    def handle(self, request: Request) -> tuple[Reply, float]:
        with self._lock:
            self._log.append(request)
            fault = next((f for f in self._faults if f.matches(request)), None)
            if fault is not None:
                fault.remaining -= 1
        delay = fault.delay_s if fault is not None else 0.0
        if fault is not None and fault.reply is not None:
            return fault.reply, delay
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            return _error(404, -1, f"no route {request.method} {request.path}"), delay
        return handler(self, request), delay

    # -- synthetic data ---------------------------------------------------------------
    @property
    def now_ms(self) -> int:
        return (self.now - _EPOCH) // timedelta(milliseconds=1)

    def kline(self, market: Market, open_ms: int, interval_ms: int) -> list[Any]:
        """One Binance kline row, a pure function of (market, open time, interval)."""

        def price(t: int) -> float:
            step = t / 3_600_000  # hours: the same wave whatever the interval
            return market.price * (1 + 0.05 * math.sin(step / 24) + 0.01 * math.sin(step * 1.7))

        o, c = price(open_ms), price(open_ms + interval_ms)
        h, lo = max(o, c) * 1.002, min(o, c) * 0.998
        volume = 10 + (open_ms // interval_ms) % 17
        return [
            open_ms,
            *(f"{v:.8f}" for v in (o, h, lo, c, volume)),
            open_ms + interval_ms - 1,
            f"{volume * c:.8f}",
            100,
            f"{volume / 2:.8f}",
            f"{volume * c / 2:.8f}",
            "0",
        ]


def _make_handler(server: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command, parts.path, dict(parse_qsl(parts.query)), self.rfile.read(length)
            )
            reply, delay = server.handle(request)
            if delay:
                time.sleep(delay)
            # A str body is sent as is (an HTML error page from a proxy), anything else as JSON.
            raw = isinstance(reply.body, str)
            payload = (reply.body if raw else json.dumps(reply.body)).encode()
            kind = "text/html" if raw else "application/json"
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", f"{kind};charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left: that is the point of a delayed reply

        # http.server dispatches on these names.
        do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests assert on server.requests; stderr noise helps nobody

    return _Handler


def _server_time(server: FakeBinance, _request: Request) -> Reply:
    return Reply(200, {"serverTime": server.now_ms})


def _all_coins(server: FakeBinance, _request: Request) -> Reply:
    assets = sorted({a for m in server.markets.values() for a in (m.base, m.quote)})
    return Reply(200, [_coin(asset) for asset in assets])


def _coin(asset: str) -> dict[str, Any]:
    """A /sapi/v1/capital/config/getall row, trimmed to the fields ccxt reads."""
    return {
        "coin": asset,
        "name": asset,
        "depositAllEnable": True,
        "withdrawAllEnable": True,
        "trading": True,
        "free": "0",
        "locked": "0",
        "networkList": [],
    }


def _empty_exchange_info(server: FakeBinance, _request: Request) -> Reply:
    return Reply(200, {"timezone": "UTC", "serverTime": server.now_ms, "assets": [], "symbols": []})


def _spot_exchange_info(server: FakeBinance, _request: Request) -> Reply:
    symbols = [_spot_symbol(m) for m in server.markets.values()]
    return Reply(
        200,
        {
            "timezone": "UTC",
            "serverTime": server.now_ms,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                }
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        },
    )


def _spot_symbol(market: Market) -> dict[str, Any]:
    return {
        "symbol": market.id,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": market.tick_size,
                "maxPrice": "1000000.00000000",
                "tickSize": market.tick_size,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": market.min_qty,
                "maxQty": "9000.00000000",
                "stepSize": market.step_size,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": market.min_notional,
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _klines(server: FakeBinance, request: Request) -> Reply:
    """GET /api/v3/klines as Binance answers it: rows opening at or after startTime, up
    to endTime and now (the current, unfinished bar included), oldest first, at most
    ``limit`` (default 500, max 1000); without startTime, the latest ``limit`` rows."""
    q = request.query
    market = server.markets.get(q.get("symbol", ""))
    if market is None:
        return Reply(400, INVALID_SYMBOL)
    interval_ms = _INTERVAL_MS.get(q.get("interval", ""))
    if interval_ms is None:
        return _error(400, -1120, "Invalid interval.")
    limit = int(q.get("limit", 500))
    if not 1 <= limit <= 1000:
        return _error(400, -1130, "Data sent for parameter 'limit' is not valid.")
    offset = _WEEK_OFFSET_MS if interval_ms == _INTERVAL_MS["1w"] else 0
    listed_ms = (market.listed - _EPOCH) // timedelta(milliseconds=1)
    end = min(int(q.get("endTime", server.now_ms)), server.now_ms)
    last = (end - offset) // interval_ms * interval_ms + offset
    if "startTime" in q:
        start = max(int(q["startTime"]), listed_ms)
        first = -((offset - start) // interval_ms) * interval_ms + offset  # round up to a bar
    else:
        first = max(last - (limit - 1) * interval_ms, listed_ms)
    opens = range(first, last + 1, interval_ms)[:limit]
    return Reply(200, [server.kline(market, t, interval_ms) for t in opens])
