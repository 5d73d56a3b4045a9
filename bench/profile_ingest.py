"""Where an ingestion request's time goes, per usage store (issue 19): the whole ASGI app in-process (no sockets, no
shipper: the request path up to its 202), 1,000-event POST /api/ingestBatch requests of bench/ingest.py's events.

    .venv/bin/python bench/profile_ingest.py [--engine postgresql|sqlite] [--requests 100] [--profile]

For each store (the rollup tables; ClickHouse, whose requests write one outbox row instead of the rollups) it prints
the CPU ms per request of this process (Meterline's Python) and, on PostgreSQL, of the database's server processes,
and with `--profile` the 25 costliest functions by own CPU time. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import BATCH, drop_database, fresh_database, make_events, seed_catalog
from profile_requests import backends_cpu, call
from usage_stores import clickhouse_server_running, keep_usage_in_clickhouse

from meterline.core.settings import Settings
from meterline.web.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    warm = 20
    events = make_events((2 * args.requests + warm) * BATCH)
    bodies = [{"events": events[i : i + BATCH]} for i in range(0, len(events), BATCH)]
    with tempfile.TemporaryDirectory() as tmp, clickhouse_server_running() as server:
        for store in ("database", "clickhouse"):
            url = fresh_database(args.engine, Path(tmp), f"prof{store[:2]}")
            try:
                token = seed_catalog(url)
                if store == "clickhouse":
                    keep_usage_in_clickhouse(url, server, "profile")
                app = create_app(Settings(database_url=url, worker_interval=0, log_level="warning"))
                database_cpu = backends_cpu(url)

                async def run(
                    app: Any = app, token: str = token, database_cpu: Any = database_cpu, store: str = store
                ) -> None:
                    for body in bodies[:warm]:
                        status, answer = await call(app, token, "POST", "/api/ingestBatch", body)
                        assert status in (202, 207), (status, answer[:300])
                    database = database_cpu()
                    cpu, wall = time.process_time(), time.perf_counter()
                    for body in bodies[warm : warm + args.requests]:
                        await call(app, token, "POST", "/api/ingestBatch", body)
                    n = args.requests
                    cpu, wall = (time.process_time() - cpu) / n * 1000, (time.perf_counter() - wall) / n * 1000
                    db = (database_cpu() - database) / n * 1000
                    print(
                        f"{args.engine:10} {store:10} store: {cpu:6.1f} ms CPU per 1,000-event request in Meterline"
                        f" + {db:5.1f} ms in the database's server processes; wall {wall:6.1f} ms"
                        f" (= {BATCH / wall * 1000:,.0f} events/s in one process, no HTTP, no shipper)",
                        flush=True,
                    )
                    if args.profile:
                        import anyio.to_thread

                        async def inline(func: Any, *fargs: Any, **_kwargs: Any) -> Any:
                            return func(*fargs)

                        anyio.to_thread.run_sync = inline  # type: ignore[assignment]
                        profiler = cProfile.Profile(time.process_time)
                        profiler.enable()
                        for body in bodies[warm + args.requests :]:
                            await call(app, token, "POST", "/api/ingestBatch", body)
                        profiler.disable()
                        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

                asyncio.run(run())
            finally:
                drop_database(url)


if __name__ == "__main__":
    main()
