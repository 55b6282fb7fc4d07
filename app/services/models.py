"""The trained models as every surface uses them: the quantile forecaster (train,
forecast) and the GA-evolved PPO policy (train, act, report).

Models come from a folder the caller names first, then the user registry under the
state directory, then the defaults shipped in ``policies/trained``. Training is a pure
function of its request and seed; where its checkpoint lives is decided here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConfigError, NotFoundError
from core.types import Symbol, Timeframe

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.bootstrap import Container
    from tools.forecaster import EpochReport
    from tools.policy import TrainProgress


class ForecasterCardView(BaseModel):
    """A forecaster's model card: what it was trained on, how, and its hold-out scores."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    kind: str
    symbol: str
    timeframe: str
    data_start: str = Field(description="Open time of the first training bar (UTC).")
    data_end: str = Field(description="Open time of the last training bar (UTC).")
    n_bars: int
    features: list[str]
    quantiles: list[float]
    hyperparameters: dict[str, Any]
    seed: int
    code_version: str
    torch_version: str
    trained_at: str
    train_seconds: float
    scaler: dict[str, list[float]]
    target_scale: float
    metrics: dict[str, Any]
    data_source: str
    best_epoch: int
    card_version: int


class TrainedForecasterView(BaseModel):
    path: str = Field(description="The folder the model and its card were saved to.")
    card: ForecasterCardView


class ForecastStep(BaseModel):
    step: int
    target_close_time: datetime
    log_return: dict[str, float] = Field(description="Quantile name → log return.")
    price: dict[str, float] = Field(description="Quantile name → price.")
    volatility: float


class ForecastView(BaseModel):
    """Quantile forecasts of the next log returns from the last closed bar, and the
    volatility of each cumulative return derived from them."""

    model_config = ConfigDict(protected_namespaces=())

    symbol: str
    timeframe: str
    model_id: str
    as_of: datetime | None
    last_bar_open_time: datetime
    last_close: float
    quantiles: list[float]
    point_forecast: list[float]
    point_forecast_price: list[float]
    volatility_forecast: list[float]
    volatility_ewma: list[float] | None
    volatility_method: str
    horizons: list[ForecastStep]
    model_trained_through: str
    uses_future_data: bool = Field(description="Trained on bars after the forecast time.")


class PolicyDecisionView(BaseModel):
    """The policy's action after the last closed bar (it would fill at the next open)."""

    action: int
    target_position: int = Field(description="-1 short, 0 flat, 1 long.")
    confidence: float
    policy_id: str
    as_of: datetime = Field(description="Open time of the last bar seen.")
    symbol: str
    timeframe: str
    uses_future_data: bool
    note: str = "a proposal for the risk officer, not an order"


class PolicyReportView(BaseModel):
    """The latest policy's card: its windows and its validation and test-window results
    (``test``: against buy-and-hold, the SMA-cross preset and plain PPO)."""

    model_config = ConfigDict(extra="allow")

    policy_id: str
    windows: dict[str, list[str]]
    test: dict[str, Any] | None = None


class PolicyTrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = "AAPL"
    timeframe: str = "1d"
    generations: int = Field(5, ge=1, le=10_000)
    population: int = Field(8, ge=2, le=10_000)
    timesteps: int = Field(5000, ge=100, le=10**9)
    seeds: tuple[int, ...] = (0, 1, 2)
    workers: int = Field(1, ge=1)
    backend: Literal["process", "ray"] = Field(
        "process", description="Where fitness runs: worker processes here, or Ray tasks."
    )
    ray_address: str | None = Field(
        None, max_length=500, description="A Ray cluster (ray://HOST:10001); None: a local Ray."
    )
    seed: int = Field(0, ge=0, le=2**32 - 1)
    long_only: bool = False
    forecast: bool = True
    output: Path | None = None
    restart: bool = False


class TrainedPolicyView(BaseModel):
    policy_id: str
    folder: str
    report: dict[str, Any] = Field(description="The test-window comparison.")


def forecaster_roots(c: Container, model_dir: Path | None = None) -> list[Path]:
    from tools.forecaster import SHIPPED_DIR, user_registry

    if model_dir is not None and not model_dir.is_dir():
        raise NotFoundError(f"--model-dir {model_dir}: no such folder")
    return [*([model_dir] if model_dir else []), user_registry(c.settings.state_path), SHIPPED_DIR]


def policy_roots(c: Container) -> list[Path]:
    from tools.policy import SHIPPED_DIR, user_registry

    return [user_registry(c.settings.state_path), SHIPPED_DIR]


def forecast(
    c: Container, symbol: str = "AAPL", timeframe: str = "1d", horizon: int = 5, *,
    as_of: datetime | None = None, model_dir: Path | None = None,
) -> ForecastView:  # fmt: skip
    """From the latest model for the series; only bars closed by ``as_of`` (default:
    now) are used."""
    from tools.forecaster import forecast_bars, latest_folder, load_model

    roots = forecaster_roots(c, model_dir)
    model, card = load_model(latest_folder(roots, symbol, timeframe, as_of=as_of))
    if horizon > model.horizon:
        raise ConfigError(f"model {card.model_id} forecasts at most {model.horizon} bars ahead")
    stamp = as_of or c.clock.now()
    frame = c.store.bars(symbol, timeframe, as_of=stamp)
    return ForecastView.model_validate(
        forecast_bars(model, card, frame, horizon, as_of=stamp).to_json()
    )


def train_forecaster(
    c: Container, symbol: str, timeframe: str, *, epochs: int = 50, seed: int = 0,
    horizon: int = 5, end: datetime | None = None, holdout: float = 0.2,
    output: Path | None = None, on_epoch: Callable[[str, EpochReport], None] | None = None,
) -> TrainedForecasterView:  # fmt: skip
    """Score against the baselines on a hold-out, refit on all bars, save with a card."""
    from tools.forecaster import PatchConfig, save_model, user_registry
    from tools.forecaster import train_forecaster as train

    frame = c.store.bars(symbol, timeframe, end=end)
    result = train(
        frame, str(Symbol(symbol)), str(Timeframe(timeframe)),
        PatchConfig(horizon=horizon, epochs=epochs), seed=seed, holdout=holdout,
        data_source=_sources(c, symbol, timeframe), on_epoch=on_epoch,
    )  # fmt: skip
    folder = save_model(output or user_registry(c.settings.state_path), result.model, result.card)
    return TrainedForecasterView(
        path=str(folder), card=ForecasterCardView.model_validate(result.card.to_json())
    )


def _sources(c: Container, symbol: str, timeframe: str) -> str:
    for info in c.store.catalog():
        if info.symbol == symbol.upper() and info.timeframe == timeframe:
            return ", ".join(info.sources)
    return "tiller store"


def policy_act(
    c: Container, symbol: str = "AAPL", timeframe: str = "1d", position: int = 0, *,
    as_of: datetime | None = None,
) -> PolicyDecisionView:  # fmt: skip
    from tools.policy import decide, latest_policy_folder, load_forecaster, load_policy

    when = as_of or c.clock.now()
    folder = latest_policy_folder(policy_roots(c), symbol, timeframe)
    model, card = load_policy(folder)
    bars = c.store.bars(symbol, timeframe, as_of=when)
    decision = decide(model, card, bars, position, forecaster=load_forecaster(folder, card))
    return PolicyDecisionView(
        **decision.to_json(), symbol=str(Symbol(symbol)), timeframe=timeframe,
        uses_future_data=card.data_end > decision.as_of.isoformat(),
    )  # fmt: skip


def policy_report(c: Container, symbol: str = "AAPL", timeframe: str = "1d") -> PolicyReportView:
    from tools.policy import latest_policy_folder, read_card

    card = read_card(latest_policy_folder(policy_roots(c), symbol, timeframe))
    return PolicyReportView.model_validate(
        {"policy_id": card.policy_id, "windows": card.windows, **card.metrics}
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` → (0, 1, 2); each seed in [0, 2**32)."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: use comma-separated integers, e.g. 0,1,2") from None
    if any(not 0 <= s < 2**32 for s in seeds):
        raise ConfigError(f"--seeds {text!r}: each seed is between 0 and 2**32 - 1")
    return seeds


def policy_checkpoint(c: Container, symbol: str, timeframe: str) -> Path:
    """Where a policy search for the series is checkpointed after each generation."""
    slug = Symbol(symbol).slug
    return c.settings.state_path / "checkpoints" / f"policy-{slug}-{timeframe}.json"


def train_policy(
    c: Container, request: PolicyTrainRequest, progress: TrainProgress | None = None
) -> TrainedPolicyView:
    """Evolve PPO hyperparameters, observation and reward shaping on a validation
    window, train the winner, report it on a test window neither step touched, save it.
    Resumable from its checkpoint unless ``restart``."""
    import torch

    from tools.policy import EnvConfig, EvolveConfig, ForecastConfig, save_policy, user_registry
    from tools.policy import train_policy as run

    torch.set_num_threads(1)
    config = EvolveConfig(
        population=request.population, generations=request.generations, seeds=request.seeds,
        workers=request.workers, total_timesteps=request.timesteps, seed=request.seed,
        backend=request.backend, ray_address=request.ray_address,
        forecast=ForecastConfig(seed=request.seed) if request.forecast else None,
    )  # fmt: skip
    symbol = str(Symbol(request.symbol))
    frame = c.store.bars(symbol, request.timeframe)
    checkpoint = policy_checkpoint(c, symbol, request.timeframe)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if request.restart:
        checkpoint.unlink(missing_ok=True)
    trained = run(frame, symbol=symbol, timeframe=request.timeframe, evolve_config=config,
                  base_env=EnvConfig(long_only=request.long_only), checkpoint=checkpoint,
                  progress=progress, data_source="tiller store")  # fmt: skip
    root = request.output or user_registry(c.settings.state_path)
    folder = save_policy(root, trained.model, trained.card, trained.forecaster)
    return TrainedPolicyView(policy_id=trained.card.policy_id, folder=str(folder),
                             report=trained.report.to_json())  # fmt: skip
