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
"""

from __future__ import annotations

import argparse
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
from typing import Any
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
PG_ADMIN = os.environ.get("METERLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACCOUNTS = 1000
BATCH = 1000
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def make_events(total: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    events: list[dict] = []
    for n in range(total):
        if events and rng.random() < 0.2:
            event_id = events[rng.randrange(len(events))]["id"]  # a duplicate of an earlier id
        else:
            event_id = f"ev-{n}"
        events.append(
            {
                "schemaName": "api_calls",
                "id": event_id,
                "timestamp": (START + timedelta(seconds=rng.randrange(20 * 86400))).isoformat(),
                "accountId": f"acct-{rng.randrange(ACCOUNTS)}",
                "attributes": [{"name": "calls", "value": str(rng.randrange(1, 500))},
                               {"name": "bytes", "value": f"{rng.randrange(1, 10**6)}.{rng.randrange(100):02d}"}],
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
        {"name": "kb", "type": "ATTRIBUTE", "enrichmentType": "JSON_LOGIC",
         "value": '{"/":[{"var":"attribute.bytes"},1000]}', "order": 1},
        {"name": "tier", "type": "DIMENSION", "enrichmentType": "JSON_LOGIC",
         "value": '{"if":[{">":[{"var":"attribute.calls"},250]},"heavy","light"]}', "order": 2},
        {"name": "cost", "type": "ATTRIBUTE", "enrichmentType": "JSON_LOGIC",
         "value": '{"*":[{"var":"attribute.calls"},{"var":"dependencies.rate"}]}', "order": 3},
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
            customers.create(CreateCustomerRequest(id=f"acct-{i}", name=f"Customer {i}", primary_email=f"c{i}@x.io", address={}))
        schemas = EventSchemaService(ctx)
        schema = {"name": "api_calls", "attributes": [{"name": "calls"}, {"name": "bytes"}], "dimensions": [{"name": "region"}]}
        if enriched:
            from meterline.settings.schemas import SettingIn
            from meterline.settings.service import SettingsService

            schema["enrichments"] = ENRICHMENTS
            SettingsService(ctx).insert(SettingIn.model_validate(
                {"id": "rate", "value": "0.001", "entityType": "ORGANIZATION", "entityId": org.id, "namespace": "bench",
                 "name": "Rate", "dataType": "NUMERIC"}))
        schemas.create(CreateEventSchemaRequest.model_validate(schema))
        schemas.activate("api_calls")
        meters = UsageMeterService(ctx)
        for body in (
            {"name": "calls", "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": "api_calls",
             "computations": [{"order": 1, "computation": '{"var":"attribute.calls"}'}]},
            {"name": "requests", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": "api_calls"},
            {"name": "us_bytes", "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": "api_calls",
             "filters": [{"field": "region", "value": "us"}],
             "computations": [{"order": 1, "computation": '{"*":[{"var":"attribute.bytes"},"0.001"]}'}]},
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
    from conftest import start_server, stop_server

    token = seed_catalog(url, enriched)
    process, base = start_server(url, workdir / "server.log", workers=workers)
    try:
        bodies = [json.dumps({"events": events[i:i + BATCH]}).encode() for i in range(0, len(events), BATCH)]
        shares = [(base, token, bodies[k::clients]) for k in range(clients)]
        started = time.perf_counter()
        with mp.Pool(clients) as pool:
            sent = sum(pool.map(_client, shares))
        elapsed = time.perf_counter() - started
    finally:
        stop_server(process)
    return sent / elapsed


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


def run_raw(url: str, events: list[dict]) -> float:
    """Fastest plain driver code for the same rows: claim ids (dedup key), insert the events, add the accepted
    events' units to the same 15-minute rollups."""
    from meterline.migrations import upgrade

    upgrade(url)
    org = "org.bench"
    now = datetime.now(timezone.utc).isoformat()
    rows = [
        (uuid.uuid4().hex, org, e["id"], e["schemaName"], 1, e["accountId"], e["accountId"], e["timestamp"],
         json.dumps(e["attributes"]), json.dumps(e["dimensions"]), now)
        for e in events
    ]
    units = [_units(e) for e in events]
    buckets = [_bucket(e["timestamp"]) for e in events]
    sqlite_buckets = [b.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") for b in buckets]

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
            chunk = rows[i:i + BATCH]
            conn.execute("BEGIN IMMEDIATE")
            claimed = {r[0] for r in conn.execute(
                "INSERT INTO event_ids (org_id, event_id, claimed_at) SELECT ?, value, ? FROM json_each(?) "
                "WHERE true ON CONFLICT DO NOTHING RETURNING event_id",
                (org, now, json.dumps(sorted({r[2] for r in chunk}))))}
            conn.executemany(
                "INSERT INTO events (pk, org_id, event_id, schema_name, schema_version, account_ref, account_pk, "
                "timestamp, attributes, dimensions, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*r[:10], "INGESTION_COMPLETED_EVENT_NOT_METERED" if r[2] in claimed else "INGESTION_FAILED_DUPLICATE_EVENT", r[10])
                 for r in chunk],
            )
            wanted = increments(i, set(claimed), sqlite_buckets)
            for table, column, rows_ in (("usage_rollups", "bucket_start", wanted),
                                         ("usage_daily", "day_start", by_day(wanted, lambda b: b[:10] + " 00:00:00.000000"))):
                # decimals are text on SQLite: read the existing rows, add exactly, write back
                for a, m, b, q, n in conn.execute(
                    f"SELECT account_pk, meter_id, {column}, quantity, events FROM {table} WHERE org_id = ? AND "
                    f"(account_pk, meter_id, {column}) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                    "json_extract(value, '$[2]') FROM json_each(?))", (org, json.dumps(list(rows_)))):
                    rows_[(a, m, b)][0] += Decimal(q)
                    rows_[(a, m, b)][1] += n
                conn.executemany(
                    f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, account_pk, meter_id, {column}) "
                    "DO UPDATE SET quantity = excluded.quantity, events = excluded.events",
                    [(org, a, m, b, str(q), n) for (a, m, b), (q, n) in sorted(rows_.items())])
            conn.execute("COMMIT")
        conn.close()
    else:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute("INSERT INTO organizations VALUES (%s, 'Raw', 'USD', 'UTC', 0, now(), now())", (org,))
            conn.commit()
            for i in range(0, len(rows), BATCH):
                chunk = rows[i:i + BATCH]
                with conn.transaction():
                    claimed = {r[0] for r in conn.execute(
                        "INSERT INTO event_ids (org_id, event_id, claimed_at) SELECT %s, unnest(%s::text[]), now() "
                        "ON CONFLICT DO NOTHING RETURNING event_id", (org, sorted({r[2] for r in chunk}))).fetchall()}
                    with conn.cursor().copy(
                        "COPY events (pk, org_id, event_id, schema_name, schema_version, account_ref, account_pk, "
                        "timestamp, attributes, dimensions, status, created_at) FROM STDIN") as copy:
                        for r in chunk:
                            copy.write_row((*r[:10], "INGESTION_COMPLETED_EVENT_NOT_METERED" if r[2] in claimed
                                            else "INGESTION_FAILED_DUPLICATE_EVENT", r[10]))
                    wanted = increments(i, set(claimed), buckets)
                    daily = by_day(wanted, lambda b: b.replace(hour=0, minute=0, second=0, microsecond=0))
                    for table, column, rows_ in (("usage_rollups", "bucket_start", wanted), ("usage_daily", "day_start", daily)):
                        conn.execute(
                            f"INSERT INTO {table} SELECT %s, r->>0, r->>1, (r->>2)::timestamptz, (r->>3)::numeric, "
                            f"(r->>4)::int FROM json_array_elements(%s::json) AS r ON CONFLICT (org_id, account_pk, meter_id, "
                            f"{column}) DO UPDATE SET quantity = {table}.quantity + excluded.quantity, "
                            f"events = {table}.events + excluded.events",
                            (org, json.dumps([(a, m, b.isoformat(), str(q), n) for (a, m, b), (q, n) in sorted(rows_.items())])))
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="server processes (meterline serve --workers)")
    parser.add_argument("--enrichments", action="store_true", help="Meterline without and with enrichments")
    args = parser.parse_args()
    events = make_events(args.events)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if args.enrichments:
        compare_enrichments(events, engines, args)
        return
    print(f"{args.events:,} events in batches of {BATCH}, ~20% duplicate ids, {ACCOUNTS} accounts, 3 meters, "
          f"{args.clients} client processes, {args.workers} server process(es)")
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
            print(f"{engine:10}  meterline {meterline:10,.0f} events/s   raw limit {limit:10,.0f} events/s   "
                  f"ratio {meterline / limit:.2f}")


def compare_enrichments(events: list[dict], engines: list[str], args: argparse.Namespace) -> None:
    print(f"{args.events:,} events in batches of {BATCH}, ~20% duplicate ids, {ACCOUNTS} accounts, 3 meters, "
          f"{args.clients} client processes, {args.workers} server process(es): the schema without, then with, "
          f"{len(ENRICHMENTS['fields'])} enrichments")
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
            print(f"{engine:10}  plain {rates[0]:10,.0f} events/s   enriched {rates[1]:10,.0f} events/s   "
                  f"ratio {rates[1] / rates[0]:.2f}")


if __name__ == "__main__":
    main()
