"""A file registry of trained policies, and one decision from the newest bars.

Layout, as the forecaster's registry: ``<root>/<symbol slug>/<timeframe>/<policy id>/``
holding the stable-baselines3 archive (``policy.zip``), a JSON card (``card.json``) and,
when the policy observes the forecast channels, their forecaster's weights
(``forecaster.pt``; its settings and scalers are in the card).
The user registry lives under ``settings.state_path / "models" / "policy"``; shipped
defaults under ``policies/trained/policy``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import policies
from core.errors import DataError, InvalidValueError, NotFoundError
from core.types import Symbol, Timeframe
from tools.forecaster._features import FEATURES, Scaler
from tools.policy._channels import observation_channels, rebuild_forecaster, tail_forecast
from tools.policy._env import EnvConfig, EnvFactory
from tools.policy._ppo import PPOConfig

if TYPE_CHECKING:
    from stable_baselines3 import PPO

    from tools.forecaster._model import PatchTSTForecaster

CARD = "card.json"
ARCHIVE = "policy.zip"
FORECASTER = "forecaster.pt"
CARD_VERSION = 2  # 2: env.feature_set, env.use_forecast, forecast; version-1 cards still load
SHIPPED_DIR = Path(policies.__file__).resolve().parent / "trained" / "policy"


def user_registry(state_path: Path) -> Path:
    """Where ``tiller train policy`` saves policies unless told otherwise."""
    return state_path / "models" / "policy"


@dataclass(frozen=True)
class PolicyCard:
    """What a user needs to trust (or distrust) a policy. ``windows`` holds the open
    times (UTC ISO 8601) of the first and last bar of train/validation/test; ``metrics``
    the validation fitness and the test-window report; ``observation`` the per-bar
    channels the policy sees; ``forecast`` the forecast channels' forecaster (None when
    the policy does not observe them)."""

    policy_id: str
    symbol: str
    timeframe: str
    windows: dict[str, list[str]]
    features: list[str]
    env: dict[str, Any]
    ppo: dict[str, Any]
    seed: int
    scaler: dict[str, list[float]]
    code_version: str
    trained_at: str
    metrics: dict[str, Any] = field(default_factory=dict)
    data_source: str = ""
    observation: list[str] = field(default_factory=lambda: list(FEATURES))
    forecast: dict[str, Any] | None = None
    card_version: int = CARD_VERSION

    @property
    def env_config(self) -> EnvConfig:
        return EnvConfig(**self.env)

    @property
    def data_end(self) -> str:
        return self.windows["train"][1]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyCard:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def card_for(
    model: PPO,
    factory: EnvFactory,
    ppo: PPOConfig,
    *,
    symbol: str,
    timeframe: str,
    seed: int,
    metrics: dict[str, Any] | None = None,
    data_source: str = "",
) -> PolicyCard:
    """The card of ``model``, trained by ``train_ppo(ppo, factory, seed)``."""
    from tools.forecaster._registry import code_version

    index = pd.DatetimeIndex(factory.bars.index)
    windows = {
        split: [index[a].isoformat(), index[b - 1].isoformat()]
        for split, (a, b) in asdict(factory.windows).items()
    }
    config = factory.config
    uses = factory.forecast if config.use_forecast else None
    return PolicyCard(
        policy_id=policy_id_for(symbol, timeframe, index[factory.windows.train[1] - 1], model),
        symbol=str(Symbol(symbol)),
        timeframe=timeframe,
        windows=windows,
        features=list(FEATURES),
        env=asdict(factory.config),
        ppo=ppo.to_json(),
        seed=seed,
        scaler=factory.scaler().to_json(),
        code_version=code_version(),
        trained_at=datetime.now(UTC).isoformat(),
        metrics=metrics or {},
        data_source=data_source,
        observation=list(config.channels),
        forecast=None if uses is None else uses.card(index),
    )


def policy_id_for(symbol: str, timeframe: str, data_end: datetime, model: PPO) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.policy.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    slug = Symbol(symbol).slug
    return f"ppo-{slug}-{timeframe}-{data_end:%Y%m%dT%H%M}-{digest.hexdigest()[:8]}"


def save_policy(
    root: Path, model: PPO, card: PolicyCard, forecaster: PatchTSTForecaster | None = None
) -> Path:
    """Write the archive and the card under ``root`` (and the forecaster's weights when
    the card says the policy observes its channels); returns the policy folder."""
    import torch

    net = None if forecaster is None else forecaster.net
    if (card.forecast is None) != (net is None):
        raise ValueError("pass the fitted forecaster exactly when the card has a forecast section")
    folder = root / Symbol(card.symbol).slug / card.timeframe / card.policy_id
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / ARCHIVE)
    if net is not None:
        torch.save(net.state_dict(), folder / FORECASTER)
    text = json.dumps(card.to_json(), indent=2, sort_keys=True, allow_nan=False)
    (folder / CARD).write_text(text + "\n", encoding="utf-8")
    return folder


def read_card(folder: Path) -> PolicyCard:
    try:
        return PolicyCard.from_json(json.loads((folder / CARD).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise DataError(f"{folder / CARD}: unreadable policy card ({exc})") from exc


def load_policy(folder: Path) -> tuple[PPO, PolicyCard]:
    from stable_baselines3 import PPO

    card = read_card(folder)
    if list(card.features) != list(FEATURES):
        raise DataError(
            f"{folder}: policy was trained on features {card.features}, this version computes "
            f"{list(FEATURES)}; retrain it with `tiller train policy`"
        )
    return PPO.load(folder / ARCHIVE, device="cpu"), card


def load_forecaster(folder: Path, card: PolicyCard) -> PatchTSTForecaster | None:
    """The forecast channels' forecaster of a policy that observes them, else None."""
    import torch

    if card.forecast is None:
        return None
    try:
        weights = torch.load(folder / FORECASTER, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise DataError(f"{folder / FORECASTER}: unreadable forecaster weights ({exc})") from exc
    return rebuild_forecaster(card.forecast, weights)


def list_policies(root: Path, symbol: str, timeframe: str) -> list[PolicyCard]:
    """Cards of every policy for one series, oldest training data first."""
    base = root / Symbol(symbol).slug / Timeframe(timeframe)
    if not base.is_dir():
        return []
    cards = [read_card(p) for p in sorted(base.iterdir()) if (p / CARD).is_file()]
    return sorted(cards, key=lambda c: (c.data_end, c.trained_at, c.policy_id))


def latest_policy_folder(roots: list[Path], symbol: str, timeframe: str) -> Path:
    """The newest policy for a series in the first root that has one."""
    for root in roots:
        cards = list_policies(root, symbol, timeframe)
        if cards:
            return root / Symbol(symbol).slug / cards[-1].timeframe / cards[-1].policy_id
    raise NotFoundError(
        f"no policy for {Symbol(symbol)} {timeframe} (looked in "
        f"{', '.join(str(r) for r in roots)}); train one with "
        f"`tiller train policy --symbol {Symbol(symbol)} --timeframe {timeframe}`"
    )


@dataclass(frozen=True)
class PolicyDecision:
    """The policy's choice after the last bar's close, to fill at the next open.
    ``confidence`` is the policy's probability of the chosen action."""

    action: int
    target_position: int  # -1 short, 0 flat, 1 long; a fraction of equity
    confidence: float
    policy_id: str
    as_of: datetime  # open time of the last bar seen

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": self.as_of.isoformat()}


def decide(
    model: PPO,
    card: PolicyCard,
    bars: pd.DataFrame,
    position: int = 0,
    forecaster: PatchTSTForecaster | None = None,
) -> PolicyDecision:
    """The deterministic action for the observation ending at the last bar of ``bars``,
    holding ``position`` now, normalised with the card's (training-window) scalers; a
    policy observing the forecast channels needs its ``forecaster`` (``load_forecaster``)."""
    import torch

    config = card.env_config
    if position not in config.positions:
        shape = "long-only" if -1 not in config.positions else "long/short"
        raise InvalidValueError(
            f"position {position} is not one of {config.positions}: {card.policy_id} is a "
            f"{shape} policy"
        )
    if len(bars) < config.first_decision_bar() + 1:
        raise DataError(f"need at least {config.first_decision_bar() + 1} bars, got {len(bars)}")
    forecast = None
    if config.use_forecast:
        if forecaster is None or card.forecast is None:
            raise DataError(f"{card.policy_id} observes the forecast channels: pass its forecaster")
        forecast = tail_forecast(forecaster, card.forecast, bars, config.window)
    channels = observation_channels(
        bars, Scaler.from_json(card.scaler), config.feature_set, forecast
    )
    obs = np.append(channels[-config.window :].ravel(), np.float32(position))
    with torch.no_grad():
        obs_tensor, _ = model.policy.obs_to_tensor(obs)
        dist = model.policy.get_distribution(obs_tensor).distribution
    if not isinstance(dist, torch.distributions.Categorical):
        raise DataError(f"{card.policy_id}: expected a discrete-action policy, got {dist}")
    probs = dist.probs[0].detach().numpy()
    action = int(np.argmax(probs))
    return PolicyDecision(
        action=action,
        target_position=config.positions[action],
        confidence=float(probs[action]),
        policy_id=card.policy_id,
        as_of=pd.Timestamp(bars.index[-1]).to_pydatetime(),
    )
