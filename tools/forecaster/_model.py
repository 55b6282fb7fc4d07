"""A small patch-based transformer encoder (PatchTST-style) for quantile forecasts.

Why a patch encoder rather than a Temporal Fusion Transformer: our inputs are a short
window of a handful of OHLCV-derived, past-only features with no static covariates and
no known-future inputs (calendar effects aside). TFT's machinery — variable-selection
networks, static covariate encoders, an LSTM encoder/decoder and interpretable
attention — exists for exactly those inputs, costs far more parameters and CPU time,
and overfits easily on ~3k noisy daily bars. PatchTST (Nie et al., 2023) groups
consecutive bars into patches, so attention runs over ~8 tokens instead of 64, which
keeps training to seconds on one CPU thread and inference well under a millisecond per
window. Unlike the paper we embed all feature channels of a patch together (channel
mixing): the channels are heterogeneous features of one target series, not a
multivariate target.

The head predicts the median and two softplus gaps, so the 10/50/90% quantiles can
never cross. Training minimises the pinball loss of returns scaled by the training
window's one-bar volatility, for at most ``epochs`` epochs, keeping the epoch with the
lowest loss on the last 15% of the training window (early stopping: the test window is
never used to choose it). Training is a pure function of (data, train_end, config, seed):
one thread, deterministic algorithms, seeded initialisation and shuffling.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from tools.forecaster._base import first_origin, train_origins
from tools.forecaster._features import FEATURES, Scaler, SeriesData
from tools.forecaster._metrics import QUANTILES


@dataclass(frozen=True)
class PatchConfig:
    """Hyperparameters. The defaults train in seconds on ~3k daily bars."""

    horizon: int = 5
    window: int = 64
    patch_len: int = 8
    stride: int = 8
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 64
    dropout: float = 0.1
    epochs: int = 50  # an upper bound: early stopping on the validation tail picks the epoch
    patience: int = 6
    val_fraction: float = 0.15
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if self.window < self.patch_len or self.patch_len < 1 or self.stride < 1:
            raise ValueError("need window >= patch_len >= 1 and stride >= 1")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be a multiple of n_heads")
        if self.epochs < 1 or self.horizon < 1 or self.patience < 1:
            raise ValueError("epochs, patience and horizon must be >= 1")
        if not 0.0 <= self.val_fraction < 0.5:
            raise ValueError("val_fraction must be in [0, 0.5)")

    @property
    def n_patches(self) -> int:
        return (self.window - self.patch_len) // self.stride + 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PatchTSTNet(nn.Module):
    """(batch, window, channels) → (batch, horizon, 3) scaled-return quantiles."""

    def __init__(self, config: PatchConfig, n_channels: int) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Linear(config.patch_len * n_channels, config.d_model)
        self.position = nn.Parameter(torch.randn(1, config.n_patches, config.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            config.d_model, config.n_heads, config.d_ff, config.dropout,
            batch_first=True, norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.n_patches * config.d_model, config.horizon * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        patches = x.unfold(1, c.patch_len, c.stride)  # (B, P, C, patch_len)
        tokens = self.embed(patches.flatten(2)) + self.position
        encoded = self.norm(self.encoder(tokens))
        raw = self.head(encoded.flatten(1)).view(-1, c.horizon, 3)
        median = raw[..., 0]
        lower = median - nn.functional.softplus(raw[..., 1])
        upper = median + nn.functional.softplus(raw[..., 2])
        return torch.stack([lower, median, upper], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    tau = torch.tensor(QUANTILES, dtype=pred.dtype)
    diff = target.unsqueeze(-1) - pred
    return torch.maximum(tau * diff, (tau - 1.0) * diff).mean()


@contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """One thread, deterministic kernels, seeded RNGs; restores the global settings."""
    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was_deterministic)


@dataclass(frozen=True)
class EpochReport:
    """Progress of one fit after an epoch. ``loss`` is the early-stopping loss (on the
    validation tail, or the training loss without one); ``stopped`` marks the last epoch
    this fit runs (early stop or ``epochs`` reached); ``best_epoch`` is the epoch whose
    weights the fit keeps so far, and ``best_loss`` its loss."""

    epoch: int
    epochs: int
    loss: float
    best_epoch: int
    stopped: bool
    best_loss: float = math.nan


class PatchTSTForecaster:
    """The transformer behind the ``QuantileForecaster`` contract. ``on_epoch``, when
    set, is called after every training epoch (a progress display; it must not touch
    the model)."""

    name = "patchtst"
    quantiles = QUANTILES

    def __init__(self, config: PatchConfig | None = None, seed: int = 0, refit_every: int = 1):
        self.config = config or PatchConfig()
        self.seed = seed
        self.refit_every = refit_every
        self.horizon = self.config.horizon
        self.lookback = self.config.window
        self.net: PatchTSTNet | None = None
        self.scaler: Scaler | None = None
        self.target_scale = 1.0
        self.train_seconds = 0.0
        self.final_loss = float("nan")
        self.best_epoch = 0
        self.on_epoch: Callable[[EpochReport], None] | None = None

    def fit(self, data: SeriesData, train_end: int) -> None:
        started = time.perf_counter()
        origins = train_origins(data, train_end, self.lookback)
        self.scaler = Scaler.fit(data.features, end=train_end)
        self.target_scale = float(np.nanstd(data.returns[1:train_end])) or 1.0
        x = torch.from_numpy(self._windows(data, origins)).float()
        y = torch.from_numpy(data.targets[origins, : self.horizon] / self.target_scale).float()
        with deterministic_torch(self.seed):
            self.net = PatchTSTNet(self.config, len(FEATURES))
            self.final_loss = self._train(self.net, *self._split(x, y))
        self.train_seconds = time.perf_counter() - started

    def _split(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The last ``val_fraction`` of training origins picks the epoch (early stopping).
        A gap of ``horizon`` origins keeps every fitting label out of the validation
        labels' bars; all of it lies inside the training window."""
        n_val = int(len(x) * self.config.val_fraction)
        if n_val < 20:
            return x, y, x[:0], y[:0]
        cut = len(x) - n_val
        return x[: cut - self.horizon], y[: cut - self.horizon], x[cut:], y[cut:]

    def _train(
        self, net: PatchTSTNet, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor
    ) -> float:
        """Returns the validation loss of the kept epoch (the training loss without one)."""
        c = self.config
        opt = torch.optim.AdamW(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        rng = np.random.default_rng(self.seed)
        best, best_state, since = math.inf, copy.deepcopy(net.state_dict()), 0
        for epoch in range(1, c.epochs + 1):
            train_loss = self._epoch(net, opt, x, y, rng)
            net.eval()
            with torch.no_grad():
                loss = float(pinball_loss(net(xv), yv)) if len(xv) else train_loss
            if loss < best:
                best, best_state, since, self.best_epoch = (
                    loss,
                    copy.deepcopy(net.state_dict()),
                    0,
                    epoch,
                )
            else:
                since += 1
            stop = since >= c.patience or epoch == c.epochs
            if self.on_epoch is not None:
                self.on_epoch(EpochReport(epoch, c.epochs, loss, self.best_epoch, stop, best))
            if stop:
                break
        net.load_state_dict(best_state)
        net.eval()
        return best

    def _epoch(
        self, net: PatchTSTNet, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
        rng: np.random.Generator,
    ) -> float:  # fmt: skip
        net.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        loss_sum, batches = 0.0, 0
        for start in range(0, len(x), self.config.batch_size):
            idx = order[start : start + self.config.batch_size]
            loss = pinball_loss(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum, batches = loss_sum + loss.item(), batches + 1
        return loss_sum / max(batches, 1)

    def _windows(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        if len(origins) and int(origins.min()) < first_origin(self.lookback):
            raise ValueError(f"an origin needs {self.lookback} bars of defined features")
        scaled = self.scaler.transform(data.features)
        offsets = np.arange(-self.lookback + 1, 1)
        return scaled[origins[:, None] + offsets[None, :]]

    def predict(self, data: SeriesData, origins: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("patchtst: call fit() before predict()")
        x = torch.from_numpy(self._windows(data, origins)).float()
        with torch.inference_mode():
            out = self.net(x).double().numpy()
        return out * self.target_scale

    def with_config(self, **changes: Any) -> PatchTSTForecaster:
        """A fresh, unfitted copy with some hyperparameters changed."""
        return PatchTSTForecaster(replace(self.config, **changes), self.seed, self.refit_every)
