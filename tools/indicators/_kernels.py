"""Indicator kernels: float64 arrays in, float64 arrays out, NaN during warm-up.

Each is one O(n) pass. Rolling sums are re-summed exactly every 1,024 bars so a long
series does not drift: over 1e7 bars a never-reset running sum can move a moving
average enough to flip a near-tie crossover.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_REANCHOR = 1024


@njit(cache=True, nogil=True)
def sma(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < window:
        return out
    total = 0.0
    for i in range(window):
        total += x[i]
    out[window - 1] = total / window
    for i in range(window, n):
        if (i - window) % _REANCHOR == 0:
            # Re-sum the window exactly now and then so rounding cannot accumulate.
            total = 0.0
            for j in range(i - window + 1, i + 1):
                total += x[j]
        else:
            total += x[i] - x[i - window]
        out[i] = total / window
    return out


@njit(cache=True, nogil=True)
def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Population standard deviation over the window (as Bollinger bands define it)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        mean = 0.0
        for j in range(i - window + 1, i + 1):
            mean += x[j]
        mean /= window
        acc = 0.0
        for j in range(i - window + 1, i + 1):
            d = x[j] - mean
            acc += d * d
        out[i] = np.sqrt(acc / window)
    return out


@njit(cache=True, nogil=True)
def ema(x: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (window + 1), seeded with the SMA of the
    first ``window`` values (the usual charting convention)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < window:
        return out
    alpha = 2.0 / (window + 1.0)
    seed = 0.0
    for i in range(window):
        seed += x[i]
    value = seed / window
    out[window - 1] = value
    for i in range(window, n):
        value = alpha * x[i] + (1.0 - alpha) * value
        out[i] = value
    return out


@njit(cache=True, nogil=True)
def ema_skipnan(x: np.ndarray, window: int) -> np.ndarray:
    """EMA of a series that starts with NaNs (e.g. the MACD line)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = 0
    while start < n and np.isnan(x[start]):
        start += 1
    if n - start < window:
        return out
    out[start:] = ema(x[start:], window)
    return out


@njit(cache=True, nogil=True)
def rsi(close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's RSI: smoothed average gain / loss with alpha = 1 / window."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= window:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, window + 1):
        d = close[i] - close[i - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= window
    loss /= window
    out[window] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    for i in range(window + 1, n):
        d = close[i] - close[i - 1]
        up = d if d > 0 else 0.0
        down = -d if d < 0 else 0.0
        gain = (gain * (window - 1) + up) / window
        loss = (loss * (window - 1) + down) / window
        out[i] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


@njit(cache=True, nogil=True)
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's average true range."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n < window + 1:
        return out
    acc = 0.0
    for i in range(1, window + 1):
        acc += max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
    value = acc / window
    out[window] = value
    for i in range(window + 1, n):
        tr = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        value = (value * (window - 1) + tr) / window
        out[i] = value
    return out


@njit(cache=True, nogil=True)
def roc(x: np.ndarray, window: int) -> np.ndarray:
    """Rate of change in percent: 100 * (x[t] / x[t - window] - 1)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(window, n):
        out[i] = 100.0 * (x[i] / x[i - window] - 1.0)
    return out


@njit(cache=True, nogil=True)
def crosses_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True at t when a[t] > b[t] and a[t-1] <= b[t-1] (both defined)."""
    n = a.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for i in range(1, n):
        out[i] = a[i] > b[i] and a[i - 1] <= b[i - 1]
    return out


@njit(cache=True, nogil=True)
def crosses_below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for i in range(1, n):
        out[i] = a[i] < b[i] and a[i - 1] >= b[i - 1]
    return out


@njit(cache=True, nogil=True)
def realised_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Rolling standard deviation (sample) of log returns over ``window`` bars, per bar."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(window, n):
        mean = 0.0
        for j in range(i - window + 1, i + 1):
            mean += np.log(close[j] / close[j - 1])
        mean /= window
        acc = 0.0
        for j in range(i - window + 1, i + 1):
            d = np.log(close[j] / close[j - 1]) - mean
            acc += d * d
        out[i] = np.sqrt(acc / (window - 1)) if window > 1 else 0.0
    return out
