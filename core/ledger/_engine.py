"""Engines and migrations: the only place that knows SQLite from PostgreSQL settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool

from core.errors import ConfigError, UnavailableError
from core.ledger._chain import LedgerUnreadableError

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 15_000
BEGIN_OPTION = "tiller_sqlite_begin"
"""Execution option naming the SQLite BEGIN mode of a transaction (``IMMEDIATE`` takes
the write lock up front; see ``_sqlite_begin``)."""


def normalise_url(url: str) -> URL:
    """Parse a SQLAlchemy URL; bare ``postgresql://`` (and ``postgres://``) use psycopg 3,
    the driver we ship, instead of SQLAlchemy's default psycopg2."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            "TILLER_DATABASE_URL is not a database URL: use sqlite:///path/ledger.sqlite3 "
            "or postgresql://user@host/db"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"the ledger supports SQLite and PostgreSQL, not {parsed.get_backend_name()!r}"
        )
    return parsed


def safe_url(url: URL) -> str:
    """The URL for messages: never with its password."""
    return url.render_as_string(hide_password=True)


def create_ledger_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    kwargs: dict[str, Any] = {}
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        # One shared connection, or every session would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the pysqlite driver (it would issue its own
    # deferred BEGIN lazily); ``_sqlite_begin`` emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer and a crash leaves the file consistent.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # FULL (the default) fsyncs the WAL at every commit: an acknowledged fill survives
        # a power cut, not only a process crash. The benchmark measures what it costs.
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A DEFERRED transaction that reads and then writes can fail at once with "database
    # is locked" when another writer got there first; IMMEDIATE waits (busy_timeout) for
    # the write lock before reading anything, which is what serialises audit appends.
    mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config built in code: no alembic.ini needed at runtime."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; return whether anything ran.

    An up-to-date database is only read. A database written by a newer Tiller (a
    revision we do not know) is refused rather than guessed at. An unreachable database
    raises ``UnavailableError`` naming the URL without its password; a file that is not
    a database (or a damaged one) raises ``LedgerUnreadableError`` (exit 9).
    """
    try:
        return _upgrade(engine)
    except (OperationalError, InterfaceError) as exc:
        if _not_a_database(exc):
            raise LedgerUnreadableError(
                f"the ledger at {safe_url(engine.url)} is not a readable database: "
                f"{_reason(engine, exc)}"
            ) from None
        raise UnavailableError(
            f"cannot open the ledger at {safe_url(engine.url)}: {_reason(engine, exc)}"
        ) from None
    except DatabaseError as exc:
        raise LedgerUnreadableError(
            f"the ledger at {safe_url(engine.url)} is not a readable database: "
            f"{_reason(engine, exc)}"
        ) from None


def _reason(engine: Engine, exc: DatabaseError | InterfaceError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    password = engine.url.password
    return reason.replace(str(password), "***") if password else reason


def _not_a_database(exc: DatabaseError | InterfaceError) -> bool:
    # SQLite reports a damaged file as an OperationalError on some statements.
    text = str(exc.orig).lower() if exc.orig else ""
    return any(s in text for s in ("malformed", "not a database", "already exists"))


def _upgrade(engine: Engine) -> bool:
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return False
    unknown = [rev for rev in current if not _known(script, rev)]
    if unknown:
        raise ConfigError(
            f"the ledger at {safe_url(engine.url)} has schema revision {', '.join(unknown)}, "
            "newer than this Tiller knows: upgrade Tiller, or point TILLER_DATABASE_URL "
            "at another database"
        )
    with engine.connect() as conn:
        config.attributes["connection"] = conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        command.upgrade(config, "head")
        conn.commit()
    return True


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except (ResolutionError, CommandError):  # no file for that revision
        return False
