"""The trading policy: a gymnasium environment on the backtester's fill convention, PPO
training (stable-baselines3) and a genetic search (pygad) over PPO hyperparameters, the
observation (window, feature set, the forecaster's output as channels) and reward
shaping, scored on a validation window it never trained on; the once-only test-window
report against baselines with bootstrap intervals and the deflated Sharpe ratio; a file
registry of trained policies.

Importing this package imports torch (~2 s); CLI commands import it lazily.
"""

from tools.policy._channels import (
    FEATURE_SETS,
    FORECAST_CHANNELS,
    ForecastChannels,
    ForecastConfig,
    fit_forecast_channels,
)
from tools.policy._dsr import (
    DeflatedSharpe,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
)
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
from tools.policy._fitness import EvaluationProgress, candidate_fitness
from tools.policy._ppo import PPOConfig, TrainResult, model_act, train_ppo
from tools.policy._registry import (
    SHIPPED_DIR,
    PolicyCard,
    PolicyDecision,
    card_for,
    decide,
    latest_policy_folder,
    list_policies,
    load_forecaster,
    load_policy,
    read_card,
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
from tools.policy._train import TrainedPolicy, TrainProgress, train_policy

__all__ = [
    "FEATURE_SETS",
    "FORECAST_CHANNELS",
    "SHIPPED_DIR",
    "Candidate",
    "DeflatedSharpe",
    "EnvConfig",
    "EnvFactory",
    "Episode",
    "EvalMetrics",
    "EvaluationProgress",
    "EvolveConfig",
    "EvolveResult",
    "ForecastChannels",
    "ForecastConfig",
    "GenerationReport",
    "PPOConfig",
    "PolicyCard",
    "PolicyDecision",
    "PolicyReport",
    "SharpeDiff",
    "Split",
    "TradingEnv",
    "TrainProgress",
    "TrainResult",
    "TrainedPolicy",
    "Windows",
    "baseline_episodes",
    "candidate_fitness",
    "card_for",
    "compare",
    "decide",
    "deflated_sharpe",
    "evolve",
    "expected_max_sharpe",
    "fit_forecast_channels",
    "latest_policy_folder",
    "list_policies",
    "load_checkpoint",
    "load_forecaster",
    "load_policy",
    "model_act",
    "policy_test_episode",
    "probabilistic_sharpe_ratio",
    "read_card",
    "replay_positions",
    "run_episode",
    "save_policy",
    "score_curve",
    "sharpe_diff_ci",
    "sma_cross_targets",
    "train_policy",
    "train_ppo",
    "user_registry",
]
