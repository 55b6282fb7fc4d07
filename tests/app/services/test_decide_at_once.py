"""Two decisions on one run at the same instant, from two containers with their own
database engines (as the CLI and the API, or two servers, are): the database serialises
them, so one decides, the other is told the run was already decided, and one order is
sent. On SQLite and on PostgreSQL (skipped, saying why, without the server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.models import ApprovalDecision, RunRequest
from app.bootstrap import Container, build
from app.services.runs import decide_run, show_run, start_run
from core.errors import ConfigError
from core.ledger.runlog import RunLog
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def two_containers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Container]]:
    if request.param == "sqlite":
        yield [build(home=tmp_path / "home"), build(home=tmp_path / "home")]
        return
    with fresh_database("tiller_decide") as url:
        yield [build(home=tmp_path / "home", database_url=url),
               build(home=tmp_path / "home", database_url=url)]  # fmt: skip


def test_two_approvals_of_one_run_at_once_then_one_decides_and_the_other_is_told_already_decided(
    two_containers: list[Container],
) -> None:
    first, second = two_containers
    assert first.ledger is not second.ledger  # separate engines: no shared in-process lock
    view = start_run(first, RunRequest(symbols=["MSFT"]))
    assert view.status == "awaiting_approval"
    start = threading.Barrier(2)
    answers: dict[str, object] = {}

    def approve(c: Container, operator: str) -> None:
        start.wait()
        try:
            answers[operator] = decide_run(
                c, view.run_id, ApprovalDecision(action="approve", operator=operator)
            )
        except ConfigError as exc:  # the clean refusal (the API's 409, the CLI's exit 2)
            answers[operator] = exc

    threads = [threading.Thread(target=approve, args=(c, name))
               for c, name in ((first, "cli"), (second, "api"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    refused = [a for a in answers.values() if isinstance(a, ConfigError)]
    decided = [a for a in answers.values() if not isinstance(a, ConfigError)]
    assert len(decided) == 1 and len(refused) == 1, answers
    message = str(refused[0])
    assert "already decided" in message or "another decision" in message, message
    done = show_run(first, view.run_id)
    assert done.outcome == "executed"
    events = RunLog(first.ledger).events(view.run_id)
    assert [e.kind for e in events].count("human_action") == 1
    assert len(first.ledger.orders()) == len(view.pending["proposals"])  # type: ignore[index]
    assert first.ledger.audit.verify().ok


def test_an_approval_of_a_run_decided_already_says_by_whom_and_how(tmp_path: Path) -> None:
    c = build(home=tmp_path / "home")
    view = start_run(c, RunRequest(symbols=["MSFT"]))
    decide_run(c, view.run_id, ApprovalDecision(action="reject", operator="alice"))
    with pytest.raises(ConfigError, match=r"already decided \(reject by alice at "):
        decide_run(c, view.run_id, ApprovalDecision(action="approve", operator="bob"))


def test_a_decision_that_loses_the_race_after_the_winner_resumed_is_told_another_decided(
    tmp_path: Path,
) -> None:
    # The loser may pass the service's "awaiting approval" check and reach the runner only
    # once the winner has resumed the graph, or finished the run: it must still be told
    # that another decision was made, not that the run was never waiting.
    from agents.runner import DecisionTakenError
    from app.services.runs import runner

    c = build(home=tmp_path / "home")
    view = start_run(c, RunRequest(symbols=["MSFT"]))
    decide_run(c, view.run_id, ApprovalDecision(action="approve", operator="alice"))
    with runner(c) as r, pytest.raises(DecisionTakenError, match="another decision"):
        r.decide(view.run_id, ApprovalDecision(action="approve", operator="bob"))
