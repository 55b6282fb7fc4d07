"""``make run`` (``tiller demo``): an offline agent run a new user can read."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import app


def test_make_run_shows_evidence_forecast_policy_proposal_verdict_and_how_to_approve() -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for part in ("evidence, AAPL:", "[1]", "forecast, AAPL:", "policy, AAPL:",
                 "decision: [offline rules, no LLM]", "risk officer:", "APPROVED",
                 "Next: tiller run approve"):  # fmt: skip
        assert part in text, part
    assert "Traceback" not in result.output
