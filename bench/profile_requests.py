"""Where a request's time goes, in-process: the whole ASGI app (middleware, routing, authentication, the unit of work,
the endpoint, serialization), called directly without sockets, so the figure is the server's own CPU per request.

    .venv/bin/python bench/profile_requests.py [--engine sqlite|postgresql] [--requests 1000] [--rounds 3]
                                               [--only healthz,account,...] [--profile NAME]

Seeds the load bench's database (bench/load.py: accounts, a metered and a configuration feature, credits), then
times each request kind (CPU ms per request after a warm-up, the best of `--rounds` rounds, and /healthz's time
over it: about what bench/load.py's ratio will be, less the HTTP server's own share; on PostgreSQL also the CPU of
the server processes serving the bench's database, which share the machine's cores under load).
`--profile NAME` (e.g. `account`) runs that kind
under cProfile and prints the 40 costliest functions by cumulative time. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))


async def call(app: Any, token: str, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
    payload = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def kinds(seeded: Any) -> dict[str, Callable[[int], tuple[str, str, object | None]]]:
    from load import entitled_event

    metered, configured = seeded.metered, seeded.configured
    return {
        "healthz": lambda n: ("GET", "/healthz", None),
        "account": lambda n: ("GET", f"/api/accounts/acct-{n % 100}", None),
        "entitlements": lambda n: ("GET", f"/api/accounts/acct-{n % 100}/entitlements", None),
        "validate": lambda n: (
            "POST",
            f"/api/accounts/acct-{n % 100}/entitlements/{metered if n % 2 else configured}",
            {"value": "1" if n % 2 else "gold"},
        ),
        "entitled": lambda n: ("POST", "/api/entitled", entitled_event(f"prof-{n}", f"acct-{n % 100}")),
    }


def backends_cpu(url: str) -> Callable[[], float]:
    """PostgreSQL: the CPU seconds so far of the server processes serving the bench's database (from /proc: the
    server runs on this machine), which share the cores with Meterline under load; SQLite: 0."""
    if not url.startswith("postgresql"):
        return lambda: 0.0
    import psycopg
    from ingest import PG_ADMIN

    name = url.rsplit("/", 1)[1]

    def cpu() -> float:
        with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
            pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])]
        total = 0
        for pid in pids:
            try:
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])  # ns on a CPU
            except (OSError, ValueError, IndexError):
                pass  # gone meanwhile, or not on this machine
        return total / 1e9

    return cpu


async def measure(
    app: Any,
    token: str,
    request: Callable[[int], tuple[str, str, object | None]],
    n: int,
    offset: int,
    database_cpu: Callable[[], float],
) -> tuple[float, float]:
    """(CPU ms per request of this process, of the database's server processes)."""
    for i in range(50):  # warm-up
        status, body = await call(app, token, *request(offset + i))
        if status >= 300:
            raise RuntimeError(f"{status}: {body[:300]!r}")
    database = database_cpu()
    started = time.process_time()
    for i in range(50, n + 50):
        await call(app, token, *request(offset + i))
    ms = (time.process_time() - started) / n * 1000
    return ms, (database_cpu() - database) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=1000, help="requests per kind and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default=None, help="a request kind to profile")
    parser.add_argument("--only", default=None, help="comma-separated request kinds to time")
    args = parser.parse_args()

    from ingest import drop_database, fresh_database
    from load import seed

    from meterline.core.settings import Settings
    from meterline.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.engine, Path(tmp), "profile")
        try:
            seeded = seed(url)
            app = create_app(Settings(database_url=url, worker_interval=0, log_level="warning"))
            todo = kinds(seeded)
            names = args.only.split(",") if args.only else list(todo)

            async def run() -> None:
                # Rounds of every kind in turn; the best round of each: the machine is shared, and a busy moment
                # only ever adds time.
                best: dict[str, float] = {}
                database: dict[str, float] = {}
                database_cpu = backends_cpu(url)
                for round_ in range(args.rounds):
                    for k, name in enumerate(names):
                        offset = 1_000_000 * (k + 1) + round_ * (args.requests + 100)
                        ms, db_ms = await measure(app, seeded.token, todo[name], args.requests, offset, database_cpu)
                        if ms < best.get(name, ms + 1):
                            best[name], database[name] = ms, db_ms
                for name in names:
                    ratio = best["healthz"] / best[name] if "healthz" in best else float("nan")
                    both = best[name] + database[name]
                    ratio_both = best["healthz"] / both if "healthz" in best else float("nan")
                    print(
                        f"{args.engine:10} {name:14} {best[name]:6.2f} ms CPU per request"
                        f"   healthz / this: {ratio:4.2f}"
                        + (f"   + database {database[name]:5.2f} ms: {ratio_both:4.2f}" if database_cpu() else "")
                    )
                if args.profile:
                    # cProfile sees one thread: run what would go to the thread pool inline, on the event loop.
                    import anyio.to_thread

                    async def inline(func: Any, *fargs: Any, **_kwargs: Any) -> Any:
                        return func(*fargs)

                    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
                    profiler = cProfile.Profile(time.process_time)  # CPU, not waits on the database
                    request = todo[args.profile]
                    profiler.enable()
                    for i in range(args.requests):
                        await call(app, seeded.token, *request(9_000_000 + i))
                    profiler.disable()
                    stats = pstats.Stats(profiler)
                    stats.sort_stats("cumulative").print_stats(70)
                    stats.sort_stats("tottime").print_stats(40)

            asyncio.run(run())
            print(f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)")
        finally:
            drop_database(url)


if __name__ == "__main__":
    main()
