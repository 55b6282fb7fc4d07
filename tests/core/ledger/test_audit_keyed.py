"""The keyed audit chain and the head kept outside the database: what someone with
write access to the database (triggers dropped) can no longer hide."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from core.errors import ConfigError
from core.ledger import AuditChainError, ChainProblem, Ledger, open_ledger
from core.ledger._canonical import entry_hash
from core.ledger._engine import alembic_config, create_ledger_engine, normalise_url
from tests.core.ledger.ledger_support import T0, RawSql, TickingClock

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state-outside-db"


@pytest.fixture
def keyed(ledger_url: str, state_dir: Path) -> Iterator[Ledger]:
    with open_ledger(
        ledger_url, clock=TickingClock(), audit_key=KEY, state_dir=state_dir
    ) as opened:
        yield opened


def _append(ledger: Ledger, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        ledger.audit.append("decision", {"i": i}, at=T0 + timedelta(seconds=i))


def _recompute_plain(ledger: Ledger, scheme: str) -> None:
    """What an attacker without the key can do: edit entry 2, then recompute every hash
    in order with plain SHA-256 and move the head along."""
    prev, statements = "0" * 64, []
    for seq in range(1, 5):
        entry = ledger.audit.entry(seq)
        assert entry is not None
        payload = f'{{"i":{99 if seq == 2 else entry.payload["i"]}}}'
        digest = entry_hash(prev, seq, entry.at, entry.kind, payload)
        statements.append(
            f"UPDATE audit_entries SET payload = '{payload}', prev_hash = '{prev}', "
            f"hash = '{digest}', mac = '{scheme}' WHERE seq = {seq}"
        )
        prev = digest
    RawSql(ledger).tamper(*statements, f"UPDATE audit_head SET hash = '{prev}'")


def test_every_hash_recomputed_without_the_key_then_verify_reports_the_first_edit(
    keyed: Ledger,
) -> None:
    _append(keyed, 4)
    _recompute_plain(keyed, "hmac-sha256")

    report = keyed.audit.verify()

    assert (report.ok, report.first_bad_seq, report.problem) == (False, 1, ChainProblem.EDITED)


def test_every_hash_recomputed_as_an_unkeyed_chain_then_the_head_file_disagrees(
    keyed: Ledger,
) -> None:
    _append(keyed, 4)
    _recompute_plain(keyed, "sha256")  # a valid-looking chain from before keying

    report = keyed.audit.verify()

    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, ChainProblem.REWRITTEN)


def test_keyed_entries_recomputed_as_hmac_with_a_guessed_key_then_edited(keyed: Ledger) -> None:
    _append(keyed, 3)
    with open_ledger(str(keyed.engine.url.render_as_string(hide_password=False)),
                     audit_key=OTHER_KEY) as other:  # fmt: skip
        report = other.audit.verify()
    assert (report.first_bad_seq, report.problem) == (1, ChainProblem.EDITED)
    assert report.detail is not None and "not the one it was written with" in report.detail


def test_last_entries_deleted_and_head_moved_back_then_truncated_against_the_head_file(
    keyed: Ledger,
) -> None:
    _append(keyed, 6)
    entry4 = keyed.audit.entry(4)
    assert entry4 is not None
    RawSql(keyed).tamper(
        "DELETE FROM audit_entries WHERE seq > 4",
        f"UPDATE audit_head SET seq = 4, hash = '{entry4.hash}'",
    )

    report = keyed.audit.verify()

    assert (report.ok, report.problem, report.first_bad_seq) == (False, ChainProblem.TRUNCATED, 5)
    assert "records entry 6; the log ends at 4" in str(report.detail)


def test_everything_deleted_and_head_reset_to_genesis_then_truncated(keyed: Ledger) -> None:
    _append(keyed, 3)
    RawSql(keyed).tamper(
        "DELETE FROM audit_entries", f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'"
    )

    report = keyed.audit.verify()

    assert not report.ok and report.problem is ChainProblem.TRUNCATED and report.entries == 0
    with pytest.raises(AuditChainError, match="seq 1"):
        report.raise_if_broken()


def test_expect_head_that_the_chain_no_longer_holds_then_rewritten(ledger: Ledger) -> None:
    _append(ledger, 5)
    kept_elsewhere = ledger.audit.head()[1]
    assert ledger.audit.verify(expect_head=kept_elsewhere.upper()).ok
    entry3 = ledger.audit.entry(3)
    assert entry3 is not None
    RawSql(ledger).tamper(
        "DELETE FROM audit_entries WHERE seq > 3",
        f"UPDATE audit_head SET seq = 3, hash = '{entry3.hash}'",
    )
    assert ledger.audit.verify().ok  # no head file: the database alone cannot tell

    report = ledger.audit.verify(expect_head=kept_elsewhere)

    assert not report.ok and report.problem is ChainProblem.REWRITTEN
    assert "--expect-head" in str(report.detail)
    with pytest.raises(ConfigError, match="64 hex digits"):
        ledger.audit.verify(expect_head="abc")


def test_an_unkeyed_chain_upgraded_from_0001_keeps_verifying_and_continues_keyed(
    ledger_url: str, state_dir: Path
) -> None:
    engine = create_ledger_engine(normalise_url(ledger_url))
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.commit()
        prev = "0" * 64
        for seq in (1, 2):
            payload = f'{{"old":{seq}}}'
            digest = entry_hash(prev, seq, T0, "decision", payload)
            conn.execute(
                text("INSERT INTO audit_entries (seq, at, kind, payload, prev_hash, hash) "
                     "VALUES (:seq, :at, 'decision', :payload, :prev, :hash)"),
                {"seq": seq, "at": T0, "payload": payload, "prev": prev, "hash": digest},
            )  # fmt: skip
            conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": digest})
            prev = digest
        conn.commit()
    engine.dispose()

    with open_ledger(ledger_url, audit_key=KEY, state_dir=state_dir) as upgraded:
        assert upgraded.audit.verify().ok
        upgraded.audit.append("decision", {"new": 3}, at=T0)
        report = upgraded.audit.verify()
    assert report.ok and report.entries == 3 and report.keyed_from == 3


def test_an_unkeyed_writer_on_a_keyed_chain_is_refused_and_a_forced_one_is_downgraded(
    keyed: Ledger, ledger_url: str
) -> None:
    _append(keyed, 2)
    with open_ledger(ledger_url) as unkeyed:
        with pytest.raises(AuditChainError, match="keyed"):
            unkeyed.audit.append("decision", {"i": 2}, at=T0)
        assert unkeyed.audit.verify().problem is ChainProblem.UNVERIFIABLE
    _, head_hash = keyed.audit.head()
    forged = entry_hash(head_hash, 3, T0, "decision", "{}")
    RawSql(keyed).tamper(
        "INSERT INTO audit_entries (seq, at, kind, payload, prev_hash, hash, mac) VALUES "
        f"(3, (SELECT at FROM audit_entries WHERE seq = 1), 'decision', '{{}}', "
        f"'{head_hash}', '{forged}', 'sha256')",
        f"UPDATE audit_head SET seq = 3, hash = '{forged}'",
    )
    report = keyed.audit.verify()
    assert (report.first_bad_seq, report.problem) == (3, ChainProblem.DOWNGRADED)


def test_an_acknowledged_break_verifies_but_a_later_break_is_still_found(keyed: Ledger) -> None:
    _append(keyed, 4)
    raw = RawSql(keyed)
    raw.tamper("UPDATE audit_entries SET payload = '{\"i\":7}' WHERE seq = 2")
    broken = keyed.audit.verify()
    assert broken.first_bad_seq == 2

    ack = keyed.audit.acknowledge(broken, operator="ops", reason="restored from backup", at=T0)
    assert keyed.audit.verify().ok  # the head kept outside now points at the acknowledgement
    _append(keyed, 2, start=10)
    report = keyed.audit.verify()
    assert report.ok and [(a.first_bad_seq, a.ack_seq) for a in report.acknowledged] == [
        (2, ack.seq)
    ]
    raw.tamper(f"UPDATE audit_entries SET payload = '{{\"i\":8}}' WHERE seq = {ack.seq + 1}")
    later = keyed.audit.verify()
    assert (later.ok, later.first_bad_seq) == (False, ack.seq + 1)
    with pytest.raises(ConfigError, match="needs a reason"):
        keyed.audit.acknowledge(later, operator="ops", reason=" ", at=T0)


def test_acknowledging_a_reset_log_restarts_the_head_kept_outside(keyed: Ledger) -> None:
    _append(keyed, 3)
    RawSql(keyed).tamper(
        "DELETE FROM audit_entries", f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'"
    )
    keyed.audit.acknowledge(keyed.audit.verify(), operator="ops", reason="new db", at=T0)
    assert keyed.audit.verify().ok


def test_missing_audit_tables_are_reported_unreadable_not_raised(keyed: Ledger) -> None:
    _append(keyed, 1)
    with keyed.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_entries")
    report = keyed.audit.verify()
    assert (report.ok, report.problem) == (False, ChainProblem.UNREADABLE)
    assert "audit_entries" in str(report.detail)


def test_a_garbled_head_file_is_reported_and_left_as_evidence(keyed: Ledger) -> None:
    _append(keyed, 2)
    path = keyed.audit.head_file.path  # type: ignore[union-attr]
    path.write_text("{not json")
    _append(keyed, 1, start=5)
    report = keyed.audit.verify()
    assert report.problem is ChainProblem.UNREADABLE and str(path) in str(report.detail)
    assert path.read_text() == "{not json"


def test_an_audit_key_shorter_than_32_bytes_is_refused(ledger_url: str) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        open_ledger(ledger_url, audit_key=b"short")


def test_concurrent_appenders_leave_the_newest_head_in_the_file(
    keyed: Ledger, ledger_url: str, state_dir: Path
) -> None:
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with open_ledger(ledger_url, audit_key=KEY, state_dir=state_dir) as own:
                for i in range(10):
                    own.audit.append("ack", {"writer": name, "i": i}, at=T0)
        except Exception as exc:  # re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    recorded = keyed.audit.head_file.read()  # type: ignore[union-attr]
    assert recorded is not None and (recorded.seq, recorded.hash) == keyed.audit.head()
    assert keyed.audit.verify().ok
