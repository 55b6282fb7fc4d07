"""Live fetching through real ccxt against a fake Binance on a local port.

The look-ahead guarded against: storing the bar that is still open at ``clock.now()``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.errors import ConfigError, NotFoundError, ThrottledError, UnavailableError
from core.settings import Settings
from tests.fakes.binance_server import INVALID_SYMBOL, FakeBinance
from tools.market_data._fetch import FetchReport, fetch_to_store, make_exchange
from tools.market_data._store import BarStore

# Half a minute into the 00:30 bar: that bar is still open, the 00:29 bar has closed.
NOW = datetime(2024, 1, 3, 0, 30, 30, tzinfo=UTC)
LAST_CLOSED = datetime(2024, 1, 3, 0, 29, tzinfo=UTC)
KLINES = "/api/v3/klines"
MINUTE = timedelta(minutes=1)
TEN_BARS_AGO = LAST_CLOSED - 9 * MINUTE
FAST = {"max_retries": 3, "backoff_s": 0.01}


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance(now=NOW) as fake:
        yield fake


@pytest.fixture
def exchange(server: FakeBinance):
    settings = Settings(_env_file=None, exchange_timeout_ms=2_000)
    return make_exchange("binance", settings, api_overrides=server.api_overrides())


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path)


def _fetch(store: BarStore, exchange, clock: FixedClock, **kwargs) -> FetchReport:
    return fetch_to_store(store, exchange, "BTC/USDT", "1m", clock=clock, **{**FAST, **kwargs})


# -- pagination and the point-in-time rule -----------------------------------------------


def test_fetch_paginates_until_now_and_stores_every_closed_bar(server, exchange, store):
    since = LAST_CLOSED - 2499 * MINUTE  # 2,500 closed bars: pages of 1000, 1000, 500
    pages: list[int] = []

    report = _fetch(store, exchange, FixedClock(NOW), since=since, on_page=pages.append)

    starts = [int(r.query["startTime"]) for r in server.requests_to(KLINES)]
    assert starts == [_ms(since + n * 1000 * MINUTE) for n in range(3)]
    assert {r.query["limit"] for r in server.requests_to(KLINES)} == {"1000"}
    assert pages == [1000, 1000, 500]
    bars = store.read("BTC/USDT", "1m")
    assert len(bars) == 2500
    assert (bars.index.to_series().diff().dropna() == MINUTE).all()
    assert (report.fetched, report.added, report.updated, report.pages) == (2500, 2500, 0, 3)
    assert (report.first, report.last) == (since, LAST_CLOSED)
    served = server.kline(server.markets["BTCUSDT"], _ms(LAST_CLOSED), 60_000)
    assert bars.iloc[-1].tolist() == [float(v) for v in served[1:6]]  # o, h, l, c, v in order
    assert report.to_json()["last"] == LAST_CLOSED.isoformat()


def test_fetch_does_not_store_the_bar_that_has_not_closed(server, exchange, store):
    clock = FixedClock(NOW)

    _fetch(store, exchange, clock, since=TEN_BARS_AGO)

    # The exchange served the open 00:30 bar; it must not be stored before 00:31.
    assert store.read("BTC/USDT", "1m").index[-1] == LAST_CLOSED
    clock.set(LAST_CLOSED + 2 * MINUTE)  # exactly when the 00:30 bar closes
    server.now = clock.now()
    _fetch(store, exchange, clock, since=None)
    assert store.read("BTC/USDT", "1m").index[-1] == LAST_CLOSED + MINUTE


def test_fetch_stops_at_until_and_keeps_the_bar_opening_at_until(server, exchange, store):
    since = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)

    report = _fetch(store, exchange, FixedClock(NOW), since=since, until=since + 10 * MINUTE)

    assert report.fetched == 11
    assert store.read("BTC/USDT", "1m").index[-1] == since + 10 * MINUTE
    assert len(server.requests_to(KLINES)) == 1


# -- resuming ----------------------------------------------------------------------------


def test_fetch_resumes_from_last_stored_bar(server, exchange, store):
    clock = FixedClock(NOW)
    _fetch(store, exchange, clock, since=LAST_CLOSED - 59 * MINUTE)
    clock.advance(10 * MINUTE)
    server.now = clock.now()
    asked_before = len(server.requests_to(KLINES))

    report = _fetch(store, exchange, clock, since=None)

    second_call = server.requests_to(KLINES)[asked_before:]
    assert int(second_call[0].query["startTime"]) == _ms(LAST_CLOSED)
    assert (report.fetched, report.added, report.updated) == (11, 10, 0)
    assert store.read("BTC/USDT", "1m").index[-1] == LAST_CLOSED + 10 * MINUTE


def test_fetch_with_since_earlier_than_stored_data_starts_from_since(server, exchange, store):
    clock = FixedClock(NOW)
    _fetch(store, exchange, clock, since=LAST_CLOSED - 29 * MINUTE)
    earlier = LAST_CLOSED - 89 * MINUTE

    report = _fetch(store, exchange, clock, since=earlier)

    assert int(server.requests_to(KLINES)[-1].query["startTime"]) == _ms(earlier)
    assert report.added == 60
    assert store.read("BTC/USDT", "1m").index[0] == earlier


def test_first_fetch_without_since_asks_for_a_start(exchange, store):
    with pytest.raises(ConfigError, match="--since"):
        _fetch(store, exchange, FixedClock(NOW), since=None)


# -- transient failures are retried --------------------------------------------------------


def test_fetch_retries_on_429_then_succeeds(server, exchange, store):
    server.fail_next(2, 429, path=KLINES)

    report = _fetch(store, exchange, FixedClock(NOW), since=TEN_BARS_AGO)

    asked = server.requests_to(KLINES)
    assert len(asked) == 3
    assert len({r.query["startTime"] for r in asked}) == 1  # the same page, asked again
    assert report.fetched == 10


def test_fetch_on_429_asking_for_a_long_wait_stops_at_once(server, exchange, store):
    server.fail_next(1, 429, path=KLINES, headers={"Retry-After": "120"})

    started = time.monotonic()
    with pytest.raises(ThrottledError, match="120"):
        _fetch(store, exchange, FixedClock(NOW), since=TEN_BARS_AGO)

    assert time.monotonic() - started < 2
    assert len(server.requests_to(KLINES)) == 1


def test_fetch_request_timeout_is_retried(server, store):
    settings = Settings(_env_file=None, exchange_timeout_ms=300)
    exchange = make_exchange("binance", settings, api_overrides=server.api_overrides())
    server.delay_next(1, 1.0, path=KLINES)

    report = _fetch(store, exchange, FixedClock(NOW), since=TEN_BARS_AGO)

    assert len(server.requests_to(KLINES)) == 2
    assert report.fetched == 10


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (503, "<html><body>Service Unavailable</body></html>")],
    ids=["binance-error-code", "html-page"],
)
def test_fetch_gives_up_on_persistent_5xx_with_unavailable_error(
    server, exchange, store, status, body
):
    server.fail_next(100, status, body, path=KLINES)

    with pytest.raises(UnavailableError, match="could not reach binance") as caught:
        _fetch(store, exchange, FixedClock(NOW), since=TEN_BARS_AGO, max_retries=2)

    assert "bundled data" in str(caught.value)
    assert not isinstance(caught.value, ThrottledError)
    assert len(server.requests_to(KLINES)) == 3  # one try and two retries


def test_fetch_keeps_the_pages_stored_before_a_failure(server, exchange, store):
    def break_after_first_page(_bars: int) -> None:
        server.fail_next(100, 500, path=KLINES)

    with pytest.raises(UnavailableError):
        _fetch(
            store,
            exchange,
            FixedClock(NOW),
            since=LAST_CLOSED - 1499 * MINUTE,
            on_page=break_after_first_page,
        )

    assert len(store.read("BTC/USDT", "1m")) == 1000


# -- definite failures are not retried -----------------------------------------------------


def test_fetch_does_not_retry_a_definite_rejection(server, exchange, store):
    server.fail_next(1, 400, INVALID_SYMBOL, path=KLINES)

    with pytest.raises(NotFoundError, match="BTC/USDT"):
        _fetch(store, exchange, FixedClock(NOW), since=TEN_BARS_AGO)

    assert len(server.requests_to(KLINES)) == 1


@pytest.mark.parametrize(("typed", "meant"), [("BTC/USDC", "BTC/USDT"), ("ETHUSDT", "ETH/USDT")])
def test_fetch_unknown_symbol_suggests_close_match(server, exchange, store, typed, meant):
    with pytest.raises(NotFoundError, match=f"Did you mean {meant}"):
        fetch_to_store(store, exchange, typed, "1m", since=NOW, clock=FixedClock(NOW))

    assert server.requests_to(KLINES) == []


def test_fetch_timeframe_the_exchange_lacks_is_a_config_error(exchange, store):
    with pytest.raises(ConfigError, match="1w"):
        fetch_to_store(store, exchange, "BTC/USDT", "2w", since=NOW, clock=FixedClock(NOW))


# -- offline -------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fetch_offline_fails_fast(store, monkeypatch):
    port = _closed_port()
    exchange = make_exchange("binance", api_overrides={"public": f"http://127.0.0.1:{port}/api/v3"})
    exchange.set_markets(
        [{"id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "spot": True}]
    )
    lookups: list[object] = []
    real_getaddrinfo = socket.getaddrinfo

    def counting_getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting_getaddrinfo)

    started = time.monotonic()
    with pytest.raises(UnavailableError, match="could not reach binance") as caught:
        # Default retry settings: being offline must not cost the user a wait.
        fetch_to_store(store, exchange, "BTC/USDT", "1m", since=TEN_BARS_AGO, clock=FixedClock(NOW))

    assert time.monotonic() - started < 5
    assert "check the network" in str(caught.value)
    assert len(lookups) == 1  # one connection attempt: nothing to retry when nobody answers


def test_fetch_without_dns_fails_at_once(store, monkeypatch):
    def no_dns(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    exchange = make_exchange("binance")

    with pytest.raises(UnavailableError, match="host name could not be resolved"):
        fetch_to_store(store, exchange, "BTC/USDT", "1m", since=TEN_BARS_AGO, clock=FixedClock(NOW))


# -- building the exchange -----------------------------------------------------------------


def test_make_exchange_unknown_id_suggests_and_says_where_to_look():
    with pytest.raises(ConfigError, match="Did you mean binance") as caught:
        make_exchange("binanse")

    assert "ccxt.exchanges" in str(caught.value)


def test_make_exchange_sends_keys_only_to_the_exchange_they_belong_to():
    settings = Settings(
        _env_file=None,
        exchange_id="binance",
        exchange_api_key="k-123",
        exchange_api_secret="s-456",
        exchange_timeout_ms=1234,
    )

    binance = make_exchange("binance", settings)
    kraken = make_exchange("kraken", settings)

    assert (binance.apiKey, binance.secret, binance.timeout) == ("k-123", "s-456", 1234)
    assert not kraken.apiKey
    assert not kraken.secret
    assert binance.enableRateLimit is True


def test_make_exchange_refuses_an_override_for_an_unknown_url():
    with pytest.raises(ConfigError, match="known: "):
        make_exchange("binance", api_overrides={"pubic": "http://127.0.0.1:1/api/v3"})
