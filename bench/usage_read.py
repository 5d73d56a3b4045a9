"""Usage read latency: one account with 10,000,000 events in a month, 3 meters, per usage store (issue 19).

    .venv/bin/python bench/usage_read.py [--events 10000000] [--engine sqlite|postgresql|both] [--reads 200]
        [--usage-store database|clickhouse|both] [--batch 1000] [--round 500] [--order time|random]
        [--compact-every 60]

Times UsageService.of_account over the month (the path of GET /api/accounts/{id}/usage and of the ongoing invoice)
`--reads` times and prints p50, p99 and max, for each usage store side by side (default both) and their ratio, then
checks the three meters' totals against the generated events, exactly.

- `database` (the rollup tables): what a read costs depends on the buckets (2,880 per meter in a 30-day month), not
  on the events, and the rollups end the same however the events were batched. So the events are aggregated into
  their buckets in memory and written with one EventStore.add_usage, the code ingestion uses.
- `clickhouse`: written as production writes it. The events are cut into ingestion requests of `--batch` events;
  each request's usage is one EventStore.add_usage in a database whose usage is kept in ClickHouse, i.e. one
  `usage_outbox` batch; every `--round` batches (default 500, the shipper's largest round) the real shipper code
  (`ship_once` of events/shipper.py) ships the outbox until it is empty. So ClickHouse holds the rows production
  would: with the shipper as it is, one row per (batch, meter, bucket) a request touched. Requests are committed
  1,000 events' worth at a time (each still its own outbox batch). Compaction (events/compaction.py) runs as in
  `serve`: after a shipper round once `--compact-every` seconds (default 60) have passed, and once at the end; the
  rows it replaced are then deleted (the steady state, once the deletion's delay has passed). `--compact-every 0`
  never compacts (the state before compaction existed). It prints how many rows ClickHouse holds.
- `--order time` (default): the events arrive in timestamp order, as one account's traffic does (a 1,000-event
  request spans ~4 minutes: one or two buckets); `--order random`: random timestamps in the month (each request
  touches ~1,000 buckets: the most rows per event a batch of that size can make).

A worst case with many small requests: `--usage-store clickhouse --events 1000000 --batch 1`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import drop_database, fresh_database, seed_catalog  # noqa: E402
from sqlalchemy import select  # noqa: E402
from usage_stores import (  # noqa: E402
    clickhouse_rows,
    clickhouse_server_running,
    keep_usage_in_clickhouse,
    outbox_size,
    stores_of,
    wait_for_mutations,
)

from meterline.accounts.models import Account  # noqa: E402
from meterline.core.clock import utc_now  # noqa: E402
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work  # noqa: E402
from meterline.events import compaction, shipper  # noqa: E402
from meterline.events.service import UsageService  # noqa: E402
from meterline.events.store import EventStore  # noqa: E402
from meterline.events.usage_store import clickhouse_of, compacted_through  # noqa: E402
from meterline.metering.repository import MeteringRepository  # noqa: E402
from meterline.tenancy.context import Context  # noqa: E402
from meterline.tenancy.models import Organization  # noqa: E402

MONTH = datetime(2026, 11, 1, tzinfo=timezone.utc)
SECONDS = 30 * 86400
BUCKETS = SECONDS // 900


def requests(events: int, batch: int, order: str) -> Iterator[dict[int, list[int]]]:
    """The events, `batch` per ingestion request: per request, {bucket index: [events, units]}."""
    rng = random.Random(11)  # noqa: S311 - synthetic data
    for start in range(0, events, batch):
        agg: dict[int, list[int]] = {}
        for k in range(start, min(start + batch, events)):
            bucket = (k * SECONDS // events if order == "time" else rng.randrange(SECONDS)) // 900
            units = rng.randrange(1, 500)
            slot = agg.get(bucket)
            if slot is None:
                agg[bucket] = [1, units]
            else:
                slot[0] += 1
                slot[1] += units
        yield agg


def increments(
    agg: dict[int, list[int]], account_pk: str, meters: list[tuple[str, str]]
) -> dict[tuple[str, str, datetime], tuple[Decimal, int]]:
    return {
        (account_pk, meter_id, MONTH + timedelta(seconds=900 * bucket)): (
            Decimal(n) if aggregation == "COUNT" else Decimal(units),
            n,
        )
        for meter_id, aggregation in meters
        for bucket, (n, units) in agg.items()
    }


def write(url: str, args: argparse.Namespace, clickhouse: bool) -> tuple[int, int, float]:
    """Write the usage; returns (events, units: the totals to find) and the seconds it took."""
    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory, write=False) as s:
        org_id = s.scalars(select(Organization.id)).one()
        account_pk = s.scalars(select(Account.pk).where(Account.id == "acct-0")).one()
        meters = [(m.id, m.aggregation) for m in MeteringRepository(s, org_id).usable_meters()]
    started = time.perf_counter()
    total_events = total_units = 0
    if not clickhouse:  # the rollups end the same however the events were batched: one write
        everything: dict[int, list[int]] = {}
        for agg in requests(args.events, args.batch, args.order):
            for bucket, (n, units) in agg.items():
                slot = everything.setdefault(bucket, [0, 0])
                slot[0] += n
                slot[1] += units
        total_events = sum(n for n, _ in everything.values())
        total_units = sum(u for _, u in everything.values())
        with unit_of_work(factory) as s:
            EventStore(s, org_id).add_usage(increments(everything, account_pk, meters), timezone.utc, utc_now())
        return total_events, total_units, time.perf_counter() - started
    per_commit = max(1, 1000 // args.batch)  # requests per transaction: each still its own outbox batch
    pending, compacted = 0, time.monotonic()
    stream = requests(args.events, args.batch, args.order)
    done = False
    while not done:
        chunk = list(itertools.islice(stream, per_commit))
        done = len(chunk) < per_commit
        with unit_of_work(factory) as s:
            store = EventStore(s, org_id)
            for agg in chunk:
                total_events += sum(n for n, _ in agg.values())
                total_units += sum(u for _, u in agg.values())
                store.add_usage(increments(agg, account_pk, meters), timezone.utc, utc_now())
                pending += 1
        if pending >= args.round or done:
            while shipper.ship_once(factory, args.round):  # the shipper's rounds, until the outbox is empty
                pass
            pending = 0
            if args.compact_every and time.monotonic() - compacted >= args.compact_every:
                compaction.compact_once(factory)
                compacted = time.monotonic()
    assert outbox_size(factory) == 0
    if args.compact_every:
        compaction.DELETE_AFTER = timedelta(0)  # the steady state: the deletion's delay has passed
        compaction.compact_once(factory)
        with unit_of_work(factory, write=False) as s:
            clickhouse_store = clickhouse_of(s)
        assert clickhouse_store is not None
        wait_for_mutations(clickhouse_store)
    return total_events, total_units, time.perf_counter() - started


def timed_reads(url: str, reads: int) -> tuple[list[float], dict[str, tuple[Decimal, int]]]:
    factory = make_session_factory(create_db_engine(url))
    timings = []
    with unit_of_work(factory, write=False) as s:
        org = s.scalars(select(Organization)).one()
        for _ in range(reads):
            ctx = Context(session=s, org=org, now=utc_now())
            started = time.perf_counter()
            usage = UsageService(ctx).of_account("acct-0", MONTH, MONTH + timedelta(days=30))
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings, {u.name: (u.usage, u.events) for u in usage}


def clickhouse_breakdown(url: str, clickhouse_url: str, reads: int) -> str:
    """Where a ClickHouse-store read goes (p50 ms): the outbox's read, ClickHouse's deduplicated sums (the store's
    query, up to the last compacted generation: shipped rows by (batch_id, seq), compacted ones of each
    generation's recorded writer, then by meter), and for comparison a plain sum of the same rows (what a read could
    cost if rows needed no deduplication)."""
    from meterline.events.clickhouse import ClickHouseUsage, micros

    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory, write=False) as s:
        org_id = s.scalars(select(Organization.id)).one()
        account_pk = s.scalars(select(Account.pk).where(Account.id == "acct-0")).one()
        meter_ids = [m.id for m in MeteringRepository(s, org_id).usable_meters()]
        outbox = p50_of(reads, lambda: EventStore(s, org_id).pending_usage())
        compacted = compacted_through(s)
    store = ClickHouseUsage(clickhouse_url)
    end = MONTH + timedelta(days=30)
    sums = p50_of(reads, lambda: store.sums(org_id, [account_pk], meter_ids, MONTH, end, compacted=compacted))
    plain = p50_of(
        reads,
        lambda: store.execute(
            f"SELECT meter_id, sum(quantity), sum(events) FROM (SELECT meter_id, quantity, events, org_id, "
            f"account_pk, bucket FROM {store.address.database}.usage_rows UNION ALL SELECT meter_id, quantity, "
            f"events, org_id, account_pk, bucket FROM {store.address.database}.usage_compact) "
            "WHERE org_id = %(o)s AND account_pk = %(a)s AND meter_id IN %(m)s AND bucket >= %(s)s "
            "AND bucket < %(e)s GROUP BY meter_id",
            {"o": org_id, "a": account_pk, "m": tuple(meter_ids), "s": micros(MONTH), "e": micros(end)},
        ),
    )
    return (
        f"p50 of its parts: the outbox's read {outbox:.2f} ms, ClickHouse's deduplicated sums {sums:.2f} ms "
        f"(a plain sum of the same rows, no deduplication: {plain:.2f} ms)"
    )


def p50_of(n: int, call: Callable[[], object]) -> float:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--usage-store", choices=["database", "clickhouse", "both"], default="both")
    parser.add_argument("--batch", type=int, default=1000, help="events per ingestion request (ClickHouse store)")
    parser.add_argument(
        "--round", type=int, default=shipper.BATCHES_PER_ROUND, help="outbox batches written between shipper rounds"
    )
    parser.add_argument("--order", choices=["time", "random"], default="time", help="the events' timestamps")
    parser.add_argument(
        "--compact-every", type=float, default=60, help="seconds between compactions while writing (0: none)"
    )
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    stores = stores_of(args.usage_store)
    print(
        f"one account, {args.events:,} events in 30 days ({args.order} order), 3 meters; {args.reads} reads of the "
        f"month's usage; ClickHouse store: requests of {args.batch:,} events, a shipper round every {args.round} "
        f"batches, compaction every {args.compact_every:g} s",
        flush=True,
    )
    running = clickhouse_server_running() if "clickhouse" in stores else contextlib.nullcontext("")
    with tempfile.TemporaryDirectory() as tmp, running as server:
        for engine in engines:
            p99s = {}
            for store in stores:
                url = fresh_database(engine, Path(tmp), f"usage{store[:2]}")
                try:
                    seed_catalog(url)
                    clickhouse = keep_usage_in_clickhouse(url, server, engine[:2]) if store == "clickhouse" else None
                    events, units, wrote = write(url, args, clickhouse is not None)
                    timings, usage = timed_reads(url, args.reads)
                    rows = f", ClickHouse holds {clickhouse_rows(clickhouse)}" if clickhouse else ""
                    parts = clickhouse_breakdown(url, clickhouse, args.reads) if clickhouse else ""
                finally:
                    drop_database(url)
                assert events == args.events
                assert usage["requests"] == (Decimal(events), events), usage
                assert usage["calls"] == (Decimal(units), events), usage
                assert usage["us_bytes"] == (Decimal(units), events), usage
                p50, p99 = statistics.median(timings), timings[int(len(timings) * 0.99) - 1]
                p99s[store] = p99
                print(
                    f"{engine:10}  {store:10} store  p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   max {timings[-1]:8.2f} ms"
                    f"   (written in {wrote:.0f} s{rows}; totals exact)",
                    flush=True,
                )
                if parts:
                    print(f"{engine:10}  {store:10} store  {parts}", flush=True)
            if len(p99s) == 2:
                print(
                    f"{engine:10}  p99 ClickHouse / database store: {p99s['clickhouse'] / p99s['database']:.2f} "
                    "(target: <= 1, no worse)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
