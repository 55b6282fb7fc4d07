"""PostgreSQL for tests: a fresh database per session (dropped at the end) and a fresh
schema per test inside it, on ``TILLER_TEST_POSTGRES`` (default the local server's
``postgres`` database as admin). When the server is unreachable the caller skips, saying
why."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import make_url

PG_ADMIN = os.environ.get("TILLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
_schemas = itertools.count(1)


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """URL of a new, empty database named ``prefix_<pid>_<random>``, dropped afterwards."""
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN} ({exc}); SQLite cases still run")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def fresh_schema(database_url: str, prefix: str = "t") -> str:
    """A new, empty schema in ``database_url``, selected through ``search_path``."""
    schema = f"{prefix}{next(_schemas)}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return (
        make_url(database_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
