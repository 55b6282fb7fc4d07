"""The stateful parts the API needs beyond the ledger, on SQLite and on PostgreSQL with the
same tests (skipped, saying why, without the server): API keys (stored hashed, revoked at
once) and each key's daily LLM budget (reservations that concurrent requests cannot
overspend), and the per-run lock that keeps two queue workers off one run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from app.bootstrap import Container, build
from app.services.keys import KeyRequest, authenticate, create_key, list_keys, revoke_key
from app.services.queue import run_lock
from app.services.usage import BudgetSpentError, reserve, settle
from tests.postgres import fresh_database

LLM = {"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m"}  # never called here


@pytest.fixture(params=["sqlite", "postgresql"])
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Container]]:
    """Two containers on one database, each with its own engine (two processes)."""
    budget = {"llm_max_cost_per_run_usd": Decimal("1"),
              "api_llm_budget_per_key_usd_per_day": Decimal("3"), **LLM}  # fmt: skip
    if request.param == "sqlite":
        yield [build(home=tmp_path / "h", **budget) for _ in range(2)]
        return
    with fresh_database("tiller_state") as url:
        yield [build(home=tmp_path / "h", database_url=url, **budget) for _ in range(2)]


def test_a_key_made_in_one_process_works_in_another_until_revoked(two: list[Container]) -> None:
    made, other = two
    created = create_key(made, KeyRequest(name="desk", role="trader"))
    seen = authenticate(other, created.key)
    assert seen is not None and seen.role == "trader" and seen.name == "desk"
    revoke_key(made, created.id)
    assert authenticate(other, created.key) is None
    assert [k.revoked_at is not None for k in list_keys(other)] == [True]
    with other.ledger.engine.connect() as conn:
        stored = str(conn.exec_driver_sql("SELECT * FROM api_keys").all())
    assert created.key not in stored


def test_concurrent_reservations_from_two_processes_never_overspend_a_keys_budget(
    two: list[Container],
) -> None:
    got: list[object] = []
    start = threading.Barrier(6)

    def one(c: Container) -> None:
        start.wait()
        try:
            got.append(reserve(c, "k1"))
        except BudgetSpentError as exc:
            got.append(exc)

    threads = [threading.Thread(target=one, args=(two[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [r for r in got if not isinstance(r, BudgetSpentError)]
    assert len(held) == 3  # $3 a day, $1 a run: three of six
    for r in held:
        settle(two[0], r, Decimal("0.25"))  # type: ignore[arg-type]
    assert reserve(two[1], "k1") is not None  # what was not spent is free again


def test_one_run_lock_at_a_time_across_processes_and_free_again_on_release(
    two: list[Container],
) -> None:
    first, second = run_lock(two[0], "abc123"), run_lock(two[1], "abc123")
    assert first.acquire()
    assert not second.acquire()
    elsewhere = run_lock(two[1], "other")
    assert elsewhere.acquire()  # per run, not global
    elsewhere.release()
    first.release()
    assert second.acquire()
    second.release()
