from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _policy_bars import tiny_forecast

from core.errors import DataError, NotFoundError
from tools.policy import (
    EnvConfig,
    EnvFactory,
    PPOConfig,
    Windows,
    fit_forecast_channels,
    train_ppo,
)
from tools.policy._registry import (
    card_for,
    decide,
    latest_policy_folder,
    load_forecaster,
    load_policy,
    save_policy,
)

TINY = PPOConfig(n_steps=64, batch_size=32, n_epochs=2, net_arch=(8,), total_timesteps=128)


@pytest.fixture
def factory(bars: pd.DataFrame) -> EnvFactory:
    return EnvFactory(bars, Windows.split(len(bars), max_window=5), EnvConfig(window=5))


def test_saved_policy_when_loaded_then_same_decisions_and_card(
    factory: EnvFactory, tmp_path: Path
) -> None:
    model, result = train_ppo(TINY, factory, seed=0)
    card = card_for(
        model, factory, TINY, symbol="BTC/USDT", timeframe="1d", seed=0,
        metrics={"validation": result.metrics.to_json()},
    )  # fmt: skip
    folder = save_policy(tmp_path, model, card)
    assert latest_policy_folder([tmp_path / "none", tmp_path], "BTC/USDT", "1d") == folder
    loaded, loaded_card = load_policy(folder)
    assert loaded_card == card
    assert json.loads((folder / "card.json").read_text())["windows"]["test"][1] == (
        factory.bars.index[-1].isoformat()
    )
    env = factory("validation")
    obs = np.stack([env.observation_space.sample() for _ in range(32)])
    np.testing.assert_array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )
    assert (folder / "policy.zip").stat().st_size < 5 * 1024 * 1024


def test_decide_on_bars_up_to_t_then_same_action_as_env_observation_at_t(
    factory: EnvFactory,
) -> None:
    model, _ = train_ppo(TINY, factory, seed=0)
    card = card_for(model, factory, TINY, symbol="AAPL", timeframe="1d", seed=0)
    env = factory("test")
    obs, info = env.reset()
    for _ in range(5):
        obs, *_, info = env.step(2)
    t = info["bar"]
    decision = decide(model, card, factory.bars.iloc[: t + 1], position=1)
    expected = int(model.predict(obs, deterministic=True)[0])
    assert decision.action == expected
    assert decision.target_position == (-1, 0, 1)[expected]
    assert 1 / 3 <= decision.confidence <= 1.0
    assert decision.as_of == factory.bars.index[t]
    assert json.loads(json.dumps(decision.to_json()))["policy_id"] == card.policy_id


def test_latest_policy_folder_when_none_then_not_found_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="tiller train policy --symbol BTC/USDT"):
        latest_policy_folder([tmp_path], "BTC/USDT", "1d")


def test_policy_with_forecast_channels_when_saved_and_loaded_then_decides_as_env_at_t(
    factory: EnvFactory, tmp_path: Path
) -> None:
    import torch

    channels = fit_forecast_channels(factory.bars, factory.windows.train, tiny_forecast())
    config = EnvConfig(window=5, feature_set="returns", use_forecast=True)
    with_forecast = factory.with_forecast(channels).with_config(config)
    model, _ = train_ppo(TINY, with_forecast, seed=0)
    card = card_for(model, with_forecast, TINY, symbol="AAPL", timeframe="1d", seed=0)
    assert card.observation == ["ret_1", "ret_5", "ret_20", "forecast_median", "forecast_width"]
    assert card.forecast is not None
    assert card.forecast["fitted_before"] == factory.bars.index[channels.first_bar].isoformat()
    with pytest.raises(ValueError, match="forecaster"):
        save_policy(tmp_path, model, card)
    folder = save_policy(tmp_path, model, card, channels.model)
    loaded, loaded_card = load_policy(folder)
    forecaster = load_forecaster(folder, loaded_card)
    env = with_forecast("test")
    obs, info = env.reset()
    for _ in range(7):
        obs, *_, info = env.step(1)
    t = info["bar"]
    decision = decide(loaded, loaded_card, factory.bars.iloc[: t + 1], 0, forecaster=forecaster)
    with torch.no_grad():
        obs_tensor, _ = model.policy.obs_to_tensor(obs)
        probs = model.policy.get_distribution(obs_tensor).distribution.probs[0].numpy()
    assert decision.action == int(np.argmax(probs))
    assert decision.confidence == pytest.approx(float(probs.max()), abs=1e-6)
    with pytest.raises(DataError, match="forecaster"):
        decide(loaded, loaded_card, factory.bars.iloc[: t + 1], 0)
