"""A file registry of trained forecasters: one folder per model with the torch
``state_dict`` (``model.pt``) and a JSON model card (``card.json``).

Layout: ``<root>/<symbol slug>/<timeframe>/<model id>/``. The user registry lives under
``settings.state_path / "models" / "forecaster"``; the shipped defaults under
``policies/trained/forecaster`` use the same layout.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import policies
from core.errors import DataError, NotFoundError
from core.types import Symbol, Timeframe
from tools.forecaster._features import FEATURES, Scaler
from tools.forecaster._model import PatchConfig, PatchTSTForecaster, PatchTSTNet

CARD = "card.json"
WEIGHTS = "model.pt"
CARD_VERSION = 1
# Default models trained by ``tiller train forecaster`` on the bundled data and committed.
SHIPPED_DIR = Path(policies.__file__).resolve().parent / "trained" / "forecaster"


def user_registry(state_path: Path) -> Path:
    """Where ``tiller train forecaster`` saves models unless told otherwise."""
    return state_path / "models" / "forecaster"


@dataclass(frozen=True)
class ModelCard:
    """What a user needs to trust (or distrust) a model, stored next to its weights."""

    model_id: str
    kind: str
    symbol: str
    timeframe: str
    data_start: str  # open time of the first training bar (UTC ISO 8601)
    data_end: str  # open time of the last training bar
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
    metrics: dict[str, Any] = field(default_factory=dict)
    data_source: str = ""
    best_epoch: int = 0
    card_version: int = CARD_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelCard:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def code_version() -> str:
    """``git describe`` of the checkout when there is one, else the package version."""
    repo = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=repo, capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return f"git:{done.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        try:
            return f"tiller {package_version('tiller')}"
        except PackageNotFoundError:
            return "unknown"


def model_id_for(symbol: str, timeframe: str, data_end: datetime, state_hash: str) -> str:
    return f"patchtst-{Symbol(symbol).slug}-{timeframe}-{data_end:%Y%m%dT%H%M}-{state_hash[:8]}"


def state_digest(net: PatchTSTNet) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_model(root: Path, model: PatchTSTForecaster, card: ModelCard) -> Path:
    """Write weights and card under ``root``; returns the model folder."""
    if model.net is None:
        raise ValueError("cannot save an unfitted model")
    folder = root / Symbol(card.symbol).slug / card.timeframe / card.model_id
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.net.state_dict(), folder / WEIGHTS)
    text = json.dumps(card.to_json(), indent=2, sort_keys=True, allow_nan=False)
    (folder / CARD).write_text(text + "\n", encoding="utf-8")
    return folder


def read_card(folder: Path) -> ModelCard:
    try:
        return ModelCard.from_json(json.loads((folder / CARD).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise DataError(f"{folder / CARD}: unreadable model card ({exc})") from exc


def load_model(folder: Path) -> tuple[PatchTSTForecaster, ModelCard]:
    card = read_card(folder)
    if list(card.features) != list(FEATURES):
        raise DataError(
            f"{folder}: model was trained on features {card.features}, this version computes "
            f"{list(FEATURES)}; retrain it with `tiller train forecaster`"
        )
    config = PatchConfig(**card.hyperparameters)
    model = PatchTSTForecaster(config, seed=card.seed)
    net = PatchTSTNet(config, len(FEATURES))
    net.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
    net.eval()
    model.net = net
    model.scaler = Scaler.from_json(card.scaler)
    model.target_scale = card.target_scale
    model.best_epoch = card.best_epoch
    return model, card


def list_models(root: Path, symbol: str, timeframe: str) -> list[ModelCard]:
    """Cards of every model for one series, oldest data first (then training time)."""
    base = root / Symbol(symbol).slug / Timeframe(timeframe)
    if not base.is_dir():
        return []
    cards = [read_card(p) for p in sorted(base.iterdir()) if (p / CARD).is_file()]
    return sorted(cards, key=lambda c: (c.data_end, c.trained_at, c.model_id))


def latest_folder(
    roots: list[Path], symbol: str, timeframe: str, as_of: datetime | None = None
) -> Path:
    """The newest model for a series in the first root that has one. With ``as_of``,
    prefer models whose training data ended by then (no look-ahead)."""
    for root in roots:
        cards = list_models(root, symbol, timeframe)
        if as_of is not None:
            cutoff = pd.Timestamp(as_of)
            cards = [c for c in cards if pd.Timestamp(c.data_end) < cutoff] or cards
        if cards:
            card = cards[-1]
            return root / Symbol(symbol).slug / card.timeframe / card.model_id
    raise NotFoundError(
        f"no forecaster for {Symbol(symbol)} {timeframe} (looked in "
        f"{', '.join(str(r) for r in roots)}); train one with "
        f"`tiller train forecaster --symbol {Symbol(symbol)} --timeframe {timeframe}`"
    )
