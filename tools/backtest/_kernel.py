"""The simulation kernel: one pass over the bars, numba-compiled.

Convention (the contract every test checks): a signal is computed from bar i's close;
its order fills at bar i+1's open, with slippage against us and the fee on the fill's
notional. Stops and take-profits are checked inside each bar after the open; if a bar
touches both, the stop is assumed to have been hit first (the conservative reading of a
bar we cannot see inside). Equity is marked at every close.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Exit reasons recorded per trade.
REASON_SIGNAL, REASON_STOP, REASON_TAKE_PROFIT, REASON_TRAIL, REASON_OPEN = 0, 1, 2, 3, 4
REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "open")

# Columns of the float trade table.
T_ENTRY_IDX, T_EXIT_IDX, T_DIR, T_QTY, T_ENTRY_PX, T_EXIT_PX, T_FEES, T_PNL, T_REASON = range(9)
N_TRADE_COLS = 9


@njit(cache=True, nogil=True)
def _target(i, pos, entry, exit_, short_entry, short_exit, size):
    """Desired direction after bar i's close: 1 long, -1 short, 0 flat, 2 no change."""
    go_long = entry[i] and not short_entry[i]
    go_short = short_entry[i] and not entry[i]
    if go_long and exit_[i]:
        go_long = False  # contradictory signals on one bar: do nothing
    if go_short and short_exit[i]:
        go_short = False
    if pos <= 0 and go_long and size[i] > 0:
        return 1
    if pos >= 0 and go_short and size[i] > 0:
        return -1
    if pos > 0 and exit_[i] and not entry[i]:
        return 0
    if pos < 0 and short_exit[i] and not short_entry[i]:
        return 0
    return 2


@njit(cache=True, nogil=True)
def simulate(
    open_, high, low, close, entry, exit_, short_entry, short_exit, size,
    fee, slip, stop_loss, take_profit, trailing, init_cash, max_trades,
):  # fmt: skip
    """Returns (equity, position, trades, n_trades, fees_paid, traded_notional).

    ``size`` is the fraction of equity to commit when a signal at bar i opens a
    position. ``stop_loss``, ``take_profit``, ``trailing`` are fractions or NaN (off).
    """
    n = close.shape[0]
    equity = np.empty(n)
    position = np.empty(n)
    trades = np.full((max_trades, N_TRADE_COLS), np.nan)
    n_trades = 0
    cash = init_cash
    qty = 0.0  # signed
    entry_px = 0.0
    entry_fee = 0.0
    extreme = 0.0  # best price since entry, for the trailing stop
    fees_paid = 0.0
    notional = 0.0
    pending = 2
    for i in range(n):
        # 1. fill the order decided at the previous close, at this bar's open
        if pending != 2:
            if qty != 0.0 and (pending == 0 or (pending > 0) != (qty > 0)):
                d = 1.0 if qty > 0 else -1.0
                px = open_[i] * (1.0 - slip * d)
                fill_fee = abs(qty) * px * fee
                cash += qty * px - fill_fee
                fees_paid += fill_fee
                notional += abs(qty) * px
                t = n_trades - 1
                trades[t, T_EXIT_IDX] = i
                trades[t, T_EXIT_PX] = px
                trades[t, T_FEES] = entry_fee + fill_fee
                trades[t, T_PNL] = (px - entry_px) * qty - entry_fee - fill_fee
                trades[t, T_REASON] = REASON_SIGNAL
                qty = 0.0
            if pending != 0 and qty == 0.0 and cash > 0.0:
                d = float(pending)
                px = open_[i] * (1.0 + slip * d)
                units = size[i - 1] * cash / (px * (1.0 + fee))
                fill_fee = units * px * fee
                qty = units * d
                cash -= qty * px + fill_fee
                fees_paid += fill_fee
                notional += units * px
                entry_px, entry_fee, extreme = px, fill_fee, px
                if n_trades < max_trades:
                    trades[n_trades, T_ENTRY_IDX] = i
                    trades[n_trades, T_DIR] = d
                    trades[n_trades, T_QTY] = units
                    trades[n_trades, T_ENTRY_PX] = px
                    n_trades += 1
            pending = 2
        # 2. protective exits inside the bar
        if qty != 0.0:
            d = 1.0 if qty > 0 else -1.0
            stop = np.nan
            reason = REASON_STOP
            if stop_loss == stop_loss:
                stop = entry_px * (1.0 - stop_loss * d)
            if trailing == trailing:
                trail = extreme * (1.0 - trailing * d)
                if stop != stop or (trail - stop) * d > 0:
                    stop, reason = trail, REASON_TRAIL
            px = np.nan
            worst = low[i] if d > 0 else high[i]
            best = high[i] if d > 0 else low[i]
            if stop == stop and (worst - stop) * d <= 0:
                # a gap through the stop fills at the open, not at the stop
                px = (open_[i] if (open_[i] - stop) * d < 0 else stop) * (1.0 - slip * d)
            elif take_profit == take_profit:
                target = entry_px * (1.0 + take_profit * d)
                if (best - target) * d >= 0:
                    px = open_[i] if (open_[i] - target) * d > 0 else target
                    reason = REASON_TAKE_PROFIT
            if px == px:
                fill_fee = abs(qty) * px * fee
                cash += qty * px - fill_fee
                fees_paid += fill_fee
                notional += abs(qty) * px
                t = n_trades - 1
                trades[t, T_EXIT_IDX] = i
                trades[t, T_EXIT_PX] = px
                trades[t, T_FEES] = entry_fee + fill_fee
                trades[t, T_PNL] = (px - entry_px) * qty - entry_fee - fill_fee
                trades[t, T_REASON] = reason
                qty = 0.0
            elif d > 0:
                extreme = max(extreme, high[i])
            else:
                extreme = min(extreme, low[i])
        # 3. mark to market at the close, then decide the next bar's order
        equity[i] = cash + qty * close[i]
        position[i] = qty
        if i + 1 < n:
            pending = _target(i, qty, entry, exit_, short_entry, short_exit, size)
    if qty != 0.0 and n_trades > 0:
        t = n_trades - 1
        trades[t, T_EXIT_PX] = close[n - 1]
        trades[t, T_FEES] = entry_fee
        trades[t, T_PNL] = (close[n - 1] - entry_px) * qty - entry_fee
        trades[t, T_REASON] = REASON_OPEN
    return equity, position, trades[:n_trades], n_trades, fees_paid, notional


@njit(cache=True, nogil=True)
def equity_stats(equity, position, init_cash):
    """One pass: (mean return, std of returns (ddof 1), downside deviation, max drawdown
    (fraction, positive), longest drawdown in bars, bars in the market)."""
    n = equity.shape[0]
    total = 0.0
    total_sq = 0.0
    down_sq = 0.0
    prev = init_cash
    peak = init_cash
    max_dd = 0.0
    dd_len = 0
    max_dd_len = 0
    exposed = 0
    for i in range(n):
        r = equity[i] / prev - 1.0 if prev > 0 else 0.0
        total += r
        total_sq += r * r
        if r < 0:
            down_sq += r * r
        prev = equity[i]
        if equity[i] >= peak:
            peak = equity[i]
            dd_len = 0
        else:
            dd_len += 1
            dd = 1.0 - equity[i] / peak if peak > 0 else 1.0
            max_dd = max(max_dd, dd)
            max_dd_len = max(max_dd_len, dd_len)
        if position[i] != 0.0:
            exposed += 1
    mean = total / n if n else 0.0
    var = (total_sq - n * mean * mean) / (n - 1) if n > 1 else 0.0
    std = np.sqrt(var) if var > 0 else 0.0
    downside = np.sqrt(down_sq / n) if n else 0.0
    return mean, std, downside, max_dd, max_dd_len, exposed
