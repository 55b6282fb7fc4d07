"""The trading policy: a gymnasium environment on the backtester's fill convention, PPO
training (stable-baselines3) and a genetic search (pygad) over PPO hyperparameters,
observation window and reward shaping, scored on a validation window it never trained
on; the once-only test-window report against baselines with bootstrap intervals; a file
registry of trained policies.

Importing this package imports torch (~2 s); CLI commands import it lazily.
"""

from tools.policy._env import EnvConfig, EnvFactory, Split, TradingEnv, Windows
from tools.policy._evaluate import (
    Episode,
    EvalMetrics,
    replay_positions,
    run_episode,
    score_curve,
)
from tools.policy._evolve import (
    Candidate,
    EvolveConfig,
    EvolveResult,
    GenerationReport,
    evolve,
    load_checkpoint,
)
from tools.policy._ppo import PPOConfig, TrainResult, model_act, train_ppo
from tools.policy._registry import (
    SHIPPED_DIR,
    PolicyCard,
    PolicyDecision,
    card_for,
    decide,
    latest_policy_folder,
    list_policies,
    load_policy,
    save_policy,
    user_registry,
)
from tools.policy._report import (
    PolicyReport,
    SharpeDiff,
    baseline_episodes,
    compare,
    policy_test_episode,
    sharpe_diff_ci,
    sma_cross_targets,
)

__all__ = [
    "SHIPPED_DIR",
    "Candidate",
    "EnvConfig",
    "EnvFactory",
    "Episode",
    "EvalMetrics",
    "EvolveConfig",
    "EvolveResult",
    "GenerationReport",
    "PPOConfig",
    "PolicyCard",
    "PolicyDecision",
    "PolicyReport",
    "SharpeDiff",
    "Split",
    "TradingEnv",
    "TrainResult",
    "Windows",
    "baseline_episodes",
    "card_for",
    "compare",
    "decide",
    "evolve",
    "latest_policy_folder",
    "list_policies",
    "load_checkpoint",
    "load_policy",
    "model_act",
    "policy_test_episode",
    "replay_positions",
    "run_episode",
    "save_policy",
    "score_curve",
    "sharpe_diff_ci",
    "sma_cross_targets",
    "train_ppo",
    "user_registry",
]
