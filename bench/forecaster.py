"""Forecaster benchmark: training time, inference latency, and walk-forward scores of the
PatchTST-style transformer against the random walk, historical mean and linear AR.

    .venv/bin/python bench/forecaster.py [--epochs 50] [--seeds 0,1,2] [--repeat 300]

Data (never copied into the repo): ../shared/data/market/crypto_1d/{BTC,ETH}USDT_1d.csv
and crypto_intraday/BTC_USDT-1h.csv.gz, read with ``tools.market_data.read_bar_file``.

Walk-forward: the first half of each series is the initial training window, then
consecutive test blocks (250 daily bars / 500 hourly bars); baselines are refitted on
every fold, the transformer every second fold (daily) or every third (hourly), each
fit on bars before the block only (expanding window for daily, the last 3,000 bars for
hourly). MASE is the median's mean absolute error over the random walk's on the same
origins (<1 beats it); direction and its binomial p-value use one-step forecasts.
Each transformer seed is its own row (seed-to-seed spread is part of the result).
Training time is one fit (seed 0, early stopping) on the whole series; latency is
``forecast_bars`` (features from the last bars + one forward pass) on one thread, after
warm-up, against the linear AR's forecast through the same feature path.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.forecaster import (  # noqa: E402
    LinearAR,
    PatchConfig,
    PatchTSTForecaster,
    baselines,
    forecast_bars,
    prepare,
    walk_forward,
)
from tools.forecaster._registry import ModelCard  # noqa: E402
from tools.market_data import read_bar_file  # noqa: E402

MARKET = ROOT.parent / "shared" / "data" / "market"
DATASETS = [
    # label, file, timeframe, test block, transformer refit_every, rolling window
    ("BTC/USDT 1d", MARKET / "crypto_1d" / "BTCUSDT_1d.csv", "1d", 250, 2, None),
    ("ETH/USDT 1d", MARKET / "crypto_1d" / "ETHUSDT_1d.csv", "1d", 250, 2, None),
    ("BTC/USDT 1h", MARKET / "crypto_intraday" / "BTC_USDT-1h.csv.gz", "1h", 500, 3, 3000),
]
HORIZON = 5


def _card_for(model: PatchTSTForecaster, label: str, tf: str) -> ModelCard:
    assert model.scaler is not None
    return ModelCard(
        model_id=f"bench-{label}", kind="patchtst", symbol=label.split()[0], timeframe=tf,
        data_start="", data_end="1970-01-01T00:00:00+00:00", n_bars=0, features=[],
        quantiles=[0.1, 0.5, 0.9], hyperparameters=model.config.to_json(), seed=model.seed,
        code_version="", torch_version=torch.__version__, trained_at="", train_seconds=0.0,
        scaler=model.scaler.to_json(), target_scale=model.target_scale,
    )  # fmt: skip


def latency_ms(fn: Any, repeat: int) -> tuple[float, float]:
    for _ in range(10):
        fn()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1e3)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def transformers(config: PatchConfig, seeds: list[int], refit_every: int) -> list[Any]:
    """One transformer per seed, so the table shows how much the seed alone moves it."""
    models = []
    for seed in seeds:
        model = PatchTSTForecaster(config, seed, refit_every)
        model.name = f"patchtst seed {seed}"
        models.append(model)
    return models


def run_dataset(spec: tuple[Any, ...], config: PatchConfig, seeds: list[int], repeat: int) -> dict:
    label, path, tf, test_size, refit_every, max_train = spec
    frame = read_bar_file(path, timeframe=tf).frame
    data = prepare(frame, HORIZON)
    models = [*transformers(config, seeds, refit_every), *baselines(HORIZON)]
    began = time.perf_counter()
    result = walk_forward(data, models, data.n // 2, test_size, max_train=max_train)
    wf_seconds = time.perf_counter() - began
    final = PatchTSTForecaster(config, seeds[0])
    final.fit(data, data.n)
    card = _card_for(final, label, tf)
    p50, p99 = latency_ms(lambda: forecast_bars(final, card, frame, HORIZON), repeat)
    ar = LinearAR(HORIZON)
    ar.fit(data, data.n)
    last = np.array([data.n - 1])
    ar50, ar99 = latency_ms(
        lambda: ar.predict(prepare(frame.iloc[-100:], 1), last - data.n + 100), repeat
    )
    return {
        "label": label, "bars": data.n, "first": frame.index[0], "last": frame.index[-1],
        "origins": len(result.origins), "folds": len(result.folds),
        "all": result.metrics(), "h1": result.metrics(horizon_step=1),
        "fit_seconds": result.fit_seconds, "wf_seconds": wf_seconds,
        "train_seconds": final.train_seconds, "latency": (p50, p99), "ar_latency": (ar50, ar99),
    }  # fmt: skip


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def print_report(r: dict) -> None:
    print(
        f"\n### {r['label']}: {r['bars']:,} bars {r['first']:%Y-%m-%d} → {r['last']:%Y-%m-%d}; "
        f"{r['folds']} folds, {r['origins']:,} test origins, horizon 1–{HORIZON}\n"
    )
    print("| model | MASE (h1–5) | MASE (h1) | pinball (h1–5) | CRPS≈ (h1–5) | 80% cover | "
          "direction h1 | binom. p |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, m in r["all"].items():
        h1 = r["h1"][name]
        print(
            f"| {name} | {m['mase']:.4f} | {h1['mase']:.4f} | {m['pinball']:.6f} | "
            f"{m['crps']:.6f} | {m['coverage_80']:.3f} | {_fmt(h1['direction'], '.3f')} | "
            f"{_fmt(h1['direction_p'], '.3g')} |"
        )
    fits = ", ".join(f"{k} {v:.1f} s" for k, v in r["fit_seconds"].items())
    print(f"\nwalk-forward {r['wf_seconds']:.1f} s (fitting: {fits})")
    p50, p99 = r["latency"]
    a50, a99 = r["ar_latency"]
    print(
        f"one fit on all {r['bars']:,} bars: {r['train_seconds']:.1f} s; forecast latency "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms (linear AR, same path: p50 {a50:.2f} ms, "
        f"p99 {a99:.2f} ms; transformer ÷ AR at p50 {p50 / a50:.1f}×)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=PatchConfig().epochs)
    parser.add_argument("--seeds", default="0,1,2", help="transformer seeds, comma-separated")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    if not MARKET.is_dir():
        sys.exit(f"{MARKET} is absent: this benchmark needs ../shared/data")
    torch.set_num_threads(1)
    config = PatchConfig(horizon=HORIZON, epochs=args.epochs)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"config: {config.to_json()}, seeds {seeds}, torch {torch.__version__}, 1 thread")
    began = time.perf_counter()
    for spec in DATASETS:
        print_report(run_dataset(spec, config, seeds, args.repeat))
    print(f"\ntotal {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
