"""Backtester throughput against vectorbt and backtesting.py, measured in one run.

    .venv/bin/python bench/backtest.py [--sizes 1e5,1e6,1e7] [--repeat 3] [--no-sweep]

Every engine runs the same rule on the same synthetic 1-minute candles: long-only
SMA(10)/SMA(50) crossover, signal at a bar's close, fill at the next bar's open, 0.1 %
fee on each fill, all-in sizing. Timed work is everything from OHLC arrays to a final
equity and trade count (indicators, signals, simulation, metrics); imports and JIT
warm-up are excluded (each engine runs once on small data first). The best of
``--repeat`` runs is reported, because the machine is shared and noise only adds time.

vectorbt traps avoided (see ../shared/docs/NOTES.md): orders below its 1e-12 size
tolerance are dropped silently, so an account that fees have shrunk stops trading; and
``final_value()`` cancels catastrophically near total loss. Both engines therefore start
with 1e200 of cash and we read the last point of ``value()``. Each run's trade count and
final equity are compared, so a ratio is only printed for engines that agree.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# backtesting.py draws a tqdm progress bar per run; keep the table readable.
os.environ.setdefault("TQDM_DISABLE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.backtest import run_backtest, sweep  # noqa: E402
from tools.strategy import preset  # noqa: E402

FEE = 0.001
CASH = 1e200
FAST, SLOW = 10, 50


def candles(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 0.0002, n - 1))
    spread = np.abs(rng.normal(0.0, 0.0005, n))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    index = pd.date_range("2000-01-01", periods=n, freq="1min", tz="UTC").as_unit("ns")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index
    )


def spec() -> Any:
    return preset("sma-cross", fee_rate=FEE, initial_cash=Decimal(CASH))


def run_ours(f: pd.DataFrame) -> tuple[int, float]:
    result = run_backtest(spec(), f, symbol="BTC/USDT", timeframe="1m")
    return int(result.metrics["n_trades"]), result.final_equity


def naive_utc(f: pd.DataFrame) -> pd.DataFrame:
    """vectorbt 1.2.0 is ~100x slower on a tz-aware index (its crossed_above and value()
    went from 0.1 s to 10 s at 1e6 candles here); hand it a naive UTC index, its fast
    path, so the comparison is against vectorbt at its best."""
    g = f.copy()
    g.index = g.index.tz_localize(None)
    return g


def run_vectorbt(f: pd.DataFrame) -> tuple[int, float]:
    import vectorbt as vbt

    fast = vbt.MA.run(f.close, FAST)
    slow = vbt.MA.run(f.close, SLOW)
    entries = fast.ma_crossed_above(slow)
    exits = fast.ma_crossed_below(slow)
    pf = vbt.Portfolio.from_signals(
        f.close,
        entries.shift(1, fill_value=False),
        exits.shift(1, fill_value=False),
        price=f.open,
        fees=FEE,
        init_cash=CASH,
        freq="1min",
    )
    return int(pf.trades.count()), float(pf.value().iloc[-1])


def run_backtesting_py(f: pd.DataFrame) -> tuple[int, float]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(values: Any, n: int) -> Any:
        return pd.Series(values).rolling(n).mean().to_numpy()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    data = f.rename(columns=str.capitalize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(data, SmaCross, cash=CASH, commission=FEE, finalize_trades=True)
        stats = bt.run()
    return int(stats["# Trades"]), float(stats["Equity Final [$]"])


def bandwidth_bound(f: pd.DataFrame) -> float:
    """Candles/s of one pass that only reads the five float64 columns (numba)."""
    from numba import njit

    @njit(cache=False, nogil=True)
    def touch(o, h, low, c, v):  # type: ignore[no-untyped-def]
        acc = 0.0
        for i in range(o.shape[0]):
            acc += o[i] + h[i] + low[i] + c[i] + v[i]
        return acc

    cols = [
        np.ascontiguousarray(f[c].to_numpy()) for c in ("open", "high", "low", "close", "volume")
    ]
    touch(*[c[:10] for c in cols])
    return len(f) / best_of(lambda: touch(*cols), 5)[0]


def best_of(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_memory_child(n: int) -> dict[str, float]:
    """Peak resident memory of a fresh process that builds n candles and backtests them.

    Read from /proc (VmHWM): ``ru_maxrss`` would report the parent's peak, because
    Linux carries it across fork and exec.
    """
    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
sys.path.insert(0, {str(ROOT / "bench")!r})
from backtest import candles, run_ours, vm_hwm_mib
run_ours(candles(2000))
base = vm_hwm_mib()
f = candles({n})
data = vm_hwm_mib()
run_ours(f)
print(json.dumps({{"baseline_mib": base, "with_data_mib": data, "peak_mib": vm_hwm_mib()}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def agree(a: tuple[int, float], b: tuple[int, float]) -> bool:
    return a[0] == b[0] and abs(a[1] / b[1] - 1) < 1e-9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bt-max", type=float, default=1e6, help="largest size for backtesting.py")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]

    import backtesting
    import vectorbt

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, numpy {np.__version__}, "
        f"vectorbt {vectorbt.__version__}, backtesting.py {backtesting.__version__}"
    )
    warm = candles(5_000)
    run_ours(warm)  # imports and JIT compilation, excluded from timing
    run_vectorbt(naive_utc(warm))
    run_backtesting_py(naive_utc(warm))

    print(
        "\nSMA(10/50) crossover, next-open fills, 0.1% fee; candles per second (best of "
        f"{args.repeat})"
    )
    header = f"{'candles':>10} {'ours':>12} {'vectorbt':>12} {'bt.py':>10} {'ours/vbt':>9} " \
             f"{'ours/bt.py':>10} {'of bound':>9} {'trades':>8} {'agree':>6}"  # fmt: skip
    print(header)
    for n in sizes:
        f = candles(n)
        bound = bandwidth_bound(f)
        t_ours, r_ours = best_of(lambda f=f: run_ours(f), args.repeat)
        g = naive_utc(f)
        t_vbt, r_vbt = best_of(lambda g=g: run_vectorbt(g), args.repeat)
        ok = agree(r_ours, r_vbt)
        bt_cell, bt_ratio = "-", "-"
        if n <= args.bt_max:
            t_bt, _ = best_of(lambda g=g: run_backtesting_py(g), 1)
            bt_cell, bt_ratio = f"{n / t_bt:10.3g}", f"{t_bt / t_ours:10.0f}×"
        print(
            f"{n:>10.0e} {n / t_ours:12.3g} {n / t_vbt:12.3g} {bt_cell:>10} "
            f"{t_vbt / t_ours:8.1f}× {bt_ratio:>10} {n / t_ours / bound:8.1%} "
            f"{r_ours[0]:>8} {'yes' if ok else 'NO':>6}"
        )
        del f, g
        gc.collect()

    if not args.no_memory:
        mem = peak_memory_child(max(sizes))
        print(
            f"\npeak RSS, fresh process, {max(sizes):.0e} candles: {mem['peak_mib']:.0f} MiB "
            f"(interpreter+libraries {mem['baseline_mib']:.0f} MiB, with data "
            f"{mem['with_data_mib']:.0f} MiB); limit 2048 MiB"
        )
    if not args.no_sweep:
        run_sweep(args.repeat)


def run_sweep(repeat: int) -> None:
    import vectorbt as vbt

    n = 1_000_000
    f = candles(n, seed=1)
    g = naive_utc(f)
    fasts = [5, 8, 10, 12, 15, 20, 25, 30, 40, 50]
    slows = [60, 80, 100, 120, 150, 180, 200, 250, 300, 400]
    grid = [
        {"indicators.fast.window": a, "indicators.slow.window": b} for a in fasts for b in slows
    ]
    base = spec()

    def ours(workers: int) -> pd.DataFrame:
        table = sweep(base, f, grid, symbol="BTC/USDT", timeframe="1m", workers=workers)
        return table

    def theirs() -> Any:
        fast = vbt.MA.run(g.close, [a for a in fasts for _ in slows], short_name="fast")
        slow = vbt.MA.run(g.close, [b for _ in fasts for b in slows], short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        pf = vbt.Portfolio.from_signals(
            g.close, entries.shift(1, fill_value=False), exits.shift(1, fill_value=False),
            price=g.open, fees=FEE, init_cash=CASH, freq="1min",
        )  # fmt: skip
        return pf.trades.count().to_numpy(), pf.value().iloc[-1].to_numpy()

    t1, table = best_of(lambda: ours(1), repeat)
    t2, _ = best_of(lambda: ours(2), repeat)
    tv, (v_trades, v_final) = best_of(theirs, 1)
    ok = bool(
        np.array_equal(table["n_trades"].to_numpy(), v_trades)
        and np.allclose(table["final_equity"].to_numpy(), v_final, rtol=1e-9)
    )
    print(f"\nparameter sweep: {len(grid)} SMA pairs over {n:.0e} candles")
    print(f"  ours, 1 thread : {t1:6.2f} s  ({len(grid) * n / t1:.3g} candle-runs/s)")
    print(f"  ours, 2 threads: {t2:6.2f} s")
    print(f"  vectorbt (broadcast, one call): {tv:6.2f} s")
    print(
        f"  ratio vectorbt/ours: {tv / t1:.1f}× (1 thread), {tv / t2:.1f}× (2 threads); "
        f"results agree: {'yes' if ok else 'NO'}"
    )


if __name__ == "__main__":
    main()
