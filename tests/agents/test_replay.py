"""``tiller runs replay``: a run's decision re-executed from its record."""

from __future__ import annotations

from agents.models import RunRequest
from app.bootstrap import build
from app.services.replay import replay_run
from app.services.runs import start_run
from core.ledger.runlog import RunEventRow


def test_replaying_an_offline_run_reproduces_every_node_and_sends_nothing() -> None:
    c = build()
    view = start_run(c, RunRequest(symbols=["AAPL", "MSFT"]))
    report = replay_run(c, view.run_id)
    assert report.identical, report.differences
    assert set(report.compared) == {"snapshots", "analysis", "forecasts", "policy", "proposals"}
    assert c.ledger.orders() == []


def test_a_recorded_proposal_that_differs_from_the_replay_is_reported() -> None:
    c = build()
    view = start_run(c, RunRequest(symbols=["MSFT"]))
    with c.ledger._tx() as session:  # someone edits the record of the proposal
        row = session.query(RunEventRow).filter_by(run_id=view.run_id, kind="proposal").one()
        payload = dict(row.payload)
        payload["proposals"] = [{**payload["proposals"][0], "quantity": "999"}]
        row.payload = payload
    report = replay_run(c, view.run_id)
    assert not report.identical
    assert any(d.startswith("proposals") for d in report.differences)
