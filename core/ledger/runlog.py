"""The record of agent runs: one row per event (node output, tool call, LLM call,
proposal, risk decision, approval, order), written as it happens.

Each event is also linked into the audit chain: its SHA-256 digest is appended to the
audit log with the run id and sequence number, so editing a stored event is detected by
``RunLog.verify`` and deleting the audit entry breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from core.ledger._canonical import to_jsonable
from core.ledger.audit import AuditKind
from core.ledger.ledger import Ledger
from core.ledger.models import RunEventRow, RunRow
from core.ledger.records import RunRecord, RunStatus

# Event kinds that have an audit kind of their own; anything else is audited as a tool call.
_AUDIT_KIND = {
    "run_started": AuditKind.RUN_STARTED, "run_finished": AuditKind.RUN_FINISHED,
    "retrieval": AuditKind.RETRIEVAL, "tool_call": AuditKind.TOOL_CALL,
    "llm_call": AuditKind.LLM_CALL, "proposal": AuditKind.PROPOSAL,
    "decision": AuditKind.DECISION, "human_action": AuditKind.HUMAN_ACTION,
    "error": AuditKind.ERROR,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RunEvent:
    run_id: str
    seq: int
    at: datetime
    node: str
    kind: str
    payload: dict[str, Any]
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "node": self.node,
                "kind": self.kind, "payload": self.payload, "digest": self.digest}  # fmt: skip


def digest_of(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class RunLog:
    """Agent runs in the ledger's database (``runs`` + ``run_events``)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def start(
        self, kind: str, inputs: Mapping[str, Any], data_hashes: Mapping[str, str]
    ) -> RunRecord:
        record = self.ledger.start_run(kind, inputs=inputs, data_hashes=data_hashes)
        self.append(record.id, "run", "run_started", {"kind": kind, "inputs": record.inputs})
        return record

    def append(
        self, run_id: str, node: str, kind: str, payload: Mapping[str, Any], *,
        at: datetime | None = None,
    ) -> RunEvent:  # fmt: skip
        """Store one event and link its digest into the audit chain, in that order (the
        audit entry names an event that exists)."""
        ledger = self.ledger
        clean = ledger._json(payload)  # redacted, JSON-safe
        digest = digest_of(clean)
        when = at or ledger.clock.now()
        with ledger._tx() as session:
            last = session.execute(
                select(func.max(RunEventRow.seq)).where(RunEventRow.run_id == run_id)
            ).scalar()
            seq = (last or 0) + 1
            session.add(RunEventRow(run_id=run_id, seq=seq, at=when, node=node, kind=kind,
                                    payload=clean, digest=digest))  # fmt: skip
        return self._audited(RunEvent(run_id, seq, when, node, kind, clean, digest))

    def append_if_last(
        self, run_id: str, last_kind: str, node: str, kind: str, payload: Mapping[str, Any]
    ) -> RunEvent | None:
        """``append``, only while the run's last event is a ``last_kind``; None otherwise.
        The database decides (the next seq is the primary key), so of two processes
        racing to answer the same pause, exactly one appends."""
        from core.ledger._orders import insert_ignore

        ledger = self.ledger
        clean = ledger._json(payload)
        digest = digest_of(clean)
        when = ledger.clock.now()
        with ledger._tx() as session:
            last = session.execute(
                select(RunEventRow.seq, RunEventRow.kind)
                .where(RunEventRow.run_id == run_id)
                .order_by(RunEventRow.seq.desc())
                .limit(1)
            ).first()
            if last is None or last.kind != last_kind:
                return None
            values = {"run_id": run_id, "seq": last.seq + 1, "at": when, "node": node,
                      "kind": kind, "payload": clean, "digest": digest}  # fmt: skip
            if not insert_ignore(session, RunEventRow, values):
                return None
        return self._audited(RunEvent(run_id, last.seq + 1, when, node, kind, clean, digest))

    def _audited(self, event: RunEvent) -> RunEvent:
        audit_kind = _AUDIT_KIND.get(event.kind, AuditKind.TOOL_CALL)
        self.ledger.audit.append(
            audit_kind, {"run_id": event.run_id, "event": event.seq, "node": event.node,
                         "kind": event.kind, "digest": event.digest}, at=event.at,
        )  # fmt: skip
        return event

    def events(self, run_id: str, after: int = 0) -> list[RunEvent]:
        """The run's events in order; ``after``: only those with a greater seq (a stream
        that has shown up to ``after`` reads what is new)."""
        query = (
            select(RunEventRow)
            .where(RunEventRow.run_id == run_id, RunEventRow.seq > after)
            .order_by(RunEventRow.seq)
        )
        with self.ledger._read() as session:
            return [
                RunEvent(r.run_id, r.seq, r.at, r.node, r.kind, dict(r.payload), r.digest)
                for r in session.execute(query).scalars()
            ]

    def verify(self, run_id: str) -> list[str]:
        """Events whose stored payload no longer matches the digest written with it."""
        return [f"event {e.seq} ({e.kind}) was altered" for e in self.events(run_id)
                if digest_of(e.payload) != e.digest]  # fmt: skip

    def list(self, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        from core.ledger import _convert as conv

        query = select(RunRow).order_by(RunRow.started_at.desc()).limit(limit)
        if kind is not None:
            query = query.where(RunRow.kind == kind)
        with self.ledger._read() as session:
            return [conv.run(r) for r in session.execute(query).scalars()]

    def finish(self, run_id: str, status: RunStatus, outputs: Mapping[str, Any] | None,
               error: str | None = None) -> RunRecord:  # fmt: skip
        self.append(run_id, "run", "run_finished", {"status": status.value, "error": error})
        return self.ledger.finish_run(run_id, status, outputs=outputs, error=error)


__all__ = ["RunEvent", "RunLog", "digest_of", "to_jsonable"]
