"""Indicator kernels: float64 arrays in, float64 arrays out, NaN during warm-up.

Each is one O(n) pass. Output arrays are allocated by NumPy in the Python wrappers and
filled by numba: NumPy asks the kernel for transparent huge pages, numba's own
allocator does not, and on these machines first-touching 80 MB of small pages from
inside a kernel cost ~8x the computation itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_REANCHOR = 1024


@njit(cache=True, nogil=True)
def _sma(x: np.ndarray, window: int, out: np.ndarray) -> None:
    n = x.shape[0]
    out[: min(window - 1, n)] = np.nan
    start = window - 1
    while start < n:
        # Re-sum the window exactly at the start of each block so rounding from the
        # running update cannot accumulate over a long series.
        total = 0.0
        for j in range(start - window + 1, start + 1):
            total += x[j]
        out[start] = total / window
        stop = min(start + _REANCHOR, n)
        for i in range(start + 1, stop):
            total += x[i] - x[i - window]
            out[i] = total / window
        start = stop


@njit(cache=True, nogil=True)
def _rolling_std(x: np.ndarray, window: int, out: np.ndarray) -> None:
    n = x.shape[0]
    out[: min(window - 1, n)] = np.nan
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


@njit(cache=True, nogil=True)
def _ema(x: np.ndarray, window: int, out: np.ndarray) -> None:
    n = x.shape[0]
    start = 0
    while start < n and np.isnan(x[start]):
        start += 1
    out[: min(start + window - 1, n)] = np.nan
    if n - start < window:
        return
    alpha = 2.0 / (window + 1.0)
    value = 0.0
    for i in range(start, start + window):
        value += x[i]
    value /= window
    out[start + window - 1] = value
    for i in range(start + window, n):
        value = alpha * x[i] + (1.0 - alpha) * value
        out[i] = value


@njit(cache=True, nogil=True)
def _rsi(close: np.ndarray, window: int, out: np.ndarray) -> None:
    n = close.shape[0]
    out[: min(window, n)] = np.nan
    if n <= window:
        return
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


@njit(cache=True, nogil=True)
def _atr(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int, out: np.ndarray
) -> None:
    n = close.shape[0]
    out[: min(window, n)] = np.nan
    if n < window + 1:
        return
    acc = 0.0
    for i in range(1, window + 1):
        acc += max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
    value = acc / window
    out[window] = value
    for i in range(window + 1, n):
        tr = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        value = (value * (window - 1) + tr) / window
        out[i] = value


@njit(cache=True, nogil=True)
def _roc(x: np.ndarray, window: int, out: np.ndarray) -> None:
    n = x.shape[0]
    out[: min(window, n)] = np.nan
    for i in range(window, n):
        out[i] = 100.0 * (x[i] / x[i - window] - 1.0)


@njit(cache=True, nogil=True)
def _crosses(a: np.ndarray, b: np.ndarray, above: bool, out: np.ndarray) -> None:
    n = a.shape[0]
    if n:
        out[0] = False
    if above:
        for i in range(1, n):
            out[i] = a[i] > b[i] and a[i - 1] <= b[i - 1]
    else:
        for i in range(1, n):
            out[i] = a[i] < b[i] and a[i - 1] >= b[i - 1]


@njit(cache=True, nogil=True)
def _realised_vol(close: np.ndarray, window: int, out: np.ndarray) -> None:
    n = close.shape[0]
    out[: min(window, n)] = np.nan
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


def _check(x: np.ndarray, window: int) -> np.ndarray:
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    return np.ascontiguousarray(x, dtype=np.float64)


def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over ``window`` bars."""
    x = _check(x, window)
    out = np.empty_like(x)
    _sma(x, window, out)
    return out


def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Population standard deviation over the window (as Bollinger bands define it)."""
    x = _check(x, window)
    out = np.empty_like(x)
    _rolling_std(x, window, out)
    return out


def ema(x: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average, alpha = 2 / (window + 1), seeded with the SMA of the
    first ``window`` defined values (the charting convention); leading NaNs (e.g. a
    MACD line still warming up) are skipped."""
    x = _check(x, window)
    out = np.empty_like(x)
    _ema(x, window, out)
    return out


def rsi(close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's RSI: smoothed average gain / loss with alpha = 1 / window."""
    close = _check(close, window)
    out = np.empty_like(close)
    _rsi(close, window, out)
    return out


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's average true range."""
    close = _check(close, window)
    out = np.empty_like(close)
    _atr(_check(high, window), _check(low, window), close, window, out)
    return out


def roc(x: np.ndarray, window: int) -> np.ndarray:
    """Rate of change in percent: 100 * (x[t] / x[t - window] - 1)."""
    x = _check(x, window)
    out = np.empty_like(x)
    _roc(x, window, out)
    return out


def crosses_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True at t when a[t] > b[t] and a[t-1] <= b[t-1] (both defined)."""
    out = np.empty(a.shape[0], dtype=np.bool_)
    _crosses(_check(a, 1), _check(b, 1), True, out)
    return out


def crosses_below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True at t when a[t] < b[t] and a[t-1] >= b[t-1] (both defined)."""
    out = np.empty(a.shape[0], dtype=np.bool_)
    _crosses(_check(a, 1), _check(b, 1), False, out)
    return out


def realised_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Rolling standard deviation (sample) of log returns over ``window`` bars, per bar."""
    close = _check(close, window)
    out = np.empty_like(close)
    _realised_vol(close, window, out)
    return out
