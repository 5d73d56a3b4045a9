"""Ingestion throughput: Meterline over HTTP against the raw limit of the same database.

    .venv/bin/python bench/ingest.py [--events 1000000] [--engine sqlite|postgresql|both] [--clients 4]

1. Meterline: a fresh database, 1,000 accounts, one schema, 3 active meters; `meterline serve` in its own process;
   client processes POST pre-built 1,000-event batches to /api/ingestBatch over keep-alive connections. 20% of the
   events repeat an id sent earlier (duplicates). Events/s = events sent / wall time.
2. Raw limit: the same rows, written into another fresh database of the same schema by plain driver code
   (sqlite3 executemany / psycopg COPY), in 1,000-event transactions, one writer: claim ids with INSERT ... ON
   CONFLICT DO NOTHING, insert the events, add the accepted events' units (the same 3 meters) to the same
   15-minute rollups. No HTTP, no validation, no catalog: only the writes Meterline makes.
It prints both rates and their ratio. Nothing here is a test: timings vary with the machine.

    .venv/bin/python bench/ingest.py --enrichments [--events 100000] [--engine ...]

runs Meterline twice instead, side by side on the same events: the schema as above, then the same schema with
ENRICHMENTS (four derived fields: a VALUE, two JSON_LOGIC over the event, one of them reading an organization
setting as a dependency), and prints both rates and their ratio (enriched / plain).

    .venv/bin/python bench/ingest.py --usage-store database|clickhouse|both [--raw-clickhouse] [--raw-database]

(issue 19) runs Meterline once per usage store, side by side on the same events: `database` keeps usage in the
rollup tables; `clickhouse` keeps it in a ClickHouse server the bench starts (tests/clickhouse_server.py), so each
request commits one `usage_outbox` batch and the server's shipper (running in `meterline serve` since the database's
choice is ClickHouse) moves it there. For the ClickHouse store it prints two rates: "acknowledged" (events / time to
the last 202) and "shipped" (events / time until the outbox is empty, polled from the bench). Afterwards both
stores' usage totals (every account x meter over the month, read through EventStore.usage_of_accounts, the
production read: ClickHouse plus the outbox) are checked against the generated events, exactly. `--raw-database`
adds the raw database limit above; `--raw-clickhouse` the raw limit of ClickHouse inserts: the same usage rows the
shipper would insert (one outbox batch per 1,000-event request), inserted straight with clickhouse-driver, rows/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg

from meterline.core.ids import new_id
from meterline.events.clickhouse import micros

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/conftest.py imports `tests.` modules
PG_ADMIN = os.environ.get("METERLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACCOUNTS = 1000
BATCH = 1000
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def make_events(total: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    events: list[dict] = []
    for n in range(total):
        if events and rng.random() < 0.2:
            # a duplicate: an earlier event sent again unchanged (a client's retry), so that what is counted does not
            # depend on which copy of an id reaches the server first (the totals are checked exactly)
            events.append(events[rng.randrange(len(events))])
            continue
        events.append(
            {
                "schemaName": "api_calls",
                "id": f"ev-{n}",
                "timestamp": (START + timedelta(seconds=rng.randrange(20 * 86400))).isoformat(),
                "accountId": f"acct-{rng.randrange(ACCOUNTS)}",
                "attributes": [
                    {"name": "calls", "value": str(rng.randrange(1, 500))},
                    {"name": "bytes", "value": f"{rng.randrange(1, 10**6)}.{rng.randrange(100):02d}"},
                ],
                "dimensions": {"region": rng.choice(["us", "eu", "ap"])},
            }
        )
    return events


def fresh_database(engine: str, workdir: Path, tag: str) -> str:
    if engine == "sqlite":
        return f"sqlite:///{workdir / f'{tag}.db'}"
    name = f"meterline_bench_{tag}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Four derived fields: the plan a schema with enrichments compiles once (metering/enrichments.py).
ENRICHMENTS = {
    "dependencies": [{"type": "SETTING", "key": "setting.bench.rate", "name": "rate"}],
    "fields": [
        {
            "name": "kb",
            "type": "ATTRIBUTE",
            "enrichmentType": "JSON_LOGIC",
            "value": '{"/":[{"var":"attribute.bytes"},1000]}',
            "order": 1,
        },
        {
            "name": "tier",
            "type": "DIMENSION",
            "enrichmentType": "JSON_LOGIC",
            "value": '{"if":[{">":[{"var":"attribute.calls"},250]},"heavy","light"]}',
            "order": 2,
        },
        {
            "name": "cost",
            "type": "ATTRIBUTE",
            "enrichmentType": "JSON_LOGIC",
            "value": '{"*":[{"var":"attribute.calls"},{"var":"dependencies.rate"}]}',
            "order": 3,
        },
        {"name": "source", "type": "DIMENSION", "enrichmentType": "VALUE", "value": "bench", "order": 4},
    ],
}


def seed_catalog(url: str, enriched: bool = False) -> str:
    from meterline.core.clock import utc_now
    from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
    from meterline.customers.schemas import CreateCustomerRequest
    from meterline.customers.service import CustomerService
    from meterline.metering.meter_service import UsageMeterService
    from meterline.metering.schema_service import EventSchemaService
    from meterline.metering.schemas import CreateEventSchemaRequest, CreateUsageMeterRequest
    from meterline.migrations import upgrade
    from meterline.tenancy.context import Context
    from meterline.tenancy.service import TenancyService

    upgrade(url)
    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory) as s:
        tenancy = TenancyService(s)
        org = tenancy.create_organization(name="Bench", now=utc_now())
        token = tenancy.create_api_key(org=org, now=utc_now()).token
        ctx = Context(session=s, org=org, now=utc_now())
        customers = CustomerService(ctx)
        for i in range(ACCOUNTS):
            customers.create(
                CreateCustomerRequest(id=f"acct-{i}", name=f"Customer {i}", primary_email=f"c{i}@x.io", address={})
            )
        schemas = EventSchemaService(ctx)
        schema = {
            "name": "api_calls",
            "attributes": [{"name": "calls"}, {"name": "bytes"}],
            "dimensions": [{"name": "region"}],
        }
        if enriched:
            from meterline.settings.schemas import SettingIn
            from meterline.settings.service import SettingsService

            schema["enrichments"] = ENRICHMENTS
            SettingsService(ctx).insert(
                SettingIn.model_validate(
                    {
                        "id": "rate",
                        "value": "0.001",
                        "entityType": "ORGANIZATION",
                        "entityId": org.id,
                        "namespace": "bench",
                        "name": "Rate",
                        "dataType": "NUMERIC",
                    }
                )
            )
        schemas.create(CreateEventSchemaRequest.model_validate(schema))
        schemas.activate("api_calls")
        meters = UsageMeterService(ctx)
        for body in (
            {
                "name": "calls",
                "type": "COUNTER",
                "aggregation": "SUM",
                "eventSchemaName": "api_calls",
                "computations": [{"order": 1, "computation": '{"var":"attribute.calls"}'}],
            },
            {"name": "requests", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": "api_calls"},
            {
                "name": "us_bytes",
                "type": "COUNTER",
                "aggregation": "SUM",
                "eventSchemaName": "api_calls",
                "filters": [{"field": "region", "value": "us"}],
                "computations": [{"order": 1, "computation": '{"*":[{"var":"attribute.bytes"},"0.001"]}'}],
            },
        ):
            meters.activate(meters.create(CreateUsageMeterRequest.model_validate(body)).id)
    return token


def _client(args: tuple[str, str, list[bytes]]) -> int:
    base, token, bodies = args
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    sent = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        for body in bodies:
            r = http.post("/api/ingestBatch", content=body)
            if r.status_code not in (202, 207):
                raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
            sent += BATCH
    return sent


def run_meterline(
    url: str, events: list[dict], clients: int, workdir: Path, workers: int, enriched: bool = False
) -> float:
    token = seed_catalog(url, enriched)
    acknowledged, _ = timed_ingestion(url, token, events, clients, workdir, workers)
    return len(events) / acknowledged


def timed_ingestion(
    url: str, token: str, events: list[dict], clients: int, workdir: Path, workers: int, shipped: bool = False
) -> tuple[float, float]:
    """Send the events to a `meterline serve` of `url`; returns the seconds until the last 202, and with `shipped`
    the seconds until the server's shipper emptied the outbox (polled here)."""
    from usage_stores import wait_for_empty_outbox

    from conftest import start_server, stop_server
    from meterline.core.db import create_db_engine, make_session_factory

    factory = make_session_factory(create_db_engine(url))
    process, base = start_server(url, workdir / "server.log", workers=workers)
    try:
        bodies = [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, len(events), BATCH)]
        shares = [(base, token, bodies[k::clients]) for k in range(clients)]
        started = time.perf_counter()
        with mp.Pool(clients) as pool:
            sent = sum(pool.map(_client, shares))
        acknowledged = time.perf_counter()
        empty = wait_for_empty_outbox(factory) if shipped else acknowledged
    finally:
        stop_server(process)
    assert sent == len(events), (sent, len(events))
    return acknowledged - started, empty - started


Totals = dict[tuple[str, str], tuple[Decimal, int]]


def expected_usage(events: list[dict]) -> Totals:
    """(quantity, events) per (account id, meter name) that the events must count: each id once."""
    seen: set[str] = set()
    out: Totals = {}
    for e in events:
        if e["id"] in seen:
            continue
        seen.add(e["id"])
        for meter, qty in _units(e).items():
            q, n = out.get((e["accountId"], meter), (Decimal(0), 0))
            out[(e["accountId"], meter)] = (q + qty, n + 1)
    return out


def stored_usage(url: str) -> Totals:
    """Every account's usage per meter over the events' month, as the installation reads it (EventStore's read:
    the rollups, or ClickHouse plus the outbox)."""
    from sqlalchemy import select

    from meterline.accounts.models import Account
    from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
    from meterline.events.store import EventStore
    from meterline.metering.repository import MeteringRepository
    from meterline.tenancy.models import Organization

    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory, write=False) as s:
        org = s.scalars(select(Organization)).one()
        accounts = {a.pk: a.id for a in s.scalars(select(Account).where(Account.org_id == org.id))}
        meters = {m.id: m.name for m in MeteringRepository(s, org.id).usable_meters()}
        got = EventStore(s, org.id).usage_of_accounts(accounts, meters, START, START + timedelta(days=31), daily=False)
    return {(accounts[a], meters[m]): totals for (a, m), totals in got.items()}


def check_usage(url: str, expected: Totals) -> None:
    found = stored_usage(url)
    if found != expected:
        wrong = sorted(k for k in expected.keys() | found.keys() if found.get(k) != expected.get(k))
        raise AssertionError(
            f"usage differs from the events on {len(wrong)} (account, meter) pairs, e.g. {wrong[:3]}: "
            f"{[(found.get(k), expected.get(k)) for k in wrong[:3]]}"
        )


def check_events(url: str, sent: int) -> None:
    """Every event sent is stored once (the duplicates as refused ones), as the events API counts them."""
    from sqlalchemy import select

    from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
    from meterline.core.pagination import Slice
    from meterline.events.store import EventStore
    from meterline.tenancy.models import Organization

    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory, write=False) as s:
        org = s.scalars(select(Organization)).one()
        stored = EventStore(s, org.id).listed(Slice(0, 1, "received")).total
    if stored != sent:
        raise AssertionError(f"{stored:,} events stored for {sent:,} sent")


def _units(event: dict) -> dict[str, Decimal]:
    """What the benchmark's 3 meters give an event (the same numbers Meterline computes)."""
    attributes = {a["name"]: Decimal(a["value"]) for a in event["attributes"]}
    units = {"calls": attributes["calls"], "requests": Decimal(1)}
    if event["dimensions"]["region"] == "us":
        units["us_bytes"] = attributes["bytes"] * Decimal("0.001")
    return units


def _bucket(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def run_raw(url: str, events: list[dict], outbox: bool = False) -> float:
    """Fastest plain driver code for the same rows: claim ids (dedup key), insert the events, add the accepted
    events' units to the same 15-minute rollups. With `outbox`, what the database still writes when usage and events
    are kept in ClickHouse: the claims and one `usage_outbox` row per 1,000 events (the increments and the events as
    JSON) instead of the events and the rollups."""
    from meterline.migrations import upgrade

    upgrade(url)
    org = "org.bench"
    now = datetime.now(timezone.utc).isoformat()
    rows = [
        (
            uuid.uuid4().hex,
            org,
            e["id"],
            e["schemaName"],
            1,
            e["accountId"],
            e["accountId"],
            e["timestamp"],
            json.dumps(e["attributes"]),
            json.dumps(e["dimensions"]),
            now,
        )
        for e in events
    ]
    units = [_units(e) for e in events]
    buckets = [_bucket(e["timestamp"]) for e in events]
    sqlite_buckets = [b.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") for b in buckets]
    bucket_micros = [micros(b) for b in buckets]

    def outbox_row(start: int, claimed: set[str]) -> tuple[str, str, str]:
        wanted = increments(start, set(claimed), bucket_micros)
        payload = json.dumps([[a, m, b, str(q), n] for (a, m, b), (q, n) in sorted(wanted.items())])
        return new_id("ub"), org, payload

    def outbox_events(chunk: list[tuple], claimed: set[str]) -> str:
        """The chunk's events as the outbox carries them to ClickHouse (events/clickhouse_events.py's rows)."""
        status = {True: "INGESTION_COMPLETED_EVENT_NOT_METERED", False: "INGESTION_FAILED_DUPLICATE_EVENT"}
        return json.dumps(
            [
                [r[0], 0, r[2], r[3], r[4], r[5], r[6], micros(datetime.fromisoformat(r[7])), json.loads(r[8])]
                + [json.loads(r[9]), status[r[2] in claimed], None, None, None, None, 0]
                for r in chunk
            ]
        )

    def increments(start: int, claimed: set[str], keys: list) -> dict[tuple, list]:
        out: dict[tuple, list] = {}
        for i in range(start, min(start + BATCH, len(rows))):
            if rows[i][2] not in claimed:
                continue
            claimed.discard(rows[i][2])
            for meter, qty in units[i].items():
                slot = out.setdefault((rows[i][6], meter, keys[i]), [Decimal(0), 0])
                slot[0] += qty
                slot[1] += 1
        return out

    def by_day(wanted: dict[tuple, list], day: Any) -> dict[tuple, list]:
        """The same increments per day (the bench's organization is on UTC), as Meterline also keeps them."""
        out: dict[tuple, list] = {}
        for (a, m, b), (q, n) in wanted.items():
            slot = out.setdefault((a, m, day(b)), [Decimal(0), 0])
            slot[0] += q
            slot[1] += n
        return out

    started = time.perf_counter()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("INSERT INTO organizations VALUES (?, 'Raw', 'USD', 'UTC', 0, ?, ?)", (org, now, now))
        for i in range(0, len(rows), BATCH):
            chunk = rows[i : i + BATCH]
            conn.execute("BEGIN IMMEDIATE")
            claimed = {
                r[0]
                for r in conn.execute(
                    "INSERT INTO event_ids (org_id, event_id, claimed_at) SELECT ?, value, ? FROM json_each(?) "
                    "WHERE true ON CONFLICT DO NOTHING RETURNING event_id",
                    (org, now, json.dumps(sorted({r[2] for r in chunk}))),
                )
            }
            if outbox:
                conn.execute(
                    "INSERT INTO usage_outbox (id, org_id, payload, events, created_at) VALUES (?, ?, ?, ?, ?)",
                    (*outbox_row(i, claimed), outbox_events(chunk, claimed), now),
                )
                conn.execute("COMMIT")
                continue
            conn.executemany(
                "INSERT INTO events (pk, org_id, event_id, schema_name, schema_version, account_ref, account_pk, "
                "timestamp, attributes, dimensions, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        *r[:10],
                        "INGESTION_COMPLETED_EVENT_NOT_METERED"
                        if r[2] in claimed
                        else "INGESTION_FAILED_DUPLICATE_EVENT",
                        r[10],
                    )
                    for r in chunk
                ],
            )
            wanted = increments(i, set(claimed), sqlite_buckets)
            for table, column, rows_ in (
                ("usage_rollups", "bucket_start", wanted),
                ("usage_daily", "day_start", by_day(wanted, lambda b: b[:10] + " 00:00:00.000000")),
            ):
                # decimals are text on SQLite: read the existing rows, add exactly, write back
                for a, m, b, q, n in conn.execute(
                    f"SELECT account_pk, meter_id, {column}, quantity, events FROM {table} WHERE org_id = ? AND "
                    f"(account_pk, meter_id, {column}) IN (SELECT json_extract(value, '$[0]'), "
                    "json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?))",
                    (org, json.dumps(list(rows_))),
                ):
                    rows_[(a, m, b)][0] += Decimal(q)
                    rows_[(a, m, b)][1] += n
                conn.executemany(
                    f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?) "
                    f"ON CONFLICT (org_id, account_pk, meter_id, {column}) DO UPDATE SET "
                    "quantity = excluded.quantity, events = excluded.events",
                    [(org, a, m, b, str(q), n) for (a, m, b), (q, n) in sorted(rows_.items())],
                )
            conn.execute("COMMIT")
        conn.close()
    else:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute("INSERT INTO organizations VALUES (%s, 'Raw', 'USD', 'UTC', 0, now(), now())", (org,))
            conn.commit()
            for i in range(0, len(rows), BATCH):
                chunk = rows[i : i + BATCH]
                with conn.transaction():
                    claimed = {
                        r[0]
                        for r in conn.execute(
                            "INSERT INTO event_ids (org_id, event_id, claimed_at) SELECT %s, unnest(%s::text[]), now() "
                            "ON CONFLICT DO NOTHING RETURNING event_id",
                            (org, sorted({r[2] for r in chunk})),
                        ).fetchall()
                    }
                    if outbox:
                        conn.execute(
                            "INSERT INTO usage_outbox (id, org_id, payload, events, created_at) "
                            "VALUES (%s, %s, %s, %s, now())",
                            (*outbox_row(i, claimed), outbox_events(chunk, claimed)),
                        )
                        continue
                    with conn.cursor().copy(
                        "COPY events (pk, org_id, event_id, schema_name, schema_version, account_ref, account_pk, "
                        "timestamp, attributes, dimensions, status, created_at) FROM STDIN"
                    ) as copy:
                        for r in chunk:
                            copy.write_row(
                                (
                                    *r[:10],
                                    "INGESTION_COMPLETED_EVENT_NOT_METERED"
                                    if r[2] in claimed
                                    else "INGESTION_FAILED_DUPLICATE_EVENT",
                                    r[10],
                                )
                            )
                    wanted = increments(i, set(claimed), buckets)
                    daily = by_day(wanted, lambda b: b.replace(hour=0, minute=0, second=0, microsecond=0))
                    for table, column, rows_ in (
                        ("usage_rollups", "bucket_start", wanted),
                        ("usage_daily", "day_start", daily),
                    ):
                        conn.execute(
                            f"INSERT INTO {table} SELECT %s, r->>0, r->>1, (r->>2)::timestamptz, (r->>3)::numeric, "
                            "(r->>4)::int FROM json_array_elements(%s::json) AS r "
                            f"ON CONFLICT (org_id, account_pk, meter_id, {column}) DO UPDATE SET "
                            f"quantity = {table}.quantity + excluded.quantity, "
                            f"events = {table}.events + excluded.events",
                            (
                                org,
                                json.dumps(
                                    [(a, m, b.isoformat(), str(q), n) for (a, m, b), (q, n) in sorted(rows_.items())]
                                ),
                            ),
                        )
    return len(rows) / (time.perf_counter() - started)


def shipper_rows(events: list[dict]) -> list[list[tuple]]:
    """The ClickHouse rows the shipper inserts for these events, one outbox batch per 1,000-event request as
    ingestion writes it: (org, account, meter, bucket us, quantity, quantity_text, events, batch_id, seq)."""
    seen: set[str] = set()
    batches = []
    for start in range(0, len(events), BATCH):
        wanted: dict[tuple[str, str, int], list] = {}
        for e in events[start : start + BATCH]:
            if e["id"] in seen:
                continue
            seen.add(e["id"])
            bucket = micros(_bucket(e["timestamp"]))
            for meter, qty in _units(e).items():
                slot = wanted.setdefault((e["accountId"], meter, bucket), [Decimal(0), 0])
                slot[0] += qty
                slot[1] += 1
        batch = new_id("ub")
        batches.append(
            [
                ("org.bench", a, m, b, q, "", n, batch, seq)
                for seq, ((a, m, b), (q, n)) in enumerate(sorted(wanted.items()))
            ]
        )
    return batches


def event_rows(events: list[dict]) -> list[list[tuple]]:
    """The ClickHouse event rows the shipper inserts for these events (events/clickhouse_events.py), one list per
    1,000-event request: every event, the duplicates as refused ones, each its version 0."""
    from meterline.events.clickhouse_events import COLUMNS

    assert COLUMNS.startswith("pk, version, event_id")  # the order written below
    seen: set[str] = set()
    batches = []
    for start in range(0, len(events), BATCH):
        batch, rows = new_id("ub"), []
        for e in events[start : start + BATCH]:
            accepted = e["id"] not in seen
            seen.add(e["id"])
            ts = micros(datetime.fromisoformat(e["timestamp"]))
            status = "INGESTION_COMPLETED" if accepted else "INGESTION_FAILED_DUPLICATE_EVENT"
            units = json.dumps({m: str(q) for m, q in _units(e).items()}) if accepted else None
            rows.append(
                ("org.bench", uuid.uuid4().hex, 0, e["id"], e["schemaName"], 1, e["accountId"], e["accountId"], ts)
                + (json.dumps(e["attributes"]), json.dumps(e["dimensions"]), status, None, units, None, None, ts, batch)
            )
        batches.append(rows)
    return batches


def run_raw_clickhouse(server: str, events: list[dict]) -> list[tuple[str, int, float]]:
    """What the shipper inserts for these events, inserted straight into fresh tables with clickhouse-driver, one
    INSERT per 500 batches (the shipper's largest round): the usage rows as rows (the shipper's way) and as columns,
    and the events as rows. Returns (what, rows, rows/s) of each."""
    from clickhouse_driver import Client

    from meterline.events.clickhouse import EVENTS, ROWS, Address, table_ddl
    from meterline.events.clickhouse_events import COLUMNS

    address = Address.parse(server)
    client = Client(address.host, port=address.port)
    usage_columns = "org_id, account_pk, meter_id, bucket, quantity, quantity_text, events, batch_id, seq"
    cases = [
        ("usage rows, as rows", ROWS, usage_columns, shipper_rows(events), False),
        ("usage rows, as columns", ROWS, usage_columns, shipper_rows(events), True),
        ("events, as rows", EVENTS, f"org_id, {COLUMNS}, batch_id", event_rows(events), False),
    ]
    found = []
    for what, table, columns, batches, columnar in cases:
        rows = sum(len(b) for b in batches)
        database = f"bench_raw_{secrets.token_hex(3)}"
        for statement in table_ddl(database):
            client.execute(statement)
        insert = f"INSERT INTO {database}.{table} ({columns}) VALUES"
        rounds: list[list[Any]] = [
            [row for b in batches[i : i + 500] for row in b] for i in range(0, len(batches), 500)
        ]
        if columnar:
            rounds = [[list(column) for column in zip(*r, strict=True)] for r in rounds]
        started = time.perf_counter()
        for r in rounds:
            client.execute(insert, r, columnar=columnar)
        found.append((what, rows, rows / (time.perf_counter() - started)))
        assert client.execute(f"SELECT count() FROM {database}.{table}")[0][0] == rows
        client.execute(f"DROP DATABASE {database}")
    client.disconnect()
    return found


def compare_stores(events: list[dict], engines: list[str], args: argparse.Namespace) -> None:
    """Meterline with each usage store, side by side on the same events, totals checked exactly (issue 19)."""
    from usage_stores import clickhouse_rows, clickhouse_server_running, keep_usage_in_clickhouse, stores_of

    stores = stores_of(args.usage_store)
    expected = expected_usage(events)
    print(
        f"{len(events):,} events in batches of {BATCH}, ~20% duplicate ids, {ACCOUNTS} accounts, 3 meters, "
        f"{args.clients} client processes, {args.workers} server process(es); usage stores: {', '.join(stores)}",
        flush=True,
    )
    need_server = "clickhouse" in stores or args.raw_clickhouse
    with (
        tempfile.TemporaryDirectory() as tmp,
        clickhouse_server_running() if need_server else contextlib.nullcontext("") as server,
    ):
        workdir = Path(tmp)
        for engine in engines:
            rates: dict[str, float] = {}
            for store in stores:
                url = fresh_database(engine, workdir, store[:2])
                try:
                    token = seed_catalog(url)
                    clickhouse = keep_usage_in_clickhouse(url, server, engine[:2]) if store == "clickhouse" else None
                    acknowledged, shipped = timed_ingestion(
                        url, token, events, args.clients, workdir, args.workers, shipped=clickhouse is not None
                    )
                    check_usage(url, expected)
                    check_events(url, len(events))
                    rates[store] = len(events) / acknowledged
                    line = f"{engine:10}  {store:10} store  acknowledged {rates[store]:9,.0f} events/s"
                    if clickhouse is not None:
                        rates["shipped"] = len(events) / shipped
                        line += (
                            f"   shipped {rates['shipped']:9,.0f} events/s (outbox empty "
                            f"{shipped - acknowledged:.1f} s after the last 202; ClickHouse holds "
                            f"{clickhouse_rows(clickhouse)})"
                        )
                    print(line + "   usage totals exact, every event stored once", flush=True)
                finally:
                    drop_database(url)
            if len(stores) == 2:
                print(
                    f"{engine:10}  ClickHouse / database store: acknowledged "
                    f"{rates['clickhouse'] / rates['database']:.2f}x, shipped "
                    f"{rates['shipped'] / rates['database']:.2f}x (target on PostgreSQL: >= 5x)",
                    flush=True,
                )
            if args.raw_database:
                for outbox in (False, True):
                    raw = fresh_database(engine, workdir, "rawoutbox" if outbox else "rawrollups")
                    try:
                        limit = run_raw(raw, events, outbox=outbox)
                    finally:
                        drop_database(raw)
                    what = (
                        "claims + outbox row of events and usage (ClickHouse store)"
                        if outbox
                        else "claims + events + rollups"
                    )
                    print(f"{engine:10}  raw database limit, {what}: {limit:9,.0f} events/s", flush=True)
        if args.raw_clickhouse:
            for what, rows, rate in run_raw_clickhouse(server, events):
                per_event = rows / len(events)
                print(
                    f"raw ClickHouse insert limit, {what}: {rows:,} rows ({per_event:.2f} per event) in INSERTs of 500 "
                    f"batches: {rate:,.0f} rows/s (= {rate / per_event:,.0f} events/s)",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="server processes (meterline serve --workers)")
    parser.add_argument("--enrichments", action="store_true", help="Meterline without and with enrichments")
    parser.add_argument(
        "--usage-store",
        choices=["database", "clickhouse", "both"],
        help="compare the usage stores (issue 19): the rollup tables, ClickHouse, or both side by side",
    )
    parser.add_argument(
        "--raw-database",
        action="store_true",
        help="with --usage-store: also the raw database limits (with rollups, and with the outbox)",
    )
    parser.add_argument(
        "--raw-clickhouse",
        action="store_true",
        help="with --usage-store: also the raw limit of ClickHouse inserts of the same usage rows",
    )
    args = parser.parse_args()
    events = make_events(args.events)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if args.enrichments:
        compare_enrichments(events, engines, args)
        return
    if args.usage_store or args.raw_clickhouse:
        args.usage_store = args.usage_store or "both"
        compare_stores(events, engines, args)
        return
    print(
        f"{args.events:,} events in batches of {BATCH}, ~20% duplicate ids, {ACCOUNTS} accounts, 3 meters, "
        f"{args.clients} client processes, {args.workers} server process(es)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for engine in engines:
            served = fresh_database(engine, workdir, "served")
            raw = fresh_database(engine, workdir, "raw")
            try:
                meterline = run_meterline(served, events, args.clients, workdir, args.workers)
                limit = run_raw(raw, events)
            finally:
                drop_database(served)
                drop_database(raw)
            print(
                f"{engine:10}  meterline {meterline:10,.0f} events/s   raw limit {limit:10,.0f} events/s   "
                f"ratio {meterline / limit:.2f}"
            )


def compare_enrichments(events: list[dict], engines: list[str], args: argparse.Namespace) -> None:
    print(
        f"{args.events:,} events in batches of {BATCH}, ~20% duplicate ids, {ACCOUNTS} accounts, 3 meters, "
        f"{args.clients} client processes, {args.workers} server process(es): the schema without, then with, "
        f"{len(ENRICHMENTS['fields'])} enrichments"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for engine in engines:
            rates = []
            for enriched in (False, True):
                url = fresh_database(engine, workdir, "enriched" if enriched else "plain")
                try:
                    rates.append(run_meterline(url, events, args.clients, workdir, args.workers, enriched))
                finally:
                    drop_database(url)
            print(
                f"{engine:10}  plain {rates[0]:10,.0f} events/s   enriched {rates[1]:10,.0f} events/s   "
                f"ratio {rates[1] / rates[0]:.2f}"
            )


if __name__ == "__main__":
    main()
