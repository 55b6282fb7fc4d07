"""Live OHLCV fetching through ccxt into the local bar store.

Why synchronous ccxt: fetching is a batch job that walks one series page by page, each
page depending on the last; async would buy nothing but complexity. ccxt's own rate
limiter (``enableRateLimit``) spaces the requests; this module adds what ccxt leaves to
the caller: retries with backoff on transient failures only, the point-in-time rule
(a bar is stored only once it has closed), resuming from the store, and error messages
that say what to do.
"""

from __future__ import annotations

import difflib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import ccxt
import pandas as pd
from urllib3.exceptions import ConnectTimeoutError

from core.clock import Clock
from core.errors import ConfigError, NotFoundError, RejectedError, ThrottledError, UnavailableError
from core.settings import Settings
from core.timeutil import ensure_utc
from core.types import Symbol, Timeframe
from tools.market_data._frame import COLUMNS, INDEX
from tools.market_data._store import BarStore

_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# One backoff step never sleeps longer than this, so even max_retries=10 stays bounded.
_MAX_BACKOFF_S = 10.0
# A server asking us to wait longer than this (Binance sends long Retry-After values with
# an IP ban, HTTP 418) is better answered by telling the user than by blocking the process.
_MAX_RETRY_AFTER_S = 30.0
_OFFLINE_HINT = (
    "check the network connection, or work offline with the bundled data or a file "
    "imported with `tiller data import PATH`"
)


@dataclass(frozen=True)
class FetchReport:
    """What one ``fetch_to_store`` call did.

    ``fetched`` counts the closed, in-range bars received (the refetched last stored bar
    included); ``added``/``updated`` come from the store's merge; ``first``/``last`` are
    the open times of the first and last bar received (None when nothing was);
    ``pages`` counts OHLCV requests that succeeded.
    """

    symbol: Symbol
    timeframe: Timeframe
    fetched: int
    added: int
    updated: int
    first: datetime | None
    last: datetime | None
    pages: int

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data.update(symbol=str(self.symbol), timeframe=str(self.timeframe))
        data.update(first=self.first.isoformat() if self.first else None)
        data.update(last=self.last.isoformat() if self.last else None)
        return data


def make_exchange(
    exchange_id: str,
    settings: Settings | None = None,
    *,
    api_overrides: dict[str, str] | None = None,
    sandbox: bool = False,
) -> ccxt.Exchange:
    """Build a synchronous ccxt exchange with ccxt's rate limiter on.

    The timeout is ``settings.exchange_timeout_ms`` (the settings default when no
    settings are given). API keys are attached only when they are set and the settings
    are for this very exchange (``settings.exchange_id``): candles need no key, and one
    exchange's key must never be sent to another. ``sandbox`` switches to the exchange's
    test network; market data wants the real one, so it is off unless asked for (a
    broker passes ``settings.exchange_sandbox``). ``api_overrides`` replaces entries of
    ``exchange.urls["api"]`` (key → base URL), e.g. to point at a local test server.

    Raises ``ConfigError`` for an unknown exchange id, an exchange without a sandbox
    when one is asked for, or an override key the exchange does not have.
    """
    name = exchange_id.strip().lower()
    if name not in ccxt.exchanges:
        raise ConfigError(_unknown_exchange_message(exchange_id))
    timeout_ms = Settings.model_fields["exchange_timeout_ms"].default
    config: dict[str, Any] = {"enableRateLimit": True}
    if settings is not None:
        timeout_ms = settings.exchange_timeout_ms
        if settings.exchange_id.strip().lower() == name:
            config.update(_credentials(settings))
            api_overrides = {**(settings.exchange_api_urls or {}), **(api_overrides or {})}
    config["timeout"] = timeout_ms
    exchange = getattr(ccxt, name)(config)
    if sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported as exc:
            raise ConfigError(
                f"{name} has no sandbox (test network); set TILLER_EXCHANGE_SANDBOX=false "
                "to use the real exchange, or pick an exchange that has one"
            ) from exc
    if api_overrides:
        _override_urls(exchange, api_overrides)
    return exchange


def _credentials(settings: Settings) -> dict[str, str]:
    pairs = (("apiKey", settings.exchange_api_key), ("secret", settings.exchange_api_secret))
    return {key: v.get_secret_value() for key, v in pairs if v and v.get_secret_value()}


def _unknown_exchange_message(exchange_id: str) -> str:
    hint = _did_you_mean(exchange_id.strip().lower(), list(ccxt.exchanges))
    return (
        f"unknown exchange {exchange_id!r}.{hint} Exchange ids are ccxt's, in lower case "
        "(binance, kraken, coinbase, ...); list them all with "
        "`python -c 'import ccxt; print(ccxt.exchanges)'`"
    )


def _override_urls(exchange: ccxt.Exchange, overrides: dict[str, str]) -> None:
    api = exchange.urls.get("api")
    if not isinstance(api, dict):
        raise ConfigError(f"{exchange.id} has a single API URL; api_overrides cannot apply")
    unknown = sorted(set(overrides) - set(api))
    if unknown:
        raise ConfigError(
            f"{exchange.id} has no API URL(s) named {', '.join(unknown)}; "
            f"known: {', '.join(sorted(api))}"
        )
    # Copy first: ccxt shares describe() dicts between instances of one class.
    exchange.urls = {**exchange.urls, "api": {**api, **overrides}}


def fetch_to_store(
    store: BarStore,
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    *,
    since: datetime | None,
    until: datetime | None = None,
    clock: Clock,
    max_retries: int = 3,
    backoff_s: float = 0.5,
    on_page: Callable[[int], None] | None = None,
) -> FetchReport:
    """Fetch closed bars of one series from ``exchange`` and merge them into ``store``.

    Range: bars opening in [start, until] (``until`` defaults to now) that have closed by
    ``clock.now()`` — a bar opening at t is stored only if t + timeframe <= now. ``start``
    is the last stored bar (fetched again, so a revision is picked up) or ``since`` if
    that is earlier; with nothing stored ``since`` is required. Pages of the exchange's
    maximum size are requested until the range is covered, and each page is written to
    the store as it arrives (source ``"<exchange id> fetch"``), so an interrupted fetch
    keeps what it got. ``on_page`` receives the number of bars each page stored.

    Each request is retried up to ``max_retries`` times with exponential backoff
    (``backoff_s``, doubling, capped) on transient failures only (ccxt's OperationFailed:
    timeouts, 5xx, 429/418 honouring Retry-After). A request that never connected (DNS
    failure, connection refused, connect timeout: offline) fails at once. Raises
    ``UnavailableError`` (``ThrottledError`` for rate limits) when retries run out,
    ``NotFoundError`` for a symbol the exchange does not list, ``ConfigError`` for a bad
    timeframe, a missing ``since`` or a rejected API key, and ``RejectedError`` for any
    other definite refusal.
    """
    sym, tf = _parse_series(symbol, timeframe)
    retry = _Retrier(exchange, sym, max_retries=max_retries, backoff_s=backoff_s)
    market = _resolve_market(exchange, sym, tf, retry)
    tf_ms = int(exchange.parse_timeframe(str(tf))) * 1000
    start_ms = _start_ms(store, sym, tf, since)
    # The last open time whose bar has closed by now (and lies within `until`).
    end_ms = _to_ms(clock.now()) - tf_ms
    if until is not None:
        end_ms = min(end_ms, _to_ms(until))
    tally = _Tally()
    limit = _page_limit(exchange, market)
    page_at = partial(retry, exchange.fetch_ohlcv, str(sym), str(tf), limit=limit)
    for page in _pages(page_at, start_ms, end_ms, tf_ms):
        rows = [row for row in page if start_ms <= int(row[0]) <= end_ms]
        if rows:
            written = store.write(sym, tf, _to_frame(rows), source=f"{exchange.id} fetch")
            tally.add(rows, written.added, written.updated)
        tally.pages += 1
        if on_page is not None:
            on_page(len(rows))
    return tally.report(sym, tf)


@dataclass
class _Tally:
    fetched: int = 0
    added: int = 0
    updated: int = 0
    pages: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    def add(self, rows: list[list[Any]], added: int, updated: int) -> None:
        self.fetched += len(rows)
        self.added += added
        self.updated += updated
        if self.first_ms is None:
            self.first_ms = int(rows[0][0])
        self.last_ms = int(rows[-1][0])

    def report(self, symbol: Symbol, timeframe: Timeframe) -> FetchReport:
        first, last = _from_ms(self.first_ms), _from_ms(self.last_ms)
        counts = (self.fetched, self.added, self.updated)
        return FetchReport(symbol, timeframe, *counts, first, last, self.pages)


def _parse_series(symbol: str, timeframe: str) -> tuple[Symbol, Timeframe]:
    try:
        return Symbol(symbol), Timeframe(timeframe)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _resolve_market(
    exchange: ccxt.Exchange, symbol: Symbol, tf: Timeframe, retry: _Retrier
) -> dict[str, Any]:
    """Check the exchange offers candles in ``tf`` for ``symbol``; return its market."""
    if not exchange.has.get("fetchOHLCV"):
        raise ConfigError(f"{exchange.id} does not provide candles; pick another exchange")
    offered = list(exchange.timeframes or {})
    if offered and str(tf) not in offered:
        raise ConfigError(
            f"{exchange.id} has no {tf} candles; it offers {', '.join(offered)}"
            + _did_you_mean(str(tf), offered)
        )
    markets: dict[str, Any] = retry(exchange.load_markets)  # ccxt caches it after the first
    if str(symbol) not in markets:
        raise NotFoundError(_unknown_symbol_message(exchange, symbol, markets))
    return markets[str(symbol)]


def _unknown_symbol_message(
    exchange: ccxt.Exchange, symbol: Symbol, markets: dict[str, Any]
) -> str:
    # A user who types the exchange's own id (BTCUSDT) means the market with that id.
    by_id = getattr(exchange, "markets_by_id", None) or {}
    same_id = [m["symbol"] for m in by_id.get(str(symbol), [])]
    if same_id:
        hint = f" Did you mean {', '.join(same_id)}?"
    else:
        hint = _did_you_mean(str(symbol), list(markets))
    return (
        f"{exchange.id} has no market {symbol}.{hint} Symbols use ccxt's notation "
        "BASE/QUOTE, e.g. BTC/USDT."
    )


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(close)}?" if close else ""


def _start_ms(store: BarStore, symbol: Symbol, tf: Timeframe, since: datetime | None) -> int:
    since_ms = None if since is None else _to_ms(since)
    if store.has(symbol, tf):
        stored = store.read(symbol, tf)
        if len(stored):
            last_ms = _to_ms(stored.index[-1].to_pydatetime())
            # Resuming at the last stored bar (not after it) re-checks it and leaves no
            # gap; a later `since` would leave one, so only an earlier one wins.
            return last_ms if since_ms is None else min(since_ms, last_ms)
    if since_ms is None:
        raise ConfigError(
            f"nothing is stored for {symbol} {tf} yet: pass a start time for the first "
            "fetch (e.g. --since 2024-01-01)"
        )
    return since_ms


def _page_limit(exchange: ccxt.Exchange, market: dict[str, Any]) -> int | None:
    """The most candles one request may return, from ccxt's feature table; None lets
    the exchange use its default (pagination follows the data either way)."""
    node: Any = (exchange.features or {}).get(market.get("type") or "spot")
    if isinstance(node, dict) and market.get("subType") in node:
        node = node[market["subType"]]
    ohlcv = node.get("fetchOHLCV") if isinstance(node, dict) else None
    limit = ohlcv.get("limit") if isinstance(ohlcv, dict) else None
    return int(limit) if limit else None


def _pages(
    page_at: Callable[..., list[list[Any]]], start_ms: int, end_ms: int, tf_ms: int
) -> Iterator[list[list[Any]]]:
    """Yield raw candle pages (``page_at(since=ms)``) from ``start_ms`` until one reaches
    past ``end_ms`` or the exchange has nothing more."""
    cursor = start_ms
    while cursor <= end_ms:
        page = page_at(since=cursor)
        yield page
        if not page:
            return
        newest = int(page[-1][0])
        if newest < cursor:  # the exchange ignored `since`: stop rather than loop forever
            return
        cursor = newest + tf_ms


def _to_frame(rows: list[list[Any]]) -> pd.DataFrame:
    index = pd.to_datetime([int(r[0]) for r in rows], unit="ms", utc=True).rename(INDEX)
    # None (a field the exchange left out) becomes NaN, which the store refuses by name.
    data = {col: [r[i + 1] for r in rows] for i, col in enumerate(COLUMNS)}
    return pd.DataFrame(data, index=index, dtype="float64")


def _to_ms(when: datetime) -> int:
    return (ensure_utc(when) - _EPOCH) // _MS


def _from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + ms * _MS


class _Retrier:
    """Calls a ccxt method, retrying transient network failures and translating every
    ccxt error into Tiller's taxonomy."""

    def __init__(
        self, exchange: ccxt.Exchange, symbol: Symbol, *, max_retries: int, backoff_s: float
    ) -> None:
        if max_retries < 0 or backoff_s < 0:
            raise ConfigError("max_retries and backoff_s must not be negative")
        self.exchange, self.symbol = exchange, symbol
        self.max_retries, self.backoff_s = max_retries, backoff_s

    def __call__(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            # OperationFailed is ccxt's "may succeed if retried" family: network errors,
            # timeouts, 429s, and exchange codes such as Binance's -1000/-1001 on a 5xx.
            except ccxt.OperationFailed as exc:
                cause = _connect_failure(exc)
                if cause is not None:
                    raise UnavailableError(
                        f"could not reach {self.exchange.id}: {cause}; {_OFFLINE_HINT}"
                    ) from exc
                if attempt >= self.max_retries:
                    raise self._gave_up(exc, attempt + 1) from exc
                time.sleep(self._delay(exc, attempt))
                attempt += 1
            except ccxt.BaseError as exc:
                raise self._definite(exc) from exc

    def _delay(self, exc: ccxt.OperationFailed, attempt: int) -> float:
        delay = min(self.backoff_s * 2**attempt, _MAX_BACKOFF_S)
        if isinstance(exc, ccxt.DDoSProtection):
            wait = retry_after_s(self.exchange)
            if wait is not None and wait > _MAX_RETRY_AFTER_S:
                raise ThrottledError(
                    f"{self.exchange.id} rate-limited this machine and asks to wait {wait:g} s; "
                    "fetch again after that (bars fetched so far are kept)"
                ) from exc
            delay = max(delay, wait or 0.0)
        return delay

    def _gave_up(self, exc: ccxt.OperationFailed, attempts: int) -> UnavailableError:
        if isinstance(exc, ccxt.DDoSProtection):
            return ThrottledError(
                f"{self.exchange.id} kept answering 'too many requests' ({attempts} attempts); "
                "wait a minute and fetch again (bars fetched so far are kept)"
            )
        detail = str(exc)[:160]  # ccxt appends the whole response body, maybe a web page
        return UnavailableError(
            f"could not reach {self.exchange.id} ({attempts} attempt(s), last: "
            f"{type(exc).__name__}: {detail}); {_OFFLINE_HINT}. Bars fetched so far are kept."
        )

    def _definite(self, exc: ccxt.BaseError) -> Exception:
        name = self.exchange.id
        if isinstance(exc, ccxt.BadSymbol):
            return NotFoundError(f"{name} rejected the symbol {self.symbol}: {exc}")
        if isinstance(exc, ccxt.AuthenticationError):
            return ConfigError(
                f"{name} rejected the API key ({exc}); fix TILLER_EXCHANGE_API_KEY and "
                "TILLER_EXCHANGE_API_SECRET, or unset them (candles need no key)"
            )
        if isinstance(exc, ccxt.NotSupported):
            return ConfigError(f"{name} does not support this request: {exc}")
        return RejectedError(f"{name} refused the request: {exc}")


def retry_after_s(exchange: ccxt.Exchange) -> float | None:
    """The Retry-After header (seconds) of the exchange's last answer, if it sent one."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:  # an HTTP-date form: fall back to our own backoff
        return None


def _connect_failure(exc: BaseException) -> str | None:
    """Describe the failure if no connection was ever made (DNS lookup failed, connection
    refused, network unreachable, connect timeout), else None.

    Such failures mean "offline" or "wrong address": waiting a few seconds does not fix
    them, and the operating system has already retried the handshake within the timeout,
    so they fail at once instead of being retried.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    found: list[BaseException] = []
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        # urllib3's NewConnectionError and NameResolutionError subclass ConnectTimeoutError.
        if isinstance(err, ConnectTimeoutError | socket.gaierror | ConnectionRefusedError):
            found.append(err)
        # urllib3 keeps the cause in `.reason`, requests in `.args`, besides __cause__.
        linked = [err.__cause__, err.__context__, getattr(err, "reason", None), *err.args]
        todo.extend(e for e in linked if isinstance(e, BaseException))
    if any(isinstance(e, socket.gaierror) for e in found):
        return "its host name could not be resolved"
    if any(isinstance(e, ConnectionRefusedError) for e in found):
        return "connection refused"
    return str(found[0]) if found else None
