from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _policy_bars import make_bars, tiny_forecast
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from core.errors import ConfigError
from tools.backtest._kernel import N_TRADE_COLS, simulate
from tools.forecaster._features import Scaler, compute_features
from tools.policy import (
    FEATURE_SETS,
    EnvConfig,
    EnvFactory,
    ForecastChannels,
    TradingEnv,
    Windows,
    fit_forecast_channels,
)


def _env(
    bars: pd.DataFrame, config: EnvConfig, start: int = 40, end: int | None = None
) -> TradingEnv:
    scaler = Scaler.fit(compute_features(bars), end=start)
    return TradingEnv(bars, scaler, start=start, end=end or len(bars), config=config)


def _run(env: TradingEnv, actions: list[int]) -> list[dict[str, float]]:
    env.reset(seed=0)
    infos = []
    for a in actions:
        _, _, done, _, info = env.step(a)
        infos.append(info)
        if done:
            break
    return infos


@pytest.mark.parametrize("long_only", [False, True])
def test_env_when_checked_by_gymnasium_and_sb3_then_passes(
    bars: pd.DataFrame, long_only: bool
) -> None:
    env = _env(bars, EnvConfig(window=5, long_only=long_only))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no spec": we build the env directly
        gym_check_env(env)
    sb3_check_env(env, warn=False)
    assert env.action_space.n == (2 if long_only else 3)


def test_always_long_when_run_then_equals_buy_and_hold_after_one_fee(bars: pd.DataFrame) -> None:
    fee, slip = 0.001, 0.0005
    env = _env(bars, EnvConfig(fee_rate=fee, slippage=slip))
    infos = _run(env, [2] * len(bars))
    open_, close = bars["open"].to_numpy(), bars["close"].to_numpy()
    units = 1.0 / (open_[41] * (1 + slip) * (1 + fee))
    assert infos[-1]["bar"] == len(bars) - 1
    assert infos[-1]["equity"] == pytest.approx(units * close[-1], rel=1e-12)
    assert infos[-1]["fees"] == pytest.approx(units * open_[41] * (1 + slip) * fee, rel=1e-12)


def test_flipping_every_bar_on_flat_prices_then_loses_exactly_fees_and_slippage() -> None:
    fee, slip = 0.001, 0.0005
    env = _env(make_bars(120, flat=True), EnvConfig(fee_rate=fee, slippage=slip, long_only=True))
    infos = _run(env, [1, 0] * 30)
    round_trip = (1 - slip) * (1 - fee) / ((1 + slip) * (1 + fee))
    assert infos[-1]["equity"] == pytest.approx(round_trip**30, rel=1e-12)


def test_flipping_long_short_on_flat_prices_without_slippage_then_loses_only_fees() -> None:
    env = _env(make_bars(120, flat=True), EnvConfig(fee_rate=0.002, slippage=0.0))
    infos = _run(env, [2, 0] * 30)
    assert infos[-1]["equity"] < 0.9
    assert infos[-1]["equity"] + infos[-1]["fees"] == pytest.approx(1.0, rel=1e-12)


def test_random_long_flat_actions_then_equity_matches_backtest_kernel(bars: pd.DataFrame) -> None:
    fee, slip, start = 0.001, 0.0005, 40
    env = _env(bars, EnvConfig(fee_rate=fee, slippage=slip), start=start)
    actions = list(np.random.default_rng(3).integers(1, 3, len(bars) - start - 1))
    infos = _run(env, [int(a) for a in actions])
    target = np.array(actions) - 1
    sig = {
        "entry": target == 1,
        "short_entry": target == -1,
        "exit": target == 0,
        "short_exit": target == 0,
    }
    arr = {k: bars[k].to_numpy()[start:] for k in ("open", "high", "low", "close")}
    n = len(arr["close"])
    pad = {k: np.append(v, False) for k, v in sig.items()}  # the last bar decides nothing
    equity = np.empty(n)
    trades = np.full((n + 1, N_TRADE_COLS), np.nan)
    _, fees, _, _ = simulate(
        arr["open"], arr["high"], arr["low"], arr["close"],
        pad["entry"], pad["exit"], pad["short_entry"], pad["short_exit"],
        np.array([1.0]), fee, slip, np.nan, np.nan, np.nan, 1.0, equity, trades,
    )  # fmt: skip
    np.testing.assert_allclose([i["equity"] for i in infos], equity[1:], rtol=1e-10)
    assert infos[-1]["fees"] == pytest.approx(fees, rel=1e-10)


def test_observation_at_t_when_later_bars_change_then_unchanged(bars: pd.DataFrame) -> None:
    t, start = 80, 40
    scaler = Scaler.fit(compute_features(bars), end=start)
    changed = bars.copy()
    changed.iloc[t + 1 :, :4] *= 1.5
    changed.iloc[t + 1 :, 4] *= 3.0
    observations = []
    for frame in (bars, changed):
        env = TradingEnv(frame, scaler, start=start, end=len(frame), config=EnvConfig())
        obs, _ = env.reset()
        for _ in range(t - start):
            obs, *_ = env.step(2)
        observations.append(obs)
    np.testing.assert_array_equal(observations[0], observations[1])


def test_factory_scaler_when_later_windows_change_then_unchanged(bars: pd.DataFrame) -> None:
    windows = Windows.split(len(bars), max_window=10)
    changed = bars.copy()
    changed.iloc[windows.validation[0] :, 2:4] *= 2.0
    scalers = [EnvFactory(b, windows, EnvConfig()).scaler() for b in (bars, changed)]
    assert scalers[0] == scalers[1]


def test_reset_with_seed_when_repeated_then_same_trajectory(bars: pd.DataFrame) -> None:
    env = _env(bars, EnvConfig(drawdown_penalty=0.1, turnover_penalty=0.001))
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=7)
        env.action_space.seed(7)
        trace = [obs]
        done = False
        while not done:
            obs, reward, done, _, _ = env.step(int(env.action_space.sample()))
            trace.append(np.append(obs, reward))
        runs.append(np.concatenate(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_penalties_when_set_then_reward_lower_by_their_amount(bars: pd.DataFrame) -> None:
    actions = [2, 0, 1, 2, 2, 0]
    rewards = []
    for cfg in (EnvConfig(), EnvConfig(turnover_penalty=0.01, drawdown_penalty=0.5)):
        env = _env(bars, cfg)
        env.reset()
        rewards.append([env.step(a)[1] for a in actions])
    gap = np.array(rewards[0]) - np.array(rewards[1])
    assert np.all(gap >= 0.01 * np.array([1, 2, 1, 1, 0, 2]) - 1e-12)


def test_window_when_too_early_then_config_error_says_fix(bars: pd.DataFrame) -> None:
    scaler = Scaler.fit(compute_features(bars), end=40)
    with pytest.raises(ConfigError, match="use start >= 30"):
        TradingEnv(bars, scaler, start=20, end=len(bars), config=EnvConfig(window=10))


@pytest.mark.parametrize("action", [0, 2])
def test_position_when_opened_then_within_risk_officer_gross_exposure(
    bars: pd.DataFrame, action: int
) -> None:
    from policies.risk import Ceilings

    env = _env(bars, EnvConfig(fee_rate=0.001, slippage=0.001))
    env.reset()
    env.step(action)
    acct, ref = env._acct, bars["open"].iloc[41]
    cap = float(Ceilings().max_gross_exposure)
    # as the risk officer checks it (against equity before the order), and after the fill
    assert 0.99 < abs(acct.qty) * ref / 1.0 <= cap
    assert abs(acct.qty) * ref / (acct.cash + acct.qty * ref) <= cap + 1e-12  # float rounding


@pytest.fixture
def windows(bars: pd.DataFrame) -> Windows:
    return Windows.split(len(bars), max_window=10)


@pytest.fixture
def channels(bars: pd.DataFrame, windows: Windows) -> ForecastChannels:
    return fit_forecast_channels(bars, windows.train, tiny_forecast())


@pytest.mark.parametrize("feature_set", ["returns", "all"])
def test_env_with_forecast_channels_when_checked_then_passes_and_shows_them(
    bars: pd.DataFrame, windows: Windows, channels: ForecastChannels, feature_set: str
) -> None:
    config = EnvConfig(window=5, feature_set=feature_set, use_forecast=True)
    env = EnvFactory(bars, windows, config, forecast=channels)("train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check_env(env)
    sb3_check_env(env, warn=False)
    n_channels = len(FEATURE_SETS[feature_set]) + 2
    assert config.channels[-2:] == ("forecast_median", "forecast_width")
    assert env.observation_space.shape == (5 * n_channels + 1,)
    obs, _ = env.reset()
    rows = obs[:-1].reshape(5, n_channels)
    np.testing.assert_array_equal(rows[-1, -2:], channels.scaled()[env.start].astype(np.float32))


def test_factory_with_forecast_then_ppo_trains_only_on_out_of_sample_forecasts(
    bars: pd.DataFrame, windows: Windows, channels: ForecastChannels
) -> None:
    factory = EnvFactory(bars, windows, EnvConfig(window=5, use_forecast=True), forecast=channels)
    assert windows.train[0] < channels.first_bar < windows.train[1]
    assert np.isnan(channels.values[: channels.first_bar]).all()
    assert np.isfinite(channels.values[channels.first_bar :]).all()
    assert factory("train").start == channels.first_bar + 4  # the first full window of forecasts
    assert factory("validation").start == windows.validation[0]
    plain = factory.with_config(EnvConfig(window=5))("train")
    assert plain.start == windows.train[0]  # without the channels, the whole window


def test_forecast_channel_at_t_then_equals_forecast_from_bars_up_to_t(
    bars: pd.DataFrame, channels: ForecastChannels
) -> None:
    from tools.policy._channels import forecast_values

    for t in (channels.first_bar, 150, len(bars) - 1):
        alone = forecast_values(channels.model, bars.iloc[: t + 1], np.array([t]))
        np.testing.assert_allclose(alone[0], channels.values[t], rtol=1e-6, atol=1e-9)


def test_observation_with_forecast_at_t_when_later_bars_change_then_unchanged(
    bars: pd.DataFrame, windows: Windows
) -> None:
    t = windows.validation[0] + 10
    changed = bars.copy()
    changed.iloc[t + 1 :, :4] *= 1.5
    changed.iloc[t + 1 :, 4] *= 3.0
    observations = []
    for frame in (bars, changed):
        channels = fit_forecast_channels(frame, windows.train, tiny_forecast())
        config = EnvConfig(window=5, use_forecast=True)
        env = EnvFactory(frame, windows, config, forecast=channels)("validation")
        obs, info = env.reset()
        while info["bar"] < t:
            obs, *_, info = env.step(2)
        observations.append(obs)
    np.testing.assert_array_equal(observations[0], observations[1])


def test_env_when_use_forecast_without_channels_then_config_error_says_how(
    bars: pd.DataFrame, windows: Windows
) -> None:
    with pytest.raises(ConfigError, match="fit_forecast_channels"):
        EnvFactory(bars, windows, EnvConfig(use_forecast=True))("train")
    with pytest.raises(ConfigError, match="forecast="):
        _env(bars, EnvConfig(use_forecast=True))


def test_env_config_when_unknown_feature_set_then_config_error_lists_them() -> None:
    with pytest.raises(ConfigError, match="returns, returns_vol, all"):
        EnvConfig(feature_set="prices")
