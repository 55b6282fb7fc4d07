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
