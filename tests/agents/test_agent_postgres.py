"""Agent runs on PostgreSQL: the ledger, the run record and the graph's checkpoints all in
one real PostgreSQL database (skips, saying why, when the server is unreachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import make_url

from agents.models import ApprovalDecision, RunRequest
from app.bootstrap import build
from app.services.runs import decide_run, start_run

PG_ADMIN = os.environ.get("TILLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN} ({exc})")
    name = f"tiller_agents_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_run_paused_on_postgres_is_approved_by_another_container_and_executes(
    pg_url: str,
) -> None:
    first = build(database_url=pg_url)
    view = start_run(first, RunRequest(symbols=["MSFT"]))
    assert view.status == "awaiting_approval"
    with psycopg.connect(pg_url) as conn:  # the checkpoint is in PostgreSQL, not a file
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] > 0  # type: ignore[index]
    second = build(database_url=pg_url)  # as another process would
    done = decide_run(second, view.run_id, ApprovalDecision(action="approve", operator="t"))
    assert done.outcome == "executed"
    assert len(second.ledger.orders()) == 1
    assert second.ledger.audit.verify().ok
