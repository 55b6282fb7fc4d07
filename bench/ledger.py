"""Ledger + audit throughput on SQLite and PostgreSQL, against the bare database driver.

    .venv/bin/python bench/ledger.py [--orders 300] [--postgres postgresql://postgres@127.0.0.1/postgres]

One "order" is the executor's write path without a broker: ``record_order_pending``,
``update_order`` (OPEN, with the venue id), ``record_fill`` (fill + order + position in
one transaction) and three audit appends (order_sent, ack, fill): six transactions,
each committed durably (SQLite WAL with synchronous=FULL, PostgreSQL defaults).

The competitor is the bare driver (sqlite3 / psycopg) issuing the same six transactions
with hand-written SQL against the same schema: the floor the database itself sets. The
ratio says what the ledger's validation, ORM, redaction and canonical hashing cost above
it. PostgreSQL runs in a fresh database created and dropped by this script.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.ledger import open_ledger  # noqa: E402
from core.types import Fill, OrderIntent, OrderStatus, OrderType, Side  # noqa: E402


def ledger_path(url: str, n: int) -> float:
    """Seconds for ``n`` orders through the Ledger API."""
    with open_ledger(url) as ledger:
        audit = ledger.audit
        start = time.perf_counter()
        for i in range(n):
            now = datetime.now(UTC)
            cid = f"bench-{i}"
            intent = OrderIntent(
                symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.01"),
                order_type=OrderType.LIMIT, limit_price=Decimal("60000"), created_at=now,
            )  # fmt: skip
            ledger.record_order_pending(intent, cid)
            audit.append("order_sent", {"client_order_id": cid, "intent": intent}, at=now)
            ledger.update_order(cid, OrderStatus.OPEN, venue_order_id=f"V{i}")
            audit.append("ack", {"client_order_id": cid, "venue_order_id": f"V{i}"}, at=now)
            fill = Fill(
                order_id=cid, fill_id=f"F{i}", symbol="BTC/USDT", side=Side.BUY,
                quantity=Decimal("0.01"), price=Decimal("59990.5"), fee=Decimal("0.6"),
                timestamp=now,
            )  # fmt: skip
            audit.append("fill", {"fill": fill}, at=now)
            ledger.record_fill(fill)
        elapsed = time.perf_counter() - start
        verify_start = time.perf_counter()
        report = audit.verify()
        verify_s = time.perf_counter() - verify_start
        assert report.ok and report.entries == 3 * n, report
        assert ledger.positions()[0].quantity == Decimal("0.01") * n
    print(f"    verify: {report.entries:,} entries in {verify_s * 1000:.0f} ms", flush=True)
    return elapsed


class _Raw:
    """The same six transactions per order in plain SQL through the DB-API driver."""

    def __init__(self, conn: Any, placeholder: str, begin: str, lock: str) -> None:
        self.conn, self.begin, self.lock = conn, begin, lock
        self.p = placeholder

    def tx(self, *statements: tuple[str, tuple[Any, ...]]) -> list[Any]:
        cur = self.conn.cursor()
        if self.begin:
            cur.execute(self.begin)
        rows = []
        for sql, params in statements:
            cur.execute(sql.replace("?", self.p), params)
            rows.append(cur.fetchone() if sql.lstrip().startswith("SELECT") else None)
        self._commit(cur)
        return rows

    def _commit(self, cur: Any) -> None:
        if self.begin:
            cur.execute("COMMIT")
        else:
            self.conn.commit()

    def append(self, kind: str, payload: str, at: str) -> None:
        cur = self.conn.cursor()
        if self.begin:
            cur.execute(self.begin)
        cur.execute(f"SELECT seq, hash FROM audit_head WHERE id = 1{self.lock}")
        seq, prev = cur.fetchone()
        digest = hashlib.sha256(f"{prev}{seq + 1}{at}{kind}{payload}".encode()).hexdigest()
        cur.execute(
            "INSERT INTO audit_entries (seq, at, kind, payload, prev_hash, hash) "
            f"VALUES ({', '.join([self.p] * 6)})",
            (seq + 1, at, kind, payload, prev, digest),
        )
        cur.execute(f"UPDATE audit_head SET seq = {self.p}, hash = {self.p}", (seq + 1, digest))
        self._commit(cur)

    def order(self, i: int, at: str) -> None:
        cid = f"raw-{i}"
        self.tx((
            "INSERT INTO orders (client_order_id, intent_id, venue, symbol, side, order_type, "
            "quantity, limit_price, reduce_only, status, filled_qty, created_at, updated_at) "
            "VALUES (?, ?, 'paper', 'BTC/USDT', 'buy', 'limit', '0.01', '60000', false, "
            "'pending_send', '0', ?, ?)", (cid, uuid.uuid4().hex, at, at),
        ))  # fmt: skip
        self.append("order_sent", f'{{"client_order_id":"{cid}"}}', at)
        self.tx(("UPDATE orders SET status = 'open', venue_order_id = ?, updated_at = ? "
                 "WHERE client_order_id = ?", (f"V{i}", at, cid)))  # fmt: skip
        self.append("ack", f'{{"client_order_id":"{cid}"}}', at)
        self.append("fill", f'{{"fill_id":"F{i}"}}', at)
        self.tx(
            (f"SELECT filled_qty FROM orders WHERE client_order_id = ?{self.lock}", (cid,)),
            ("INSERT INTO fills (venue, fill_id, client_order_id, symbol, side, quantity, "
             "price, fee, fee_currency, ts, recorded_at) VALUES ('paper', ?, ?, 'BTC/USDT', "
             "'buy', '0.01', '59990.5', '0.6', 'USD', ?, ?)", (f"F{i}", cid, at, at)),
            ("UPDATE orders SET filled_qty = '0.01', status = 'filled' "
             "WHERE client_order_id = ?", (cid,)),
            (f"SELECT quantity FROM positions WHERE venue = 'paper'{self.lock}", ()),
            ("UPDATE positions SET quantity = ?, updated_at = ? WHERE venue = 'paper'",
             (str(i), at)),
        )  # fmt: skip


def raw_path(make: Callable[[], _Raw], n: int) -> float:
    raw = make()
    raw.tx((
        "INSERT INTO positions (venue, symbol, quantity, average_price, realised_pnl, "
        "updated_at) VALUES ('paper', 'BTC/USDT', '0', '0', '0', ?)",
        (datetime.now(UTC).isoformat(),),
    ))  # fmt: skip
    start = time.perf_counter()
    for i in range(n):
        raw.order(i, datetime.now(UTC).isoformat(sep=" "))
    elapsed = time.perf_counter() - start
    raw.conn.close()
    return elapsed


def _sqlite_raw(path: Path) -> _Raw:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "busy_timeout = 15000"):
        conn.execute(f"PRAGMA {pragma}")
    return _Raw(conn, "?", "BEGIN IMMEDIATE", "")


def bench_sqlite(n: int, tmp: Path) -> tuple[float, float]:
    ours = ledger_path(f"sqlite:///{tmp / 'ledger.sqlite3'}", n)
    with open_ledger(f"sqlite:///{tmp / 'raw.sqlite3'}"):
        pass  # same schema, created by the migrations
    return ours, raw_path(lambda: _sqlite_raw(tmp / "raw.sqlite3"), n)


def bench_postgres(n: int, admin_url: str) -> tuple[float, float] | None:
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"  PostgreSQL skipped: {admin_url} unreachable ({exc})")
        return None
    names = [f"tiller_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = [make_url(admin_url).set(database=name).render_as_string(False) for name in names]
    try:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        ours = ledger_path(urls[0], n)
        with open_ledger(urls[1]):
            pass
        raw = raw_path(lambda: _Raw(psycopg.connect(urls[1]), "%s", "", " FOR UPDATE"), n)
        return ours, raw
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    n = args.orders
    import sqlalchemy

    print(
        f"python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, psycopg {psycopg.__version__}\n"
    )
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"  SQLite ({n} orders)...", flush=True)
        results["SQLite (WAL, sync FULL)"] = bench_sqlite(n, Path(tmp))
    print(f"  PostgreSQL ({n} orders)...", flush=True)
    pg = bench_postgres(n, args.postgres)
    if pg is not None:
        results["PostgreSQL 15 (local)"] = pg
    print(
        "\nper order: record_order_pending + update_order + record_fill + 3 audit appends"
        " (6 commits)\n"
    )
    print(f"{'backend':<24} {'orders/s':>9} {'ms/order':>9} {'bare driver':>12} {'time÷bare':>10}")
    for name, (ours, raw) in results.items():
        print(
            f"{name:<24} {n / ours:>9.0f} {ours / n * 1000:>9.2f} "
            f"{n / raw:>10.0f}/s {ours / raw:>9.1f}×"
        )


if __name__ == "__main__":
    main()
