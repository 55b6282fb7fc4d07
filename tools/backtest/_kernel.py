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


@njit(cache=True, nogil=True, inline="always")
def _target(pos, entry, exit_, short_entry, short_exit, size):
    """Desired direction after a bar's close: 1 long, -1 short, 0 flat, 2 no change.

    Takes scalars, not arrays: passing arrays into a non-inlined call costs reference
    counting on every bar, which made the whole loop ~60x slower."""
    go_long = entry and not short_entry
    go_short = short_entry and not entry
    if go_long and exit_:
        go_long = False  # contradictory signals on one bar: do nothing
    if go_short and short_exit:
        go_short = False
    if pos <= 0 and go_long and size > 0:
        return 1
    if pos >= 0 and go_short and size > 0:
        return -1
    if pos > 0 and exit_ and not entry:
        return 0
    if pos < 0 and short_exit and not short_entry:
        return 0
    return 2


@njit(cache=True, nogil=True)
def simulate(
    open_, high, low, close, entry, exit_, short_entry, short_exit, size,
    fee, slip, stop_loss, take_profit, trailing, init_cash, equity, trades,
):  # fmt: skip
    """Fills ``equity`` (length n) and ``trades`` (max_trades x 9, NaN initialised;
    allocated by the caller, see tools.indicators for why) and returns
    (n_trades, fees_paid, traded_notional, stats) with ``stats`` as ``equity_stats``
    describes, accumulated in the same pass so the equity curve is not read twice.

    ``size`` is the fraction of equity to commit when a signal at bar i opens a
    position (one element: the same fraction on every bar). A signal array of length
    0 means "never" (saves a pass over memory for unused signals). ``stop_loss``,
    ``take_profit``, ``trailing`` are fractions or NaN (off).
    """
    n = close.shape[0]
    max_trades = trades.shape[0]
    n_trades = 0
    cash = init_cash
    qty = 0.0  # signed
    entry_px = 0.0
    entry_fee = 0.0
    extreme = 0.0  # best price since entry, for the trailing stop
    fees_paid = 0.0
    notional = 0.0
    pending = 2
    has_stops = stop_loss == stop_loss or take_profit == take_profit or trailing == trailing
    has_entry, has_exit = entry.shape[0] > 0, exit_.shape[0] > 0
    has_short_entry, has_short_exit = short_entry.shape[0] > 0, short_exit.shape[0] > 0
    per_bar_size = size.shape[0] > 1
    acc = _Stats(init_cash)
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
                frac = size[i - 1] if per_bar_size else size[0]
                units = frac * cash / (px * (1.0 + fee))
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
        if has_stops and qty != 0.0:
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
        value = cash + qty * close[i]
        equity[i] = value
        acc = _update(acc, value, qty != 0.0)
        e = has_entry and entry[i]
        x = has_exit and exit_[i]
        se = has_short_entry and short_entry[i]
        sx = has_short_exit and short_exit[i]
        # Signals are sparse: the common bar skips the decision entirely.
        if (e or x or se or sx) and i + 1 < n:
            pending = _target(qty, e, x, se, sx, size[i] if per_bar_size else size[0])
    if qty != 0.0 and n_trades > 0:
        t = n_trades - 1
        trades[t, T_EXIT_PX] = close[n - 1]
        trades[t, T_FEES] = entry_fee
        trades[t, T_PNL] = (close[n - 1] - entry_px) * qty - entry_fee
        trades[t, T_REASON] = REASON_OPEN
    return n_trades, fees_paid, notional, _finish(acc, n)


# Running equity statistics, as a tuple so numba keeps it in registers:
# (prev, peak, sum r, sum r^2, sum min(r,0)^2, max drawdown, drawdown run, longest run,
#  bars exposed). Written without data-dependent branches: returns flip sign at random
# and branch mispredictions dominated the first version.
@njit(cache=True, nogil=True, inline="always")
def _Stats(init_cash):  # noqa: N802 - reads as a constructor
    return (init_cash, init_cash, 0.0, 0.0, 0.0, 0.0, 0, 0, 0)


@njit(cache=True, nogil=True, inline="always")
def _update(acc, value, exposed):
    prev, peak, total, total_sq, down_sq, max_dd, run, longest, bars_in = acc
    r = value / prev - 1.0 if prev > 0 else 0.0
    neg = min(r, 0.0)
    peak = max(peak, value)
    run = (run + 1) * (value < peak)
    return (
        value, peak, total + r, total_sq + r * r, down_sq + neg * neg,
        max(max_dd, 1.0 - value / peak if peak > 0 else 1.0),
        run, max(longest, run), bars_in + exposed,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _finish(acc, n):
    _, _, total, total_sq, down_sq, max_dd, _, longest, bars_in = acc
    mean = total / n if n else 0.0
    var = (total_sq - n * mean * mean) / (n - 1) if n > 1 else 0.0
    std = np.sqrt(var) if var > 0 else 0.0
    downside = np.sqrt(down_sq / n) if n else 0.0
    return mean, std, downside, max_dd, longest, bars_in


@njit(cache=True, nogil=True)
def equity_stats(equity, exposed, init_cash):
    """(mean return, std of returns (ddof 1), downside deviation, max drawdown (fraction,
    positive), longest drawdown in bars, bars in the market) of an equity curve; the
    first return is measured from ``init_cash``. ``exposed`` flags bars with a position."""
    acc = _Stats(init_cash)
    for i in range(equity.shape[0]):
        acc = _update(acc, equity[i], exposed[i])
    return _finish(acc, equity.shape[0])
