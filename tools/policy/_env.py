"""A gymnasium trading environment on the backtester's fill convention.

One step is one bar. The agent sees the bars up to and including the close of bar ``t``
and picks a target position; that order fills at bar ``t+1``'s open, moved against it by
``slippage``, with ``fee_rate`` charged on the fill's notional — the arithmetic of
``tools.backtest._kernel.simulate`` with ``size = 1``, so an action sequence gives the
same equity curve here as the equivalent signals give in the backtester (a test checks
it). The reward is the log change of equity from close ``t`` to close ``t+1``, net of
costs, minus optional penalties.

Positions are all-in or flat, never above 1x equity (the risk officer's default
``Ceilings.max_gross_exposure = 1``, no leverage): ``units = cash / (open * (1 + slippage)
* (1 + fee))`` on either side, worth less than the pre-trade equity at the reference
open, as the risk officer measures it. For longs that is the kernel's sizing exactly; the
kernel sizes a short on its (lower) fill price instead, which puts the short at
``1 / ((1 - slippage) * (1 + fee))`` x equity — above 1x whenever slippage exceeds the fee
— so the environment departs from the kernel for shorts only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from core.errors import ConfigError
from tools.forecaster._features import WARMUP, Scaler, compute_features
from tools.policy._channels import (
    FEATURE_SETS,
    ForecastChannels,
    channel_names,
    observation_channels,
)

FEATURE_CLIP = 8.0  # Scaler.transform clips to +-8 standard deviations
MIN_EQUITY = 1e-12  # below this the account is wiped out and the episode ends


@dataclass(frozen=True)
class EnvConfig:
    """What the environment charges and shows. Fractions: 0.001 = 0.1%.

    ``drawdown_penalty`` is subtracted per bar times the current drawdown from the
    episode's equity peak; ``turnover_penalty`` per unit of position change (0 -> 1 is 1,
    -1 -> 1 is 2), on top of the fees the fill already paid. ``feature_set`` names the
    features observed (``FEATURE_SETS``); ``use_forecast`` adds the forecast channels."""

    window: int = 10
    fee_rate: float = 0.001
    slippage: float = 0.0005
    long_only: bool = False
    drawdown_penalty: float = 0.0
    turnover_penalty: float = 0.0
    feature_set: str = "all"
    use_forecast: bool = False

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ConfigError(f"window must be >= 1 bar, got {self.window}")
        for name in ("fee_rate", "slippage"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be a fraction in [0, 1), e.g. 0.001; got {value}")
        for name in ("drawdown_penalty", "turnover_penalty"):
            if getattr(self, name) < 0.0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.feature_set not in FEATURE_SETS:
            raise ConfigError(
                f"feature_set {self.feature_set!r} is not one of {', '.join(FEATURE_SETS)}"
            )

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the per-bar observation channels, in order."""
        return channel_names(self.feature_set, self.use_forecast)

    @property
    def positions(self) -> tuple[int, ...]:
        """Target position of each action index."""
        return (0, 1) if self.long_only else (-1, 0, 1)

    def first_decision_bar(self) -> int:
        """The earliest bar whose observation window holds only defined features."""
        return WARMUP + self.window - 1


@dataclass
class _Account:
    cash: float = 1.0
    qty: float = 0.0  # signed units
    position: int = 0  # -1, 0, 1
    peak: float = 1.0
    fees: float = 0.0
    traded: float = 0.0  # notional traded, in units of initial equity


class TradingEnv(gym.Env[np.ndarray, int]):
    """Episodes over decision bars ``[start, end - 1)`` of ``bars``: the last bar of the
    window only receives the final fill and close. ``scaler`` must be fitted on the
    training window only (``Scaler.fit(compute_features(bars), end=train_end)``);
    ``forecast`` holds the scaled forecast channels (T, 2), NaN where there is no
    forecast, and is required when ``config.use_forecast``.

    Observation: ``window`` rows of the scaled channels (``config.channels``) ending at
    bar ``t``, flattened, then the current position. ``info`` carries ``equity``
    (initial 1.0), ``position``, ``fees``, ``turnover`` and ``bar`` (the decision bar).
    """

    def __init__(
        self,
        bars: pd.DataFrame,
        scaler: Scaler,
        *,
        start: int,
        end: int,
        config: EnvConfig | None = None,
        forecast: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.metadata = {"render_modes": []}
        self.config = config or EnvConfig()
        if self.config.use_forecast and forecast is None:
            raise ConfigError(
                "use_forecast needs the forecast channels: pass forecast=... (EnvFactory "
                "does, given fit_forecast_channels(...))"
            )
        self._check_window(len(bars), start, end, forecast if self.config.use_forecast else None)
        self.start, self.end = start, end
        self._open = bars["open"].to_numpy(dtype="float64")
        self._close = bars["close"].to_numpy(dtype="float64")
        self._features = observation_channels(
            bars, scaler, self.config.feature_set, forecast if self.config.use_forecast else None
        )
        n_obs = self.config.window * len(self.config.channels) + 1
        self.observation_space = spaces.Box(-FEATURE_CLIP, FEATURE_CLIP, (n_obs,), np.float32)
        # Discrete's generic parameter is NumPy's int; steps take any int.
        self.action_space = cast("spaces.Space[int]", spaces.Discrete(len(self.config.positions)))
        self._t = start
        self._acct = _Account()

    def _check_window(self, n_bars: int, start: int, end: int, forecast: np.ndarray | None) -> None:
        first, what = self.config.first_decision_bar(), "features"
        if forecast is not None:
            missing = np.flatnonzero(~np.isfinite(forecast).all(axis=1))
            first_forecast = int(missing[-1]) + 1 if len(missing) else 0
            if first_forecast + self.config.window - 1 > first:
                first, what = first_forecast + self.config.window - 1, "features, forecasts"
        if start < first:
            raise ConfigError(
                f"start={start} leaves too few bars for {what} and a window of "
                f"{self.config.window}; use start >= {first}"
            )
        if not start + 2 <= end <= n_bars:
            raise ConfigError(f"need start + 2 <= end <= {n_bars} bars, got [{start}, {end})")

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = self.start
        self._acct = _Account()
        return self._observation(), self._info(1.0)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        acct = self._acct
        before = acct.cash + acct.qty * self._close[self._t]
        target = self.config.positions[int(action)]
        change = abs(target - acct.position)
        self._fill(target, self._open[self._t + 1])
        self._t += 1
        equity = acct.cash + acct.qty * self._close[self._t]
        wiped = equity <= MIN_EQUITY
        equity = max(equity, MIN_EQUITY)
        acct.peak = max(acct.peak, equity)
        reward = math.log(equity / max(before, MIN_EQUITY))
        reward -= self.config.turnover_penalty * change
        reward -= self.config.drawdown_penalty * (1.0 - equity / acct.peak)
        terminated = wiped or self._t >= self.end - 1
        return self._observation(), float(reward), terminated, False, self._info(equity)

    def _fill(self, target: int, open_px: float) -> None:
        """The kernel's fill at the open: close the old position, then open the new one
        with all the cash, fee and slippage included (see the module docstring)."""
        acct, fee, slip = self._acct, self.config.fee_rate, self.config.slippage
        if acct.qty != 0.0 and target != acct.position:
            d = 1.0 if acct.qty > 0 else -1.0
            px = open_px * (1.0 - slip * d)
            self._charge(abs(acct.qty) * px)
            acct.cash += acct.qty * px
            acct.qty, acct.position = 0.0, 0
        if target != 0 and acct.qty == 0.0 and acct.cash > 0.0:
            px = open_px * (1.0 + slip * target)
            units = acct.cash / (open_px * (1.0 + slip) * (1.0 + fee))
            acct.qty = units * target
            acct.cash -= acct.qty * px
            self._charge(units * px)
            acct.position = target

    def _charge(self, notional: float) -> None:
        fee = notional * self.config.fee_rate
        self._acct.cash -= fee
        self._acct.fees += fee
        self._acct.traded += notional

    def _observation(self) -> np.ndarray:
        rows = self._features[self._t - self.config.window + 1 : self._t + 1]
        return np.append(rows.ravel(), np.float32(self._acct.position))

    def _info(self, equity: float) -> dict[str, Any]:
        acct = self._acct
        return {
            "equity": float(equity),
            "position": acct.position,
            "fees": float(acct.fees),
            "turnover": float(acct.traded),
            "bar": self._t,
        }


Split = Literal["train", "validation", "test"]


@dataclass(frozen=True)
class Windows:
    """Bar-index windows ``[start, end)``: training, validation (for choosing
    hyperparameters), test (touched once, for the report). They do not overlap and come
    in time order; decision bars start late enough for any ``window <= max_window``."""

    train: tuple[int, int]
    validation: tuple[int, int]
    test: tuple[int, int]

    @classmethod
    def split(
        cls, n_bars: int, *, max_window: int, fractions: tuple[float, float] = (0.6, 0.2)
    ) -> Windows:
        """Train and validation take ``fractions`` of the usable bars, test the rest."""
        first = WARMUP + max_window - 1
        usable = n_bars - first
        a = first + int(usable * fractions[0])
        b = a + int(usable * fractions[1])
        if min(a - first, b - a, n_bars - b) < 3:
            raise ConfigError(
                f"{n_bars} bars are too few to split into train/validation/test windows "
                f"after {first} warm-up bars; use a longer history or a shorter max_window"
            )
        return cls((first, a), (a, b), (b, n_bars))

    def get(self, split: Split) -> tuple[int, int]:
        return {"train": self.train, "validation": self.validation, "test": self.test}[split]


@dataclass(frozen=True)
class EnvFactory:
    """Builds the environment of one split; picklable, so worker processes can use it.
    The scaler is fitted on the training window only. With ``config.use_forecast`` the
    training split starts where the forecast channels do (see ``tools.policy._channels``)."""

    bars: pd.DataFrame
    windows: Windows
    config: EnvConfig
    forecast: ForecastChannels | None = None

    def scaler(self) -> Scaler:
        return Scaler.fit(compute_features(self.bars), end=self.windows.train[1])

    def __call__(self, split: Split) -> TradingEnv:
        start, end = self.windows.get(split)
        channels = None
        if self.config.use_forecast:
            if self.forecast is None:
                raise ConfigError(
                    "this environment observes the forecast channels; build the factory with "
                    "forecast=fit_forecast_channels(bars, windows.train, ForecastConfig())"
                )
            channels = self.forecast.scaled()
            if split == "train":
                start = max(start, self.forecast.first_bar + self.config.window - 1)
        return TradingEnv(
            self.bars, self.scaler(), start=start, end=end, config=self.config, forecast=channels
        )

    def with_config(self, config: EnvConfig) -> EnvFactory:
        return replace(self, config=config)

    def with_forecast(self, forecast: ForecastChannels | None) -> EnvFactory:
        return replace(self, forecast=forecast)
