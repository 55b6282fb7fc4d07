"""A fake SEC EDGAR for tests: real HTTP on real sockets, no internet.

Two listening sockets, like SEC's two hosts: ``www_url`` serves the ticker table
(``/files/company_tickers.json``) and the archives (``/Archives/edgar/data/...``),
``data_url`` the filing indexes (``/submissions/CIK##########.json`` and the older
pages they name). Like SEC, it refuses (403) a request whose User-Agent carries no
email address. It records every request with its headers and arrival time, and injects
faults (429, 503, ...) on demand.

Usage::

    with FakeEdgar() as edgar:
        settings = load_settings(edgar_base_url=edgar.www_url, edgar_data_url=edgar.data_url,
                                 sec_user_agent="Jane Doe jane@example.com")
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from tests.fakes._http import Reply, Request

Host = Literal["www", "data"]

UNDECLARED_TOOL = (
    "<html><body><h1>Your Request Originates from an Undeclared Automated Tool</h1>"
    "<p>Please declare your traffic by updating your user agent.</p></body></html>"
)


@dataclass(frozen=True)
class EdgarRequest(Request):
    """A request as the fake saw it: which host, its headers, when it arrived."""

    host: Host = "www"
    headers: dict[str, str] = field(default_factory=dict)
    at: float = 0.0  # time.monotonic()


@dataclass(frozen=True)
class FakeFiling:
    accession: str  # 0000320193-24-000123
    form: str
    filing_date: date
    primary_document: str
    report_date: date | None = None

    @property
    def folder(self) -> str:
        return self.accession.replace("-", "")


@dataclass(frozen=True)
class FakeCompany:
    cik: int
    ticker: str
    title: str
    filings: tuple[FakeFiling, ...]  # newest first, as EDGAR lists them
    older: tuple[FakeFiling, ...] = ()  # served from a second index page

    def document(self, filing: FakeFiling) -> str:
        """The primary document's body: small, but a real page naming the filing."""
        return (
            f"<html><head><title>{self.title} {filing.form}</title></head><body>"
            f"<h1>{self.title} — Form {filing.form}</h1>"
            f"<p>Accession {filing.accession}, filed {filing.filing_date.isoformat()}.</p>"
            "<h2>Item 1A. Risk Factors</h2><p>Fake risks for tests.</p></body></html>"
        )


def _f(accession: str, form: str, filed: str, doc: str, period: str | None = None) -> FakeFiling:
    return FakeFiling(
        accession, form, date.fromisoformat(filed), doc, date.fromisoformat(period or filed)
    )


APPLE = FakeCompany(
    cik=320193,
    ticker="AAPL",
    title="Apple Inc.",
    filings=(
        _f("0000320193-25-000073", "10-Q", "2025-08-01", "aapl-20250628.htm", "2025-06-28"),
        _f("0000320193-25-000070", "8-K", "2025-07-31", "aapl-20250731.htm"),
        _f("0000320193-25-000071", "8-K", "2025-07-31", "aapl-20250731x2.htm"),
        _f("0000320193-24-000123", "10-K", "2024-11-01", "aapl-20240928.htm", "2024-09-28"),
        _f("0000320193-24-000120", "4", "2024-10-16", "xslF345X05/wk-form4.xml"),
        _f("0000320193-23-000106", "10-K", "2023-11-03", "aapl-20230930.htm", "2023-09-30"),
    ),
    older=(_f("0000320193-22-000108", "10-K", "2022-10-28", "aapl-20220924.htm", "2022-09-24"),),
)
BERKSHIRE = FakeCompany(
    cik=1067983,
    ticker="BRK-B",
    title="Berkshire Hathaway Inc.",
    filings=(_f("0000950170-25-026812", "10-K", "2025-02-24", "brka-20241231.htm", "2024-12-31"),),
)
DEFAULT_COMPANIES = (APPLE, BERKSHIRE)


@dataclass
class _Fault:
    remaining: int
    path: str | None
    reply: Reply


class FakeEdgar:
    """The server pair. Thread-safe: handlers run on server threads, tests on theirs."""

    def __init__(self, companies: tuple[FakeCompany, ...] = DEFAULT_COMPANIES) -> None:
        self.companies = {c.cik: c for c in companies}
        self._faults: list[_Fault] = []
        self._log: list[EdgarRequest] = []
        self._lock = threading.Lock()
        self._servers: dict[Host, ThreadingHTTPServer] = {}

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> FakeEdgar:
        for host in ("www", "data"):
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, host))
            httpd.daemon_threads = True
            threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
            self._servers[host] = httpd
        return self

    def stop(self) -> None:
        for httpd in self._servers.values():
            httpd.shutdown()
            httpd.server_close()
        self._servers.clear()

    def __enter__(self) -> FakeEdgar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _url(self, host: Host) -> str:
        if host not in self._servers:
            raise RuntimeError("the fake server is not running; call start() first")
        address, port = self._servers[host].server_address[:2]
        return f"http://{address!s}:{port}"

    @property
    def www_url(self) -> str:
        return self._url("www")

    @property
    def data_url(self) -> str:
        return self._url("data")

    # -- faults and records -----------------------------------------------------------
    def fail_next(
        self,
        times: int,
        status: int,
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = "<html><body>Request Rate Threshold Exceeded</body></html>",
    ) -> None:
        """Answer the next ``times`` requests (to ``path``, or any) with ``status``."""
        with self._lock:
            self._faults.append(_Fault(times, path, Reply(status, body, headers or {})))

    @property
    def requests(self) -> list[EdgarRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path: str) -> list[EdgarRequest]:
        return [r for r in self.requests if r.path == path]

    def document_path(self, company: FakeCompany, filing: FakeFiling) -> str:
        return f"/Archives/edgar/data/{company.cik}/{filing.folder}/{filing.primary_document}"

    # -- dispatch (server threads) ----------------------------------------------------
    def handle(self, request: EdgarRequest) -> Reply:
        with self._lock:
            self._log.append(request)
            fault = next(
                (f for f in self._faults if f.remaining > 0 and f.path in (None, request.path)),
                None,
            )
            if fault is not None:
                fault.remaining -= 1
        if "@" not in request.headers.get("user-agent", ""):
            return Reply(403, UNDECLARED_TOOL)
        if fault is not None:
            return fault.reply
        if request.method != "GET":
            return Reply(405, "<html>Method Not Allowed</html>")
        return self._route(request)

    def _route(self, request: EdgarRequest) -> Reply:
        path = request.path
        if request.host == "www" and path == "/files/company_tickers.json":
            return Reply(200, self._ticker_table())
        if request.host == "data" and (m := re.fullmatch(r"/submissions/CIK(\d{10})\.json", path)):
            return self._index(int(m[1]))
        page = re.fullmatch(r"/submissions/CIK(\d{10})-submissions-001\.json", path)
        if request.host == "data" and page:
            company = self.companies.get(int(page[1]))
            if company is not None and company.older:
                return Reply(200, _columns(company.older))
        if request.host == "www" and (m := re.fullmatch(r"/Archives/edgar/data/(\d+)/(.+)", path)):
            return self._document(int(m[1]), m[2])
        return Reply(404, "<html><body>Not Found</body></html>")

    def _ticker_table(self) -> dict[str, Any]:
        rows = [(c.cik, c.ticker, c.title) for c in self.companies.values()]
        rows.append((1652044, "GOOGL", "Alphabet Inc."))  # a neighbour for "did you mean"
        return {
            str(i): {"cik_str": cik, "ticker": ticker, "title": title}
            for i, (cik, ticker, title) in enumerate(rows)
        }

    def _index(self, cik: int) -> Reply:
        company = self.companies.get(cik)
        if company is None:
            return Reply(404, "<html><body>Not Found</body></html>")
        files = []
        if company.older:
            files.append(
                {
                    "name": f"CIK{cik:010d}-submissions-001.json",
                    "filingCount": len(company.older),
                    "filingFrom": min(f.filing_date for f in company.older).isoformat(),
                    "filingTo": max(f.filing_date for f in company.older).isoformat(),
                }
            )
        return Reply(
            200,
            {
                "cik": str(cik),
                "name": company.title,
                "tickers": [company.ticker],
                "filings": {"recent": _columns(company.filings), "files": files},
            },
        )

    def _document(self, cik: int, rest: str) -> Reply:
        company = self.companies.get(cik)
        for filing in (company.filings + company.older) if company else ():
            if rest == f"{filing.folder}/{filing.primary_document}":
                assert company is not None
                return Reply(200, company.document(filing))
        return Reply(404, "<html><body>Not Found</body></html>")


def _columns(filings: tuple[FakeFiling, ...]) -> dict[str, list[Any]]:
    """EDGAR's column layout: one array per field, a filing per index."""
    return {
        "accessionNumber": [f.accession for f in filings],
        "filingDate": [f.filing_date.isoformat() for f in filings],
        "reportDate": [f.report_date.isoformat() if f.report_date else "" for f in filings],
        "acceptanceDateTime": [f"{f.filing_date.isoformat()}T16:30:00.000Z" for f in filings],
        "form": [f.form for f in filings],
        "primaryDocument": [f.primary_document for f in filings],
        "primaryDocDescription": [f.form for f in filings],
    }


def _make_handler(server: FakeEdgar, host: Host) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = EdgarRequest(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query)),
                self.rfile.read(length),
                host=host,
                headers={k.lower(): v for k, v in self.headers.items()},
                at=time.monotonic(),
            )
            reply = server.handle(request)
            raw = isinstance(reply.body, str)
            payload = (reply.body if raw else json.dumps(reply.body)).encode()
            kind = "text/html" if raw else "application/json"
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up; nothing to tell it

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests assert on server.requests

    return _Handler
