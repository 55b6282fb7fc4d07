"""Verifying only what was written since an earlier verification (``verify(since=)``):
what the autopilot does at each slot between whole walks of the chain."""

from __future__ import annotations

from datetime import timedelta

from core.ledger import ChainProblem, Ledger, VerifiedPoint
from tests.core.ledger.ledger_support import T0, RawSql


def _append(ledger: Ledger, first: int, n: int) -> None:
    for i in range(first, first + n):
        ledger.audit.append("decision", {"i": i}, at=T0 + timedelta(minutes=i))


def _point(ledger: Ledger) -> VerifiedPoint:
    point = VerifiedPoint.of(ledger.audit.verify())
    assert point is not None
    return point


def test_since_a_verified_point_then_the_new_entries_are_verified_and_counted(
    ledger: Ledger,
) -> None:
    _append(ledger, 0, 4)
    point = _point(ledger)
    _append(ledger, 4, 3)
    report = ledger.audit.verify(since=point)
    assert report.ok and report.head_seq == 7 and report.entries == 7
    assert VerifiedPoint.of(report) == VerifiedPoint(7, ledger.audit.head()[1], None)


def test_an_edit_after_the_point_then_found(ledger: Ledger, raw_sql: RawSql) -> None:
    _append(ledger, 0, 4)
    point = _point(ledger)
    _append(ledger, 4, 3)
    raw_sql.tamper("""UPDATE audit_entries SET payload = '{"i":99}' WHERE seq = 6""")
    report = ledger.audit.verify(since=point)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 6, ChainProblem.EDITED)


def test_the_point_itself_edited_or_gone_then_rewritten(ledger: Ledger, raw_sql: RawSql) -> None:
    _append(ledger, 0, 4)
    point = _point(ledger)
    # Rewritten with a new hash of its own: no longer the entry that was verified.
    raw_sql.tamper(f"UPDATE audit_entries SET payload = '{{}}', hash = '{'1' * 64}' WHERE seq = 4")
    report = ledger.audit.verify(since=point)
    assert (report.first_bad_seq, report.problem) == (4, ChainProblem.REWRITTEN)
    raw_sql.tamper("DELETE FROM audit_entries WHERE seq >= 3")
    report = ledger.audit.verify(since=point)
    assert (report.first_bad_seq, report.problem) == (4, ChainProblem.REWRITTEN)


def test_an_edit_before_the_point_is_left_to_the_next_whole_walk(
    ledger: Ledger, raw_sql: RawSql
) -> None:
    """The trade-off, stated: only entries after the point are walked."""
    _append(ledger, 0, 4)
    point = _point(ledger)
    raw_sql.tamper("""UPDATE audit_entries SET payload = '{"i":99}' WHERE seq = 2""")
    assert ledger.audit.verify(since=point).ok
    whole = ledger.audit.verify()
    assert (whole.first_bad_seq, whole.problem) == (2, ChainProblem.EDITED)


def test_the_points_payload_edited_under_its_old_hash_then_edited(
    ledger: Ledger, raw_sql: RawSql
) -> None:
    _append(ledger, 0, 4)
    point = _point(ledger)
    raw_sql.tamper("""UPDATE audit_entries SET payload = '{"i":99}' WHERE seq = 4""")
    report = ledger.audit.verify(since=point)
    assert (report.first_bad_seq, report.problem) == (4, ChainProblem.EDITED)
