"""RL speed: our trading environment vs a gymnasium classic-control environment, and GA
fitness evaluations per minute with 1 vs 2 worker processes.

    .venv/bin/python bench/policy.py [--timesteps 4096] [--population 4]

Same PPO (stable-baselines3, MlpPolicy 64x64, n_steps 512, torch 1 thread) on
BTC/USDT daily bars from ../shared/data (or the bundled AAPL when that folder is absent)
and on Acrobot-v1 (6-dim observations, the closest classic-control size; ours is
window x 8 features + position = 81 at window 10). Raw env steps use random actions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.market_data import bundled_frame, read_bar_file  # noqa: E402
from tools.policy import EnvConfig, EnvFactory, EvolveConfig, Windows, evolve  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "market" / "crypto_1d" / "BTCUSDT_1d.csv"


def bars() -> tuple[str, object]:
    if SHARED.exists():
        return "BTC/USDT 1d", read_bar_file(SHARED).frame
    return "AAPL 1d (bundled)", bundled_frame("AAPL")


def raw_steps(make_env, n: int = 20_000) -> float:  # type: ignore[no-untyped-def]
    env = make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(n):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            env.reset()
    return n / (time.perf_counter() - start)


def ppo_steps(make_env, timesteps: int, n_envs: int) -> float:  # type: ignore[no-untyped-def]
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env(make_env, n_envs=n_envs, seed=0)
    model = PPO("MlpPolicy", vec, n_steps=512 // n_envs, batch_size=64, seed=0, verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    return timesteps / (time.perf_counter() - start)


def ga_rate(factory: EnvFactory, workers: int, population: int, timesteps: int) -> float:
    # forecast=None: no forecast-channel fit, so only fitness evaluations are timed.
    config = EvolveConfig(population=population, generations=1, seeds=(0,), workers=workers,
                          total_timesteps=timesteps, n_steps_choices=(128, 256),
                          forecast=None)  # fmt: skip
    start = time.perf_counter()
    result = evolve(factory, config)
    return result.evaluations / (time.perf_counter() - start) * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--ga-timesteps", type=int, nargs="+", default=[1024, 8192])
    args = parser.parse_args()
    torch.set_num_threads(1)
    label, frame = bars()
    windows = Windows.split(len(frame), max_window=30)  # type: ignore[arg-type]
    factory = EnvFactory(frame, windows, EnvConfig())  # type: ignore[arg-type]

    def ours() -> gym.Env:  # type: ignore[type-arg]
        return factory("train")

    def classic() -> gym.Env:  # type: ignore[type-arg]
        return gym.make("Acrobot-v1")

    print(f"{label}; {os.cpu_count()} cores; torch threads 1")
    print(f"{'':<26} {'ours':>10} {'Acrobot-v1':>11} {'ours/theirs':>12}")
    a, b = raw_steps(ours), raw_steps(classic)
    print(f"{'raw env steps/s':<26} {a:10.0f} {b:11.0f} {a / b:11.2f}×")
    for n_envs in (1, 4):
        a = ppo_steps(ours, args.timesteps, n_envs)
        b = ppo_steps(classic, args.timesteps, n_envs)
        name = f"PPO steps/s, {n_envs} env" + ("s (Dummy)" if n_envs > 1 else "")
        print(f"{name:<26} {a:10.0f} {b:11.0f} {a / b:11.2f}×")
    print(f"\nGA fitness evaluations/min, population {args.population}, 1 generation")
    for steps in args.ga_timesteps:
        one = ga_rate(factory, 1, args.population, steps)
        two = ga_rate(factory, 2, args.population, steps)
        print(
            f"  PPO {steps:>6,} steps/fitness: 1 worker {one:6.1f}   2 workers {two:6.1f}"
            f"   scaling {two / one:.2f}×"
        )


if __name__ == "__main__":
    main()
