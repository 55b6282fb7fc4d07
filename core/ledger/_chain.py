"""Verifying the audit chain: what a report says, and the walk that produces it.

Entries carry their MAC scheme. ``sha256`` entries (written before the chain was keyed)
may only come first; once an ``hmac-sha256`` entry appears, every later entry must be
keyed too, or someone without the key wrote it. A break that a human acknowledged
(an ``audit_acknowledged`` entry, itself keyed) is reported, not fatal: the walk
resumes after the acknowledgement, so a later break is still found.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, func, select

from core.errors import TillerError
from core.ledger._canonical import entry_hash, entry_mac
from core.ledger.models import GENESIS_HASH, AuditHeadRow, AuditRow

AUDIT_BROKEN_EXIT = 9
MAC_PLAIN = "sha256"
MAC_KEYED = "hmac-sha256"
ACK_KIND = "audit_acknowledged"


class ChainProblem(StrEnum):
    DELETED = "deleted"  # a gap in seq
    EDITED = "edited"  # an entry no longer matches its own hash
    REORDERED = "reordered"  # an intact entry sits at the wrong place
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous entry's hash
    FORGED = "forged"  # entries beyond the recorded head
    TRUNCATED = "truncated"  # a head (in the database or outside it) records entries that are gone
    HEAD_MISMATCH = "head_mismatch"  # the head row disagrees with the last entry
    DOWNGRADED = "downgraded"  # a plain SHA-256 entry after keyed ones: written without the key
    UNVERIFIABLE = "unverifiable"  # keyed entries, and no key to check them with
    REWRITTEN = "rewritten"  # a head recorded outside the database is not in the chain
    UNREADABLE = "unreadable"  # the audit tables or the recorded head cannot be read


class AuditChainError(TillerError):
    """The audit chain is broken: trading must not start until a human looks at it."""

    exit_code = AUDIT_BROKEN_EXIT


class LedgerUnreadableError(AuditChainError):
    """The ledger is not a database, or one Tiller cannot read: nothing it records (the
    audit chain included) can be trusted until a human looks at it."""


@dataclass(frozen=True, slots=True)
class AcknowledgedBreak:
    """Entries ``first_bad_seq`` .. ``ack_seq - 1`` could not be verified; a human
    accepted that at entry ``ack_seq``."""

    first_bad_seq: int
    ack_seq: int
    operator: str
    reason: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """A head the chain must still contain: entry ``seq`` with ``hash``, or (seq None)
    an entry with ``hash`` anywhere. ``source`` names where it was kept."""

    hash: str
    seq: int | None
    source: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """``ok``: no break, or only breaks a human acknowledged (listed in ``acknowledged``).
    ``keyed_from``: the first HMAC entry (None: the chain is not keyed yet)."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: ChainProblem | None = None
    detail: str | None = None
    keyed_from: int | None = None
    acknowledged: tuple[AcknowledgedBreak, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["acknowledged"] = [asdict(a) for a in self.acknowledged]
        return data | {"problem": self.problem.value if self.problem else None}

    def raise_if_broken(self) -> None:
        if not self.ok:
            where = "" if self.first_bad_seq is None else f" at seq {self.first_bad_seq}"
            raise AuditChainError(
                f"audit chain broken{where} "
                f"({self.problem.value if self.problem else '?'}): {self.detail}"
            )


def unreadable_report(detail: str) -> VerifyReport:
    return VerifyReport(False, 0, 0, "", problem=ChainProblem.UNREADABLE, detail=detail)


@dataclass(frozen=True, slots=True)
class VerifiedPoint:
    """Where an earlier verification ended: entry ``seq`` with ``hash`` (and the first
    keyed entry, so a later plain one is still a downgrade). ``AuditLog.verify(since=)``
    walks only the entries after it."""

    seq: int
    hash: str
    keyed_from: int | None = None

    @classmethod
    def of(cls, report: VerifyReport) -> VerifiedPoint | None:
        """The end of a chain ``report`` found intact; None for a broken one."""
        if not report.ok:
            return None
        return cls(report.head_seq, report.head_hash, report.keyed_from)


class _Problem(NamedTuple):
    seq: int
    problem: ChainProblem
    detail: str


class _End(NamedTuple):
    seq: int
    hash: str


class ChainVerifier:
    """One pass over the chain inside one transaction (``AuditLog.verify`` opens it)."""

    def __init__(
        self, conn: Connection, *, key: bytes | None, anchors: tuple[Anchor, ...] = ()
    ) -> None:
        self.conn, self.key, self.anchors = conn, key, anchors
        head = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
        self.head_seq, self.head_hash = int(head.seq), str(head.hash)
        self.count = int(conn.execute(select(func.count()).select_from(AuditRow)).scalar_one())
        self.keyed_from: int | None = None
        self.acknowledged: list[AcknowledgedBreak] = []
        self._seen: dict[int, str] = {}  # hashes at the anchors' seqs
        self._seen_hashes: set[str] = set()  # for anchors without a seq

    def run(self, since: VerifiedPoint | None = None) -> VerifyReport:
        """Walk the whole chain, or only the entries after ``since`` (checked first to be
        still where it was: a log rewritten from there or earlier is REWRITTEN)."""
        after: int | None = None
        prev_hash = GENESIS_HASH
        if since is not None and since.seq > 0:
            problem = self._check_point(since)
            if problem is not None:
                return self._report(since.seq, *problem)
            after, prev_hash = since.seq, since.hash
            self.anchors = tuple(a for a in self.anchors if a.seq is not None and a.seq > after)
        outcome = self._walk(after, prev_hash)
        while isinstance(outcome, _Problem):
            ack = self._acknowledgement(outcome.seq)
            if ack is None:
                return self._report(*outcome)
            self._note(ack)  # the head file restarts at an acknowledgement
            after, prev_hash = int(ack.seq), str(ack.hash)
            outcome = self._walk(after, prev_hash)
        return (
            self._check_head(outcome.seq, outcome.hash)
            or self._check_anchors(outcome.seq)
            or self._report(None, None, None)
        )

    def _check_point(self, since: VerifiedPoint) -> tuple[ChainProblem, str] | None:
        """The entry an earlier pass ended at: still there, still matching its hash."""
        try:
            row = self.conn.execute(
                select(AuditRow.__table__).where(AuditRow.seq == since.seq)
            ).first()
        except (ValueError, TypeError) as exc:
            return ChainProblem.EDITED, f"unreadable entry ({exc})"
        if row is None or row.hash != since.hash:
            return ChainProblem.REWRITTEN, (
                f"entry {since.seq} is not the one verified before: the log was rewritten "
                "from there or earlier"
            )
        earlier = since.keyed_from is not None and since.keyed_from < since.seq
        self.keyed_from = since.keyed_from if earlier else None
        recomputed = self._digest(row)
        if isinstance(recomputed, tuple):
            return recomputed
        if not hmac.compare_digest(recomputed, row.hash):
            return ChainProblem.EDITED, f"entry {row.seq} does not match its hash"
        self.keyed_from = since.keyed_from
        return None

    # -- the walk -------------------------------------------------------------------------
    def _walk(self, after: int | None, prev_hash: str) -> _Problem | _End:
        """Check entries after ``after`` (all when None); a problem, or the last entry."""
        query = select(AuditRow.__table__).order_by(AuditRow.seq)
        if after is not None:
            query = query.where(AuditRow.seq > after)
        expected = 1 if after is None else after + 1
        result = self.conn.execution_options(yield_per=1000).execute(query)
        try:
            for row in result:
                problem = self._check(row, expected, prev_hash)
                if problem is not None:
                    bad = expected if problem[0] is ChainProblem.DELETED else row.seq
                    return _Problem(bad, *problem)
                self._note(row)
                prev_hash, expected = row.hash, expected + 1
        except (ValueError, TypeError) as exc:  # a value the column type cannot read
            return _Problem(expected, ChainProblem.EDITED, f"unreadable entry ({exc})")
        finally:
            result.close()
        return _End(expected - 1, prev_hash)

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
        recomputed = self._digest(row)
        if isinstance(recomputed, tuple):
            return recomputed
        where = None if row.prev_hash == prev_hash else self._stored_at(row.prev_hash)
        if where is not None:
            # Its link points at another entry of this log: moved, not made up.
            return ChainProblem.REORDERED, (
                f"entry {row.seq} follows the entry now stored at seq {where}, not {row.seq - 1}"
            )
        if not hmac.compare_digest(recomputed, row.hash):
            hint = ""
            if row.mac == MAC_KEYED and self.keyed_from is None:
                hint = " (or the audit key is not the one it was written with)"
            return ChainProblem.EDITED, f"entry {row.seq} does not match its hash{hint}"
        if row.prev_hash != prev_hash:
            return (
                ChainProblem.BROKEN_LINK,
                f"entry {row.seq} does not link to entry {expected - 1}",
            )
        if row.mac == MAC_KEYED and self.keyed_from is None:
            self.keyed_from = row.seq
        return None

    def _digest(self, row: Row[Any]) -> str | tuple[ChainProblem, str]:
        if row.mac == MAC_KEYED:
            if self.key is None:
                return ChainProblem.UNVERIFIABLE, (
                    f"entry {row.seq} is keyed (HMAC-SHA256): verify with the key it was "
                    "written with (TILLER_AUDIT_KEY or state_dir/audit.key)"
                )
            return entry_mac(self.key, row.prev_hash, row.seq, row.at, row.kind, row.payload)
        if row.mac != MAC_PLAIN:
            return ChainProblem.EDITED, f"entry {row.seq} names an unknown scheme"
        if self.keyed_from is not None:
            return ChainProblem.DOWNGRADED, (
                f"entry {row.seq} is plain SHA-256 after keyed entries (from seq "
                f"{self.keyed_from}): it was written without the key"
            )
        return entry_hash(row.prev_hash, row.seq, row.at, row.kind, row.payload)

    def _note(self, row: Row[Any]) -> None:
        for anchor in self.anchors:
            if anchor.seq == row.seq:
                self._seen[row.seq] = row.hash
            elif anchor.seq is None and anchor.hash == row.hash:
                self._seen_hashes.add(row.hash)

    def _stored_at(self, digest: str) -> int | None:
        found = self.conn.execute(select(AuditRow.seq).where(AuditRow.hash == digest)).first()
        return None if found is None else int(found.seq)

    # -- acknowledged breaks -------------------------------------------------------------
    def _acknowledgement(self, bad_seq: int) -> Row[Any] | None:
        """The first acknowledgement at or after ``bad_seq`` that covers it and carries a
        valid MAC of its own (nobody without the key can write one)."""
        if self.key is None:
            return None
        query = (
            select(AuditRow.__table__)
            .where(AuditRow.kind == ACK_KIND, AuditRow.seq >= bad_seq)
            .order_by(AuditRow.seq)
        )
        for row in self.conn.execute(query).all():
            try:
                digest = entry_mac(self.key, row.prev_hash, row.seq, row.at, row.kind, row.payload)
                payload = json.loads(row.payload)
            except (ValueError, TypeError):
                continue
            first = payload.get("first_bad_seq") if isinstance(payload, dict) else None
            valid = row.mac == MAC_KEYED and hmac.compare_digest(digest, row.hash)
            if valid and isinstance(first, int) and first <= bad_seq:
                self.acknowledged.append(
                    AcknowledgedBreak(
                        first, int(row.seq), str(payload.get("operator", "")),
                        str(payload.get("reason", "")),
                    )
                )  # fmt: skip
                if self.keyed_from is None:
                    self.keyed_from = int(row.seq)
                return row
        return None

    # -- the ends ----------------------------------------------------------------------
    def _check_head(self, last_seq: int, last_hash: str) -> VerifyReport | None:
        if last_seq == self.head_seq and last_hash == self.head_hash:
            return None
        if self.head_seq > last_seq:
            return self._report(
                last_seq + 1,
                ChainProblem.TRUNCATED,
                f"the head records {self.head_seq} entries; the log ends at {last_seq}",
            )
        return self._report(
            last_seq, ChainProblem.HEAD_MISMATCH, "the head row disagrees with the last entry"
        )

    def _check_anchors(self, last_seq: int) -> VerifyReport | None:
        for anchor in self.anchors:
            if anchor.seq is None:
                if anchor.hash not in self._seen_hashes:
                    return self._report(None, ChainProblem.REWRITTEN, (
                        f"the head {anchor.hash[:16]}… given by {anchor.source} is not in the "
                        f"chain (entries 1..{last_seq}): it was shortened or rewritten"
                    ))  # fmt: skip
            elif anchor.seq > last_seq:
                return self._report(last_seq + 1, ChainProblem.TRUNCATED, (
                    f"{anchor.source} records entry {anchor.seq}; the log ends at {last_seq}"
                ))  # fmt: skip
            elif anchor.seq > 0 and self._seen.get(anchor.seq) != anchor.hash:
                return self._report(anchor.seq, ChainProblem.REWRITTEN, (
                    f"entry {anchor.seq} is not the one {anchor.source} records: "
                    "the log was rewritten from there or earlier"
                ))  # fmt: skip
        return None

    def _report(
        self, seq: int | None, problem: ChainProblem | None, detail: str | None
    ) -> VerifyReport:
        return VerifyReport(
            ok=problem is None,
            entries=self.count,
            head_seq=self.head_seq,
            head_hash=self.head_hash,
            first_bad_seq=seq,
            problem=problem,
            detail=detail,
            keyed_from=self.keyed_from,
            acknowledged=tuple(self.acknowledged),
        )
