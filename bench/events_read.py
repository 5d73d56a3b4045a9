"""Reading events: the events API's reads with events in the database against events in ClickHouse (issue 19).

    .venv/bin/python bench/events_read.py [--events 1000000] [--reads 30] [--store database|clickhouse|both]

One organization on a fresh PostgreSQL database holds `--events` events over 30 days, 100 accounts, 2% of them
reverted by a correction. With the `database` store they are rows of the `events` table; with the `clickhouse` store
(a ClickHouse server the bench starts: tests/clickhouse_server.py) they are rows of ClickHouse's `events` table, as the
shipper writes them (version 0 of every event, version 1 of the reverted ones; the outbox empty, as it is between two
shipper rounds). Each read below runs `--reads` times through EventStore, the production read path (what
`GET /api/events`, the console's Events page and corrections call), and prints p50 and p99 per store side by side and
their ratio. Every store's answers are checked against the other's: the same events, in the same order.

- first page: `GET /api/events` (100 events, oldest first, no filter)
- a status: a page of 100 of the reverted events, newest first (`statuses`, tested on each event's newest version)
- an account: a page of 100 of one account's events over a week
- an event id: `by_event_id` (what a correction looks up), a random id each time
- numbered page + count: the console's page 3 of its list (`listed`, offset 50, counted up to 10,000)
Nothing here is a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from ingest import drop_database, fresh_database  # noqa: E402
from usage_stores import clickhouse_server_running, keep_usage_in_clickhouse  # noqa: E402

from meterline.core.clock import utc_now  # noqa: E402
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work  # noqa: E402
from meterline.core.pagination import PageRequest, Slice  # noqa: E402
from meterline.events.clickhouse_events import ClickHouseEvents, outbox_row  # noqa: E402
from meterline.events.models import Event  # noqa: E402
from meterline.events.store import EventStore  # noqa: E402
from meterline.events.usage_store import clickhouse_of  # noqa: E402
from meterline.migrations import upgrade  # noqa: E402
from meterline.tenancy.service import TenancyService  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
ACCOUNTS = 100
CHUNK = 50_000
REVERTED = "REVERTED"
DONE = "INGESTION_COMPLETED_EVENT_PROCESSED"


def make_rows(total: int, seed: int = 11) -> list[tuple[Any, ...]]:
    """EventStore's EventRow tuples, in pk (arrival) order; every 50th reverted."""
    rng = random.Random(seed)
    rows = []
    for n in range(total):
        account = f"acc-{rng.randrange(ACCOUNTS)}"
        status = REVERTED if n % 50 == 7 else DONE
        rows.append(
            (
                f"event.{n:012d}",
                f"ev-{n}",
                "api_calls",
                1,
                account,
                account,
                START + timedelta(seconds=rng.randrange(30 * 86400)),
                [{"name": "calls", "value": str(rng.randrange(1, 500))}],
                {"region": rng.choice(["us", "eu", "ap"])},
                status,
                "Reverted by UNDO" if status == REVERTED else None,
                {"um.calls": "1"},
                [["um.calls", "calls", "PROCESSED_UNITS_COMPUTED", "1"]],
                None,
            )
        )
    return rows


def load(url: str, rows: list[tuple[Any, ...]], clickhouse: bool, server: str) -> str:
    """The events in a fresh database of `url` (or in its ClickHouse); returns the organization's id."""
    upgrade(url)
    if clickhouse:
        keep_usage_in_clickhouse(url, server, "events")
    factory = make_session_factory(create_db_engine(url))
    now = utc_now()
    with unit_of_work(factory) as s:
        org_id = TenancyService(s).create_organization(name="Bench", now=now).id
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        with unit_of_work(factory) as s:
            store = clickhouse_of(s)
            if store is None:
                EventStore(s, org_id).add_events(chunk, now)
                continue
            versions = []
            for r in chunk:
                event = Event(
                    pk=r[0], event_id=r[1], schema_name=r[2], schema_version=r[3], account_ref=r[4], account_pk=r[5],
                    timestamp=r[6], attributes=r[7], dimensions=r[8], status=DONE, status_description=None,
                    units=r[11], meters=r[12], enrichments=r[13], created_at=now,
                )  # fmt: skip
                versions.append((org_id, "b", outbox_row(event, 0)))
                if r[9] == REVERTED:
                    event.status, event.status_description = r[9], r[10]
                    versions.append((org_id, "c", outbox_row(event, 1)))
            ClickHouseEvents(store).insert(versions)
        print(f"  loaded {min(i + CHUNK, len(rows)):,} events", end="\r", flush=True)
    print()
    if not clickhouse:
        with psycopg_connection(url) as conn:
            conn.execute("ANALYZE events")
    return org_id


def psycopg_connection(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("+psycopg", ""), autocommit=True)


def reads(rng: random.Random, total: int) -> dict[str, Callable[[EventStore], list[str]]]:
    week = START + timedelta(days=7)

    def by_event_id(store: EventStore) -> list[str]:
        return [e.pk for e in store.by_event_id(f"ev-{rng.randrange(total)}")]

    return {
        "first page": lambda store: [e.pk for e in store.page(PageRequest(size=100)).items],
        "a status": lambda store: [
            e.pk for e in store.page(PageRequest(size=100), statuses={REVERTED}, newest_first=True).items
        ],
        "an account": lambda store: [
            e.pk
            for e in store.page(PageRequest(size=100), account_pk="acc-7", start=week, end=week + timedelta(days=7))
            .items
        ],
        "an event id": by_event_id,
        "numbered page + count": lambda store: [
            e.pk for e in store.listed(Slice(50, 25, "received"), count_up_to=10_000).items
        ],
    }


def measure(url: str, org_id: str, total: int, count: int) -> dict[str, tuple[float, float, list[list[str]]]]:
    factory = make_session_factory(create_db_engine(url))
    found = {}
    for name, read in reads(random.Random(5), total).items():
        timings, answers = [], []
        for _ in range(count):
            with unit_of_work(factory, write=False) as s:
                began = time.perf_counter()
                answers.append(read(EventStore(s, org_id)))
                timings.append((time.perf_counter() - began) * 1000)
        timings.sort()
        found[name] = (statistics.median(timings), timings[max(0, round(0.99 * len(timings)) - 1)], answers)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=30)
    parser.add_argument("--store", choices=["database", "clickhouse", "both"], default="both")
    args = parser.parse_args()
    stores = ["database", "clickhouse"] if args.store == "both" else [args.store]
    rows = make_rows(args.events)
    print(f"{args.events:,} events, {ACCOUNTS} accounts, 30 days, 2% reverted; PostgreSQL; {args.reads} reads each")
    results = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        clickhouse_server_running() if "clickhouse" in stores else contextlib.nullcontext("") as server,
    ):
        for store in stores:
            url = fresh_database("postgresql", Path(tmp), store[:2])
            try:
                org_id = load(url, rows, store == "clickhouse", server)
                results[store] = measure(url, org_id, args.events, args.reads)
            finally:
                drop_database(url)
            for name, (p50, p99, _) in results[store].items():
                print(f"{store:10}  {name:22}  p50 {p50:9.2f} ms   p99 {p99:9.2f} ms", flush=True)
    if len(results) == 2:
        for name in results["database"]:
            same = results["database"][name][2] == results["clickhouse"][name][2]
            ratio = results["clickhouse"][name][1] / results["database"][name][1]
            print(f"{name:22}  ClickHouse / database p99: {ratio:6.2f}x   same answers: {same}")
            if not same:
                raise SystemExit(f"{name}: the stores answered differently")


if __name__ == "__main__":
    main()
