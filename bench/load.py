"""Load: how many requests a server answers, and how fast, from other processes on the same machine.

    .venv/bin/python bench/load.py [--engine sqlite|postgresql|both] [--seconds 10] [--workers 1] [--rate 500]
                                   [--clients 1] [--connections 8]

The clients speak HTTP/1.1 through `rawhttp.py` (prebuilt requests, answers read by Content-Length): a general
client costs about as much CPU per request as the server, and here the clients share the 2 cores with the server.
1. Throughput of `GET /healthz` (the framework's ceiling: no authentication, no database), then of
   `GET /api/accounts/{id}`: `--clients` processes, each with `--connections` keep-alive
   connections, ask again as soon as each answer comes, for `--seconds`; prints requests/s and p50 / p99.
2. A mix at a fixed rate, 500 requests/s by default (open loop: request n is due at start + n / rate, waits for one
   of 32 connections per client, and its latency counts from the instant it was due, so a slow server cannot hide
   its queue): 60% `GET /api/accounts/{id}`, 15% `GET /api/customers`, 10% `PATCH /api/accounts/{id}`, 15%
   `POST /api/ingest`; prints p50 / p99 / max and errors.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
ACCOUNTS = 100


def seed(url: str) -> str:
    from ingest import seed_catalog  # 1,000 accounts, one schema, 3 meters

    return seed_catalog(url)


async def _reads(base: str, token: str, seconds: float, connections: int, path: str | None = None) -> list[float]:
    """Closed loop: `connections` keep-alive connections, each asking again as soon as it has its answer."""
    from rawhttp import Connection

    latencies: list[float] = []
    rng = random.Random()
    end = time.perf_counter() + seconds

    async def loop() -> None:
        conn = await Connection.open(base, token)
        try:
            while time.perf_counter() < end:
                started = time.perf_counter()
                status, body = await conn.request("GET", path or f"/api/accounts/acct-{rng.randrange(ACCOUNTS)}")
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(body.decode())
        finally:
            conn.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return latencies


def _reader(args: tuple[str, str, float, int, str | None]) -> list[float]:
    return asyncio.run(_reads(*args))


async def _mix(base: str, token: str, rate: float, seconds: float, seed_: int, connections: int) -> tuple[list[float], int]:
    """Open loop: request n is due at start + n / rate and waits for a free connection; its latency counts from the
    instant it was due, so a slow server cannot hide its queue."""
    from rawhttp import Connection

    rng = random.Random(seed_)
    latencies: list[float] = []
    errors = 0
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await Connection.open(base, token))
    start = time.perf_counter()

    async def one(n: int, due: float) -> None:
        nonlocal errors
        conn = await free.get()
        account = f"acct-{rng.randrange(ACCOUNTS)}"
        pick = rng.random()
        try:
            if pick < 0.60:
                status, _ = await conn.request("GET", f"/api/accounts/{account}")
            elif pick < 0.75:
                status, _ = await conn.request("GET", "/api/customers?pageSize=20")
            elif pick < 0.85:
                status, _ = await conn.request("PATCH", f"/api/accounts/{account}", {"netTermDays": rng.randrange(30)})
            else:
                status, _ = await conn.request("POST", "/api/ingest", {"event": {
                    "schemaName": "api_calls", "id": f"load-{seed_}-{n}", "accountId": account,
                    "timestamp": datetime.now(timezone.utc).isoformat(),
                    "attributes": [{"name": "calls", "value": "1"}, {"name": "bytes", "value": "10"}],
                    "dimensions": {"region": "us"}}})
            if status >= 400:
                errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn = await Connection.open(base, token)
        latencies.append(time.perf_counter() - due)
        free.put_nowait(conn)

    tasks = []
    for n in range(int(rate * seconds)):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.ensure_future(one(n, due)))
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait().close()
    return latencies, errors


def _mix_process(args: tuple[str, str, float, float, int, int]) -> tuple[list[float], int]:
    return asyncio.run(_mix(*args))


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000 if len(values) > 100 else max(values) * 1000


def run(engine: str, seconds: float, workers: int, rate: float, clients: int, connections: int) -> None:
    from conftest import start_server, stop_server
    from ingest import drop_database, fresh_database

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(engine, Path(tmp), "load")
        try:
            token = seed(url)
            process, base = start_server(url, Path(tmp) / "server.log", workers=workers)
            try:
                for label, path in (("GET /healthz (no auth, no database)", "/healthz"),
                                    ("GET /api/accounts/{id}", None)):
                    with mp.Pool(clients) as pool:
                        parts = pool.map(_reader, [(base, token, seconds, connections, path)] * clients)
                    reads = [x for part in parts for x in part]
                    print(f"{engine:10}  {label}: {len(reads) / seconds:8,.0f} requests/s   "
                          f"p50 {pct(reads, 50):6.1f} ms   p99 {pct(reads, 99):6.1f} ms   "
                          f"({workers} server processes; {clients} client processes x {connections} connections)")
                with mp.Pool(clients) as pool:
                    parts = pool.map(_mix_process, [(base, token, rate / clients, seconds, k, 32) for k in range(clients)])
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
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per client process (reads)")
    args = parser.parse_args()
    for engine in (["sqlite", "postgresql"] if args.engine == "both" else [args.engine]):
        run(engine, args.seconds, args.workers, args.rate, args.clients, args.connections)


if __name__ == "__main__":
    main()
