"""Agent runs on PostgreSQL: the ledger, the run record and the graph's checkpoints all in
one real PostgreSQL database (skips, saying why, when the server is unreachable)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from agents.models import ApprovalDecision, RunRequest
from app.bootstrap import build
from app.services.runs import decide_run, start_run
from tests.postgres import fresh_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("tiller_agents") as url:
        yield url


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
