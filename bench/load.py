"""Load: how many requests a server answers, and how fast, from other processes on the same machine.

    .venv/bin/python bench/load.py [--engine sqlite|postgresql|both] [--seconds 10] [--workers 1] [--rate 500]

1. Throughput of `GET /api/accounts/{id}`: 4 client processes, each on one keep-alive connection, ask as fast as
   answers come, for `--seconds`; prints requests/s and p50 / p99.
2. A mix at a fixed rate, 500 requests/s by default (open loop: each request leaves at its scheduled instant, and its latency counts
   from that instant, so a slow server cannot hide its queue): 60% `GET /api/accounts/{id}`, 15% `GET
   /api/customers`, 10% `PATCH /api/accounts/{id}`, 15% `POST /api/ingest`; prints p50 / p99 / max and errors.
Nothing here is a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
ACCOUNTS = 100


def seed(url: str) -> str:
    from ingest import seed_catalog  # 1,000 accounts, one schema, 3 meters

    return seed_catalog(url)


def _reader(args: tuple[str, str, float]) -> list[float]:
    base, token, seconds = args
    latencies = []
    rng = random.Random()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            response = http.get(f"/api/accounts/acct-{rng.randrange(ACCOUNTS)}")
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(response.text)
    return latencies


async def _mix(base: str, token: str, rate: float, seconds: float, seed_: int) -> tuple[list[float], int]:
    rng = random.Random(seed_)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30, limits=limits) as http:
        start = time.perf_counter()

        async def one(n: int, due: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            account = f"acct-{rng.randrange(ACCOUNTS)}"
            pick = rng.random()
            if pick < 0.60:
                request = http.get(f"/api/accounts/{account}")
            elif pick < 0.75:
                request = http.get("/api/customers", params={"pageSize": 20})
            elif pick < 0.85:
                request = http.patch(f"/api/accounts/{account}", json={"netTermDays": rng.randrange(30)})
            else:
                request = http.post("/api/ingest", json={"event": {
                    "schemaName": "api_calls", "id": f"load-{seed_}-{n}", "accountId": account,
                    "timestamp": datetime.now(timezone.utc).isoformat(),
                    "attributes": [{"name": "calls", "value": "1"}, {"name": "bytes", "value": "10"}],
                    "dimensions": {"region": "us"}}})
            try:
                response = await request
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - due)

        total = int(rate * seconds)
        await asyncio.gather(*(one(n, start + n / rate) for n in range(total)))
    return latencies, errors


def _mix_process(args: tuple[str, str, float, float, int]) -> tuple[list[float], int]:
    return asyncio.run(_mix(*args))


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000 if len(values) > 100 else max(values) * 1000


def run(engine: str, seconds: float, workers: int, rate: float) -> None:
    from conftest import start_server, stop_server
    from ingest import drop_database, fresh_database

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(engine, Path(tmp), "load")
        try:
            token = seed(url)
            process, base = start_server(url, Path(tmp) / "server.log", workers=workers)
            try:
                with mp.Pool(4) as pool:
                    started = time.perf_counter()
                    parts = pool.map(_reader, [(base, token, seconds)] * 4)
                    elapsed = time.perf_counter() - started
                reads = [x for part in parts for x in part]
                print(f"{engine:10}  GET /api/accounts/{{id}}: {len(reads) / elapsed:8,.0f} requests/s   "
                      f"p50 {pct(reads, 50):6.1f} ms   p99 {pct(reads, 99):6.1f} ms")
                with mp.Pool(2) as pool:
                    parts = pool.map(_mix_process, [(base, token, rate / 2, seconds, k) for k in range(2)])
                mix = [x for part, _ in parts for x in part]
                errors = sum(e for _, e in parts)
                print(f"{engine:10}  mix at {rate:.0f} requests/s: p50 {pct(mix, 50):6.1f} ms   p99 {pct(mix, 99):6.1f} ms   "
                      f"max {max(mix) * 1000:6.1f} ms   errors {errors} of {len(mix)}")
            finally:
                stop_server(process)
        finally:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=500, help="requests/s of the mix")
    args = parser.parse_args()
    for engine in (["sqlite", "postgresql"] if args.engine == "both" else [args.engine]):
        run(engine, args.seconds, args.workers, args.rate)


if __name__ == "__main__":
    main()
