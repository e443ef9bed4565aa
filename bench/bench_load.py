"""Load benchmark of the REST service on loopback: cached vs uncached forecasts vs /healthz.

Starts ``uvicorn service.app:create_app`` on a temporary SQLite database, posts a synthetic
ladder (10 models x 20 tasks) through the API, then drives each scenario with 50 concurrent
clients, bounded by a request count and a time limit:

- ``healthz``: the trivial endpoint (a ``SELECT 1``), the peer everything is compared with;
- ``forecast cached``: the same forecast query again and again (stored forecast reused);
- ``forecast uncached``: every request a new query (a different ``alpha``), so each one fits the
  predictor and its backtest.

Prints throughput and p50/p99 latency per scenario and the ratios between them.

    .venv/bin/python bench/bench_load.py [--clients 50] [--requests 2000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Result:
    name: str
    latencies: list[float]
    errors: int
    wall: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ladder() -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in np.geomspace(2e7, 1e9, 10):
        for j in range(20):
            c = 6 * n * 20 * n
            acc = 0.25 + 0.75 * np.exp(-(0.8 + 0.05 * j) * (c / 1e18) ** -0.3)
            rows.append({"model": f"m-{n:.3g}", "family": "bench", "n_params": n,
                         "n_tokens": 20 * n, "benchmark": f"task_{j:02d}", "metric": "acc",
                         "value": float(acc + rng.normal(0, 0.004))})  # fmt: skip
    return rows


async def _drive(
    name: str, client: httpx.AsyncClient, make_request, clients: int, total: int, seconds: float
) -> Result:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            method, url, body = make_request(i)
            start = time.perf_counter()
            try:
                resp = await client.request(method, url, json=body)
                ok = resp.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return Result(name, latencies, errors, time.perf_counter() - start)


async def _run(base: str, key: str, args: argparse.Namespace) -> list[Result]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600, limits=limits) as c:
        resp = await c.post("/v1/measurements", json={"source": "bench", "rows": _ladder()})
        resp.raise_for_status()
        query = {"method": "exponential", "benchmark": "task_03", "family": "bench",
                 "target": {"n_params": 7e9, "n_tokens": 1.4e11}}  # fmt: skip
        (await c.post("/v1/forecasts", json=query)).raise_for_status()  # warm the cache
        results = [
            await _drive("healthz", c, lambda i: ("GET", "/healthz", None),
                         args.clients, args.requests, args.seconds),
            await _drive("forecast cached", c, lambda i: ("POST", "/v1/forecasts", query),
                         args.clients, args.requests, args.seconds),
            await _drive("forecast uncached", c,
                         lambda i: ("POST", "/v1/forecasts", {**query, "alpha": 0.1 + 1e-6 * (i + 1)}),
                         args.clients, args.uncached_requests, args.uncached_seconds),
        ]  # fmt: skip
        metrics = (await c.get("/metrics")).text
    hits = [ln for ln in metrics.splitlines() if ln.startswith("capcast_forecast_cache_")]
    print("server counters: " + "; ".join(h for h in hits if "_created" not in h))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="per fast scenario")
    parser.add_argument("--seconds", type=float, default=30, help="per fast scenario")
    parser.add_argument("--uncached-requests", type=int, default=100)
    parser.add_argument("--uncached-seconds", type=float, default=120)
    args = parser.parse_args()

    from db import migrate
    from db.session import make_engine, transaction
    from service.auth import create_key

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with transaction(engine) as session:
            _, key = create_key(session=session, name="bench", scopes=["write"])
        engine.dispose()
        port = _free_port()
        env = {**os.environ, "CAPCAST_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            results = asyncio.run(_run(base, key, args))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    print(f"\n{args.clients} concurrent clients, loopback, one uvicorn worker, SQLite")
    print(f"{'scenario':<20}{'ok':>7}{'errors':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results:
        print(f"{r.name:<20}{len(r.latencies):>7}{r.errors:>8}{r.throughput:>10.1f}"
              f"{r.pct(50):>10.1f}{r.pct(99):>10.1f}")  # fmt: skip
    health, cached, uncached = results
    print("\nratios")
    print(f"  p50 cached / healthz        {cached.pct(50) / health.pct(50):8.1f}x")
    print(f"  p50 uncached / cached       {uncached.pct(50) / cached.pct(50):8.1f}x")
    print(f"  throughput healthz / cached {health.throughput / cached.throughput:8.1f}x")
    print(f"  throughput cached / uncached {cached.throughput / uncached.throughput:7.1f}x")


if __name__ == "__main__":
    main()
