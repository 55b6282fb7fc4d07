from __future__ import annotations

import json

import numpy as np
import pytest
from _policy_bars import make_bars

from tools.policy import (
    EnvConfig,
    EnvFactory,
    PPOConfig,
    Windows,
    baseline_episodes,
    compare,
    policy_test_episode,
    replay_positions,
    sharpe_diff_ci,
    sma_cross_targets,
)

TINY = PPOConfig(n_steps=64, batch_size=32, n_epochs=2, net_arch=(8,), total_timesteps=128)


@pytest.fixture
def factory() -> EnvFactory:
    bars = make_bars(300, seed=4)
    return EnvFactory(bars, Windows.split(len(bars), max_window=5), EnvConfig(window=5))


def test_sharpe_diff_ci_when_same_series_then_zero_and_no_difference() -> None:
    r = np.random.default_rng(0).normal(0.001, 0.01, 200)
    diff = sharpe_diff_ci(r, r.copy())
    assert (diff.point, diff.low, diff.high) == (0.0, 0.0, 0.0)
    assert diff.verdict == "no significant difference"


def test_sharpe_diff_ci_when_policy_clearly_better_then_interval_above_zero() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0.0, 0.01, 500)
    diff = sharpe_diff_ci(base + 0.004, base, seed=3)
    assert 0.0 < diff.low <= diff.point <= diff.high
    assert diff.verdict == "better"
    assert sharpe_diff_ci(base, base + 0.004, seed=3).verdict == "worse"
    assert sharpe_diff_ci(base + 0.004, base, seed=3) == diff


def test_sma_cross_targets_when_after_first_cross_then_long_iff_fast_above_slow(
    factory: EnvFactory,
) -> None:
    close = factory.bars["close"]
    above = (close.rolling(10).mean() > close.rolling(50).mean()).to_numpy()
    targets = sma_cross_targets(factory)
    first_cross = 50 + int(np.argmax(above[50:] != above[49]))
    np.testing.assert_array_equal(targets[first_cross:], above[first_cross:].astype(int))
    assert not targets[:first_cross].any()


def test_replay_positions_when_not_an_env_position_then_value_error(
    factory: EnvFactory,
) -> None:
    long_only = factory.with_config(EnvConfig(window=5, long_only=True))
    with pytest.raises(ValueError, match="not one of"):
        replay_positions(-np.ones(len(factory.bars), dtype=int), long_only("test"))


def test_compare_when_run_on_test_window_then_paired_curves_and_json(
    factory: EnvFactory,
) -> None:
    baselines = baseline_episodes(factory, plain_ppo=TINY, seed=0)
    policy = policy_test_episode(TINY, factory, seed=1)
    report = compare(policy, baselines, n_boot=200)
    start, end = factory.windows.test
    assert set(report.diffs) == {"buy-and-hold", "sma-cross", "plain-ppo"}
    assert {len(ep.equity) for ep in [policy, *baselines.values()]} == {end - start}
    opens, closes = factory.bars["open"].to_numpy(), factory.bars["close"].to_numpy()
    hold = closes[end - 1] / (opens[start + 1] * (1 + 0.0005) * (1 + 0.001)) - 1
    assert baselines["buy-and-hold"].metrics.total_return == pytest.approx(hold, rel=1e-9)
    out = json.loads(json.dumps(report.to_json()))
    assert out["baselines"]["sma-cross"]["sharpe_diff"]["verdict"] in {
        "better",
        "worse",
        "no significant difference",
    }


def test_compare_when_identical_policy_then_no_difference(factory: EnvFactory) -> None:
    hold = np.ones(len(factory.bars), dtype=int)
    episode = replay_positions(hold, factory("test"))
    report = compare(episode, {"buy-and-hold": episode}, n_boot=100)
    assert report.diffs["buy-and-hold"].point == 0.0
    assert isinstance(report.to_json()["policy"]["sharpe"], float)


def test_compare_when_trials_given_then_deflated_sharpe_next_to_the_intervals(
    factory: EnvFactory,
) -> None:
    episode = replay_positions(np.ones(len(factory.bars), dtype=int), factory("test"))
    report = compare(episode, {"buy-and-hold": episode}, n_boot=100, trial_sharpes=[0.1, 0.5, 0.9])
    out = json.loads(json.dumps(report.to_json()))
    dsr = out["deflated_sharpe"]
    assert dsr["trials"] == 3 and dsr["n_returns"] == len(episode.returns)
    assert dsr["sharpe"] == pytest.approx(episode.metrics.sharpe)
    assert 0.0 <= dsr["dsr"] < dsr["psr"] <= 1.0
    assert "every distinct candidate" in out["deflated_sharpe_note"]
    none = compare(episode, {"buy-and-hold": episode}, n_boot=100, trial_sharpes=[]).to_json()
    assert none["deflated_sharpe"] is None and "total return" in none["deflated_sharpe_note"]
