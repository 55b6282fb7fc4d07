"""Beyond one machine: agent runs per second on the run queue, and GA fitness evaluations
per minute on Ray against the process pool.

    .venv/bin/python bench/scale.py [--part queue|ray|all] [--runs 40] [--population 6]

queue: N offline agent runs (bundled AAPL/MSFT/IBM, copilot, one per symbol and as-of)
driven by 1 and then 2 `tiller worker` processes (concurrency 1 each) over Redis, with the
ledger and checkpoints in a fresh PostgreSQL database; the competitor is the same runs
driven one after another in one process (`start_run`, what `tiller run` does). Runs/s
counts from the first run a worker takes to the last one finished (workers warmed up by
one run first, as a long-lived worker is).

ray: `evolve` of one generation (population P, PPO fitness of T steps, forecast off) with
the process pool of 2 workers, then a local Ray of 2 CPUs; plus the round trip of an
empty Ray task and an empty pool task (what each fitness evaluation pays on top of its
work, and what a task sent to another machine would pay before its network transfer).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("TILLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TILLER_TEST_REDIS", "redis://127.0.0.1:6379/0")
EARLY = datetime(2001, 6, 1, tzinfo=UTC)
SYMBOLS = ["AAPL", "MSFT", "IBM"]


# -- queue ------------------------------------------------------------------------------
def _requests(n: int) -> list[object]:
    from agents.models import RunRequest

    return [RunRequest(symbols=[SYMBOLS[i % 3]], as_of=EARLY + timedelta(days=7 * (i // 3)))
            for i in range(n)]  # fmt: skip


def _wait(c: object, run_ids: list[str]) -> None:
    from app.services.runs import show_run

    pending = set(run_ids)
    while pending:
        pending = {r for r in pending if show_run(c, r, events=False).status == "running"}  # type: ignore[arg-type]
        time.sleep(0.1)


def _span(c: object, run_ids: list[str]) -> float:
    """Seconds from the first worker_started event to the last run_finished event."""
    from core.ledger.runlog import RunLog

    log = RunLog(c.ledger)  # type: ignore[attr-defined]
    starts, ends = [], []
    for r in run_ids:
        events = log.events(r)
        starts += [e.at for e in events if e.kind == "worker_started"]
        ends += [e.at for e in events if e.kind in ("run_finished", "awaiting_approval")]
    return (max(ends) - min(starts)).total_seconds()


def queue_part(runs: int) -> None:
    import psycopg
    from sqlalchemy import make_url

    from app.bootstrap import build
    from app.services.runs import begin_run, start_run

    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    name = f"bench_scale_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        with TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            queue = f"bench.{uuid.uuid4().hex[:8]}"
            env = {**os.environ, "TILLER_HOME": str(home), "TILLER_DATABASE_URL": url,
                   "TILLER_WORKER_BROKER": REDIS, "TILLER_WORKER_QUEUE": queue,
                   "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}  # fmt: skip
            os.environ.update({k: v for k, v in env.items() if k.startswith("TILLER_")})
            local = build(worker_broker=None)
            local.knowledge_base  # noqa: B018  (bundled news ingested once)
            requests = _requests(runs)
            start_run(local, requests[0])  # models loaded
            t = time.perf_counter()
            for req in requests:
                start_run(local, req)  # type: ignore[arg-type]
            inproc = runs / (time.perf_counter() - t)
            print(f"in one process, one after another: {runs} runs, {inproc:.2f} runs/s")

            c = build()
            results = {}
            for n_workers in (1, 2):
                procs = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            "from app.cli import main; main()",
                            "worker",
                            "--concurrency",
                            "1",
                            "--name",
                            f"b{n_workers}-{i}",
                        ],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                    for i in range(n_workers)
                ]
                try:
                    warm = [begin_run(c, requests[i]).run_id for i in range(n_workers * 2)]  # type: ignore[arg-type]
                    _wait(c, warm)
                    ids = [begin_run(c, req).run_id for req in requests]  # type: ignore[arg-type]
                    _wait(c, ids)
                    results[n_workers] = runs / _span(c, ids)
                finally:
                    for p in procs:
                        os.killpg(p.pid, signal.SIGTERM)
                    for p in procs:
                        p.wait(timeout=60)
                print(f"{n_workers} worker(s) on the queue: {results[n_workers]:.2f} runs/s "
                      f"({results[n_workers] / n_workers:.2f} per worker; "
                      f"{results[n_workers] / inproc:.2f}× one process)")  # fmt: skip
            print(f"2 workers / 1 worker: {results[2] / results[1]:.2f}×")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# -- ray ----------------------------------------------------------------------------------
def _noop() -> int:
    return 0


def ray_part(population: int, steps: list[int]) -> None:
    from concurrent.futures import ProcessPoolExecutor

    import ray
    import torch

    from tools.market_data import bundled_frame
    from tools.policy import EnvConfig, EnvFactory, EvolveConfig, Windows, evolve

    torch.set_num_threads(1)
    frame = bundled_frame("AAPL")
    factory = EnvFactory(frame, Windows.split(len(frame), max_window=30), EnvConfig())
    print(f"AAPL 1d (bundled); {os.cpu_count()} cores; population {population}, 1 generation")
    for n in steps:
        rates = {}
        for backend in ("process", "ray"):
            config = EvolveConfig(population=population, generations=1, seeds=(0,), workers=2,
                                  total_timesteps=n, n_steps_choices=(128, 256), forecast=None,
                                  backend=backend)  # type: ignore[arg-type]  # fmt: skip
            t = time.perf_counter()
            result = evolve(factory, config)
            rates[backend] = result.evaluations / (time.perf_counter() - t) * 60
        print(f"  PPO {n:>6,} steps/fitness: pool of 2 {rates['process']:6.1f}/min   "
              f"Ray local 2 CPUs {rates['ray']:6.1f}/min   Ray/pool "
              f"{rates['ray'] / rates['process']:.2f}×")  # fmt: skip

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    remote = ray.remote(num_cpus=1)(_noop)
    ray.get([remote.remote() for _ in range(20)])  # workers started
    t = time.perf_counter()
    for _ in range(200):
        ray.get(remote.remote())
    ray_rt = (time.perf_counter() - t) / 200 * 1000
    t = time.perf_counter()
    ray.get([remote.remote() for _ in range(1000)])
    ray_batch = (time.perf_counter() - t) / 1000 * 1000
    ray.shutdown()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_noop_arg, range(20)))
        t = time.perf_counter()
        for _ in range(200):
            pool.submit(_noop).result()
        pool_rt = (time.perf_counter() - t) / 200 * 1000
    print(f"empty task round trip: Ray {ray_rt:.2f} ms, process pool {pool_rt:.2f} ms "
          f"(Ray/pool {ray_rt / pool_rt:.2f}×); Ray, 1,000 submitted at once: "
          f"{ray_batch:.2f} ms a task")  # fmt: skip


def _noop_arg(_: int) -> int:
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["queue", "ray", "all"], default="all")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--ga-timesteps", type=int, nargs="+", default=[1024, 4096])
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip
    if args.part in ("queue", "all"):
        queue_part(args.runs)
    if args.part in ("ray", "all"):
        ray_part(args.population, args.ga_timesteps)


if __name__ == "__main__":
    main()
