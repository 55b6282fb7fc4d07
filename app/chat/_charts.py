"""Plotly figures. They draw what the services computed; they compute nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:
    from app.services.account_history import AccountHistory
    from app.services.chat_support import StrategyRun

_LAYOUT = {
    "height": 320,
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    # Under the plot: above it, the title and the tool bar shown on hover would cover it.
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.1, "x": 0},
    "hovermode": "x unified",
}


def equity_figure(run: StrategyRun) -> go.Figure:
    """The strategy's equity and buy-and-hold's, same cash, same bars."""
    fig = go.Figure()
    for curve, colour in ((run.equity, "#1f77b4"), (run.buy_hold, "#9a9a9a")):
        if curve is not None:
            fig.add_trace(go.Scatter(x=curve.times, y=curve.values, name=curve.name,
                                     mode="lines", line={"color": colour}))  # fmt: skip
    fig.update_layout(title=f"Equity, {run.request.symbol} {run.request.timeframe}", **_LAYOUT)
    fig.update_yaxes(title=None, tickformat=",.0f")
    return fig


def drawdown_figure(run: StrategyRun) -> go.Figure:
    fig = go.Figure()
    if run.drawdown is not None:
        dd = run.drawdown
        line = {"color": "#d62728"}
        fig.add_trace(
            go.Scatter(
                x=dd.times, y=dd.values, name="drawdown", mode="lines", fill="tozeroy", line=line
            )
        )
    fig.update_layout(title="Drawdown from the running peak", **{**_LAYOUT, "height": 220})
    fig.update_yaxes(tickformat=".0%")
    return fig


def account_figure(history: AccountHistory) -> go.Figure:
    """The paper account's equity and cash over time (holdings are the difference; the
    positions table lists them)."""
    times = [p.at for p in history.points]
    fig = go.Figure()
    for name, values in (
        ("equity", [float(p.equity) for p in history.points]),
        ("cash", [float(p.cash) for p in history.points]),
    ):
        fig.add_trace(go.Scatter(x=times, y=values, name=name, mode="lines+markers",
                                 line={"shape": "hv"}))  # fmt: skip
    fig.update_layout(title=f"Paper account ({history.currency})", **_LAYOUT)
    fig.update_yaxes(tickformat=",.0f")
    return fig
