"""Each slot checks the audit chain before the agents run: the entries written since the
last check, and the whole chain at the first slot and every TILLER_AUTOPILOT_FULL_AUDIT_EVERY_S
after (a ledger's chain grows by every mark, order and fill; walking all of it each slot
costs more as the months go by, bench/autopilot_audit.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from app.bootstrap import build
from core.clock import FixedClock
from core.ledger import ChainProblem, Ledger
from tests.autopilot.conftest import WALL, make_pilot
from tests.core.ledger.ledger_support import RawSql


def append(ledger: Ledger, n: int) -> None:
    for i in range(n):
        ledger.audit.append("decision", {"i": i}, at=WALL + timedelta(minutes=i))


def test_between_whole_walks_a_slot_checks_only_the_new_entries(home: Path) -> None:
    c = build()
    pilot = make_pilot(c, FixedClock(WALL))
    append(c.ledger, 3)
    assert pilot.verify_chain().ok  # the first check walks the whole chain
    RawSql(c.ledger).tamper("""UPDATE audit_entries SET payload = '{"i":9}' WHERE seq = 2""")
    append(c.ledger, 2)

    assert pilot.verify_chain().ok  # only entries 4 and 5 were walked
    RawSql(c.ledger).tamper("""UPDATE audit_entries SET payload = '{"i":9}' WHERE seq = 5""")
    report = pilot.verify_chain()
    assert (report.first_bad_seq, report.problem) == (5, ChainProblem.EDITED)


def test_when_a_whole_walk_is_due_then_an_older_edit_is_found(home: Path) -> None:
    c = build()
    pilot = make_pilot(c, FixedClock(WALL), full_audit_every_s=0)
    append(c.ledger, 3)
    assert pilot.verify_chain().ok
    RawSql(c.ledger).tamper("""UPDATE audit_entries SET payload = '{"i":9}' WHERE seq = 2""")
    report = pilot.verify_chain()
    assert (report.first_bad_seq, report.problem) == (2, ChainProblem.EDITED)
