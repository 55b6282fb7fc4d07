"""Causal features from OHLCV bars, forecast targets, and a scaler fitted on a window.

Every feature at bar ``t`` is a function of bars ``<= t`` only (trailing windows, no
centring, no backfill), so computing them once over a whole series and slicing gives
the same numbers as computing them on the series truncated at ``t`` — the tests check
exactly that. Targets (future log returns) are kept apart and only the walk-forward
harness decides which of them a model may see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import DataError

FEATURES: tuple[str, ...] = (
    "ret_1",  # log close-to-close return
    "ret_5",  # 5-bar log momentum
    "ret_20",  # 20-bar log momentum
    "gap",  # log(open / previous close)
    "body",  # log(close / open)
    "range",  # log(high / low)
    "vol_20",  # trailing 20-bar std of ret_1
    "volume_z",  # z-score of log1p(volume) against its trailing 20 bars
)
ROLL = 20
WARMUP = ROLL + 1  # first row where every feature is defined


@dataclass(frozen=True)
class SeriesData:
    """One bar series prepared for forecasting.

    ``features[t]`` uses bars ``<= t``; ``targets[t, h-1]`` is the log return from the
    close of bar ``t`` to the close of bar ``t + h`` (NaN where that bar does not exist).
    """

    index: pd.DatetimeIndex
    close: np.ndarray
    returns: np.ndarray
    features: np.ndarray
    targets: np.ndarray

    @property
    def n(self) -> int:
        return len(self.close)

    @property
    def horizon(self) -> int:
        return int(self.targets.shape[1])


def _trailing_std(x: pd.Series, window: int) -> pd.Series:
    return x.rolling(window, min_periods=window).std(ddof=0)


def compute_features(frame: pd.DataFrame) -> np.ndarray:
    """The (T, len(FEATURES)) float64 matrix; rows before ``WARMUP`` hold NaN."""
    _check_frame(frame)
    o, h, lo, c = (np.log(frame[k].astype("float64")) for k in ("open", "high", "low", "close"))
    ret = c.diff()
    logv = np.log1p(frame["volume"].astype("float64").clip(lower=0.0))
    v_mean = logv.rolling(ROLL, min_periods=ROLL).mean()
    v_std = _trailing_std(logv, ROLL)
    volume_z = ((logv - v_mean) / v_std.where(v_std > 0)).where(v_std.notna(), np.nan)
    volume_z = volume_z.mask(v_std.notna() & (v_std <= 0), 0.0)  # constant volume: no news
    cols = {
        "ret_1": ret,
        "ret_5": c - c.shift(5),
        "ret_20": c - c.shift(ROLL),
        "gap": o - c.shift(1),
        "body": c - o,
        "range": h - lo,
        "vol_20": _trailing_std(ret, ROLL),
        "volume_z": volume_z,
    }
    out = np.column_stack([cols[name].to_numpy(dtype="float64") for name in FEATURES])
    out[:WARMUP] = np.nan
    return out


def compute_targets(close: np.ndarray, horizon: int) -> np.ndarray:
    """``targets[t, h-1] = log(close[t+h] / close[t])``; NaN past the end of the series."""
    logc = np.log(close)
    n = len(close)
    out = np.full((n, horizon), np.nan)
    for h in range(1, horizon + 1):
        out[: n - h, h - 1] = logc[h:] - logc[: n - h]
    return out


def prepare(frame: pd.DataFrame, horizon: int) -> SeriesData:
    """Features, returns and targets of one OHLCV frame (indexed by UTC open time)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    close = frame["close"].to_numpy(dtype="float64")
    returns = np.concatenate([[np.nan], np.diff(np.log(close))])
    return SeriesData(
        index=pd.DatetimeIndex(frame.index),
        close=close,
        returns=returns,
        features=compute_features(frame),
        targets=compute_targets(close, horizon),
    )


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in frame.columns]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}")
    if len(frame) <= WARMUP:
        raise DataError(
            f"need more than {WARMUP} bars to compute features, got {len(frame)}; "
            "import or fetch a longer history"
        )
    prices = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64")
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise DataError("prices must be finite and positive to take log returns")


@dataclass(frozen=True)
class Scaler:
    """Per-feature standardisation fitted on rows ``[start, end)`` only."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, features: np.ndarray, end: int, start: int = WARMUP) -> Scaler:
        window = features[start:end]
        if len(window) < 2 or not np.isfinite(window).all():
            raise DataError(f"scaler window [{start}, {end}) is too short or holds missing values")
        std = window.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return cls(tuple(float(x) for x in window.mean(axis=0)), tuple(float(x) for x in std))

    def transform(self, features: np.ndarray) -> np.ndarray:
        scaled = (features - np.asarray(self.mean)) / np.asarray(self.std)
        # Clip so one crash bar cannot dominate an attention layer.
        return np.clip(scaled, -8.0, 8.0)

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict[str, list[float]]) -> Scaler:
        return cls(tuple(data["mean"]), tuple(data["std"]))
