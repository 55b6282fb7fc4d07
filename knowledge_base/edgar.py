"""Download filings from SEC EDGAR: ``tiller kb fetch-filings AAPL --form 10-K``.

Three kinds of request, all to the URLs in settings (tests point them at a fake server):

1. ticker → CIK: ``{edgar_base_url}/files/company_tickers.json``;
2. the filing index: ``{edgar_data_url}/submissions/CIK##########.json`` (its
   ``filings.recent`` arrays, then the older pages named in ``filings.files`` if the
   recent ones hold fewer filings of the form than asked for);
3. each filing's primary document:
   ``{edgar_base_url}/Archives/edgar/data/{cik}/{accession without dashes}/{document}``.

SEC's fair-access rules are kept: every request carries the User-Agent the user set
(``TILLER_SEC_USER_AGENT``, "Name email"); requests are spaced to stay under 10 per
second; 429 and 503 are retried a bounded number of times, honouring ``Retry-After``.
A connection failure is not retried: offline, the command fails at once.

Files are named ``<ticker>-<form>-<filing date>.html`` (``aapl-10-k-2024-11-01.html``),
the convention the loaders read the filing date from. When several filings of one form
share a filing date, each name gets the accession number after the date
(``aapl-8-k-2024-05-02-000032019324000069.html``) so none overwrites another.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from core.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    RejectedError,
    ThrottledError,
    UnavailableError,
)
from core.settings import Settings

Progress = Callable[[int, int, str], None]  # (done, total, label), as rag_index uses
Status = Literal["downloaded", "skipped"]

MIN_INTERVAL_S = 0.125  # 8 requests/s: under SEC's 10/s ceiling with a margin
MAX_ATTEMPTS = 4  # per request, for 429 and 503 only
MAX_WAIT_S = 30.0  # the longest single wait we accept; a longer Retry-After is raised
_CONNECT_TIMEOUT_S = 2.0  # offline must fail fast
_READ_TIMEOUT_S = 60.0  # a large 10-K is several MB
_RETRY_STATUSES = frozenset({429, 503})
_TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,14}$")
_FORM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/ ]{0,19}$")


@dataclass(frozen=True)
class Filing:
    """One row of a company's filing index."""

    accession: str  # 0000320193-24-000123
    form: str
    filing_date: date
    report_date: date | None
    primary_document: str


@dataclass(frozen=True)
class FetchResult:
    """What happened to one filing: ``downloaded`` now, or ``skipped`` (already there)."""

    path: Path
    ticker: str
    form: str
    filing_date: date
    report_date: date | None
    accession: str
    url: str
    status: Status

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ticker": self.ticker,
            "form": self.form,
            "filing_date": self.filing_date.isoformat(),
            "report_date": self.report_date.isoformat() if self.report_date else None,
            "accession": self.accession,
            "url": self.url,
            "status": self.status,
        }


def fetch_filings(
    settings: Settings,
    ticker: str,
    form: str = "10-K",
    limit: int = 1,
    dest: Path | None = None,
    progress: Progress | None = None,
) -> list[FetchResult]:
    """Download the ``limit`` most recent ``form`` filings of ``ticker`` into ``dest``
    (default ``settings.state_path / "filings"``), newest first. Files already present
    are skipped, so a second call downloads nothing.

    Raises ``ConfigError`` (no User-Agent, bad arguments), ``NotFoundError`` (unknown
    ticker, no filing of that form), ``UnavailableError`` (offline, EDGAR down),
    ``ThrottledError`` (still rate-limited after retries), ``RejectedError`` (403).
    """
    user_agent = _user_agent(settings)
    ticker, form = _check_args(ticker, form, limit)
    folder = _prepare_dest(dest if dest is not None else settings.state_path / "filings")
    with EdgarClient(user_agent) as client:
        cik, name = resolve_cik(client, settings.edgar_base_url, ticker)
        index = load_index(client, settings.edgar_data_url, cik)
        if name is None:  # a CIK was given: name the files after its ticker if it has one
            name = index.tickers[0].replace("-", ".").upper() if index.tickers else f"CIK{cik}"
        filings = select_filings(client, index, form, limit)
        names = _file_names(name, filings)
        chosen = filings[:limit]
        results = []
        for done, filing in enumerate(chosen, start=1):
            url = document_url(settings.edgar_base_url, cik, filing)
            results.append(_fetch_one(client, url, folder / names[filing.accession], name, filing))
            if progress is not None:
                progress(done, len(chosen), names[filing.accession])
    return results


def _fetch_one(
    client: EdgarClient, url: str, path: Path, ticker: str, filing: Filing
) -> FetchResult:
    status: Status = "skipped"
    if not path.exists():
        _write_atomic(path, client.get(url).content)
        status = "downloaded"
    return FetchResult(
        path=path,
        ticker=ticker,
        form=filing.form,
        filing_date=filing.filing_date,
        report_date=filing.report_date,
        accession=filing.accession,
        url=url,
        status=status,
    )


# -- the HTTP client ------------------------------------------------------------------
class EdgarClient:
    """Polite GETs to EDGAR: identifies itself, spaces requests by ``MIN_INTERVAL_S``,
    retries 429/503 up to ``MAX_ATTEMPTS`` times (waiting ``Retry-After`` when given,
    else 1, 2, 4 s), and turns every failure into a Tiller error."""

    def __init__(self, user_agent: str) -> None:
        self._http = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(_READ_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S),
            follow_redirects=True,
        )
        self._next_at = 0.0

    def __enter__(self) -> EdgarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def get(self, url: str) -> httpx.Response:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = self._send(url)
            if response.status_code not in _RETRY_STATUSES:
                return _check_status(response, url)
            asked = _retry_after(response)
            wait = asked if asked is not None else 2.0 ** (attempt - 1)
            if wait > MAX_WAIT_S:
                raise _throttled(response, url, f"it asks to wait {wait:.0f} s")
            if attempt < MAX_ATTEMPTS:
                time.sleep(wait)
        raise _throttled(response, url, f"still refused after {MAX_ATTEMPTS} attempts")

    def get_json(self, url: str) -> Any:
        response = self.get(url)
        try:
            return response.json()
        except ValueError:
            raise DataError(f"EDGAR answered {url} with something that is not JSON") from None

    def _send(self, url: str) -> httpx.Response:
        wait = self._next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._next_at = time.monotonic() + MIN_INTERVAL_S
        try:
            return self._http.get(url)
        except httpx.UnsupportedProtocol as exc:
            raise ConfigError(
                f"cannot fetch {url}: {exc}; check TILLER_EDGAR_BASE_URL and "
                "TILLER_EDGAR_DATA_URL (they start with https://)"
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UnavailableError(
                f"cannot reach {_host(url)} ({exc or type(exc).__name__}): you appear to be "
                "offline, or the host is unreachable from this machine. Fetching filings "
                "needs the network; `tiller kb ingest PATH` works on filings you already have."
            ) from None
        except httpx.TransportError as exc:  # connected, then lost: a read timeout, a reset
            raise UnavailableError(
                f"the connection to {_host(url)} failed during {url} "
                f"({exc or type(exc).__name__}); try again later"
            ) from None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _check_status(response: httpx.Response, url: str) -> httpx.Response:
    code = response.status_code
    if code < 400:
        return response
    if code == 404:
        raise NotFoundError(f"EDGAR has no {url} (HTTP 404)")
    if code == 403:
        raise RejectedError(
            f"EDGAR refused {url} (HTTP 403). SEC does this when the User-Agent is not a "
            "real name and email (check TILLER_SEC_USER_AGENT) or when this address sent "
            "more than 10 requests per second (wait about 10 minutes)."
        )
    raise UnavailableError(f"EDGAR answered {url} with HTTP {code}; try again later")


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _throttled(response: httpx.Response, url: str, why: str) -> UnavailableError:
    code = response.status_code
    message = f"EDGAR answered {url} with HTTP {code} and {why}; try again in a few minutes"
    return ThrottledError(message) if code == 429 else UnavailableError(message)


# -- EDGAR's JSON ---------------------------------------------------------------------
def resolve_cik(client: EdgarClient, base_url: str, ticker: str) -> tuple[int, str | None]:
    """(CIK, ticker as people write it: BRK.B) for a ticker; (CIK, None) for a CIK given
    as digits, without a request."""
    if ticker.isdigit():
        return int(ticker), None
    url = f"{base_url.rstrip('/')}/files/company_tickers.json"
    table = client.get_json(url)
    rows = table.values() if isinstance(table, dict) else table
    wanted = _sec_ticker(ticker)
    known: dict[str, int] = {}
    for row in rows:
        try:
            known.setdefault(_sec_ticker(str(row["ticker"])), int(row["cik_str"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{url}: unexpected row {row!r} (want cik_str and ticker)") from None
    if wanted in known:
        return known[wanted], wanted.replace("-", ".")
    hint = difflib.get_close_matches(wanted, list(known), n=1)
    did = f"; did you mean {hint[0]!r}?" if hint else ""
    raise NotFoundError(
        f"SEC's company list has no ticker {ticker!r}{did} EDGAR lists only SEC registrants; "
        "if you know the company's CIK, pass its digits instead of the ticker"
    )


@dataclass(frozen=True)
class CompanyIndex:
    """A company's filing index: the recent rows, and the URLs of older pages."""

    cik: int
    tickers: tuple[str, ...]
    recent: list[Filing]
    older_pages: list[str]


def load_index(client: EdgarClient, data_url: str, cik: int) -> CompanyIndex:
    base = f"{data_url.rstrip('/')}/submissions"
    url = f"{base}/CIK{cik:010d}.json"
    index = client.get_json(url)
    try:
        filings = index["filings"]
        recent, older = filings["recent"], filings.get("files") or []
        pages = [f"{base}/{page['name']}" for page in older]
    except (KeyError, TypeError):
        raise DataError(f"{url}: no filings.recent in EDGAR's answer") from None
    tickers = tuple(str(t) for t in index.get("tickers") or ())
    return CompanyIndex(cik, tickers, _parse_columns(recent, url), pages)


def select_filings(client: EdgarClient, index: CompanyIndex, form: str, limit: int) -> list[Filing]:
    """Every ``form`` filing in the index pages read (older pages are read only while
    fewer than ``limit`` were found), newest first."""
    seen: Counter[str] = Counter()
    matches: list[Filing] = []
    for page in _pages(client, index):
        for filing in page:
            seen[filing.form] += 1
            if filing.form.upper() == form and filing.primary_document:
                matches.append(filing)
        if len(matches) >= limit:
            break
    if not matches:
        common = ", ".join(f for f, _ in seen.most_common(12)) or "none"
        raise NotFoundError(
            f"{'/'.join(index.tickers) or f'CIK {index.cik}'} has no {form} filing on EDGAR; "
            f"the forms it has filed include: {common}"
        )
    return sorted(matches, key=lambda f: (f.filing_date, f.accession), reverse=True)


def _pages(client: EdgarClient, index: CompanyIndex) -> Iterator[list[Filing]]:
    yield index.recent
    for url in index.older_pages:
        yield _parse_columns(client.get_json(url), url)


def _parse_columns(columns: Any, url: str) -> list[Filing]:
    """EDGAR's column arrays (accessionNumber, filingDate, form, ...) as rows."""
    keys = ("accessionNumber", "filingDate", "form", "primaryDocument", "reportDate")
    try:
        arrays = [columns[k] for k in keys]
    except (KeyError, TypeError):
        raise DataError(f"{url}: EDGAR's filing index lacks one of {', '.join(keys)}") from None
    if len({len(a) for a in arrays}) != 1:
        raise DataError(f"{url}: EDGAR's filing index arrays have different lengths")
    rows = []
    for accession, filed, form, document, reported in zip(*arrays, strict=True):
        try:
            rows.append(
                Filing(
                    accession=str(accession),
                    form=str(form),
                    filing_date=date.fromisoformat(filed),
                    report_date=date.fromisoformat(reported) if reported else None,
                    primary_document=str(document or ""),
                )
            )
        except (TypeError, ValueError):
            raise DataError(f"{url}: filing {accession}: bad date {filed!r}") from None
    return rows


def document_url(base_url: str, cik: int, filing: Filing) -> str:
    folder = filing.accession.replace("-", "")
    return f"{base_url.rstrip('/')}/Archives/edgar/data/{cik}/{folder}/{filing.primary_document}"


# -- files ----------------------------------------------------------------------------
def _file_names(ticker: str, filings: list[Filing]) -> dict[str, str]:
    """File name per accession; an accession suffix only where a date is shared."""
    per_day = Counter((f.form, f.filing_date) for f in filings)
    names = {}
    for f in filings:
        stem = f"{ticker.lower()}-{_slug(f.form)}-{f.filing_date.isoformat()}"
        if per_day[(f.form, f.filing_date)] > 1:
            stem += "-" + f.accession.replace("-", "")
        suffix = PurePosixPath(f.primary_document).suffix.lower()
        names[f.accession] = stem + (".html" if suffix in ("", ".htm", ".html") else suffix)
    return names


def _slug(form: str) -> str:
    return re.sub(r"[/\s]+", "-", form.strip().lower())


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a filing
    under the final name (which the next run would skip as present)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _prepare_dest(dest: Path) -> Path:
    dest = dest.expanduser()
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"--dest {dest} is a file; give a folder")
    dest.mkdir(parents=True, exist_ok=True)
    return dest


# -- arguments ------------------------------------------------------------------------
def _user_agent(settings: Settings) -> str:
    agent = (settings.sec_user_agent or "").strip()
    if not agent or "@" not in agent:
        raise ConfigError(
            "SEC EDGAR asks every client to identify itself with a name and an email. Set "
            'TILLER_SEC_USER_AGENT, e.g. export TILLER_SEC_USER_AGENT="Jane Doe '
            'jane@example.com" (or put it in .env)'
            + (f"; {agent!r} has no email address" if agent else "")
        )
    return agent


def _check_args(ticker: str, form: str, limit: int) -> tuple[str, str]:
    ticker, form = ticker.strip(), form.strip()
    if not _TICKER.match(ticker):
        raise ConfigError(f"ticker {ticker!r} is not a ticker (e.g. AAPL, BRK.B) or a CIK")
    if not _FORM.match(form):
        raise ConfigError(f"form {form!r} is not an SEC form type (e.g. 10-K, 10-Q, 8-K)")
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    return ticker, form.upper()


def _sec_ticker(ticker: str) -> str:
    """SEC writes share classes with a dash (BRK-B); people often write BRK.B."""
    return ticker.strip().upper().replace(".", "-")
