"""Autopilot fixtures: a ledger on SQLite or PostgreSQL, a container built like the CLI's,
and an autopilot on it whose wall clock the test controls.

The bundled news is embedded once per session and copied into each test's home (the
knowledge base is a folder), so a test pays for its agent runs, not for the ingest.
PostgreSQL: one fresh database per session on ``TILLER_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), one schema per test inside it;
the PostgreSQL cases skip, saying why, when the server is unreachable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.autopilot import Autopilot, AutopilotSettings, profile_limits
from app.bootstrap import Container, build
from core.clock import FixedClock
from tests.postgres import fresh_database, fresh_schema

# The wall clock of these tests: years after the bundled prices end (2013-03-01), so the
# autopilot replays them one bar per run, as it does on a fresh install.
WALL = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def warm_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose knowledge base holds the bundled news (embedded once)."""
    home = tmp_path_factory.mktemp("warm-home")
    previous = os.environ.get("TILLER_HOME")
    os.environ["TILLER_HOME"] = str(home)
    try:
        c = build()
        c.store  # noqa: B018 - loads the bundled prices
        c.knowledge_base  # noqa: B018 - embeds the bundled news
    finally:
        if previous is None:
            os.environ.pop("TILLER_HOME", None)
        else:
            os.environ["TILLER_HOME"] = previous
    return home


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with fresh_database("tiller_autopilot") as url:
        yield url


def fresh_pg_url(database_url: str) -> str:
    return fresh_schema(database_url, "a")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, _isolated_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{_isolated_home / 'state' / 'ledger.sqlite3'}"
    return fresh_pg_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    """This test's TILLER_HOME (for tests that run no agents)."""
    return _isolated_home


@pytest.fixture
def warm_home(_isolated_home: Path, warm_state: Path) -> Path:
    """This test's TILLER_HOME, with the warm knowledge base and market data copied in."""
    shutil.copytree(warm_state / "data", _isolated_home / "data", dirs_exist_ok=True)
    shutil.copytree(warm_state / "state" / "kb", _isolated_home / "state" / "kb",
                    dirs_exist_ok=True)  # fmt: skip
    return _isolated_home


@pytest.fixture
def c(warm_home: Path) -> Container:
    return build()


@pytest.fixture
def wall() -> FixedClock:
    return FixedClock(WALL)


def make_pilot(c: Container, wall: FixedClock, **settings: object) -> Autopilot:
    options = {"cycle_s": 0.05, "mark_every_s": 0.05, **settings}
    return Autopilot(
        container=c, settings=AutopilotSettings(**options),  # type: ignore[arg-type]
        limits=profile_limits(c.limits), clock=wall,
    )  # fmt: skip


@pytest.fixture
def pilot(c: Container, wall: FixedClock) -> Autopilot:
    return make_pilot(c, wall)
