"""How the chat shows a cited answer and a backtested strategy."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from app.chat._charts import drawdown_figure, equity_figure
from app.chat._ui import fact, pct, plain, produced_by, when
from app.services.chat_support import StrategyRun
from app.services.knowledge import AnswerView

_ANSWER_SOURCE = {
    "extractive": "the offline rules (sentences quoted from the passages; no LLM)",
    "none": "the offline rules (no passage answers this; no LLM)",
}


def render_answer(data: dict[str, Any]) -> None:
    answer = AnswerView.model_validate(data)
    st.markdown(plain(answer.answer))
    for warning in answer.warnings:
        st.warning(plain(warning))
    if answer.as_of is not None:
        st.caption(f"As of {when(answer.as_of)}: only documents published by then were searched.")
    cited: dict[int, list[Any]] = {}
    for citation in answer.citations:
        cited.setdefault(citation.n, []).append(citation)
    for n, parts in cited.items():
        first = parts[0].model_dump()
        title = first.get("title") or first["doc_id"]
        dated = str(first.get("date") or first.get("published_at") or "")[:10] or "undated"
        with st.expander(f"[{n}] {title} · {dated}"):
            section = first.get("section")
            if section:
                st.caption(f"Section: {plain(section)}")
            for part in parts:
                st.markdown("> " + plain(" ".join(str(part.quote or "").split())))
                st.caption(f"characters {part.start}–{part.end} of document {part.doc_id}")
    if answer.mode == "llm":
        produced_by(f"the LLM {answer.model or ''}, checked to cite only the passages it was given")
    else:
        produced_by(_ANSWER_SOURCE.get(answer.mode, "the offline rules"))


def render_strategy(run: StrategyRun, key: str) -> None:
    parse = run.parse
    if run.kind == "question":
        st.info(
            plain(parse.question or "Say a little more about the rule."), icon=":material/help:"
        )
        st.caption("Answer by adjusting the text below and running it again.")
    else:
        st.markdown("**Read as:**")
        st.code(parse.canonical_text or "", language=None, wrap_lines=True)
        with st.expander("The spec as JSON"):
            st.json(parse.spec or {}, expanded=True)
        _metrics(run)
        st.plotly_chart(equity_figure(run), key=f"equity-{key}", width="stretch")
        st.plotly_chart(drawdown_figure(run), key=f"drawdown-{key}", width="stretch")
        with st.expander(f"Trades ({len(run.trades)})"):
            st.dataframe(_trades(run.trades), hide_index=True, width="stretch")
        st.caption(
            f"Signals at each close, fills at the next bar's open, fee "
            f"{run.assumptions.get('fee_rate', '?')} per fill; buy-and-hold uses the same "
            "bars, cash and fees."
        )
    if parse.notes:
        st.caption("  \n".join(f"· {plain(note)}" for note in parse.notes))
    produced_by(f"{parse.source} (reading the text); the backtester computed the figures")
    _adjust_form(run, key)


def _metrics(run: StrategyRun) -> None:
    m, b = run.metrics, run.buy_hold_metrics
    cols = st.columns(5)
    pairs = [
        ("Total return", pct(m.get("total_return"), 0), pct(b.get("total_return"), 0)),
        ("Sharpe", f"{m.get('sharpe') or 0:.2f}", f"{b.get('sharpe') or 0:.2f}"),
        ("Max drawdown", pct(-(m.get("max_drawdown") or 0)), pct(-(b.get("max_drawdown") or 0))),
    ]
    for col, (label, mine, theirs) in zip(cols, pairs, strict=False):
        fact(col, label, mine, f"buy & hold {theirs}")
    fact(cols[3], "Trades", f"{m.get('n_trades', 0)}", f"win rate {pct(m.get('win_rate'), 0)}")
    start, final = m.get("initial_cash") or 0, m.get("final_equity") or 0
    fact(cols[4], "Final equity", f"{final:,.0f}", f"from {start:,.0f}")
    st.caption(f"{m.get('bars')} bars, {when(m.get('start'))} → {when(m.get('end'))}")


def _trades(trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"entry": str(t.get("entry_time", ""))[:10], "exit": str(t.get("exit_time", ""))[:10],
         "side": t.get("side"), "quantity": round(float(t.get("quantity", 0)), 4),
         "entry price": round(float(t.get("entry_price", 0)), 4),
         "exit price": round(float(t.get("exit_price", 0)), 4),
         "P&L": round(float(t.get("pnl", 0)), 2), "return": pct(t.get("return")),
         "exit reason": t.get("exit_reason"), "bars": t.get("bars_held")}
        for t in trades
    ]  # fmt: skip


def _adjust_form(run: StrategyRun, key: str) -> None:
    """Adjust and rerun: the text, the symbol and the dates, queued as a new request."""
    from app.chat._ui import container
    from app.services.chat_support import stored_symbols

    request = run.request
    opened = run.kind == "question"
    with st.expander("Adjust and rerun", expanded=opened), st.form(f"adjust-{key}", border=False):
        st.text_area("Strategy", value=request.text, key=f"adjust-text-{key}")
        symbols = stored_symbols(container())
        cols = st.columns(4)
        cols[0].selectbox(
            "Symbol", symbols, key=f"adjust-symbol-{key}",
            index=symbols.index(request.symbol) if request.symbol in symbols else 0,
        )  # fmt: skip
        cols[1].date_input("From", value=_day(request.start), key=f"adjust-start-{key}",
                           min_value=date(1970, 1, 1))  # fmt: skip
        cols[2].date_input("To", value=_day(request.end), key=f"adjust-end-{key}",
                           min_value=date(1970, 1, 1))  # fmt: skip
        cols[3].number_input("Fee per fill", min_value=0.0, max_value=0.1, step=0.0005,
                             format="%.4f", key=f"adjust-fee-{key}",
                             value=request.fee)  # fmt: skip
        st.form_submit_button("Run again", on_click=_queue_adjusted, args=(key,))


def _day(value: Any) -> date | None:
    return None if value is None else value.date()


def _queue_adjusted(key: str) -> None:
    state = st.session_state
    state["queued"] = {
        "kind": "strategy", "text": state[f"adjust-text-{key}"],
        "symbol": state[f"adjust-symbol-{key}"], "start": state[f"adjust-start-{key}"],
        "end": state[f"adjust-end-{key}"], "fee": state[f"adjust-fee-{key}"],
    }  # fmt: skip
