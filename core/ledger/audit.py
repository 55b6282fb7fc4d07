"""The append-only, hash-chained audit log.

Every entry is written *before* the action it records. Entry ``seq`` carries
``hash = sha256(prev_hash + canonical_json({"at", "kind", "payload", "seq"}))`` with
``prev_hash`` the previous entry's hash (64 zeros for the first), so editing, deleting
or reordering any entry breaks every hash after it. Payloads pass through a redactor
before hashing: secrets never reach the table.

What the chain cannot prove: someone with write access who rewrites the whole chain
from some point on (recomputing every hash) and the head row. Record ``verify().head_hash``
outside the database (a ticket, a log shipper) to anchor it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, func, insert, select, update

from core.errors import TillerError
from core.ledger._canonical import canonical_json, entry_hash, to_jsonable, utc_text
from core.ledger._engine import BEGIN_OPTION
from core.ledger.models import GENESIS_HASH, AuditHeadRow, AuditRow
from core.ledger.redact import Redactor

AUDIT_BROKEN_EXIT = 9


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


class ChainProblem(StrEnum):
    DELETED = "deleted"  # a gap in seq
    EDITED = "edited"  # an entry no longer matches its own hash
    REORDERED = "reordered"  # an intact entry sits at the wrong place
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous entry's hash
    FORGED = "forged"  # entries beyond the recorded head
    TRUNCATED = "truncated"  # the head records entries that are gone
    HEAD_MISMATCH = "head_mismatch"  # the head row disagrees with the last entry


class AuditChainError(TillerError):
    """The audit chain is broken: trading must not start until a human looks at it."""

    exit_code = AUDIT_BROKEN_EXIT


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


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: ChainProblem | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"problem": self.problem.value if self.problem else None}

    def raise_if_broken(self) -> None:
        if not self.ok:
            raise AuditChainError(
                f"audit chain broken at seq {self.first_bad_seq} "
                f"({self.problem.value if self.problem else '?'}): {self.detail}"
            )


class AuditLog:
    """Append and verify. Share the ``Engine`` with the ``Ledger`` (``ledger.audit``)."""

    def __init__(self, engine: Engine, *, redactor: Redactor | None = None) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        self._redactor = redactor or Redactor()

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
            if guard is not None:
                guard(conn)
            seq = head.seq + 1
            digest = entry_hash(head.hash, seq, at, kind, payload_json)
            row = {"seq": seq, "at": at, "kind": kind, "payload": payload_json}
            conn.execute(_INSERT_ENTRY, {**row, "prev_hash": head.hash, "hash": digest})
            conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest})
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
            except (ValueError, TypeError):
                return None
        return None if row is None else _entry(row)

    def verify(self) -> VerifyReport:
        """Walk the whole chain from the first entry; report the first problem found."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for head, count and entries, despite concurrent appends.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return _Verifier(conn).run()


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


class _Verifier:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        head = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
        self.head_seq, self.head_hash = int(head.seq), str(head.hash)
        self.count = int(conn.execute(select(func.count()).select_from(AuditRow)).scalar_one())

    def run(self) -> VerifyReport:
        prev_hash, expected = GENESIS_HASH, 1
        query = select(AuditRow.__table__).order_by(AuditRow.seq)
        try:
            for row in self.conn.execution_options(yield_per=1000).execute(query):
                problem = self._check(row, expected, prev_hash)
                if problem is not None:
                    bad = expected if problem[0] is ChainProblem.DELETED else row.seq
                    return self._report(bad, *problem)
                prev_hash, expected = row.hash, expected + 1
        except (ValueError, TypeError) as exc:  # a value the column type cannot read
            return self._report(expected, ChainProblem.EDITED, f"unreadable entry ({exc})")
        return self._check_head(expected - 1, prev_hash)

    def _check(
        self, row: Row[Any], expected: int, prev_hash: str
    ) -> tuple[ChainProblem, str] | None:
        if row.seq != expected:
            if row.seq > expected:
                gap = f"{expected}" if row.seq == expected + 1 else f"{expected}..{row.seq - 1}"
                return ChainProblem.DELETED, f"entry {gap} is missing (next is {row.seq})"
            return ChainProblem.EDITED, f"unexpected seq {row.seq} where {expected} belongs"
        if row.seq > self.head_seq:
            return ChainProblem.FORGED, f"entry {row.seq} lies beyond the head ({self.head_seq})"
        recomputed = entry_hash(row.prev_hash, row.seq, row.at, row.kind, row.payload)
        where = None if row.prev_hash == prev_hash else self._stored_at(row.prev_hash)
        if where is not None:
            # Its link points at another entry of this log: moved, not made up.
            return ChainProblem.REORDERED, (
                f"entry {row.seq} follows the entry now stored at seq {where}, not {row.seq - 1}"
            )
        if recomputed != row.hash:
            return ChainProblem.EDITED, f"entry {row.seq} does not match its hash"
        if row.prev_hash != prev_hash:
            return (
                ChainProblem.BROKEN_LINK,
                f"entry {row.seq} does not link to entry {expected - 1}",
            )
        return None

    def _stored_at(self, digest: str) -> int | None:
        found = self.conn.execute(select(AuditRow.seq).where(AuditRow.hash == digest)).first()
        return None if found is None else int(found.seq)

    def _check_head(self, last_seq: int, last_hash: str) -> VerifyReport:
        if last_seq == self.head_seq and last_hash == self.head_hash:
            return VerifyReport(True, self.count, self.head_seq, self.head_hash)
        if self.head_seq > last_seq:
            return self._report(
                last_seq + 1,
                ChainProblem.TRUNCATED,
                f"the head records {self.head_seq} entries; the log ends at {last_seq}",
            )
        return self._report(
            last_seq, ChainProblem.HEAD_MISMATCH, "the head row disagrees with the last entry"
        )

    def _report(self, seq: int, problem: ChainProblem, detail: str) -> VerifyReport:
        return VerifyReport(
            ok=False,
            entries=self.count,
            head_seq=self.head_seq,
            head_hash=self.head_hash,
            first_bad_seq=seq,
            problem=problem,
            detail=detail,
        )
