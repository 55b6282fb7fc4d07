"""Migrations, connection settings and column types, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from core.errors import ConfigError, UnavailableError
from core.ledger import Balance, Ledger, open_ledger
from core.ledger._engine import alembic_config, create_ledger_engine, normalise_url, upgrade
from core.ledger.models import BalanceRow, Base

EXPECTED_TABLES = {
    "orders",
    "fills",
    "positions",
    "balances",
    "runs",
    "run_events",
    "risk_state",
    "audit_entries",
    "audit_head",
    "api_keys",
    "api_idempotency",
    "api_usage",
    "autopilot_jobs",
    "autopilot_slots",
    "autopilot_leader",
    "autopilot_apscheduler_jobs",
    "alembic_version",
}
AUTOPILOT_TABLES = {t for t in EXPECTED_TABLES if t.startswith("autopilot_")}


def _tables(ledger: Ledger) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(ledger.engine).get_table_names())


def test_open_ledger_creates_every_table_at_the_newest_revision(ledger: Ledger) -> None:
    assert _tables(ledger) == EXPECTED_TABLES
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with ledger.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (head,)


def test_reopening_an_up_to_date_ledger_runs_no_migration(ledger_url: str) -> None:
    with open_ledger(ledger_url) as first:
        first.set_balances("paper", [Balance("USD", Decimal(100))])
        assert upgrade(first.engine) is False
    with open_ledger(ledger_url) as second:
        assert [b.free for b in second.balances()] == [Decimal(100)]


def _only(tables: set[str], *, inside: bool) -> dict[str, object]:
    def include(name: str | None, kind: str, _parent: object) -> bool:
        return kind != "table" or (name in tables) == inside

    return {"include_name": include}


def test_migrated_schema_matches_the_models(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=_only(AUTOPILOT_TABLES, inside=False))
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migrated_autopilot_tables_match_what_the_autopilot_and_apscheduler_define(
    ledger: Ledger,
) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from app.autopilot._store import JOBSTORE_TABLE, metadata

    store = SQLAlchemyJobStore(engine=ledger.engine, tablename=JOBSTORE_TABLE)
    store.jobs_t.to_metadata(wanted := metadata.__class__())
    for table in metadata.tables.values():
        table.to_metadata(wanted)
    with ledger.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=_only(AUTOPILOT_TABLES, inside=True))
        diff = compare_metadata(context, wanted)
    assert diff == []


def test_upgrade_keeps_autopilot_tables_created_on_first_use_before_0005(
    ledger_url: str,
) -> None:
    """A database at 0004 whose autopilot made its tables itself (and has a job) upgrades
    to the newest revision without losing the job or failing on the existing tables."""
    from alembic import command

    from app.autopilot import JobSpec
    from app.autopilot._scheduler import editing, schedule
    from app.autopilot._store import AutopilotStore

    engine = create_ledger_engine(normalise_url(ledger_url))
    with engine.connect() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.commit()
    spec = JobSpec(name="kept", symbols=["AAPL"], every=timedelta(hours=1))
    AutopilotStore(engine).add(spec, datetime(2026, 1, 5, tzinfo=UTC))  # first use
    with editing(engine) as scheduler:
        schedule(scheduler, spec)

    assert upgrade(engine) is True

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (head,)
        jobs = conn.execute(text("SELECT id FROM autopilot_apscheduler_jobs")).scalars().all()
    assert [row.spec.name for row in AutopilotStore(engine).jobs()] == ["kept"]
    assert jobs == ["kept"]
    engine.dispose()


def test_a_database_from_a_newer_tiller_is_refused(ledger_url: str) -> None:
    with open_ledger(ledger_url) as ledger, ledger.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ConfigError, match="newer than this Tiller knows"):
        open_ledger(ledger_url)


def test_sqlite_ledger_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'new' / 'ledger.sqlite3'}") as ledger:
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert (tmp_path / "new" / "ledger.sqlite3-wal").exists()


def test_money_round_trips_exactly_at_18_decimals_and_20_integer_digits(ledger: Ledger) -> None:
    tiny, huge = Decimal("0.000000000000000001"), Decimal("12345678901234567890.123456789012345678")
    ledger.set_balances("x", [Balance("AAA", tiny, huge), Balance("BBB", Decimal("1.50"))])
    got = {b.currency: b for b in ledger.balances(venue="x")}
    assert (got["AAA"].free, got["AAA"].used) == (tiny, huge)
    assert str(got["BBB"].free) == "1.5"  # same text on both backends


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(ledger: Ledger) -> None:
    paris = timezone(timedelta(hours=1))
    at = datetime(2024, 5, 1, 13, 30, 0, 123456, tzinfo=paris)
    with ledger.engine.begin() as conn:
        conn.execute(
            BalanceRow.__table__.insert().values(
                venue="v", currency="C", free=Decimal(1), used=Decimal(0), updated_at=at
            )
        )
    with ledger.engine.connect() as conn:
        stored = conn.execute(select(BalanceRow.updated_at)).scalar_one()
    assert stored == at and stored.tzinfo == UTC and stored.hour == 12
    with pytest.raises(Exception, match="naive datetime"), ledger.engine.begin() as conn:
        conn.execute(
            BalanceRow.__table__.insert().values(
                venue="v",
                currency="D",
                free=Decimal(1),
                used=Decimal(0),
                updated_at=datetime(2024, 5, 1),
            )
        )


def test_plain_postgresql_urls_use_psycopg_3_and_messages_hide_the_password() -> None:
    url = normalise_url("postgresql://bob:hunter2@db.example/tiller")
    assert url.drivername == "postgresql+psycopg"
    assert "hunter2" not in url.render_as_string(hide_password=True)


def test_unsupported_or_malformed_urls_say_what_is_supported() -> None:
    with pytest.raises(ConfigError, match="SQLite and PostgreSQL"):
        normalise_url("mysql://x@y/z")
    with pytest.raises(ConfigError, match="not a database URL"):
        normalise_url("not a url")


def test_an_unreachable_database_is_unavailable_and_the_message_hides_the_password() -> None:
    with pytest.raises(UnavailableError, match="cannot open the ledger") as caught:
        open_ledger("postgresql://bob:hunter2@127.0.0.1:1/tiller")
    assert "hunter2" not in str(caught.value) and "bob:***@" in str(caught.value)
