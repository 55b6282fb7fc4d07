"""Agent runs end to end, offline: the real graph, the rules reasoner, the real risk
officer, the paper broker and the ledger, on the bundled daily prices (which end on
2013-03-01, so every run here is made as of that close with the clock fixed there).

The core flow (wait, approve, paper order, audit; a second approval refused) runs on SQLite
and on a fresh PostgreSQL database holding the ledger, the run record and the graph's
checkpoints (skipped, saying why, when the server is unreachable)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from agents.models import ApprovalDecision, RunRequest
from app.bootstrap import Container, build
from app.services.runs import decide_run, list_runs, show_run, start_run
from core.errors import ConfigError, NotFoundError
from tests.postgres import fresh_database

# MSFT is a bundled symbol the rules want to buy on 2013-03-01 (a neutral 5 % weight
# tilted slightly down by its trend).
BUY = RunRequest(symbols=["MSFT"])


# Tests marked with this run twice: on SQLite (the default) and on PostgreSQL.
BOTH_DATABASES = pytest.mark.parametrize("c", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def c(request: pytest.FixtureRequest) -> Iterator[Container]:
    if getattr(request, "param", "sqlite") == "sqlite":
        yield build()
        return
    with fresh_database("tiller_agent_run") as url:
        built = build(database_url=url)
        assert built.ledger.engine.dialect.name == "postgresql"
        yield built
        built.ledger.engine.dispose()
        # The graph's checkpoints went to PostgreSQL too, not to the state folder's file.
        assert not (built.settings.state_path / "checkpoints.sqlite3").exists()


def approve(c: Container, run_id: str, qty: str | None = None) -> dict:
    decision = ApprovalDecision(
        action="approve", operator="tester", quantity=Decimal(qty) if qty else None
    )
    return decide_run(c, run_id, decision).model_dump(mode="json")


def filled(view: dict) -> list[dict]:
    return [o for o in view["report"]["orders"] if o["status"] == "filled"]


@BOTH_DATABASES
def test_copilot_run_waits_for_a_person_then_approval_executes_on_paper(c: Container) -> None:
    view = start_run(c, RunRequest(symbols=["AAPL", "MSFT"])).model_dump(mode="json")
    assert view["status"] == "awaiting_approval"
    assert "tiller run approve" in view["next_step"]
    report = view["report"]
    assert report["fixed_clock"] is True and report["as_of"].startswith("2013-03-02")
    assert report["proposed_by"] == "offline rules, no LLM"
    assert report["forecasts"]["AAPL"]["has_edge"] is False  # the card's MASE is > 1
    assert report["policy"]["AAPL"]["has_edge"] is False
    evidence = report["evidence"]["AAPL"]
    assert evidence and all(c["published_at"] < report["as_of"] for c in evidence)
    cited = {n for f in report["findings"]["AAPL"] for n in f["citations"]}
    assert cited <= {c["n"] for c in evidence}  # every [n] resolves to a passage
    proposals = {p["symbol"]: p for p in report["proposals"]}
    assert proposals["MSFT"]["side"] == "buy"
    assert all(v["approved"] for v in report["risk"])
    assert c.ledger.orders() == []  # nothing is sent before a person approves

    done = approve(c, view["run_id"])
    assert done["status"] == "succeeded" and done["outcome"] == "executed"
    orders = {o["symbol"]: o for o in filled(done)}
    assert {s: o["quantity"] for s, o in orders.items()} == {
        s: p["quantity"] for s, p in proposals.items()
    }
    assert c.ledger.audit.verify().ok
    record = show_run(c, view["run_id"]).model_dump(mode="json")
    kinds = [e["kind"] for e in record["events"]]
    for kind in ("run_started", "tool_call", "retrieval", "proposal", "decision",
                 "awaiting_approval", "human_action", "order", "run_finished"):  # fmt: skip
        assert kind in kinds, kind
    assert record["tampered"] == []


def test_rejecting_a_proposal_sends_nothing(c: Container) -> None:
    view = start_run(c, BUY)
    done = decide_run(c, view.run_id, ApprovalDecision(action="reject", operator="tester",
                                                       reason="not today"))  # fmt: skip
    assert done.outcome == "rejected" and done.status == "succeeded"
    assert c.ledger.orders() == []


def test_approving_a_smaller_quantity_sends_exactly_that_quantity(c: Container) -> None:
    view = start_run(c, BUY)
    done = approve(c, view.run_id, qty="10")
    [order] = filled(done)
    assert order["quantity"] == "10"
    assert [v["quantity"] for v in done["report"]["risk"]][-1] == "10"  # re-checked at 10


def test_approving_a_larger_quantity_is_refused_and_the_run_keeps_waiting(c: Container) -> None:
    view = start_run(c, BUY)
    qty = Decimal(view.report["proposals"][0]["quantity"])  # type: ignore[index]
    with pytest.raises(ConfigError, match="not smaller"):
        approve(c, view.run_id, qty=str(qty + 1))
    assert show_run(c, view.run_id).status == "awaiting_approval"
    assert c.ledger.orders() == []


@BOTH_DATABASES
def test_a_finished_run_cannot_be_approved_again(c: Container) -> None:
    view = start_run(c, BUY)
    approve(c, view.run_id)
    with pytest.raises(ConfigError, match="already decided"):
        approve(c, view.run_id)
    assert len(c.ledger.orders()) == 1


def test_auto_mode_executes_what_the_risk_officer_approves(c: Container) -> None:
    view = start_run(c, RunRequest(symbols=["MSFT"], mode="auto")).model_dump(mode="json")
    assert view["outcome"] == "executed" and len(filled(view)) == 1


def _limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Container:
    path = tmp_path / "limits.toml"
    path.write_text(text)
    monkeypatch.setenv("TILLER_RISK_LIMITS_FILE", str(path))
    return build()


def test_a_denied_order_comes_back_once_at_half_size_and_is_approved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _limits(tmp_path, monkeypatch, "max_order_notional = 3000\n")
    view = start_run(c, RunRequest(symbols=["MSFT"], mode="auto")).model_dump(mode="json")
    first, second = view["report"]["risk"][:2]
    assert first["approved"] is False and first["reason_codes"] == ["MAX_ORDER_NOTIONAL"]
    assert second["approved"] is True
    assert Decimal(second["quantity"]) == Decimal(first["quantity"]) // 2
    assert view["outcome"] == "executed"


def test_a_second_denial_ends_the_run_with_no_trade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _limits(tmp_path, monkeypatch, "max_order_notional = 1000\n")
    view = start_run(c, RunRequest(symbols=["MSFT"], mode="auto")).model_dump(mode="json")
    verdicts = view["report"]["risk"]
    assert [v["approved"] for v in verdicts] == [False, False]
    assert view["outcome"] == "denied" and c.ledger.orders() == []


def test_when_trading_is_halted_the_run_is_denied_and_not_retried(c: Container) -> None:
    c.executor().halt("drill", operator="tester")
    view = start_run(c, RunRequest(symbols=["MSFT"], mode="auto")).model_dump(mode="json")
    [verdict] = view["report"]["risk"]
    assert "STATE_HALTED" in verdict["reason_codes"]
    assert view["outcome"] == "denied" and c.ledger.orders() == []


def test_an_unknown_symbol_is_a_clear_error_not_a_traceback(c: Container) -> None:
    with pytest.raises(NotFoundError):
        start_run(c, RunRequest(symbols=["NOPE"]))


def test_runs_are_listed_newest_first(c: Container) -> None:
    first = start_run(c, BUY).run_id
    second = start_run(c, RunRequest(symbols=["AAPL"])).run_id
    assert [v.run_id for v in list_runs(c)][:2] == [second, first]
    assert list_runs(c)[0].status == "awaiting_approval"


def test_an_approval_given_after_a_halt_is_checked_again_and_sends_nothing(c: Container) -> None:
    view = start_run(c, BUY)
    assert view.report["risk"][0]["approved"] is True  # type: ignore[index]
    c.executor().halt("drill while the run waits", operator="tester")
    done = approve(c, view.run_id)
    assert c.ledger.orders() == []
    last = done["report"]["risk"][-1]
    assert last["approved"] is False and "STATE_HALTED" in last["reason_codes"]
    assert done["outcome"] == "denied"


def test_a_run_on_other_symbols_values_the_positions_already_held(c: Container) -> None:
    start_run(c, RunRequest(symbols=["MSFT"], mode="auto"))
    [held] = c.ledger.positions(venue="paper")
    view = start_run(c, RunRequest(symbols=["IBM"], mode="auto")).model_dump(mode="json")
    verdicts = view["report"]["risk"]
    assert verdicts and all("NO_REFERENCE_PRICE" not in v["reason_codes"] for v in verdicts)
    assert view["outcome"] == "executed"
    snap = show_run(c, view["run_id"]).model_dump(mode="json")["events"]
    gathered = next(
        e["payload"] for e in snap if e["node"] == "gather" and e["kind"] == "tool_call"
    )
    equity = Decimal(gathered["snapshots"]["IBM"]["equity"])
    cash = Decimal(gathered["snapshots"]["IBM"]["cash"])
    assert equity > cash  # the MSFT position is valued, not counted as 0
    assert equity - cash > held.quantity * Decimal(20)
