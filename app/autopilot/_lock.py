"""One leader per ledger: only the autopilot holding this lock schedules and trades.

SQLite: an exclusive ``flock`` on a file next to the database (released by the kernel
when the process dies, however it dies). PostgreSQL: a session advisory lock on a
connection held open for the leader's lifetime (released when that session ends), keyed
by the database and schema, so two ledgers on one server do not exclude each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from core.errors import UnavailableError


def holder_name() -> str:
    """Who holds the lock, as people read it: ``pid 1234 on host``."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


class LeaderLock(Protocol):
    """Contract: ``acquire`` returns at once, True when this process now leads;
    ``held`` says whether it still does (a lost database session loses the lock);
    ``release`` is idempotent."""

    def acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...


class FileLock:
    """``flock`` on ``path`` (SQLite ledgers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, holder_name().encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection (PostgreSQL ledgers)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._key: int | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect()
        try:
            where = conn.execute(text("SELECT current_database(), current_schema()")).one()
            key = _key(f"tiller.autopilot:{where[0]}:{where[1]}")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()  # the lock is the session's, not the transaction's
        except DBAPIError as exc:
            conn.close()
            raise UnavailableError(f"cannot reach the ledger's database: {exc.orig}") from None
        if not got:
            conn.close()
            return False
        self._conn, self._key = conn, key
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            count = self._conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                     "AND pid = pg_backend_pid() AND granted "
                     "AND ((classid::bigint << 32) | objid::bigint) = :k"),
                {"k": self._key},
            ).scalar()  # fmt: skip
            self._conn.commit()
        except SQLAlchemyError:
            self._drop()  # the session is gone, and the lock with it
            return False
        return bool(count)

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.invalidate()
                self._conn.close()
        self._conn = None

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
            self._conn.close()
            self._conn = None
        except SQLAlchemyError:
            self._drop()  # the session is gone, and its lock with it


class ProcessLock:
    """An in-memory SQLite ledger lives in one process: nobody else can lead it."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self) -> bool:
        self._held = True
        return True

    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def _key(name: str) -> int:
    """A non-negative 63-bit advisory lock key derived from ``name`` (non-negative, so
    pg_locks' two 32-bit halves put it back together without sign games)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def leader_lock(engine: Engine) -> LeaderLock:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(engine)
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return ProcessLock()
    path = Path(database).expanduser().resolve()
    return FileLock(path.with_name(path.name + ".autopilot.lock"))


def describe(lock: Any) -> str:
    if isinstance(lock, FileLock):
        return f"file lock {lock.path}"
    if isinstance(lock, AdvisoryLock):
        return "PostgreSQL advisory lock"
    return "process lock"
