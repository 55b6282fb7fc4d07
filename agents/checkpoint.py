"""Where the graph's checkpoints live: SQLite in the state folder by default, PostgreSQL
when the ledger is on PostgreSQL. A run killed at any node resumes from its last
checkpoint (written before the next step starts: ``durability="sync"``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from core.errors import UnavailableError


@contextmanager
def open_checkpointer(ledger_url: str, state_dir: Path) -> Iterator[BaseCheckpointSaver[str]]:
    if ledger_url.startswith(("postgresql", "postgres")):
        with _postgres(ledger_url) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    state_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(state_dir / "checkpoints.sqlite3", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


@contextmanager
def _postgres(url: str) -> Iterator[BaseCheckpointSaver[str]]:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        conn = psycopg.connect(plain, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise UnavailableError(f"cannot reach PostgreSQL for checkpoints: {exc}") from None
    with conn:
        saver = PostgresSaver(conn)
        saver.setup()
        yield saver
