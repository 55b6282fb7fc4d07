"""A soak run: the autopilot on a simulated clock, hour by hour, with API clients reading
at the same time, on loopback only.

    nice -n 10 .venv/bin/python bench/soak.py [--hours 720] [--readers 4] [--load 1,8,32]

One throwaway TILLER_HOME with five equities of the shared data (StockNet, 2012-09 →
2017-09, imported through the product's importer), one hourly autopilot job on all five
(offline rules reasoner, paper broker, the autopilot's limits profile), replaying one
stored daily bar per slot. Three processes share the ledger (SQLite):

- a real ``tiller serve`` on 127.0.0.1 (a free port);
- the writer: this script re-run with ``--writer``, a leader whose wall clock is a fixed
  clock advanced one hour per slot (APScheduler fires each slot as in production);
- the readers (this process): ``--readers`` clients looping over GET /v1/portfolio,
  /v1/orders, /v1/runs, /v1/risk and, every 50th request, /v1/audit/verify. First, while
  the writer runs, bench/api.py's read load (GET /v1/portfolio at ``--load`` clients),
  against GET /healthz on the same server as the named competitor.

Reported: slots done/failed/skipped, run errors, reader errors and latency, the writer's
and the server's RSS at the start (after warm-up) and at the end, and the ledger checks
at the end (the audit chain verifies; positions equal the fills' sum; no fill over the
profile's order and position caps).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose agents.py would shadow the package
SHARED = Path(os.environ.get("TILLER_SHARED_DATA", ROOT.parent / "shared" / "data"))
SYMBOLS = ["AAPL", "MSFT", "JPM", "XOM", "PG"]
WALL = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
START = datetime(2012, 9, 4, tzinfo=UTC)
READS = ("/v1/portfolio", "/v1/orders", "/v1/runs?limit=20", "/v1/risk")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the writer (a process of its own) -------------------------------------------------------
def writer(home: Path, hours: int, progress: Path) -> None:
    from app.autopilot import Autopilot, AutopilotSettings, JobSpec, profile_limits
    from app.autopilot._leader import Leader
    from app.autopilot._lock import ProcessLock
    from app.autopilot._scheduler import schedule
    from app.bootstrap import build
    from core.clock import FixedClock

    c = build(home=home)
    wall = FixedClock(WALL)
    pilot = Autopilot(container=c, settings=AutopilotSettings(cycle_s=0.05, mark_every_s=0.05),
                      limits=profile_limits(c.limits), clock=wall)  # fmt: skip
    spec = JobSpec(name="soak", symbols=SYMBOLS, every=timedelta(hours=1), replay_from=START)
    leader = Leader(pilot=pilot, lock=ProcessLock(), workers=0)
    leader.lock.acquire()
    leader.open()
    errors: list[str] = []
    t0 = time.perf_counter()
    try:
        pilot.store.add(spec, wall.now())
        schedule(leader.scheduler, spec)
        for hour in range(hours):
            wall.advance(timedelta(hours=1))
            leader.scheduler.modify_job("soak", next_run_time=datetime.now(UTC))
            try:
                leader.scheduler.run_due()
                why = leader.cycle()
                if why is not None:
                    errors.append(f"hour {hour}: leader stopped: {why}")
            except Exception as exc:  # counted and reported; the soak goes on
                errors.append(f"hour {hour}: {type(exc).__name__}: {exc}")
            progress.write_text(json.dumps({"hour": hour + 1, "rss_mib": rss_mib(os.getpid()),
                                            "seconds": time.perf_counter() - t0}))  # fmt: skip
    finally:
        leader.close()
    slots = pilot.store.slots("soak")
    by_status: dict[str, int] = defaultdict(int)
    for s in slots:
        by_status[s.status] += 1
    failed = [s.outcome for s in slots if s.status == "failed"][:5]
    print(json.dumps({"slots": len(slots), "by_status": by_status, "errors": errors[:10],
                      "error_count": len(errors), "failed_examples": failed,
                      "seconds": time.perf_counter() - t0,
                      "checks": ledger_checks(c, pilot.limits)}))  # fmt: skip


def ledger_checks(c: Any, limits: Any) -> dict[str, Any]:
    from core.types import Side

    fills = c.ledger.fills()
    held: dict[str, Decimal] = defaultdict(Decimal)
    over: list[str] = []
    for fill in sorted(fills, key=lambda f: f.ts):
        held[str(fill.symbol)] += fill.quantity if fill.side is Side.BUY else -fill.quantity
        if abs(held[str(fill.symbol)]) * fill.price > limits.max_position_notional:
            over.append(f"position {fill.symbol} after fill {fill.ts}")
    positions = {str(p.symbol): p.quantity for p in c.ledger.positions(venue="paper")}
    cap = limits.max_order_notional * Decimal("1.01")  # a fill may sit off the quote
    for order in c.ledger.orders():
        price = order.avg_fill_price
        if order.filled_qty and price is not None and order.filled_qty * price > cap:
            over.append(f"order {order.client_order_id} notional")
    return {
        "audit_ok": bool(c.ledger.audit.verify().ok),
        "orders": len(c.ledger.orders()),
        "fills": len(fills),
        "positions_match_fills": {s: q for s, q in positions.items() if q}
        == {s: q for s, q in held.items() if q},
        "over_limits": over[:5],
    }


# -- the readers (this process) --------------------------------------------------------------
class Readers:
    def __init__(self, base: str, key: str, clients: int) -> None:
        self.base, self.key, self.clients = base, key, clients
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        headers = {"X-API-Key": self.key}
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=120) as client:

            async def loop(worker: int) -> None:
                n = 0
                while not self.stop.is_set():
                    n += 1
                    path = "/v1/audit/verify" if n % 50 == 0 else READS[(n + worker) % len(READS)]
                    t0 = time.perf_counter()
                    try:
                        r = await client.get(path)
                        if r.status_code >= 400:
                            self.errors.append(f"{path}: {r.status_code} {r.text[:200]}")
                        elif path == "/v1/audit/verify" and r.json().get("ok") is not True:
                            self.errors.append(f"audit verify not ok: {r.text[:200]}")
                    except httpx.HTTPError as exc:
                        self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                    self.latencies.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.05)

            await asyncio.gather(*(loop(w) for w in range(self.clients)))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=720, help="simulated hours (720: a month)")
    parser.add_argument("--readers", type=int, default=4, help="concurrent reading clients")
    parser.add_argument("--load", default="1,8,32", help="bench/api.py read load levels")
    parser.add_argument("--reads", type=int, default=300, help="requests per load level")
    parser.add_argument("--writer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--progress", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args.writer, args.hours, args.progress)
        return
    soak(args)


def prepare(home: Path) -> None:
    from app.bootstrap import build
    from tools.market_data import import_path

    c = build(home=home)
    for symbol in SYMBOLS:
        result = import_path(c.store, SHARED / "market" / "equities_1d" / "stocknet"
                             / f"{symbol}_1d.csv", symbol=symbol, max_change=None)  # fmt: skip
        if result.failed:
            raise SystemExit(f"could not import {symbol}: {result.failed}")
    c.ledger.close()


def _stop_on_term() -> None:
    """SIGTERM ends the soak through ``finally`` (the server and the writer stop too)."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)


def soak(args: argparse.Namespace) -> None:
    _stop_on_term()
    import importlib.util

    # bench/api.py: its server start-up and its load loop
    spec = importlib.util.spec_from_file_location("api_bench", ROOT / "bench" / "api.py")
    assert spec is not None and spec.loader is not None
    api_bench = importlib.util.module_from_spec(spec)
    sys.modules["api_bench"] = api_bench
    spec.loader.exec_module(api_bench)

    with tempfile.TemporaryDirectory(prefix="tiller-soak-") as tmp:
        home = Path(tmp) / "home"
        prepare(home)
        port = api_bench.free_port()
        base = f"http://127.0.0.1:{port}"
        server, keys = api_bench.start_server(home, port)
        progress = Path(tmp) / "progress.json"
        t0 = time.perf_counter()
        env = {**os.environ, "TILLER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.Popen(
            [sys.executable, __file__, "--writer", str(home), "--hours", str(args.hours),
             "--progress", str(progress)], stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            while not progress.exists() and proc.poll() is None:
                time.sleep(0.5)
            first = json.loads(progress.read_text()) if progress.exists() else {}
            start_rss = {"writer": first.get("rss_mib"), "server": rss_mib(server.pid)}
            print(f"server {base}; writer started; RSS after the first slot: {start_rss}")
            viewer = {"X-API-Key": keys["viewer"]}
            print("\nRead load while the autopilot writes:")
            print("\n| endpoint | clients | requests | errors | req/s | p50 ms | p99 ms |")
            print("|---|---|---|---|---|---|---|")
            for clients in [int(x) for x in args.load.split(",") if x]:
                for name, path, headers in (
                    ("GET /healthz", "/healthz", {}),
                    ("GET /v1/portfolio", "/v1/portfolio", viewer),
                ):
                    level = asyncio.run(api_bench.load(
                        base, name, clients, args.reads,
                        lambda c, p=path, h=headers: c.get(p, headers=h)))  # fmt: skip
                    print(level.row(), flush=True)
            readers = Readers(base, keys["viewer"], args.readers)
            readers.thread.start()
            last = 0
            while proc.poll() is None:
                time.sleep(5)
                now = json.loads(progress.read_text())
                if now["hour"] // 48 != last // 48:
                    print(f"  hour {now['hour']}/{args.hours}: writer RSS {now['rss_mib']:.0f} "
                          f"MiB, server RSS {rss_mib(server.pid):.0f} MiB, "
                          f"{now['seconds']:.0f} s", flush=True)  # fmt: skip
                last = now["hour"]
            end_server_rss = rss_mib(server.pid)
            readers.stop.set()
            readers.thread.join(timeout=120)
            out, _ = proc.communicate()
        finally:
            server.terminate()
            server.wait(timeout=120)
            if proc.poll() is None:
                proc.kill()
        last_progress = json.loads(progress.read_text())
        result = json.loads(out.decode().strip().splitlines()[-1])
    wall = time.perf_counter() - t0
    print(f"\nSimulated {args.hours} hourly slots on {', '.join(SYMBOLS)} in {wall:,.0f} s")
    print(f"slots: {result['slots']} {dict(result['by_status'])}; writer errors: "
          f"{result['error_count']} {result['errors']}; failed slots: "
          f"{result['failed_examples']}")  # fmt: skip
    print(f"ledger: {result['checks']}")
    print(f"readers: {len(readers.latencies)} requests, {len(readers.errors)} errors "
          f"{readers.errors[:5]}; p50 {pct(readers.latencies, 0.5):.1f} ms, "
          f"p99 {pct(readers.latencies, 0.99):.1f} ms")  # fmt: skip
    print(f"RSS writer: start {start_rss['writer']:.0f} MiB, end "
          f"{last_progress['rss_mib']:.0f} MiB; server: start {start_rss['server']:.0f} MiB, "
          f"end {end_server_rss:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
