"""The audit chain: append, verify, and catch whoever edits the database behind our back."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from core.ledger import AuditChainError, ChainProblem, Ledger, open_ledger
from core.ledger._canonical import canonical_json, entry_hash, entry_message
from core.types import OrderIntent
from tests.core.ledger.ledger_support import SECRET, T0, RawSql


def _intent() -> OrderIntent:
    return OrderIntent(symbol="ETH/USDT", side="buy", quantity=Decimal(1), created_at=T0)


def _fill_log(ledger: Ledger, n: int = 6) -> None:
    for i in range(n):
        ledger.audit.append(
            "decision", {"i": i, "reasons": ["ok"], "qty": Decimal("0.10")}, at=T0 + timedelta(i)
        )


def test_appended_entries_chain_and_verify(ledger: Ledger) -> None:
    first = ledger.audit.append("proposal", {"symbol": "BTC/USDT", "qty": Decimal("1.50")}, at=T0)
    second = ledger.audit.append("token_issued", {"token": "ab" * 32}, at=T0)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "0" * 64 and second.prev_hash == first.hash
    assert first.payload == {"qty": "1.5", "symbol": "BTC/USDT"}
    report = ledger.audit.verify()
    assert report.ok and report.entries == 2 and report.head_hash == second.hash
    assert [e.seq for e in ledger.audit.tail(1)] == [2]


def test_the_hash_is_sha256_of_prev_hash_and_the_canonical_entry() -> None:
    # A golden vector: if this changes, every stored chain stops verifying.
    payload = canonical_json({"b": [1, Decimal("2.50")], "a": T0})
    assert payload == '{"a":"2024-03-01T12:00:00.000000Z","b":[1,"2.5"]}'
    message = entry_message(7, T0, "fill", payload)
    assert message == (
        '{"at":"2024-03-01T12:00:00.000000Z","kind":"fill",'
        '"payload":{"a":"2024-03-01T12:00:00.000000Z","b":[1,"2.5"]},"seq":7}'
    )
    assert message == canonical_json(
        {"seq": 7, "at": T0, "kind": "fill", "payload": json.loads(payload)}
    )
    digest = entry_hash("0" * 64, 7, T0, "fill", payload)
    assert digest == hashlib.sha256(("0" * 64 + message).encode()).hexdigest()
    # Computed independently: printf '%s' "$prev$message" | sha256sum
    assert digest == "8c37e14d8e87e43835bfa6bb2a85ae048d926c88041ac20a7d5e89f8f45913cd"


def test_unknown_kinds_and_naive_times_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="unknown audit kind 'oops'"):
        ledger.audit.append("oops", {}, at=T0)
    with pytest.raises(ValueError, match="naive"):
        ledger.audit.append("fill", {}, at=T0.replace(tzinfo=None))
    assert ledger.audit.verify().entries == 0


def test_the_database_refuses_updates_and_deletes_of_entries(ledger: Ledger) -> None:
    _fill_log(ledger, 2)
    for statement in (
        "UPDATE audit_entries SET kind = 'fill'",
        "DELETE FROM audit_entries",
        "UPDATE audit_head SET seq = 0",
    ):
        with (
            pytest.raises(DBAPIError, match=r"append-only|moves forward"),
            ledger.engine.begin() as conn,
        ):
            conn.exec_driver_sql(statement)
    assert ledger.audit.verify().ok


def test_verify_detects_an_edited_payload(ledger: Ledger, raw_sql: RawSql) -> None:
    _fill_log(ledger)
    raw_sql.tamper("""UPDATE audit_entries SET payload = '{"i":3,"qty":"9","reasons":["ok"]}'
                      WHERE seq = 4""")
    report = ledger.audit.verify()
    assert not report.ok and report.first_bad_seq == 4 and report.problem is ChainProblem.EDITED
    with pytest.raises(AuditChainError, match="seq 4"):
        report.raise_if_broken()


def test_verify_detects_an_edited_timestamp(ledger: Ledger, raw_sql: RawSql) -> None:
    _fill_log(ledger)
    raw_sql.tamper(
        "UPDATE audit_entries SET at = (SELECT at FROM audit_entries WHERE seq = 1) WHERE seq = 2"
    )
    report = ledger.audit.verify()
    assert (report.first_bad_seq, report.problem) == (2, ChainProblem.EDITED)


def test_verify_detects_a_deleted_entry(ledger: Ledger, raw_sql: RawSql) -> None:
    _fill_log(ledger)
    raw_sql.tamper("DELETE FROM audit_entries WHERE seq = 3")
    report = ledger.audit.verify()
    assert (report.first_bad_seq, report.problem) == (3, ChainProblem.DELETED)
    assert report.entries == 5


def test_verify_detects_a_deleted_tail(ledger: Ledger, raw_sql: RawSql) -> None:
    _fill_log(ledger)
    raw_sql.tamper("DELETE FROM audit_entries WHERE seq >= 5")
    report = ledger.audit.verify()
    assert (report.first_bad_seq, report.problem) == (5, ChainProblem.TRUNCATED)


def test_verify_detects_reordered_entries(ledger: Ledger, raw_sql: RawSql) -> None:
    _fill_log(ledger)
    raw_sql.tamper(
        "UPDATE audit_entries SET seq = -1 WHERE seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE seq = 5",
        "UPDATE audit_entries SET seq = 5 WHERE seq = -1",
    )
    report = ledger.audit.verify()
    assert (report.first_bad_seq, report.problem) == (2, ChainProblem.REORDERED)


def test_verify_detects_a_forged_tail(ledger: Ledger, raw_sql: RawSql) -> None:
    _fill_log(ledger, 3)
    _, head_hash = ledger.audit.head()
    payload = '{"note":"nothing to see"}'
    forged = entry_hash(head_hash, 4, T0, "fill", payload)  # a correct hash, even
    raw_sql.tamper(
        "INSERT INTO audit_entries (seq, at, kind, payload, prev_hash, hash) VALUES "
        f"(4, (SELECT at FROM audit_entries WHERE seq = 1), 'fill', '{payload}', "
        f"'{head_hash}', '{forged}')"
    )
    report = ledger.audit.verify()
    assert (report.first_bad_seq, report.problem) == (4, ChainProblem.FORGED)

    raw_sql.tamper(f"UPDATE audit_head SET seq = 4, hash = '{'f' * 64}'")  # and a lying head
    report = ledger.audit.verify()
    assert not report.ok and report.first_bad_seq == 4


def test_concurrent_appenders_keep_a_single_chain(ledger_url: str, ledger: Ledger) -> None:
    per_writer, errors = 25, []

    def write(name: str) -> None:
        try:
            with open_ledger(ledger_url) as own:  # its own engine, as another process has
                for i in range(per_writer):
                    own.audit.append("ack", {"writer": name, "i": i}, at=T0)
        except Exception as exc:  # re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    report = ledger.audit.verify()
    assert report.ok and report.entries == 3 * per_writer == report.head_seq


def test_secrets_never_reach_the_stored_log(
    ledger: Ledger, raw_sql: RawSql, ledger_url: str
) -> None:
    ledger.audit.append(
        "order_sent",
        {
            "exchange": {"apiKey": "AK-123456", "secret": "whatever", "password": "pw1234"},
            "error": f"binance GET /api/v3/order?signature=deadbeef&key={SECRET}",
            "echo": SECRET,
            "token": "cafe" * 16,  # the approval token itself is fine to keep
        },
        at=T0,
    )
    # The ledger's free-text and JSON fields go through the same redactor.
    ledger.record_order_pending(_intent(), "c-sec")
    ledger.update_order("c-sec", "rejected", error='{"apiKey": "AK-123456", "msg": "bad"}')
    run = ledger.start_run("agent", inputs={"prompt": f"use key {SECRET}", "api_key": "AK-run-77"})
    ledger.finish_run(run.id, "failed", error=f"auth failed for {SECRET}")

    stored = raw_sql.dump()
    for secret in (SECRET, "AK-123456", "whatever", "pw1234", "deadbeef", "AK-run-77"):
        assert secret not in stored
    assert "cafe" * 16 in stored and "[REDACTED]" in stored
    assert ledger.audit.verify().ok
    if ledger_url.startswith("sqlite"):
        path = Path(ledger_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert SECRET.encode() not in raw and b"deadbeef" not in raw
