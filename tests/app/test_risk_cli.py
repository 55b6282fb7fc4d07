"""``tiller risk`` as an operator uses it: status, halt, resume, all recorded."""

from __future__ import annotations

import json

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
    assert code == 0 and json.loads(out)["trading_state"] == "active"
    code, out, _ = invoke("audit", "tail", "--json")
    kinds = [e["kind"] for e in json.loads(out)]
    assert kinds == ["state_change", "human_action"]
    code, _, _ = invoke("audit", "verify")
    assert code == 0


def test_resume_requires_the_reason_option() -> None:
    code, _, err = invoke("risk", "resume")
    assert code == 2 and "--reason" in err


def test_a_looser_limits_file_is_refused_at_start_up(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "limits.toml"
    path.write_text("max_order_notional = 10000000\n")
    monkeypatch.setenv("TILLER_RISK_LIMITS_FILE", str(path))
    code, _, err = invoke("risk", "status")
    assert code == 2 and "max_order_notional" in err
