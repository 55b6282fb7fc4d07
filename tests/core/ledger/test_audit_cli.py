"""``tiller audit verify`` and ``tail`` as an operator uses them (via the sub-app)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli import audit as audit_cli
from core.ledger import AUDIT_BROKEN_EXIT, Ledger, open_ledger, secret_values
from core.settings import load_settings
from tests.core.ledger.ledger_support import SECRET, T0, RawSql

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(audit_cli.app, name="audit")


@pytest.fixture
def cli_ledger(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Ledger, RawSql]:
    monkeypatch.setenv("TILLER_DATABASE_URL", ledger_url)
    monkeypatch.setenv("TILLER_EXCHANGE_API_SECRET", SECRET)
    ledger = open_ledger(ledger_url, secrets=secret_values(load_settings()))
    for i in range(4):
        ledger.audit.append(
            "order_sent",
            {"i": i, "error": f"bad request with {SECRET}", "secret": SECRET},
            at=T0 + timedelta(seconds=i),
        )
    yield ledger, RawSql(ledger)  # type: ignore[misc]
    ledger.close()


def test_verify_exits_zero_on_an_intact_log(cli_ledger: tuple[Ledger, RawSql]) -> None:
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout and "4 entries" in result.stdout


def test_verify_exits_9_and_names_the_first_bad_entry_on_a_tampered_log(
    cli_ledger: tuple[Ledger, RawSql],
) -> None:
    _, raw = cli_ledger
    raw.tamper(
        f"""UPDATE audit_entries SET payload = '{{"i":2,"leak":"{SECRET}"}}' WHERE seq = 3"""
    )

    result = runner.invoke(cli, ["audit", "verify", "--json"])

    assert result.exit_code == AUDIT_BROKEN_EXIT == 9
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["first_bad_seq"] == 3
    assert report["problem"] == "edited" and report["first_bad_entry"]["seq"] == 3
    assert SECRET not in result.stdout and SECRET not in result.stderr

    human = runner.invoke(cli, ["audit", "verify"])
    assert human.exit_code == 9 and "seq 3" in human.stderr and SECRET not in human.stderr


def test_tail_json_shows_the_latest_entries_without_secrets(
    cli_ledger: tuple[Ledger, RawSql],
) -> None:
    result = runner.invoke(cli, ["audit", "tail", "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [e["seq"] for e in entries] == [3, 4]
    assert entries[0]["payload"]["secret"] == "[REDACTED]"
    assert SECRET not in result.stdout
    table = runner.invoke(cli, ["audit", "tail"])
    assert table.exit_code == 0 and "order_sent" in table.stdout and SECRET not in table.stdout


def test_verify_on_a_fresh_install_reports_an_empty_intact_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLER_DATABASE_URL", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    result = runner.invoke(cli, ["audit", "verify", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["entries"] == 0


def test_verify_with_the_head_kept_elsewhere_exits_9_once_the_tail_is_deleted(
    cli_ledger: tuple[Ledger, RawSql],
) -> None:
    first = runner.invoke(cli, ["audit", "verify", "--json"])
    kept_elsewhere = json.loads(first.stdout)["head_hash"]
    ledger, raw = cli_ledger
    entry = ledger.audit.entry(2)
    assert entry is not None
    raw.tamper(
        "DELETE FROM audit_entries WHERE seq > 2",
        f"UPDATE audit_head SET seq = 2, hash = '{entry.hash}'",
    )

    anchored = runner.invoke(cli, ["audit", "verify", "--expect-head", kept_elsewhere])

    assert anchored.exit_code == 9 and "--expect-head" in anchored.stderr
    # The head the first verify recorded outside the database catches it without help.
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 9


def test_verify_on_a_file_that_is_not_a_database_exits_9_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is a note, not a database\n" * 200)
    monkeypatch.setenv("TILLER_DATABASE_URL", f"sqlite:///{path}")

    result = runner.invoke(cli, ["audit", "verify"])

    assert result.exit_code == AUDIT_BROKEN_EXIT
    assert "not a readable database" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_verify_with_a_dropped_audit_table_exits_9_naming_it(
    cli_ledger: tuple[Ledger, RawSql],
) -> None:
    ledger, _ = cli_ledger
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_head")

    result = runner.invoke(cli, ["audit", "verify", "--json"])

    assert result.exit_code == AUDIT_BROKEN_EXIT
    report = json.loads(result.stdout)
    assert report["problem"] == "unreadable" and "audit_head" in report["detail"]
