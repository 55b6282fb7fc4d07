"""The Portfolio page: positions, cash, the paper account's equity over time, open
orders and fills."""

from __future__ import annotations

import streamlit as st

from app.chat._charts import account_figure
from app.chat._ui import container, fact, guarded, money, when
from app.services.portfolio import OrderView


def _positions() -> None:
    from app.services.portfolio import portfolio

    book = portfolio(container())
    cur = book.currency
    cols = st.columns(4)
    fact(cols[0], f"Equity ({cur})", money(book.equity))
    fact(cols[1], f"Cash ({cur})", money(book.cash))
    fact(cols[2], f"Gross exposure ({cur})", money(book.exposure.gross))
    fact(cols[3], "Working orders", str(book.working_orders))
    st.caption(f"Venue: {book.venue}. Positions are marked at the last stored close.")
    st.subheader("Positions")
    if not book.positions:
        st.info("No positions yet: approve an agent run's proposal on the Chat page.")
        return
    st.table(
        [{"symbol": p.symbol, "quantity": str(p.quantity),
          "average price": money(p.average_price), "mark": money(p.mark),
          "value": money(p.value, cur)} for p in book.positions],
        hide_index=True,
    )  # fmt: skip
    if book.exposure.unpriced:
        st.warning("No stored price for: " + ", ".join(book.exposure.unpriced))


def _history() -> None:
    from app.services.account_history import account_history

    history = account_history(container())
    st.subheader("Equity of the paper account")
    if not history.points:
        st.caption(f"Nothing traded yet: the account holds {money(history.initial_cash)} "
                   f"{history.currency} in cash.")  # fmt: skip
        return
    st.plotly_chart(account_figure(history), key="account-equity", width="stretch")
    st.caption("After each fill and at each later daily close, positions marked at the close.")


def _orders() -> None:
    from app.services.account_history import fills
    from app.services.portfolio import orders
    from core.types import OrderStatus

    c = container()
    every = orders(c, limit=200)
    working = [o for o in every if OrderStatus(o.status).is_working]
    st.subheader("Open orders")
    if working:
        st.dataframe(_order_rows(working), hide_index=True, width="stretch", key="open-orders")
    else:
        st.caption("No open orders.")
    st.subheader("Orders")
    if every:
        st.dataframe(_order_rows(every), hide_index=True, width="stretch", key="orders")
    else:
        st.caption("No orders yet.")
    st.subheader("Fills")
    done = fills(c)
    if done:
        st.dataframe(
            [{"time": when(f.at), "symbol": f.symbol, "side": f.side, "quantity": str(f.quantity),
              "price": money(f.price), "fee": money(f.fee, f.fee_currency),
              "order": f.client_order_id} for f in done],
            hide_index=True, width="stretch", key="fills",
        )  # fmt: skip
    else:
        st.caption("No fills yet.")


def _order_rows(found: list[OrderView]) -> list[dict[str, str]]:
    return [
        {"created": when(o.created_at), "symbol": o.symbol, "side": o.side,
         "quantity": str(o.quantity), "type": o.order_type, "limit": money(o.limit_price),
         "status": o.status, "filled": str(o.filled_qty), "avg price": money(o.avg_fill_price),
         "order": o.client_order_id}
        for o in found
    ]  # fmt: skip


st.title("Portfolio")
with guarded():
    _positions()
with guarded():
    _history()
with guarded():
    _orders()
