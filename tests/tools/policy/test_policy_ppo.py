from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _policy_bars import tiny_forecast

from core.errors import ConfigError
from tools.policy import (
    EnvConfig,
    EnvFactory,
    PPOConfig,
    Windows,
    fit_forecast_channels,
    run_episode,
    train_ppo,
)

TINY = PPOConfig(n_steps=64, batch_size=32, n_epochs=2, net_arch=(8,), total_timesteps=128)


@pytest.fixture
def factory(bars: pd.DataFrame) -> EnvFactory:
    return EnvFactory(bars, Windows.split(len(bars), max_window=5), EnvConfig(window=5))


def test_train_ppo_when_same_seed_twice_then_same_actions(factory: EnvFactory) -> None:
    env = factory("validation")
    obs = np.stack([env.observation_space.sample() for _ in range(64)])
    actions = []
    for _ in range(2):
        model, result = train_ppo(TINY, factory, seed=11)
        actions.append(model.predict(obs, deterministic=True)[0])
        assert result.eval_split == "validation"
    np.testing.assert_array_equal(actions[0], actions[1])
    other, _ = train_ppo(TINY, factory, seed=12)
    params = [m.policy.state_dict() for m in (model, other)]
    assert any(not np.array_equal(params[0][k], params[1][k]) for k in params[0])


def test_train_ppo_with_forecast_channels_when_same_seed_twice_then_same_actions(
    factory: EnvFactory,
) -> None:
    channels = fit_forecast_channels(factory.bars, factory.windows.train, tiny_forecast())
    config = EnvConfig(window=5, feature_set="returns_vol", use_forecast=True)
    with_forecast = factory.with_forecast(channels).with_config(config)
    env = with_forecast("validation")
    obs = np.stack([env.observation_space.sample() for _ in range(64)])
    reported: list[int] = []
    actions = []
    for report in (lambda done, total: reported.append(done), None):  # progress changes nothing
        model, _ = train_ppo(TINY, with_forecast, seed=5, on_timesteps=report)
        actions.append(model.predict(obs, deterministic=True)[0])
    np.testing.assert_array_equal(actions[0], actions[1])
    assert reported[0] == 0 and reported[-1] == TINY.total_timesteps
    assert reported == sorted(reported)


def test_train_ppo_then_metrics_come_from_the_held_out_window(factory: EnvFactory) -> None:
    _, result = train_ppo(TINY, factory, seed=1, eval_split="test")
    start, end = factory.windows.test
    assert result.metrics.bars == end - 1 - start
    assert result.metrics.max_drawdown >= 0.0
    assert result.metrics.fees >= 0.0


def test_run_episode_when_always_long_then_metrics_match_equity(factory: EnvFactory) -> None:
    episode = run_episode(lambda obs: 2, factory("validation"), periods_per_year=365.0)
    m = episode.metrics
    assert m.total_return == pytest.approx(episode.equity[-1] - 1.0)
    r = episode.returns
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(365.0))
    assert m.fees > 0.0 and m.turnover == pytest.approx(m.fees / 0.001)
    assert set(episode.positions) == {1}


def test_run_episode_when_always_flat_then_zero_sharpe_and_no_costs(factory: EnvFactory) -> None:
    m = run_episode(lambda obs: 1, factory("validation")).metrics
    assert (m.total_return, m.sharpe, m.fees, m.max_drawdown) == (0.0, 0.0, 0.0, 0.0)


def test_ppo_config_when_bad_learning_rate_then_config_error() -> None:
    with pytest.raises(ConfigError, match="learning_rate"):
        PPOConfig(learning_rate=0.0)
