"""The Chat page, driven in-process by Streamlit's AppTest: every intent (a question, a
strategy, an agent run), the proposal card and its buttons, and how errors show."""

from __future__ import annotations

from datetime import date

import pytest

from app.bootstrap import build
from app.services.portfolio import orders
from app.services.runs import list_runs, show_run
from tests.app.chat.chat_support import SMA_TEXT, app, figures, frames, no_traceback, say, texts


def waiting_run_id() -> str:
    [view] = [v for v in list_runs(build()) if v.status == "awaiting_approval"]
    return view.run_id


def proposed_quantity(run_id: str) -> str:
    """What the waiting run proposes to buy (it moves with the signals, e.g. the news
    tone the sentiment model reads, so the tests read it rather than fix it)."""
    pending = show_run(build(), run_id).pending or {}
    [proposal] = pending["proposals"]
    return str(proposal["quantity"])


def test_a_run_waiting_in_the_database_shows_its_full_card_on_a_fresh_page() -> None:
    run_id = waiting_run_id()
    at = app()  # a new session: what a reload gives
    no_traceback(at)
    shown = texts(at)
    assert "Waiting for your approval" in shown and run_id in shown
    assert "[1]" in shown and "Apple" in shown  # a finding citing the news, expandable
    assert "median over 5 bars" in shown and "10–90%" in shown  # forecast and interval
    assert "MASE vs a random walk was 1.030" in shown and "no edge" in shown
    assert "deflated Sharpe" in shown and "buy-and-hold" in shown  # the policy's record
    assert f"APPROVED buy {proposed_quantity(run_id)} AAPL" in shown  # the risk officer
    assert "Produced by offline rules, no LLM" in shown
    for key in (f"approve-{run_id}", f"smaller-{run_id}", f"reject-{run_id}"):
        assert not at.button(key=key).disabled


def test_a_question_gets_an_answer_with_numbered_citations_that_expand_to_the_passage() -> None:
    at = say(app(), "How does a trailing stop work in a backtest?")
    no_traceback(at)
    answer = at.chat_message[-1]
    shown = texts(answer)
    assert "Read by the offline rules as a question" in shown
    assert "trailing" in shown and "[1]" in shown
    labels = [e.label for e in answer.expander]
    assert labels and labels[0].startswith("[1] Strategy types in Tiller")
    assert "Section: Strategy types in Tiller" in shown  # the section, inside the expander
    assert "no LLM" in shown


def test_the_as_of_picker_keeps_documents_published_later_out_of_the_answer() -> None:
    question = "What revenue did Apple report for its first fiscal quarter?"
    later = say(app(), question).chat_message[-1]
    assert "2013-01-23" in texts(later)  # the January 2013 release answers, without a date

    at = app()
    at.toggle(key="as_of_on").set_value(True).run()
    at.date_input(key="as_of_day").set_value(date(2012, 6, 30)).run()
    answer = say(at, question).chat_message[-1]
    no_traceback(at)
    assert "As of 2012-06-30 23:59 UTC" in texts(answer)
    dates = [e.label.rsplit("· ", 1)[-1] for e in answer.expander]
    assert dates and all(d <= "2012-06-30" for d in dates), dates


def test_a_strategy_is_shown_as_text_and_json_then_backtested_beside_buy_and_hold() -> None:
    at = say(app(), SMA_TEXT)
    no_traceback(at)
    shown = texts(at)
    assert "Read by the offline rules as a strategy" in shown
    assert "Buy when `sma10` crosses above `sma50`" in shown
    assert any(e.label == "The spec as JSON" for e in at.expander)
    assert at.get("json")[0].value and '"sma50"' in at.get("json")[0].value
    equity, drawdown = figures(at)
    strategy, hold = equity["data"]
    assert (strategy["name"], hold["name"]) == ("strategy", "buy and hold")
    assert len(strategy["x"]) == len(hold["x"]) == 3270  # every bundled AAPL bar
    assert strategy["y"][0] == hold["y"][0] == 10_000
    assert strategy["y"][-1] == pytest.approx(115_199.10, abs=0.01)  # `tiller backtest` agrees
    assert hold["y"][-1] > strategy["y"][-1]  # AAPL 2000-2013: buy-and-hold won
    [dd] = drawdown["data"]
    assert max(dd["y"]) == 0 and min(dd["y"]) == pytest.approx(-0.7087, abs=1e-4)
    [trades] = [f for f in frames(at) if "exit reason" in f.columns]
    assert len(trades) == 40
    assert "Total return +1052% buy & hold +1274%" in shown


def test_an_ambiguous_strategy_gets_a_clarifying_question_and_no_chart() -> None:
    at = say(app(), "buy when RSI is low")
    no_traceback(at)
    [question] = at.chat_message[-1].info
    assert "Below which level, by which measure?" in question.value.replace("\\", "")
    assert figures(at) == []
    assert at.text_area(key="adjust-text-1").value == "buy when RSI is low"


def test_adjust_and_rerun_backtests_the_new_text_on_the_new_symbol_and_dates() -> None:
    at = say(app(), SMA_TEXT)
    at.text_area(key="adjust-text-1").set_value(SMA_TEXT.replace("50-day", "100-day"))
    at.selectbox(key="adjust-symbol-1").set_value("MSFT")
    at.date_input(key="adjust-start-1").set_value(date(2005, 1, 1))
    at.date_input(key="adjust-end-1").set_value(date(2010, 12, 31))
    at.button[[b.label for b in at.button].index("Run again")].click().run()
    no_traceback(at)
    assert "Run again on MSFT, 2005-01-01 → 2010-12-31" in texts(at)
    new = figures(at)[2]  # the first answer's two charts stay above
    assert new["layout"]["title"]["text"] == "Equity, MSFT 1d"
    times = new["data"][0]["x"]
    assert times[0].startswith("2005-01-03") and times[-1].startswith("2010-12-31")
    assert "sma100" in texts(at)


def test_a_strategy_that_cannot_be_read_shows_the_reason_and_the_hint_not_a_traceback() -> None:
    at = say(app(), "buy when rsi(14) below 30, sell above 70")
    no_traceback(at)
    [error] = at.error
    assert "'sell above 70' is not a rule" in error.value.replace("\\", "")
    assert "Hint: describe when to buy and sell" in texts(at)


def test_an_unexpected_failure_names_its_log_file_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the index is on fire")

    monkeypatch.setattr("app.services.knowledge.ask", broken)
    at = say(app(), "What is a moving average?")
    no_traceback(at)
    assert "internal error: RuntimeError: the index is on fire" in texts(at)
    assert "please report; details in" in texts(at) and "tiller-chat-error-" in texts(at)


def test_run_the_agents_shows_each_node_as_it_finishes_then_the_proposal_card() -> None:
    before = {v.run_id for v in list_runs(build())}
    at = say(app(), "run the agents on MSFT")
    no_traceback(at)
    [new] = [v for v in list_runs(build()) if v.run_id not in before]
    assert new.status == "awaiting_approval"
    [status] = at.chat_message[-1].status
    assert (status.label, status.state) == ("Agents done: awaiting approval", "complete")
    shown = texts(status)
    for node in ("gather", "analyst", "forecaster", "policy", "proposer", "risk_gate"):
        assert f"✓ {node}:" in shown, node
    shown = texts(at)
    assert "Read by the offline rules as an agent run" in shown
    assert f"Agent run `{new.run_id}`" in shown and "#### MSFT" in shown
    assert at.button(key=f"approve-{new.run_id}")


def test_approve_sends_the_order_through_the_risk_officer_and_the_card_shows_the_fill() -> None:
    run_id = waiting_run_id()
    quantity = proposed_quantity(run_id)
    at = app()
    at.text_input(key=f"reason-{run_id}").set_value("looks fine")
    at.button(key=f"approve-{run_id}").click().run()
    no_traceback(at)
    view = show_run(build(), run_id)
    assert view.status == "succeeded" and view.outcome == "executed"
    human = next(e for e in view.events or [] if e["kind"] == "human_action")
    assert human["payload"]["reason"] == "looks fine"
    assert human["payload"]["operator"].endswith("(chat)")
    shown = texts(at)
    assert "Approved by" in shown and "outcome executed" in shown
    [table] = [f for f in frames(at) if "avg price" in f.columns]
    assert list(table["status"]) == ["filled"] and list(table["quantity"]) == [quantity]
    assert "Waiting for your approval" not in texts(app())  # gone after a reload


def test_approve_smaller_fills_only_the_smaller_quantity() -> None:
    run_id = waiting_run_id()
    at = app()
    assert at.number_input(key=f"qty-{run_id}").value == 30  # half, as a start
    at.number_input(key=f"qty-{run_id}").set_value(12)
    at.button(key=f"smaller-{run_id}").click().run()
    no_traceback(at)
    [order] = orders(build())
    assert (order.symbol, order.quantity, order.status) == ("AAPL", 12, "filled")
    assert "Approved 12" in texts(at)


def test_reject_sends_nothing_and_records_the_reason() -> None:
    run_id = waiting_run_id()
    at = app()
    at.text_input(key=f"reason-{run_id}").set_value("not before earnings")
    at.button(key=f"reject-{run_id}").click().run()
    no_traceback(at)
    assert orders(build()) == []
    view = show_run(build(), run_id)
    assert view.status == "succeeded" and view.outcome == "rejected"
    assert "Rejected by" in texts(at) and "not before earnings" in texts(at)
    assert "Nothing was sent (outcome: rejected)" in texts(at)


def test_an_agent_run_on_a_symbol_with_no_prices_asks_back_and_starts_nothing() -> None:
    before = len(list_runs(build()))
    at = say(app(), "run the agents on TSLA")
    no_traceback(at)
    assert any("TSLA has no stored prices" in i.value for i in at.info)
    assert len(list_runs(build())) == before


def test_the_reader_can_be_told_what_a_message_is() -> None:
    at = app()
    at.radio(key="force").set_value("A question").run()
    at = say(at, SMA_TEXT)  # the rules would backtest it
    no_traceback(at)
    answer = at.chat_message[-1]
    assert "Read as you chose as a question" in texts(answer)
    assert figures(answer) == [] and "[1]" in texts(answer)
    at.radio(key="force").set_value("Detect it (offline rules)").run()
    at = say(at, SMA_TEXT)
    assert "Read by the offline rules as a strategy" in texts(at.chat_message[-1])
    assert len(figures(at)) == 2
