"""What reading the usage store's choice in every transaction costs (events/usage_store.py): processes follow a move
because each transaction reads the choice (on PostgreSQL under a shared advisory lock) where they used to read it
once per process. Side by side in one run, interleaved, per engine, with the database store:

- a bare transaction (`SELECT 1`), and the same with the choice read first: the difference is the choice's cost;
- a one-event and a 1,000-event POST /api/ingestBatch through the whole ASGI app in-process (no sockets), which read
  the choice once each: the choice's cost as a share of a request.

    .venv/bin/python bench/choice_read.py [--engine sqlite|postgresql|both] [--rounds 2000]

Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import BATCH, drop_database, fresh_database, make_events, seed_catalog
from profile_requests import call
from sqlalchemy import select, text

from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.core.settings import Settings
from meterline.events.usage_store import clickhouse_of
from meterline.web.app import create_app


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=40, help="1,000-event requests (and 10x one-event ones)")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    events = make_events((args.requests + 5) * BATCH + 20 * args.requests + 50)
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in engines:
            url = fresh_database(engine_name, Path(tmp), "choice")
            try:
                token = seed_catalog(url)
                engine = create_db_engine(url)
                factory = make_session_factory(engine)
                bare: list[float] = []
                chosen: list[float] = []
                for _ in range(args.rounds):
                    for samples, read in ((bare, False), (chosen, True)):
                        began = time.perf_counter()
                        with unit_of_work(factory, write=False) as s:
                            if read:
                                clickhouse_of(s)
                            s.execute(select(text("1")))
                        samples.append(time.perf_counter() - began)
                engine.dispose()
                cost = median_us(chosen) - median_us(bare)
                app = create_app(Settings(database_url=url, worker_interval=0, log_level="warning"))

                async def requests(app: Any = app, token: str = token) -> tuple[list[float], list[float]]:
                    one: list[float] = []
                    many: list[float] = []
                    at = 0
                    for n in range(args.requests + 5):
                        for samples, size in ((one, 1),) * 10 + ((many, BATCH),):
                            body = {"events": events[at : at + size]}
                            at += size
                            began = time.perf_counter()
                            status, answer = await call(app, token, "POST", "/api/ingestBatch", body)
                            assert status in (202, 207), (status, answer[:300])
                            if n >= 5:  # warmed up
                                samples.append(time.perf_counter() - began)
                    return one, many

                one, many = asyncio.run(requests())
                print(
                    f"{engine_name:10} transaction median {median_us(bare):7.1f} us bare, {median_us(chosen):7.1f} us "
                    f"with the choice read: +{cost:5.1f} us = {cost / median_us(one):.1%} of a one-event request "
                    f"({median_us(one) / 1000:.2f} ms), {cost / median_us(many):.2%} of a 1,000-event request "
                    f"({median_us(many) / 1000:.1f} ms)",
                    flush=True,
                )
            finally:
                drop_database(url)


if __name__ == "__main__":
    main()
