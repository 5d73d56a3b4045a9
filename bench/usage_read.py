"""Usage read latency: one account with 10,000,000 events in a month, 3 meters.

    .venv/bin/python bench/usage_read.py [--events 10000000] [--engine sqlite|postgresql|both] [--reads 200]

Usage is read from the 15-minute rollups, so what a read costs depends on the buckets (2,880 per meter in a
30-day month), not on the events. The bench therefore aggregates 10 M synthetic events (random timestamps in
November 2026, random units) into their rollups in memory and writes them with EventStore.add_usage, the same
code ingestion uses, then times UsageService.of_account over the month (the path of GET
/api/accounts/{id}/usage and of the ongoing invoice), and checks the total against the generated events.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import drop_database, fresh_database, seed_catalog  # noqa: E402

from meterline.core.clock import utc_now  # noqa: E402
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work  # noqa: E402
from meterline.events.service import UsageService  # noqa: E402
from meterline.events.store import EventStore  # noqa: E402
from meterline.metering.repository import MeteringRepository  # noqa: E402
from meterline.tenancy.context import Context  # noqa: E402
from meterline.tenancy.models import Organization  # noqa: E402

MONTH = datetime(2026, 11, 1, tzinfo=timezone.utc)
SECONDS = 30 * 86400


def run(url: str, events: int, reads: int) -> tuple[float, float, float]:
    seed_catalog(url)
    factory = make_session_factory(create_db_engine(url))
    rng = random.Random(11)
    counts = [0] * (SECONDS // 900)
    units = [0] * (SECONDS // 900)
    for _ in range(events):
        bucket = rng.randrange(SECONDS) // 900
        counts[bucket] += 1
        units[bucket] += rng.randrange(1, 500)
    with unit_of_work(factory) as s:
        org = s.query(Organization).one()
        ctx = Context(session=s, org=org, now=utc_now())
        account_pk = s.execute(__import__("sqlalchemy").text("SELECT pk FROM accounts WHERE id = 'acct-0'")).scalar_one()
        meters = MeteringRepository(s, org.id).usable_meters()
        increments = {}
        for meter in meters:
            for i, n in enumerate(counts):
                if n:
                    quantity = Decimal(n) if meter.aggregation == "COUNT" else Decimal(units[i])
                    increments[(account_pk, meter.id, MONTH + timedelta(seconds=900 * i))] = (quantity, n)
        EventStore(s, org.id).add_usage(increments, timezone.utc, datetime.now(timezone.utc))
    timings = []
    with unit_of_work(factory, write=False) as s:
        org = s.query(Organization).one()
        for _ in range(reads):
            ctx = Context(session=s, org=org, now=utc_now())
            started = time.perf_counter()
            usage = UsageService(ctx).of_account("acct-0", MONTH, MONTH + timedelta(days=30))
            timings.append((time.perf_counter() - started) * 1000)
        by_name = {u.name: u for u in usage}
        assert by_name["requests"].events == events and by_name["requests"].usage == events
        assert by_name["calls"].usage == sum(units)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1], timings[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(f"one account, {args.events:,} events in 30 days, 3 meters; {args.reads} reads of the month's usage")
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            url = fresh_database(engine, Path(tmp), "usage")
            try:
                p50, p99, worst = run(url, args.events, args.reads)
            finally:
                drop_database(url)
            print(f"{engine:10}  p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {worst:6.2f} ms")


if __name__ == "__main__":
    main()
