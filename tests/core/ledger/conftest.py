"""Ledger fixtures: every ledger test runs on SQLite and on PostgreSQL.

PostgreSQL: one fresh database per test session on ``TILLER_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), dropped at the end, and one schema
per test inside it. When the server is unreachable the PostgreSQL cases skip, saying why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ledger import Ledger, open_ledger
from tests.core.ledger.ledger_support import SECRET, RawSql, TickingClock
from tests.postgres import fresh_database, fresh_schema


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    with fresh_database("tiller_test") as url:
        yield url


def fresh_pg_url(database_url: str) -> str:
    """A new, empty schema in the session database, selected through ``search_path``."""
    return fresh_schema(database_url, "t")


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}"
    return fresh_pg_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with open_ledger(ledger_url, secrets=[SECRET], clock=TickingClock()) as opened:
        yield opened


@pytest.fixture
def raw_sql(ledger: Ledger) -> RawSql:
    return RawSql(ledger)
