"""The autopilot's per-slot audit-chain check: a whole walk (what every slot did) against
walking only the entries written since the last slot (``verify(since=)``, what a slot
does between whole walks, which come every TILLER_AUTOPILOT_FULL_AUDIT_EVERY_S).

    .venv/bin/python bench/autopilot_audit.py [--entries 10000 100000] [--slot 40]
        [--postgres postgresql://postgres@127.0.0.1/postgres]

A keyed chain (HMAC-SHA256, as Tiller writes it) of N entries is built in bulk, then one
slot's worth of entries (marks, decisions, an order, a fill, a reconciliation: ``--slot``)
is appended the ordinary way. Both checks run on the same ledger, three times each; the
median is printed with the ratio. A year of hourly slots on a few symbols writes on the
order of 100,000 entries.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, update

from core.ledger import Ledger, VerifiedPoint, open_ledger
from core.ledger._canonical import canonical_json, entry_mac
from core.ledger.models import GENESIS_HASH, AuditHeadRow, AuditRow

KEY = b"bench-audit-key-" * 2
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_chain(ledger: Ledger, n: int) -> None:
    """N entries written in bulk (appending one by one commits each: minutes for 100k)."""
    prev, rows = GENESIS_HASH, []
    for seq in range(1, n + 1):
        at = T0 + timedelta(seconds=seq)
        payload = canonical_json({"event": "mark", "equity": str(100_000 + seq % 977)})
        digest = entry_mac(KEY, prev, seq, at, "state_change", payload)
        rows.append({"seq": seq, "at": at, "kind": "state_change", "payload": payload,
                     "mac": "hmac-sha256", "prev_hash": prev, "hash": digest})  # fmt: skip
        prev = digest
    with ledger.engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(insert(AuditRow), rows[start : start + 5000])
        # The head only moves one entry at a time (a trigger): step it along.
        move = update(AuditHeadRow).where(AuditHeadRow.id == 1)
        for row in rows:
            conn.execute(move.values(seq=row["seq"], hash=row["hash"]))


def median_s(fn: Callable[[], object], times: int = 3) -> float:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def measure(url: str, state: Path, n: int, slot: int) -> dict[str, object]:
    with open_ledger(url, audit_key=KEY, state_dir=state) as ledger:
        build_chain(ledger, n)
        point = VerifiedPoint.of(ledger.audit.verify())
        assert point is not None
        for i in range(slot):
            ledger.audit.append("decision", {"i": i}, at=T0 + timedelta(days=1, seconds=i))
        assert ledger.audit.verify().ok and ledger.audit.verify(since=point).ok
        whole = median_s(ledger.audit.verify)
        since = median_s(lambda: ledger.audit.verify(since=point))
    return {"entries": n + slot, "whole_walk_s": round(whole, 4),
            "since_last_slot_s": round(since, 4), "ratio": round(whole / since, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--slot", type=int, default=40)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    for n in args.entries:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
            result = measure(url, Path(tmp), n, args.slot)
            print(json.dumps({"backend": "sqlite", **result}))
        if args.postgres:
            from tests.postgres import fresh_database

            with fresh_database("bench_audit") as pg, tempfile.TemporaryDirectory() as tmp:
                print(json.dumps({"backend": "postgresql",
                                  **measure(pg, Path(tmp), n, args.slot)}))  # fmt: skip


if __name__ == "__main__":
    main()
