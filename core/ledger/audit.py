"""The append-only, hash-chained audit log.

Every entry is written *before* the action it records. Entry ``seq`` carries
``hash = HMAC-SHA256(key, prev_hash + canonical_json({"at", "kind", "payload", "seq"}))``
with ``prev_hash`` the previous entry's hash (64 zeros for the first), so editing,
deleting or reordering any entry breaks every hash after it, and nobody without the key
(``TILLER_AUDIT_KEY`` or ``state_dir/audit.key``, never in the database) can recompute
them. Entries written before the chain was keyed keep their plain SHA-256 hashes; they
may only come first (see ``_chain``). Payloads pass through a redactor before hashing:
secrets never reach the table.

What the database alone cannot prove: that its last entries were not deleted along with
the head row. The head is therefore also recorded outside it (``HeadFile``, a small file
in the state folder), and ``verify(expect_head=...)`` checks against a head kept
anywhere else (a ticket, a log shipper).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConfigError
from core.ledger._anchor import AnchorUnreadableError, HeadFile, RecordedHead
from core.ledger._canonical import canonical_json, entry_hash, entry_mac, to_jsonable, utc_text
from core.ledger._chain import (
    ACK_KIND,
    AUDIT_BROKEN_EXIT,
    MAC_KEYED,
    MAC_PLAIN,
    AcknowledgedBreak,
    Anchor,
    AuditChainError,
    ChainProblem,
    ChainVerifier,
    VerifiedPoint,
    VerifyReport,
    unreadable_report,
)
from core.ledger._engine import BEGIN_OPTION
from core.ledger.models import AuditHeadRow, AuditRow
from core.ledger.redact import Redactor

__all__ = [
    "AUDIT_BROKEN_EXIT",
    "MIN_AUDIT_KEY_BYTES",
    "AcknowledgedBreak",
    "AuditChainError",
    "AuditEntry",
    "AuditKind",
    "AuditLog",
    "ChainProblem",
    "VerifiedPoint",
    "VerifyReport",
]

MIN_AUDIT_KEY_BYTES = 32
_HEX64 = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger(__name__)


# Built once: a statement with parameters is compiled once and then served from cache.
_LOCK_HEAD = (
    select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1).with_for_update()
)
_INSERT_ENTRY = insert(AuditRow)
_MOVE_HEAD = (
    update(AuditHeadRow)
    .where(AuditHeadRow.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


class AuditKind(StrEnum):
    PROPOSAL = "proposal"
    DECISION = "decision"  # with reason codes
    TOKEN_ISSUED = "token_issued"
    ORDER_PENDING = "order_pending"
    ORDER_SENT = "order_sent"
    ACK = "ack"
    AMBIGUOUS = "ambiguous"  # sent, outcome unknown: resolved by querying, never re-sent
    ORDER_REFUSED = "order_refused"  # the executor would not send it (token, state)
    REJECT = "reject"
    FILL = "fill"
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL = "cancel"
    STATE_CHANGE = "state_change"
    LIMITS_CHANGED = "limits_changed"
    HUMAN_ACTION = "human_action"
    RECONCILE = "reconcile"
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    RETRIEVAL = "retrieval"
    TOOL_CALL = "tool_call"
    LLM_CALL = "llm_call"
    ERROR = "error"
    AUDIT_ACKNOWLEDGED = ACK_KIND  # a human accepted a broken chain (AuditLog.acknowledge)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": utc_text(self.at)}


class AuditLog:
    """Append and verify. Share the ``Engine`` with the ``Ledger`` (``ledger.audit``).

    ``key`` (>= 32 bytes, kept outside the database) makes the chain keyed: every entry
    appended from then on is HMAC-SHA256. Without it entries are plain SHA-256, which
    only a chain with no keyed entry yet accepts (tests, tools that build a scratch
    ledger). ``head_file`` records the head outside the database after every append.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        redactor: Redactor | None = None,
        key: bytes | None = None,
        head_file: HeadFile | None = None,
    ) -> None:
        if key is not None and len(key) < MIN_AUDIT_KEY_BYTES:
            raise ConfigError(
                f"the audit key is too short: {len(key)} bytes, need at least "
                f"{MIN_AUDIT_KEY_BYTES} (e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        self.engine = engine
        self._writer = engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        self._redactor = redactor or Redactor()
        self._key = key
        self.head_file = head_file

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def append(
        self,
        kind: AuditKind | str,
        payload: Mapping[str, Any],
        *,
        at: datetime,
        guard: Callable[[Connection], None] | None = None,
    ) -> AuditEntry:
        """Add one entry and return it (as stored: secrets masked).

        Appends from several processes serialise on the head row (row lock on
        PostgreSQL, the database write lock on SQLite), so the chain never forks.
        ``guard`` runs inside that same transaction, after the lock and before the
        insert: it may read or write other tables (e.g. the risk state) and raise to
        abort, so "check the state, record the action" is one atomic step that every
        other append is ordered against.
        """
        kind = _kind(kind)
        payload_json = canonical_json(self._redactor.data(to_jsonable(dict(payload))))
        utc_text(at)  # refuses a naive time before anything is written
        with self._writer.begin() as conn:
            head = conn.execute(_LOCK_HEAD).one()
            if self._key is None:
                _refuse_if_keyed(conn, int(head.seq))
            if guard is not None:
                guard(conn)
            seq = head.seq + 1
            if self._key is None:
                digest, mac = entry_hash(head.hash, seq, at, kind, payload_json), MAC_PLAIN
            else:
                digest = entry_mac(self._key, head.hash, seq, at, kind, payload_json)
                mac = MAC_KEYED
            row = {"seq": seq, "at": at, "kind": kind, "payload": payload_json, "mac": mac}
            conn.execute(_INSERT_ENTRY, {**row, "prev_hash": head.hash, "hash": digest})
            conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest})
        self._record_head(seq, digest)
        return AuditEntry(
            seq, at.astimezone(UTC), kind, json.loads(payload_json), head.hash, digest
        )

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            row = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
        return int(row.seq), str(row.hash)

    def tail(self, n: int = 20) -> list[AuditEntry]:
        """The last ``n`` entries, oldest first."""
        query = select(AuditRow).order_by(AuditRow.seq.desc()).limit(max(n, 0))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_entry(r) for r in reversed(rows)]

    def entry(self, seq: int) -> AuditEntry | None:
        """One entry by seq; None if absent or unreadable (``verify`` says which)."""
        with self.engine.connect() as conn:
            try:
                row = conn.execute(select(AuditRow).where(AuditRow.seq == seq)).first()
            except (ValueError, TypeError, SQLAlchemyError):
                return None
        return None if row is None else _entry(row)

    def verify(
        self, *, expect_head: str | None = None, since: VerifiedPoint | None = None
    ) -> VerifyReport:
        """Walk the whole chain from the first entry; report the first problem found.

        Besides the chain itself, the head recorded outside the database (``head_file``)
        and ``expect_head`` (a head hash kept elsewhere) must still be in it: a chain
        that is shorter than, or diverges from, a head once recorded is broken. Tables
        that cannot be read are reported (``UNREADABLE``), never raised.

        ``since`` (the end of an earlier pass that found the chain intact,
        ``VerifiedPoint.of(report)``) walks only the entries after it, having checked that
        its entry is still there unchanged; an edit of an entry before it is found by the
        next whole walk, so callers that verify often walk the whole chain now and then.
        """
        anchors, anchor_error, recorded = self._anchors(expect_head)
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    # One snapshot for head, count and entries, despite concurrent appends.
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    report = ChainVerifier(conn, key=self._key, anchors=anchors).run(since)
        except SQLAlchemyError as exc:
            return unreadable_report(f"the audit tables cannot be read: {_first_line(exc)}")
        if report.ok and anchor_error is not None:
            return replace(report, ok=False, problem=ChainProblem.UNREADABLE, detail=anchor_error)
        if report.ok and recorded is None and report.head_seq > 0:
            # First look at this chain from here (e.g. just upgraded): anchor it now.
            self._record_head(report.head_seq, report.head_hash)
        return report

    def acknowledge(
        self, report: VerifyReport, *, operator: str, reason: str, at: datetime
    ) -> AuditEntry:
        """Record that a human accepts the chain as broken where ``report`` says, so
        verification resumes after this entry (which is keyed: only the key holder can
        write one) and the head outside the database restarts here. Later breaks are
        still found."""
        if self._key is None:
            raise ConfigError("acknowledging a broken audit chain needs the audit key")
        if report.ok:
            raise ConfigError("the audit chain verifies: there is nothing to acknowledge")
        if not reason.strip() or not operator.strip():
            raise ConfigError("acknowledging a broken audit chain needs a reason and an operator")
        first = report.first_bad_seq if report.first_bad_seq is not None else report.head_seq + 1
        payload = {
            "event": "audit.acknowledged", "first_bad_seq": first, "operator": operator,
            "reason": reason, "problem": report.problem.value if report.problem else None,
            "detail": report.detail, "head_seq": report.head_seq, "head_hash": report.head_hash,
        }  # fmt: skip
        entry = self.append(AuditKind.AUDIT_ACKNOWLEDGED, payload, at=at)
        if self.head_file is not None:
            self.head_file.reset(entry.seq, entry.hash)
        return entry

    def _anchors(
        self, expect_head: str | None
    ) -> tuple[tuple[Anchor, ...], str | None, RecordedHead | None]:
        anchors: list[Anchor] = []
        if expect_head is not None:
            wanted = expect_head.strip().lower()
            if not _HEX64.fullmatch(wanted):
                raise ConfigError(
                    "--expect-head takes a head hash (64 hex digits) as printed by "
                    "`tiller audit verify`"
                )
            anchors.append(Anchor(wanted, None, "--expect-head"))
        if self.head_file is None:
            return tuple(anchors), None, None
        try:
            recorded = self.head_file.read()
        except AnchorUnreadableError as exc:
            return tuple(anchors), f"the head recorded outside the database: {exc}", None
        if recorded is not None:
            anchors.append(Anchor(recorded.hash, recorded.seq, str(self.head_file.path)))
        return tuple(anchors), None, recorded

    def _record_head(self, seq: int, digest: str) -> None:
        if self.head_file is None:
            return
        try:
            self.head_file.advance(seq, digest)
        except OSError as exc:
            # The entry is committed; a head file we cannot write weakens the anchor but
            # must not turn a recorded action into a failed one.
            log.warning("cannot record the audit head in %s: %s", self.head_file.path, exc)


def _refuse_if_keyed(conn: Connection, head_seq: int) -> None:
    last = conn.execute(select(AuditRow.mac).where(AuditRow.seq == head_seq)).scalar()
    if last == MAC_KEYED:
        raise AuditChainError(
            "this audit log is keyed: open the ledger with its key (TILLER_AUDIT_KEY or "
            "state_dir/audit.key) to append; an unkeyed entry would break the chain"
        )


def _first_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _kind(kind: AuditKind | str) -> str:
    try:
        return AuditKind(kind).value
    except ValueError:
        known = ", ".join(k.value for k in AuditKind)
        raise ValueError(f"unknown audit kind {kind!r}; use one of: {known}") from None


def _entry(row: Any) -> AuditEntry:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {"unreadable_payload": row.payload[:200]}
    return AuditEntry(row.seq, row.at, row.kind, payload, row.prev_hash, row.hash)
