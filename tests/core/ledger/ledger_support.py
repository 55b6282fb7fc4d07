"""Helpers shared by the ledger tests (importable, unlike conftest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.ledger import Ledger

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "sk-test-9f8e7d6c5b4a39281706"  # stands in for an exchange API secret


class TickingClock:
    """Moves 1 ms per reading, so every record gets a distinct, ordered timestamp."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


class RawSql:
    """Someone with direct database access: switches the append-only guards off."""

    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.engine
        self.dialect = ledger.engine.dialect.name

    def tamper(self, *statements: str) -> None:
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                for trigger in (
                    "audit_entries_no_update",
                    "audit_entries_no_delete",
                    "audit_head_forward",
                    "audit_head_no_delete",
                ):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
                conn.exec_driver_sql("ALTER TABLE audit_head DISABLE TRIGGER USER")
            for statement in statements:
                conn.exec_driver_sql(statement)
            if self.dialect != "sqlite":
                conn.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")
                conn.exec_driver_sql("ALTER TABLE audit_head ENABLE TRIGGER USER")

    def dump(self) -> str:
        """Every row of every table as text (what ``grep`` on a dump would see)."""
        tables = (
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
        )
        parts: list[str] = []
        with self.engine.connect() as conn:
            for table in tables:
                rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
                parts.extend(repr(tuple(r)) for r in rows)
        return "\n".join(parts)
