"""The Portfolio, Risk and Runs pages, driven in-process by Streamlit's AppTest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.models import ApprovalDecision
from app.bootstrap import build
from app.services.portfolio import portfolio, risk_status
from app.services.runs import decide_run, list_runs
from tests.app.chat.chat_support import app, figures, frames, no_traceback, texts


def approve_waiting_run() -> tuple[str, str]:
    """Approve the waiting run: its id and the quantity it bought (that moves with the
    signals, e.g. the news tone, so the tests read it rather than fix it)."""
    c = build()
    [view] = [v for v in list_runs(c) if v.status == "awaiting_approval"]
    [proposal] = (view.pending or {})["proposals"]
    decide_run(c, view.run_id, ApprovalDecision(action="approve", operator="tester"))
    return view.run_id, str(proposal["quantity"])


def test_the_app_opens_on_the_chat_page_and_every_page_is_reachable() -> None:
    at = app()
    no_traceback(at)
    assert [t.value for t in at.title] == ["Tiller"] and at.chat_input(key="prompt")
    for page, title in (("portfolio", "Portfolio"), ("risk", "Risk"), ("runs", "Runs")):
        at.switch_page(f"pages/{page}.py").run()
        no_traceback(at)
        assert [t.value for t in at.title] == [title]


def test_portfolio_before_any_trade_shows_the_starting_cash_and_no_chart() -> None:
    at = app("portfolio")
    no_traceback(at)
    shown = texts(at)
    assert "Cash (USD) 100,000.00" in shown and "No positions yet" in shown
    assert "Nothing traded yet" in shown and "No fills yet" in shown
    assert figures(at) == []


def test_portfolio_after_an_approval_shows_the_position_the_order_the_fill_and_equity() -> None:
    _, quantity = approve_waiting_run()
    book = portfolio(build())
    at = app("portfolio")
    no_traceback(at)
    tables = {next(iter(f.columns)): f for f in frames(at)}
    assert list(tables["symbol"]["quantity"]) == [quantity]
    assert list(tables["created"]["status"]) == ["filled"]  # the orders table
    fills = tables["time"]
    assert (list(fills["side"]), list(fills["quantity"])) == (["buy"], [quantity])
    [chart] = figures(at)
    traces = {t["name"]: t for t in chart["data"]}
    assert traces["equity"]["y"][0] == 100_000  # the opening balance, before the fill
    assert traces["equity"]["y"][-1] == pytest.approx(float(book.equity), abs=0.01)
    assert traces["cash"]["y"][-1] == pytest.approx(float(book.cash), abs=0.01)
    assert "No open orders" in texts(at)


def test_halting_needs_a_confirmation_then_trading_is_halted_with_the_reason() -> None:
    at = app("risk")
    no_traceback(at)
    assert "Trading state ACTIVE" in texts(at)
    at.button(key="halt").click().run()
    assert risk_status(build()).state["trading_state"] == "active"  # nothing yet
    assert "Halt trading on paper?" in texts(at)
    at.text_input(key="halt-reason").set_value("news pending")
    at.button(key="halt-confirm").click().run()
    no_traceback(at)
    state = risk_status(build()).state
    assert (state["trading_state"], state["halted_reason"]) == ("halted", "news pending")
    assert "Trading state HALTED" in texts(at) and "Halted: news pending" in texts(at)


def test_cancel_on_the_confirmation_leaves_trading_active() -> None:
    at = app("risk")
    at.button(key="halt").click().run()
    at.button(key="halt-cancel").click().run()
    assert risk_status(build()).state["trading_state"] == "active"
    assert at.button(key="halt") and "Halt trading on paper?" not in texts(at)


def test_resuming_without_a_reason_is_refused_with_the_services_message() -> None:
    from app.services.risk import halt

    halt(build(), "test", operator="tester")
    at = app("risk")
    at.button(key="resume").click().run()
    no_traceback(at)
    assert "resuming trading needs a reason" in texts(at)
    assert risk_status(build()).state["trading_state"] == "halted"
    at.text_input(key="resume-reason").set_value("news is out")
    at.button(key="resume").click().run()
    no_traceback(at)
    assert risk_status(build()).state["trading_state"] == "active"
    assert "Trading resumed: ACTIVE" in texts(at)


def test_resuming_with_the_losses_accepted_shows_where_the_breakers_restart() -> None:
    from app.services.risk import halt

    halt(build(), "test", operator="tester")
    at = app("risk")
    at.text_input(key="resume-reason").set_value("losses reviewed")
    at.checkbox(key="accept-losses").check()
    at.button(key="resume").click().run()
    no_traceback(at)
    state = risk_status(build()).state
    assert state["trading_state"] == "active"
    assert "Losses accepted: the breakers restart at equity" in texts(at)
    assert Decimal(state["peak_equity"]) == Decimal(state["day_start_equity"])


def test_a_stale_autopilot_heartbeat_is_a_warning_on_the_risk_page() -> None:
    from datetime import timedelta

    from app.autopilot._lock import leader_lock
    from app.autopilot._store import AutopilotStore

    at = app("risk")
    assert "Autopilot not running" in texts(at) and "STALE" not in texts(at)
    c = build()
    lock = leader_lock(c.ledger.engine)
    assert lock.acquire()  # a leader holds the lock, and its last beat is an hour old
    try:
        hour_ago = c.clock.now() - timedelta(hours=1)
        AutopilotStore(c.ledger.engine).beat("host:4242", hour_ago, started_at=hour_ago,
                                             state="running", info={"cycle_s": 10})  # fmt: skip
        at.run()
        no_traceback(at)
        shown = texts(at)
        assert "Autopilot heartbeat is STALE" in shown and "host:4242" in shown
        assert "Autopilot running" in shown
    finally:
        lock.release()


def test_the_limits_table_shows_each_limit_and_how_much_of_it_is_used() -> None:
    approve_waiting_run()
    at = app("risk")
    no_traceback(at)
    [limits] = [f for f in frames(at) if "limit" in f.columns]
    rows = limits.set_index("limit")
    assert rows.loc["max_orders_per_day", "used"] == "1"
    assert rows.loc["max_orders_per_day", "limit value"] == "500"
    gross = Decimal(rows.loc["max_gross_exposure", "used"])
    assert Decimal("0.03") < gross < Decimal("0.04")  # ~60 AAPL at ~56 of ~100k
    assert "Today's P&L" in texts(at)


def test_runs_are_listed_filtered_and_one_opens_with_its_full_record() -> None:
    run_id, _ = approve_waiting_run()
    at = app("runs")
    no_traceback(at)
    [table] = [f for f in frames(at) if "run" in f.columns]
    assert list(table["run"]) == [run_id] and list(table["outcome"]) == ["executed"]
    shown = texts(at)
    assert f"Agent run `{run_id}`" in shown and f"tiller runs show {run_id} --json" in shown
    [record] = [e for e in at.expander if e.label.startswith("The full record")]
    [events] = [f for f in frames(record) if "seq" in f.columns]
    assert list(events["seq"]) == list(range(1, len(events) + 1))
    assert {"human_action", "order", "run_finished"} <= set(events["kind"])
    at.text_input(key="runs-symbol").set_value("MSFT").run()
    assert "No agent run matches" in texts(at)
    at.text_input(key="runs-symbol").set_value("aapl").run()
    at.selectbox(key="runs-status").set_value("awaiting_approval").run()
    assert "No agent run matches" in texts(at)
    at.selectbox(key="runs-status").set_value("succeeded").run()
    assert next(f for f in frames(at) if "run" in f.columns)["run"].tolist() == [run_id]
