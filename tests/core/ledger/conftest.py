"""Ledger fixtures: every ledger test runs on SQLite and on PostgreSQL.

PostgreSQL: one fresh database per test session on ``TILLER_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), dropped at the end, and one schema
per test inside it. When the server is unreachable the PostgreSQL cases skip, saying why.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from core.ledger import Ledger, open_ledger
from tests.core.ledger.ledger_support import SECRET, RawSql, TickingClock

PG_ADMIN = os.environ.get("TILLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN} ({exc}); SQLite cases still run")
    name = f"tiller_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def fresh_pg_url(database_url: str) -> str:
    """A new, empty schema in the session database, selected through ``search_path``."""
    schema = f"t{next(_schemas)}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return (
        make_url(database_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


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
