"""The API under load, on loopback only: `GET /v1/portfolio`, `POST /v1/ask` and
`POST /v1/runs` (offline rules reasoner) at 1, 8 and 32 concurrent clients, with
throughput, p50/p99 latency and the error count.

    .venv/bin/python bench/api.py [--reads 300] [--levels 1,8,32]

A real `tiller serve` process on 127.0.0.1 (a free port, a throwaway TILLER_HOME), keys
made beforehand, the rate limit raised out of the way; the client is asyncio + httpx with
keep-alive connections in this process. Client and server share the machine's cores, so
the figures are a floor, not a capacity.

Named competitor: `GET /healthz` on the same server (FastAPI + uvicorn with no key check
and no database): the ratio says what authentication and the ledger add to a read.
`POST /v1/runs` answers 202 once the run is recorded; the runs themselves execute in the
background (2 workers) and their end-to-end rate is reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
QUESTION = {"question": "How does a trailing stop work in a backtest?"}


@dataclass
class Level:
    name: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    def row(self) -> str:
        lat = sorted(self.latencies) or [float("nan")]
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] * 1000
        rate = self.requests / self.seconds
        return (f"| {self.name} | {self.clients} | {self.requests} | {self.errors} | "
                f"{rate:,.1f} | {p50:,.1f} | {p99:,.1f} |")  # fmt: skip

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


def _starter(headers: dict[str, str], ids: list[str]) -> Callable[[httpx.AsyncClient], Any]:
    async def start(c: httpx.AsyncClient) -> httpx.Response:
        response = await c.post("/v1/runs", json={"symbols": ["AAPL"]}, headers=headers)
        if response.status_code == 202:
            ids.append(response.json()["run_id"])
        return response

    return start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    from app.bootstrap import build
    from app.services.keys import KeyRequest, create_key

    env = {
        **os.environ, "TILLER_HOME": str(home), "HF_HUB_OFFLINE": "1",
        "TILLER_API_RATE_LIMIT_PER_MINUTE": "1000000", "TILLER_API_QUEUE_SIZE": "1000",
    }  # fmt: skip
    c = build(home=home)
    c.store  # noqa: B018 - the bundled prices are loaded into the store once, here
    keys = {r: create_key(c, KeyRequest(name=f"bench-{r}", role=r)).key  # type: ignore[arg-type]
            for r in ("viewer", "trader")}  # fmt: skip
    c.ledger.close()
    server = subprocess.Popen(
        [str(BIN / "tiller"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30).status_code == 200:
                return server, keys
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the server did not become ready: {server.communicate()[1].decode()[-2000:]}")


async def load(
    base: str, name: str, clients: int, total: int, send: Callable[[httpx.AsyncClient], Any]
) -> Level:
    latencies: list[float] = []
    errors = 0
    left = total
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:

        async def worker() -> None:
            nonlocal left, errors
            while left > 0:
                left -= 1
                t0 = time.perf_counter()
                try:
                    response = await send(client)
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += 0 if ok else 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return Level(name, clients, total, errors, seconds, latencies)


def wait_for_runs(base: str, key: str, run_ids: list[str]) -> tuple[float, int]:
    """Seconds until every run paused or finished, and how many failed."""
    t0, pending, failed = time.perf_counter(), set(run_ids), 0
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as client:
        while pending:
            for run_id in list(pending):
                status = client.get(f"/v1/runs/{run_id}?events=false").json()["status"]
                if status != "running":
                    pending.discard(run_id)
                    failed += status == "failed"
            time.sleep(0.2)
    return time.perf_counter() - t0, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=300, help="GET requests per level")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients per level")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tiller-bench-api-") as tmp:
        server, keys = start_server(Path(tmp) / "home", port)
        try:
            run(base, keys, levels, args.reads)
        finally:
            server.terminate()
            server.wait(timeout=120)


def run(base: str, keys: dict[str, str], levels: list[int], reads: int) -> None:
    viewer, trader = {"X-API-Key": keys["viewer"]}, {"X-API-Key": keys["trader"]}
    # Warm up: the embedding model, the primers and the bundled news, the models.
    httpx.post(f"{base}/v1/ask", json=QUESTION, headers=viewer, timeout=600)
    first = httpx.post(f"{base}/v1/runs", json={"symbols": ["AAPL"]}, headers=trader)
    wait_for_runs(base, keys["viewer"], [first.json()["run_id"]])
    print(f"server {base}; reads per level {reads}; {os.cpu_count()} cores shared with the client")
    print("\n| endpoint | clients | requests | errors | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    floor, reads_p50 = {}, {}
    for clients in levels:
        health = asyncio.run(load(base, "GET /healthz", clients, reads,
                                  lambda c: c.get("/healthz")))  # fmt: skip
        book = asyncio.run(load(base, "GET /v1/portfolio", clients, reads,
                                lambda c: c.get("/v1/portfolio", headers=viewer)))  # fmt: skip
        floor[clients], reads_p50[clients] = health.p50, book.p50
        print(health.row())
        print(book.row())
    for clients in levels:

        def ask(c: httpx.AsyncClient) -> Any:
            return c.post("/v1/ask", json=QUESTION, headers=viewer)

        print(asyncio.run(load(base, "POST /v1/ask", clients, max(8, clients), ask)).row())
    for clients in levels:
        ids: list[str] = []
        start = _starter(trader, ids)
        print(asyncio.run(load(base, "POST /v1/runs (202)", clients, clients, start)).row())
        seconds, failed = wait_for_runs(base, keys["viewer"], ids)
        print(f"|   {len(ids)} run(s) to approval, 2 workers | {clients} | {len(ids)} | "
              f"{failed} | {len(ids) / seconds:,.2f} | — | — |")  # fmt: skip
    print(
        "\nGET /v1/portfolio p50 ÷ GET /healthz p50 (key check + ledger reads): "
        + ", ".join(f"{c} clients {reads_p50[c] / floor[c]:.2f}x" for c in levels)
    )


if __name__ == "__main__":
    main()
