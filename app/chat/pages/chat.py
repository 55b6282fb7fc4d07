"""The Chat page: one box for everything. A message is read (offline rules, or as the
person chose in the sidebar) as a question, a strategy or an agent run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import streamlit as st

from app.chat._answers import render_answer, render_strategy
from app.chat._run_card import progress_box, render_run
from app.chat._ui import container, describe, guarded, plain, show_error
from app.services.chat_support import StrategyRun, StrategyRunRequest

_FORCE = {"Detect it (offline rules)": None, "A question": "question",
          "A strategy to backtest": "strategy", "An agent run": "agents"}  # fmt: skip
_READ_AS = {"question": "a question", "strategy": "a strategy", "agents": "an agent run"}
_PROMPT = "Ask about markets and filings, describe a strategy, or say “run the agents on AAPL”"
# A conversation keeps its last messages only: every rerun of the page renders the whole
# history, and a strategy's message holds its whole backtest, so an unbounded history
# made each turn slower and the session larger (10,000 messages: minutes per turn).
# Agent runs stay in the database (the Runs page, and cards waiting for approval).
MAX_HISTORY = 200


def _settings() -> dict[str, Any]:
    """The sidebar: how to read the next message, the point in time, the default symbol."""
    from app.services.chat_support import stored_symbols

    with st.sidebar:
        st.markdown("**Chat settings**")
        force = st.radio("Read my message as", list(_FORCE), key="force")
        point_in_time = st.toggle("As of a past date", key="as_of_on",
                                  help="Questions search only documents published by then; "
                                  "agent runs decide as of then.")  # fmt: skip
        day = st.date_input("As of", value=date(2013, 3, 1), key="as_of_day",
                            min_value=date(1990, 1, 1), disabled=not point_in_time)  # fmt: skip
        symbols = stored_symbols(container())
        symbol = st.selectbox("Backtest on", symbols, key="symbol",
                              index=symbols.index("AAPL") if "AAPL" in symbols else 0,
                              help="When the strategy names no stored symbol.")  # fmt: skip
        if st.button("Clear the conversation", key="clear"):
            st.session_state["history"] = []
            st.session_state["dropped"] = 0
    as_of = datetime.combine(day, time(23, 59, 59), UTC) if point_in_time and day else None
    return {"force": _FORCE[force], "as_of": as_of, "symbol": symbol}


def _llm_line() -> str:
    s = container().settings
    if s.llm_enabled:
        return f"LLM: {plain(s.llm_model)} (answers say when the offline rules stood in)"
    return "No LLM is configured: the offline rules answer, and every answer says so."


def _append(message: dict[str, Any]) -> dict[str, Any]:
    history = st.session_state.setdefault("history", [])
    message["id"] = st.session_state.get("next_id", 0)
    st.session_state["next_id"] = message["id"] + 1
    history.append(message)
    _trim(history)
    return message


def _trim(history: list[dict[str, Any]]) -> None:
    extra = len(history) - MAX_HISTORY
    if extra > 0:
        del history[:extra]
        st.session_state["dropped"] = st.session_state.get("dropped", 0) + extra


def _render(message: dict[str, Any]) -> None:
    kind, key = message["kind"], str(message["id"])
    if message.get("read_as"):
        st.caption(plain(message["read_as"]))
    if kind == "text":
        st.markdown(plain(message["text"]))
    elif kind == "clarify":
        st.info(plain(message["text"]), icon=":material/help:")
    elif kind == "error":
        st.error(plain(message["message"]), icon=":material/error:")
        if message.get("hint"):
            st.caption(f"Hint: {plain(message['hint'])}")
    elif kind == "answer":
        render_answer(message["data"])
    elif kind == "strategy":
        render_strategy(StrategyRun.model_validate(message["data"]), key)
    elif kind == "run":
        render_run(message["run_id"], message.get("progress"))


def _respond(text: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Act on a message, rendering as it goes; returns what the history keeps."""
    from app.services.chat_support import route_message

    c = container()
    intent = route_message(c, text, settings["force"])
    how = "as you chose" if intent.forced else f"by the {intent.routed_by}"
    read_as = f"Read {how} as {_READ_AS[intent.kind]}."
    st.caption(read_as)
    if intent.kind == "question":
        return {"kind": "answer", "read_as": read_as, "data": _ask(text, settings["as_of"])}
    if intent.kind == "strategy":
        symbol = intent.symbols[0] if intent.symbols else settings["symbol"]
        return {"read_as": read_as, **_strategy(StrategyRunRequest(text=text, symbol=symbol))}
    if intent.question:
        st.info(plain(intent.question), icon=":material/help:")
        return {"kind": "clarify", "read_as": read_as, "text": intent.question}
    return {"read_as": read_as, **_agents(intent.symbols, settings["as_of"])}


def _ask(text: str, as_of: datetime | None) -> dict[str, Any]:
    from app.services.knowledge import AskRequest, ask, llm_session

    c = container()
    with st.spinner("Searching the knowledge base (the first question loads the models)…"):
        answer = ask(c, AskRequest(question=text, as_of=as_of), llm_session(c))
    data = answer.model_dump(mode="json")
    render_answer(data)
    return data


def _strategy(request: StrategyRunRequest) -> dict[str, Any]:
    from app.services.chat_support import strategy_backtest

    with st.spinner(f"Reading the strategy and backtesting it on {request.symbol}…"):
        run = strategy_backtest(container(), request)
    key = str(st.session_state.get("next_id", 0))
    render_strategy(run, key)
    return {"kind": "strategy", "data": run.model_dump(mode="json")}


def _agents(symbols: list[str], as_of: datetime | None) -> dict[str, Any]:
    from agents.models import RunRequest
    from app.services.runs import start_run

    box, on_event, lines = progress_box(f"Running the agents on {', '.join(symbols)}")
    view = start_run(container(), RunRequest(symbols=symbols, as_of=as_of), on_event)
    box.update(label=f"Agents done: {view.status.replace('_', ' ')}", state="complete",
               expanded=False)  # fmt: skip
    render_run(view.run_id)
    return {"kind": "run", "run_id": view.run_id, "progress": lines}


def _converse(text: str, settings: dict[str, Any], queued: dict[str, Any] | None) -> None:
    """One turn: the person's message, then the answer rendered live and kept."""
    shown = text if queued is None else _adjusted_text(queued)
    _append({"role": "user", "kind": "text", "text": shown})
    with st.chat_message("user"):
        st.markdown(plain(shown))
    with st.chat_message("assistant"):
        try:
            if queued is None:
                message = _respond(text, settings)
            else:
                read_as = "Read as a strategy (you adjusted it)."
                st.caption(read_as)
                message = {"read_as": read_as, **_strategy(_adjusted_request(queued))}
        except Exception as exc:  # shown and kept in the history; never a traceback
            show_error(exc)
            error, hint = describe(exc)
            message = {"kind": "error", "message": error, "hint": hint}
    _append({"role": "assistant", **message})


def _adjusted_request(queued: dict[str, Any]) -> StrategyRunRequest:
    def at(day: date | None, end: bool) -> datetime | None:
        return None if day is None else datetime.combine(day, time.max if end else time.min, UTC)

    return StrategyRunRequest(
        text=queued["text"], symbol=queued["symbol"], start=at(queued["start"], False),
        end=at(queued["end"], True), fee=queued["fee"],
    )  # fmt: skip


def _adjusted_text(queued: dict[str, Any]) -> str:
    span = f", {queued['start'] or 'start'} → {queued['end'] or 'end'}"
    fee = "" if queued["fee"] is None else f", fee {queued['fee']}"
    return f"Run again on {queued['symbol']}{span}{fee}: {queued['text']}"


def _waiting(history: list[dict[str, Any]]) -> None:
    """Runs waiting for approval that this conversation does not show (a reload, another
    window, the CLI): they live in the database, so nothing is lost."""
    from app.services.run_cards import awaiting_runs

    shown = {m.get("run_id") for m in history}
    for run_id in st.session_state.get("decisions", {}):
        if run_id not in shown:  # a decision on a card below: keep its outcome in view
            _append({"role": "assistant", "kind": "run", "run_id": run_id})
            shown.add(run_id)
    with guarded():
        waiting = [r for r in awaiting_runs(container(), limit=5) if r not in shown]
        if waiting:
            st.subheader("Waiting for your approval")
        for run_id in waiting:
            with st.container(border=True):
                render_run(run_id)


def main() -> None:
    st.title("Tiller")
    st.caption(_llm_line())
    with guarded():
        settings = _settings()
        history = st.session_state.setdefault("history", [])
        _trim(history)
        if st.session_state.get("dropped"):
            st.caption(f"{st.session_state['dropped']:,} earlier messages of this conversation "
                       "are no longer shown (agent runs stay on the Runs page).")  # fmt: skip
        _waiting(history)
        for message in history:
            with st.chat_message(message["role"]):
                _render(message)
        text = st.chat_input(_PROMPT, key="prompt")
        queued = st.session_state.pop("queued", None)
        if text and text.strip():
            _converse(text.strip(), settings, None)
        elif queued is not None:
            _converse("", settings, queued)


main()
