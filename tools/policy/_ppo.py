"""PPO training as a pure function of (config, environment factory, seed).

stable-baselines3 seeds Python, NumPy, torch and the action space from ``seed``; with a
fixed seed on one torch thread two runs produce the same network and the same actions
(a test checks it). Training uses the factory's ``"train"`` window only; the returned
metrics come from a deterministic pass over ``eval_split``, a window the model never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.errors import ConfigError
from tools.policy._env import Split, TradingEnv
from tools.policy._evaluate import Act, EvalMetrics, run_episode

if TYPE_CHECKING:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

OnTimesteps = Callable[[int, int], None]
"""Training progress: (timesteps done, timesteps in total)."""


class EnvFactoryLike(Protocol):
    """Builds a fresh environment over one split's window (``EnvFactory`` does)."""

    def __call__(self, split: Split) -> TradingEnv: ...


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. The defaults are stable-baselines3's own, except the network
    (two layers of 64, sb3's default too) and ``total_timesteps``, which sb3 leaves to
    the caller."""

    learning_rate: float = 3e-4
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    clip_range: float = 0.2
    net_arch: tuple[int, ...] = (64, 64)
    total_timesteps: int = 10_000

    def __post_init__(self) -> None:
        if not 0.0 < self.learning_rate < 1.0:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.n_steps < 2 or self.batch_size < 2 or self.total_timesteps < 1:
            raise ConfigError(
                "n_steps and batch_size must be >= 2 and total_timesteps >= 1, got "
                f"{self.n_steps}, {self.batch_size}, {self.total_timesteps}"
            )
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"gamma must be in (0, 1], got {self.gamma}")

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "net_arch": list(self.net_arch)}


@dataclass(frozen=True)
class TrainResult:
    """What a training run reports: the split it was scored on and the scores."""

    seed: int
    eval_split: Split
    metrics: EvalMetrics


def train_ppo(
    config: PPOConfig,
    env_factory: EnvFactoryLike,
    seed: int,
    *,
    eval_split: Split = "validation",
    periods_per_year: float = 252.0,
    on_timesteps: OnTimesteps | None = None,
) -> tuple[PPO, TrainResult]:
    """Train on the ``"train"`` window, then score on ``eval_split``. ``on_timesteps``
    is called as training advances (about 100 times in all), in this process."""
    from stable_baselines3 import PPO

    model = PPO(
        "MlpPolicy",
        env_factory("train"),
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=min(config.batch_size, config.n_steps),
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        ent_coef=config.ent_coef,
        clip_range=config.clip_range,
        policy_kwargs={"net_arch": list(config.net_arch)},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    callback = None if on_timesteps is None else _progress(on_timesteps, config.total_timesteps)
    model.learn(total_timesteps=config.total_timesteps, callback=callback)
    episode = run_episode(
        model_act(model), env_factory(eval_split), periods_per_year=periods_per_year
    )
    return model, TrainResult(seed, eval_split, episode.metrics)


def _progress(report: OnTimesteps, total: int) -> BaseCallback:
    """An sb3 callback reporting timesteps; it reads counters only, so training with it
    is the same as without (no random numbers drawn)."""
    from stable_baselines3.common.callbacks import BaseCallback

    every = max(1, total // 100)

    class Progress(BaseCallback):
        def _on_training_start(self) -> None:
            self._last = 0
            report(0, total)

        def _on_step(self) -> bool:
            if self.num_timesteps - self._last >= every:
                self._last = self.num_timesteps
                report(min(self.num_timesteps, total), total)
            return True

        def _on_training_end(self) -> None:
            report(total, total)

    return Progress()


def model_act(model: PPO) -> Act:
    """The model's deterministic action for one observation."""

    def act(obs: np.ndarray) -> int:
        action, _ = model.predict(obs, deterministic=True)
        return int(action)

    return act
