"""knowledge_base.edgar against a fake EDGAR speaking real HTTP on local sockets."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from core.errors import (
    ConfigError,
    NotFoundError,
    RejectedError,
    ThrottledError,
    UnavailableError,
)
from core.settings import Settings, load_settings
from knowledge_base.edgar import MAX_ATTEMPTS, MIN_INTERVAL_S, fetch_filings
from tests.fakes.edgar_server import APPLE, FakeEdgar

AGENT = "Jane Doe jane@example.com"
TICKERS = "/files/company_tickers.json"
APPLE_INDEX = "/submissions/CIK0000320193.json"
APPLE_OLDER = "/submissions/CIK0000320193-submissions-001.json"
APPLE_10K_2024 = APPLE.filings[3]


@pytest.fixture
def edgar() -> Iterator[FakeEdgar]:
    with FakeEdgar() as server:
        yield server


@pytest.fixture
def settings(edgar: FakeEdgar, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("TILLER_SEC_USER_AGENT", raising=False)
    return load_settings(
        sec_user_agent=AGENT, edgar_base_url=edgar.www_url, edgar_data_url=edgar.data_url
    )


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "filings"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- happy path -----------------------------------------------------------------------
def test_fetch_latest_10k_saves_primary_document_under_dated_name(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    results = fetch_filings(settings, "aapl", form="10-k", dest=dest)

    assert len(results) == 1
    r = results[0]
    assert r.path == dest / "aapl-10-k-2024-11-01.html"
    assert (r.form, r.filing_date, r.report_date) == ("10-K", date(2024, 11, 1), date(2024, 9, 28))
    assert (r.accession, r.status, r.ticker) == ("0000320193-24-000123", "downloaded", "AAPL")
    assert r.url == edgar.www_url + edgar.document_path(APPLE, APPLE_10K_2024)
    assert r.path.read_text() == APPLE.document(APPLE_10K_2024)
    assert r.to_json()["filing_date"] == "2024-11-01"
    assert sorted(p.name for p in dest.iterdir()) == [r.path.name]  # no .part


def test_fetch_asks_each_host_for_its_part_with_the_user_agent(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    fetch_filings(settings, "AAPL", dest=dest)

    seen = [(r.host, r.path) for r in edgar.requests]
    assert seen == [
        ("www", TICKERS),
        ("data", APPLE_INDEX),
        ("www", edgar.document_path(APPLE, APPLE_10K_2024)),
    ]
    assert {r.headers["user-agent"] for r in edgar.requests} == {AGENT}


class _Clock:
    """The client's clock, moved only by its own sleeps: a request's wall time counts as
    zero, so every gap between sends is what the client's pacing waited for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sends: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def test_fetch_spaces_requests_under_ten_per_second(
    settings: Settings, edgar: FakeEdgar, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Measured on the client's own clock, not on arrival at the server (a loaded machine
    # delays one request's arrival and bunches the next ones: a timing assertion).
    clock = _Clock()
    monkeypatch.setattr("knowledge_base.edgar.time", clock)
    real_get = httpx.Client.get

    def timed_get(self: httpx.Client, url: object, **kwargs: object) -> httpx.Response:
        clock.sends.append(clock.now)
        return real_get(self, url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.Client, "get", timed_get)

    fetch_filings(settings, "AAPL", limit=2, dest=dest)

    gaps = [b - a for a, b in itertools.pairwise(clock.sends)]
    assert len(gaps) == 3 and len(edgar.requests) == 4
    assert min(gaps) >= MIN_INTERVAL_S


def test_fetch_with_limit_returns_newest_first_and_reports_progress(
    settings: Settings, dest: Path
) -> None:
    calls: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, label: str) -> None:
        calls.append((done, total, label))

    results = fetch_filings(settings, "AAPL", limit=2, dest=dest, progress=progress)

    names = [r.path.name for r in results]
    assert names == ["aapl-10-k-2024-11-01.html", "aapl-10-k-2023-11-03.html"]
    assert calls == [(1, 2, names[0]), (2, 2, names[1])]


def test_fetch_reads_older_index_pages_only_when_recent_falls_short(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    fetch_filings(settings, "AAPL", limit=2, dest=dest)
    assert edgar.requests_to(APPLE_OLDER) == []

    results = fetch_filings(settings, "AAPL", limit=5, dest=dest)

    assert [r.filing_date.year for r in results] == [2024, 2023, 2022]
    assert [r.status for r in results] == ["skipped", "skipped", "downloaded"]
    assert len(edgar.requests_to(APPLE_OLDER)) == 1


def test_fetch_same_day_filings_get_distinct_names(settings: Settings, dest: Path) -> None:
    results = fetch_filings(settings, "AAPL", form="8-K", limit=2, dest=dest)

    assert sorted(r.path.name for r in results) == [
        "aapl-8-k-2025-07-31-000032019325000070.html",
        "aapl-8-k-2025-07-31-000032019325000071.html",
    ]
    assert all(r.path.is_file() for r in results)


def test_fetch_share_class_ticker_with_dot_or_dash(settings: Settings, dest: Path) -> None:
    dotted = fetch_filings(settings, "BRK.B", dest=dest)
    dashed = fetch_filings(settings, "brk-b", dest=dest)

    assert dotted[0].path.name == "brk.b-10-k-2025-02-24.html"
    assert (dashed[0].path, dashed[0].status) == (dotted[0].path, "skipped")


def test_fetch_by_cik_skips_ticker_lookup_and_names_files_by_ticker(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    results = fetch_filings(settings, "320193", dest=dest)

    assert results[0].path.name == "aapl-10-k-2024-11-01.html"
    assert edgar.requests_to(TICKERS) == []


def test_fetch_defaults_to_filings_folder_in_state(settings: Settings) -> None:
    results = fetch_filings(settings, "AAPL")

    assert results[0].path.parent == settings.state_path / "filings"


# -- idempotence ----------------------------------------------------------------------
def test_second_fetch_skips_files_already_present(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    first = fetch_filings(settings, "AAPL", limit=2, dest=dest)
    before = {p: p.stat().st_mtime_ns for p in dest.iterdir()}

    second = fetch_filings(settings, "AAPL", limit=2, dest=dest)

    assert [r.status for r in second] == ["skipped", "skipped"]
    assert [r.path for r in second] == [r.path for r in first]
    assert {p: p.stat().st_mtime_ns for p in dest.iterdir()} == before
    assert len(edgar.requests_to(edgar.document_path(APPLE, APPLE_10K_2024))) == 1


def test_failed_download_leaves_no_file_behind(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    edgar.fail_next(1, 404, path=edgar.document_path(APPLE, APPLE_10K_2024))

    with pytest.raises(NotFoundError, match="404"):
        fetch_filings(settings, "AAPL", dest=dest)

    assert list(dest.iterdir()) == []
    assert fetch_filings(settings, "AAPL", dest=dest)[0].status == "downloaded"


# -- not found ------------------------------------------------------------------------
def test_unknown_ticker_is_not_found_with_a_suggestion(settings: Settings, dest: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no ticker 'GOOGLE'.*did you mean 'GOOGL'"):
        fetch_filings(settings, "GOOGLE", dest=dest)


def test_form_without_filings_is_not_found_naming_forms_that_exist(
    settings: Settings, dest: Path
) -> None:
    with pytest.raises(NotFoundError) as info:
        fetch_filings(settings, "AAPL", form="S-1", dest=dest)

    message = str(info.value)
    assert "no S-1 filing" in message
    for form in ("10-K", "10-Q", "8-K"):
        assert form in message
    assert list(dest.iterdir()) == []


# -- throttling and failures ----------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "headers", "min_wait"),
    [(429, {"Retry-After": "1"}, 1.0), (503, {}, 1.0)],  # 503 without it: backoff from 1 s
)
def test_throttled_request_is_retried_after_the_wait(
    settings: Settings,
    edgar: FakeEdgar,
    dest: Path,
    status: int,
    headers: dict[str, str],
    min_wait: float,
) -> None:
    edgar.fail_next(1, status, path=TICKERS, headers=headers)

    results = fetch_filings(settings, "AAPL", dest=dest)

    assert results[0].status == "downloaded"
    tries = edgar.requests_to(TICKERS)
    assert len(tries) == 2
    assert tries[1].at - tries[0].at >= min_wait - 0.05


def test_persistent_429_gives_up_after_bounded_attempts(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    edgar.fail_next(100, 429, path=TICKERS, headers={"Retry-After": "0"})

    with pytest.raises(ThrottledError, match="429"):
        fetch_filings(settings, "AAPL", dest=dest)

    assert len(edgar.requests_to(TICKERS)) == MAX_ATTEMPTS


def test_retry_after_beyond_the_cap_raises_instead_of_waiting(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    edgar.fail_next(1, 429, path=TICKERS, headers={"Retry-After": "600"})

    with pytest.raises(ThrottledError, match="600 s"):
        fetch_filings(settings, "AAPL", dest=dest)

    assert len(edgar.requests_to(TICKERS)) == 1


def test_403_is_a_rejection_explaining_user_agent_and_rate(
    settings: Settings, edgar: FakeEdgar, dest: Path
) -> None:
    edgar.fail_next(1, 403, path=TICKERS)

    with pytest.raises(RejectedError, match="TILLER_SEC_USER_AGENT"):
        fetch_filings(settings, "AAPL", dest=dest)

    assert len(edgar.requests_to(TICKERS)) == 1


def test_connection_refused_fails_fast_as_unavailable(dest: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    settings = load_settings(sec_user_agent=AGENT, edgar_base_url=dead, edgar_data_url=dead)
    started = time.monotonic()

    with pytest.raises(UnavailableError) as info:
        fetch_filings(settings, "AAPL", dest=dest)

    assert time.monotonic() - started < 3.0
    assert not isinstance(info.value, ThrottledError)
    assert "offline" in str(info.value)
    assert "tiller kb ingest" in str(info.value)


# -- configuration --------------------------------------------------------------------
@pytest.mark.parametrize("agent", [None, "", "   ", "tiller-bot"])
def test_missing_or_emailless_user_agent_is_a_config_error_before_any_request(
    edgar: FakeEdgar, dest: Path, monkeypatch: pytest.MonkeyPatch, agent: str | None
) -> None:
    monkeypatch.delenv("TILLER_SEC_USER_AGENT", raising=False)
    settings = load_settings(
        sec_user_agent=agent, edgar_base_url=edgar.www_url, edgar_data_url=edgar.data_url
    )

    with pytest.raises(ConfigError, match="TILLER_SEC_USER_AGENT"):
        fetch_filings(settings, "AAPL", dest=dest)

    assert edgar.requests == []


@pytest.mark.parametrize(
    ("ticker", "form", "limit"),
    [("../etc", "10-K", 1), ("AAPL", "10-K;rm", 1), ("AAPL", "10-K", 0)],
)
def test_bad_arguments_are_config_errors(
    settings: Settings, edgar: FakeEdgar, dest: Path, ticker: str, form: str, limit: int
) -> None:
    with pytest.raises(ConfigError):
        fetch_filings(settings, ticker, form=form, limit=limit, dest=dest)

    assert edgar.requests == []


def test_fake_edgar_refuses_clients_without_a_declared_user_agent(edgar: FakeEdgar) -> None:
    response = httpx.get(edgar.www_url + TICKERS)

    assert response.status_code == 403
    assert "Undeclared Automated Tool" in response.text
