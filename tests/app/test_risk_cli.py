"""``tiller risk`` as an operator uses it: status, halt, resume, all recorded."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_status_halt_resume_round_trip_is_audited() -> None:
    code, out, _ = invoke("risk", "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["state"]["trading_state"] == "active"
    assert status["audit_chain_ok"] is True
    assert status["limits"]["max_order_notional"] == "100000"
    code, out, _ = invoke("risk", "halt", "--reason", "drill", "--json")
    assert code == 0 and json.loads(out)["state"]["trading_state"] == "halted"
    code, out, _ = invoke("risk", "status", "--json")
    assert json.loads(out)["state"]["halted_reason"] == "drill"
    code, _, err = invoke("risk", "resume", "--reason", "   ")
    assert code == 2 and "needs a reason" in err
    code, out, _ = invoke("risk", "resume", "--reason", "drill over", "--json")
    # The service's model, as POST /v1/risk/resume answers (and halt's shape): was flat.
    assert code == 0 and json.loads(out)["state"]["trading_state"] == "active"
    code, out, _ = invoke("audit", "tail", "--json")
    kinds = [e["kind"] for e in json.loads(out)]
    assert kinds == ["state_change", "human_action"]
    code, _, _ = invoke("audit", "verify")
    assert code == 0


def test_resume_accepting_the_losses_then_the_breakers_restart_at_the_equity_marked_now() -> None:
    invoke("risk", "halt", "--reason", "drill")
    code, out, err = invoke("risk", "resume", "--reason", "losses reviewed", "--accept-losses")
    assert code == 0, err
    assert "losses accepted: the breakers restart at equity 100000" in out
    code, out, _ = invoke("risk", "status", "--json")
    state = json.loads(out)["state"]
    assert state["peak_equity"] == state["day_start_equity"] == "100000"


def test_resume_requires_the_reason_option() -> None:
    code, _, err = invoke("risk", "resume")
    assert code == 2 and "--reason" in err


def test_a_looser_limits_file_is_refused_at_start_up(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "limits.toml"
    path.write_text("max_order_notional = 10000000\n")
    monkeypatch.setenv("TILLER_RISK_LIMITS_FILE", str(path))
    code, _, err = invoke("risk", "status")
    assert code == 2 and "max_order_notional" in err


# -- the kill switch works whatever else is misconfigured (issue 10, item 1) ------------


def _ledger_path() -> Path:
    return Path(os.environ["TILLER_HOME"]) / "state" / "ledger.sqlite3"


def _working_order(venue: str) -> str:
    """An order the ledger holds as open at ``venue`` (what a halt must cancel)."""
    from core.ledger import open_ledger
    from core.types import OrderIntent

    intent = OrderIntent(symbol="BTC/USDT", side="buy", quantity=Decimal(1), venue=venue,
                         order_type="limit", limit_price=Decimal(100),
                         created_at=datetime(2024, 1, 2, tzinfo=UTC))  # fmt: skip
    _ledger_path().parent.mkdir(parents=True, exist_ok=True)
    with open_ledger(f"sqlite:///{_ledger_path()}") as ledger:
        ledger.record_order_pending(intent, "c-open-1")
        ledger.update_order("c-open-1", "open", venue_order_id="v-1")
    return "c-open-1"


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("TILLER_RISK_LIMITS_FILE", "loose.toml", "max_order_notional"),
        ("TILLER_RISK_LIMITS_FILE", "missing.toml", "cannot read the limits file"),
        ("TILLER_RISK_LIMITS_FILE", "a-folder.toml", "cannot read the limits file"),
        ("TILLER_RISK_TOKEN_KEY", "too-short", "token key is too short"),
        ("TILLER_PAPER_CASH", "-5", "TILLER_PAPER_CASH"),
    ],
)
def test_halt_with_a_broken_setting_then_halted_and_the_setting_named_as_a_warning(
    setting: str, value: str, named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loose.toml").write_text("max_order_notional = 10000000\n")
    (tmp_path / "a-folder.toml").mkdir()
    monkeypatch.setenv(setting, value)

    code, out, err = invoke("risk", "halt", "--reason", "drill")

    assert code == 0, err
    assert "HALTED" in out and named in err and "warning" in err
    monkeypatch.delenv(setting)
    code, out, _ = invoke("risk", "status", "--json")
    assert code == 0 and json.loads(out)["state"]["trading_state"] == "halted"


def test_halt_when_the_venue_cannot_be_built_then_halted_and_cancels_left_to_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TILLER_TRADING_VENUE", "nosuchvenue")
    cid = _working_order("nosuchvenue")

    code, out, _ = invoke("risk", "halt", "--json")

    assert code == 5  # HALTED is recorded; the cancel must be retried
    data = json.loads(out)
    assert data["state"]["trading_state"] == "halted" and data["venue"] == "nosuchvenue"
    assert data["venue_reachable"] is False and data["failed"][0]["client_order_id"] == cid
    assert any("run `tiller risk halt` again" in w for w in data["warnings"])


def test_halt_with_a_too_short_audit_key_then_halted_in_the_risk_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert invoke("risk", "halt", "--reason", "first")[0] == 0  # a keyed chain exists
    assert invoke("risk", "resume", "--reason", "drill over")[0] == 0
    monkeypatch.setenv("TILLER_AUDIT_KEY", "short")

    code, out, err = invoke("risk", "halt", "--reason", "second")

    assert code == 0 and "HALTED" in out and "TILLER_AUDIT_KEY is too short" in err
    monkeypatch.delenv("TILLER_AUDIT_KEY")
    code, out, _ = invoke("risk", "status", "--json")
    status = json.loads(out)
    assert status["state"]["trading_state"] == "halted" and status["audit_chain_ok"] is True


# -- a broken audit chain halts trading everywhere (issue 10, item 2) --------------------


def _break_the_chain() -> None:
    with sqlite3.connect(_ledger_path()) as conn:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("""UPDATE audit_entries SET payload = '{"reason":"nothing happened"}'
                        WHERE seq = 1""")


def test_status_with_a_broken_audit_chain_then_halted_with_the_reason() -> None:
    invoke("risk", "halt", "--reason", "drill")
    invoke("risk", "resume", "--reason", "drill over")
    _break_the_chain()

    code, out, _ = invoke("risk", "status", "--json")

    status = json.loads(out)
    assert code == 0 and status["audit_chain_ok"] is False
    assert status["state"]["trading_state"] == "halted"
    assert status["state"]["halted_reason"] == "audit chain broken at seq 1 (edited)"
    code, out, _ = invoke("risk", "status")
    assert "HALTED" in out and "audit chain broken at seq 1" in out


def test_resume_with_a_broken_audit_chain_then_refused_with_exit_9() -> None:
    invoke("risk", "halt", "--reason", "drill")
    _break_the_chain()

    code, _, err = invoke("risk", "resume", "--reason", "looks fine to me")

    assert code == 9 and "--acknowledge-broken-chain" in err
    code, out, _ = invoke("risk", "status", "--json")
    assert json.loads(out)["state"]["trading_state"] == "halted"


def test_resume_acknowledging_the_broken_chain_then_active_and_the_break_recorded() -> None:
    invoke("risk", "halt", "--reason", "drill")
    _break_the_chain()

    code, out, err = invoke(
        "risk", "resume", "--reason", "restored from backup, reviewed", "--operator", "alice",
        "--acknowledge-broken-chain", "--json",
    )  # fmt: skip

    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["state"]["trading_state"] == "active" and resumed["acknowledged_seq"] is not None
    code, out, _ = invoke("audit", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["acknowledged"][0]["operator"] == "alice"
    code, out, _ = invoke("audit", "tail", "--json")
    ack = next(e for e in json.loads(out) if e["kind"] == "audit_acknowledged")
    assert ack["payload"]["first_bad_seq"] == 1
    assert ack["payload"]["reason"] == "restored from backup, reviewed"
    code, out, _ = invoke("risk", "status", "--json")
    assert json.loads(out)["state"]["trading_state"] == "active"
