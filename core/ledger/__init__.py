"""The ledger: orders, fills, positions, balances, runs, risk state and the hash-chained
audit log, on SQLite (default, WAL mode) or PostgreSQL.

    ledger = open_ledger(settings.ledger_url, secrets=secret_values(settings))
    ledger.audit.append("order_sent", {...}, at=clock.now())   # before sending
    ledger.record_order_pending(intent, client_order_id)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import URL

from core.clock import Clock
from core.ledger._anchor import HeadFile, head_file_path
from core.ledger._engine import create_ledger_engine, normalise_url, safe_url, upgrade
from core.ledger.audit import (
    AUDIT_BROKEN_EXIT,
    MIN_AUDIT_KEY_BYTES,
    AcknowledgedBreak,
    AuditChainError,
    AuditEntry,
    AuditKind,
    AuditLog,
    ChainProblem,
    VerifiedPoint,
    VerifyReport,
)
from core.ledger.ledger import Ledger
from core.ledger.records import (
    Balance,
    BalanceRecord,
    ConflictingFillError,
    DuplicateOrderError,
    FillRecord,
    FillResult,
    IllegalTransitionError,
    LedgerError,
    OrderRecord,
    PositionRecord,
    RiskStateRecord,
    RunRecord,
    RunStatus,
    StaleStateError,
    UnknownOrderError,
    UnknownRecordError,
)
from core.ledger.redact import Redactor, secret_values


def open_ledger(
    url: str,
    *,
    secrets: Iterable[str] = (),
    clock: Clock | None = None,
    audit_key: bytes | None = None,
    state_dir: Path | None = None,
) -> Ledger:
    """Connect, migrate to the newest schema (a no-op when up to date) and return the
    ledger.

    ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql://user@host/db``; plain
    ``postgresql://`` uses psycopg 3). ``secrets`` are values that must never be stored
    (pass ``secret_values(settings)``); the URL's own password is added to them.
    ``audit_key`` keys the audit chain (the application always passes one; without it
    the chain stays plain SHA-256, for tests and scratch ledgers). ``state_dir`` is where
    the audit head is recorded outside the database (``head_file_path``).
    """
    parsed = normalise_url(url)
    hidden = [*secrets, *([parsed.password] if parsed.password else [])]
    head_file = None
    if state_dir is not None and not _in_memory(parsed):
        label = safe_url(parsed)
        head_file = HeadFile(head_file_path(state_dir, label), ledger_label=label)
    engine = create_ledger_engine(parsed)
    try:
        upgrade(engine)
        return Ledger(
            engine, clock=clock, redactor=Redactor([str(s) for s in hidden]),
            audit_key=audit_key, head_file=head_file,
        )  # fmt: skip
    except BaseException:
        engine.dispose()
        raise


def _in_memory(url: URL) -> bool:
    # A database that lives as long as its process has no head worth keeping on disk.
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    return url.get_backend_name() == "sqlite" and in_memory


__all__ = [
    "AUDIT_BROKEN_EXIT",
    "MIN_AUDIT_KEY_BYTES",
    "AcknowledgedBreak",
    "AuditChainError",
    "AuditEntry",
    "AuditKind",
    "AuditLog",
    "Balance",
    "BalanceRecord",
    "ChainProblem",
    "ConflictingFillError",
    "DuplicateOrderError",
    "FillRecord",
    "FillResult",
    "HeadFile",
    "IllegalTransitionError",
    "Ledger",
    "LedgerError",
    "OrderRecord",
    "PositionRecord",
    "Redactor",
    "RiskStateRecord",
    "RunRecord",
    "RunStatus",
    "StaleStateError",
    "UnknownOrderError",
    "UnknownRecordError",
    "VerifiedPoint",
    "VerifyReport",
    "head_file_path",
    "open_ledger",
    "secret_values",
]
