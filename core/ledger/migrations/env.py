"""Alembic environment. ``open_ledger`` passes a connection in ``config.attributes``; a
developer can also run ``alembic -c <ini with script_location=core/ledger/migrations>``
with ``sqlalchemy.url`` set, e.g. to autogenerate a revision for review."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core.ledger._engine import create_ledger_engine, normalise_url
from core.ledger.models import Base

# Any constant: serialises concurrent first-time migrations on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x711E7


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (or call core.ledger.open_ledger)")
    engine = create_ledger_engine(normalise_url(url))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: run them on a database")
run_migrations_online()
