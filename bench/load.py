"""Load: how many requests a server answers, and how fast, from other processes on the same machine.

    .venv/bin/python bench/load.py [--engine sqlite|postgresql|both] [--seconds 10] [--workers 1] [--rate 500]
                                   [--clients 1] [--connections 8] [--phases all|reads|mix] [--rounds 3]

The clients speak HTTP/1.1 through `rawhttp.py` (prebuilt requests, answers read by Content-Length): a general
client costs about as much CPU per request as the server, and here the clients share the 2 cores with the server.
1. Throughput, side by side with `GET /healthz` (the framework's ceiling: no authentication, no database):
   `GET /api/accounts/{id}`, `GET /api/accounts/{id}/entitlements`, `POST /api/accounts/{id}/entitlements/{featureId}`
   (validate_entitlement_value, alternately a metered and a configuration feature) and `POST /api/entitled` (each
   event a new id, consuming one unit of the account's feature credits). `--clients` processes, each with
   `--connections` keep-alive connections, ask again as soon as each answer comes, for `--seconds` in all, split in
   `--rounds` rounds of every operation in turn; prints requests/s, p50 / p99, the server's CPU per request and the
   ratio to /healthz's requests/s (taken within each round, since the load of a shared machine drifts: the median).
2. Each of the four at half its own measured rate, open loop (below): p50 / p99 / max.
3. A mix at a fixed rate, 500 requests/s by default (open loop: request n is due at start + n / rate, waits for one
   of 32 connections per client, and its latency counts from the instant it was due, so a slow server cannot hide
   its queue): 60% `GET /api/accounts/{id}`, 15% `GET /api/customers`, 10% `PATCH /api/accounts/{id}`, 15%
   `POST /api/ingest`; prints p50 / p99 / max and errors.
Nothing here is a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
ACCOUNTS = 100  # the accounts the requests pick from (of the 1,000 seeded)
ENTITLED_SCHEMA = "feature_calls"


@dataclass(frozen=True)
class Seeded:
    token: str
    metered: str  # a feature reading `feature_calls.units`, with 10^12 units granted to each of ACCOUNTS accounts
    configured: str  # a configuration feature, the organization's setting `entitlements/<id>` = "gold"


def seed(url: str) -> Seeded:
    """1,000 accounts, one schema and 3 meters (bench/ingest.py); then a schema fed to a metered feature, credits of
    it for the accounts the bench uses (granted through FeatureCreditService), and a configuration feature."""
    from ingest import seed_catalog

    from meterline.core.clock import utc_now
    from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
    from meterline.entitlements.feature_service import Association, FeatureService
    from meterline.entitlements.service import FeatureCreditService, Grant
    from meterline.metering.meter_service import UsageMeterService
    from meterline.metering.schema_service import EventSchemaService
    from meterline.metering.schemas import CreateEventSchemaRequest, CreateUsageMeterRequest
    from meterline.settings.schemas import SettingIn
    from meterline.settings.service import SettingsWriter
    from meterline.tenancy.context import Context
    from meterline.tenancy.service import TenancyService

    token = seed_catalog(url)
    engine = create_db_engine(url)
    with unit_of_work(make_session_factory(engine)) as s:
        org = TenancyService(s).organizations()[0]
        ctx = Context(session=s, org=org, now=utc_now())
        schemas = EventSchemaService(ctx)
        schemas.create(CreateEventSchemaRequest.model_validate(
            {"name": ENTITLED_SCHEMA, "attributes": [{"name": "units"}], "dimensions": [{"name": "region"}]}))
        schemas.activate(ENTITLED_SCHEMA)
        meters = UsageMeterService(ctx)
        meter = meters.create(CreateUsageMeterRequest.model_validate(
            {"name": "feature_units", "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": ENTITLED_SCHEMA,
             "computations": [{"order": 1, "computation": '{"var":"attribute.units"}'}]}))
        meters.activate(meter.id)
        features = FeatureService(ctx)
        metered = features.create("Checks", None, [Association(ENTITLED_SCHEMA, "units")]).feature.pk
        configured = features.create("Tier", None, []).feature.pk
        SettingsWriter(ctx).put(entity_type="ORGANIZATION", entity_id=org.id, item=SettingIn.model_validate(
            {"id": configured, "value": "gold", "entityType": "ORGANIZATION", "entityId": org.id,
             "namespace": "entitlements", "name": "Tier", "dataType": "STRING"}))
        credits = FeatureCreditService(ctx)
        for i in range(ACCOUNTS):
            credits.grant(Grant(account_id=f"acct-{i}", feature_id=metered, granted=Decimal(10**12)))
    engine.dispose()
    return Seeded(token=token, metered=metered, configured=configured)


def entitled_event(event_id: str, account: str) -> dict[str, object]:
    return {"event": {"schemaName": ENTITLED_SCHEMA, "id": event_id, "accountId": account,
                      "timestamp": datetime.now(timezone.utc).isoformat(),
                      "attributes": [{"name": "units", "value": "1"}], "dimensions": {"region": "us"}}}


# What each measured operation sends, from a random generator and a counter (for unique event ids).
Request = tuple[str, str, object | None]


def operation(name: str, seeded: Seeded) -> Callable[[random.Random, str], Request]:
    def account(rng: random.Random) -> str:
        return f"acct-{rng.randrange(ACCOUNTS)}"

    if name == "healthz":
        return lambda rng, uid: ("GET", "/healthz", None)
    if name == "account":
        return lambda rng, uid: ("GET", f"/api/accounts/{account(rng)}", None)
    if name == "entitlements":
        return lambda rng, uid: ("GET", f"/api/accounts/{account(rng)}/entitlements", None)
    if name == "validate":
        def validate(rng: random.Random, uid: str) -> Request:
            metered = rng.random() < 0.5
            feature = seeded.metered if metered else seeded.configured
            return "POST", f"/api/accounts/{account(rng)}/entitlements/{feature}", {"value": "1" if metered else "gold"}
        return validate
    if name == "entitled":
        return lambda rng, uid: ("POST", "/api/entitled", entitled_event(f"ent-{uid}", account(rng)))
    raise ValueError(name)


LABELS = {
    "healthz": "GET /healthz (no auth, no database)",
    "account": "GET /api/accounts/{id}",
    "entitlements": "GET /api/accounts/{id}/entitlements",
    "validate": "POST /api/accounts/{id}/entitlements/{featureId}",
    "entitled": "POST /api/entitled",
}


async def _closed(base: str, seeded: Seeded, name: str, seconds: float, connections: int) -> tuple[list[float], int]:
    """Closed loop: `connections` keep-alive connections, each asking again as soon as it has its answer."""
    from rawhttp import Connection

    latencies: list[float] = []
    make = operation(name, seeded)
    rng = random.Random()
    tag = uuid.uuid4().hex[:12]
    counter = itertools.count()
    errors = 0
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal errors
        conn = await Connection.open(base, seeded.token)
        try:
            while time.perf_counter() < end:
                method, path, body = make(rng, f"{tag}-{next(counter)}")
                started = time.perf_counter()
                status, answer = await conn.request(method, path, body)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors += 1
                    if errors == 1:
                        print(f"{name}: {status} {answer[:300].decode(errors='replace')}", file=sys.stderr)
        finally:
            conn.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return latencies, errors


def _quiet_collector() -> None:
    """A client process measures the server, not its own garbage collector: with it on, a full collection of the
    client's tasks and answers (~15,000 objects) paused the client 140-200 ms a few times a run, and every request due
    meanwhile counted it as the server's latency (docs/performance.md, Session 8). A run lasts seconds: its garbage
    waits for the process's end."""
    gc.collect()
    gc.freeze()
    gc.disable()


def _closed_process(args: tuple[str, Seeded, str, float, int]) -> tuple[list[float], int]:
    _quiet_collector()
    return asyncio.run(_closed(*args))


async def _open(base: str, seeded: Seeded, name: str, rate: float, seconds: float, seed_: int,
                connections: int) -> tuple[list[float], int]:
    """Open loop: request n is due at start + n / rate and waits for a free connection; its latency counts from the
    instant it was due, so a slow server cannot hide its queue. `name` "mix" is the mix of the module's docstring."""
    from rawhttp import Connection

    rng = random.Random(seed_)
    make = operation(name, seeded) if name != "mix" else None
    tag = uuid.uuid4().hex[:12]
    latencies: list[float] = []
    errors = 0
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await Connection.open(base, seeded.token))
    start = time.perf_counter()

    def mixed(n: int) -> Request:
        account = f"acct-{rng.randrange(ACCOUNTS)}"
        pick = rng.random()
        if pick < 0.60:
            return "GET", f"/api/accounts/{account}", None
        if pick < 0.75:
            return "GET", "/api/customers?pageSize=20", None
        if pick < 0.85:
            return "PATCH", f"/api/accounts/{account}", {"netTermDays": rng.randrange(30)}
        return "POST", "/api/ingest", {"event": {
            "schemaName": "api_calls", "id": f"load-{tag}-{n}", "accountId": account,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "attributes": [{"name": "calls", "value": "1"}, {"name": "bytes", "value": "10"}],
            "dimensions": {"region": "us"}}}

    async def one(n: int, due: float) -> None:
        nonlocal errors
        conn = await free.get()
        method, path, body = make(rng, f"{tag}-{n}") if make is not None else mixed(n)
        try:
            status, _ = await conn.request(method, path, body)
            if status >= 400:
                errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn = await Connection.open(base, seeded.token)
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


def _open_process(args: tuple[str, Seeded, str, float, float, int, int]) -> tuple[list[float], int]:
    _quiet_collector()
    return asyncio.run(_open(*args))


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its worker processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000 if len(values) > 100 else max(values) * 1000


READS = ("account", "entitlements", "validate", "entitled")


def run(engine: str, seconds: float, workers: int, rate: float, clients: int, connections: int, phases: str,
        rounds: int) -> None:
    from conftest import start_server, stop_server
    from ingest import drop_database, fresh_database

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(engine, Path(tmp), "load")
        try:
            seeded = seed(url)
            process, base = start_server(url, Path(tmp) / "server.log", workers=workers)
            print(f"{engine:10}  (machine load average before: {os.getloadavg()[0]:.1f})", flush=True)
            try:
                if phases in ("all", "reads"):
                    # Rounds of every operation in turn, /healthz first: each ratio is taken within its round (the
                    # machine is shared, and its load drifts), and the median of the rounds is printed.
                    got: dict[str, list[float]] = {name: [] for name in ("healthz", *READS)}
                    rates: dict[str, list[float]] = {name: [] for name in got}
                    cpus: dict[str, list[float]] = {name: [] for name in got}
                    errors: dict[str, int] = dict.fromkeys(got, 0)
                    share = seconds / rounds
                    for _ in range(rounds):
                        for name in got:
                            with mp.Pool(clients) as pool:
                                cpu = server_cpu(process.pid)
                                parts = pool.map(_closed_process, [(base, seeded, name, share, connections)] * clients)
                                cpu = server_cpu(process.pid) - cpu
                            latencies = [x for part, _ in parts for x in part]
                            got[name] += latencies
                            rates[name].append(len(latencies) / share)
                            cpus[name].append(cpu / max(1, len(latencies)) * 1000)
                            errors[name] += sum(e for _, e in parts)
                    for name, latencies in got.items():
                        ratio = statistics.median(r / h for r, h in zip(rates[name], rates["healthz"], strict=True))
                        print(f"{engine:10}  {LABELS[name]:50} {statistics.median(rates[name]):7,.0f} requests/s  "
                              f"ratio {ratio:4.2f}   p50 {pct(latencies, 50):6.1f} ms   p99 {pct(latencies, 99):6.1f} ms   "
                              f"server CPU {statistics.median(cpus[name]):4.2f} ms/request   errors {errors[name]}",
                              flush=True)
                    print(f"{engine:10}  ({workers} server processes; {clients} client processes x {connections} "
                          f"connections; {rounds} rounds of {share:.1f} s per operation; ratio: the median of the "
                          "rounds' ratios)")
                    for name in READS:
                        half = statistics.median(rates[name]) / 2
                        with mp.Pool(clients) as pool:
                            parts = pool.map(_open_process, [(base, seeded, name, half / clients, seconds, k, 32)
                                                             for k in range(clients)])
                        latencies = [x for part, _ in parts for x in part]
                        failed = sum(e for _, e in parts)
                        print(f"{engine:10}  {LABELS[name]:50} at {half:5.0f}/s (half): p50 {pct(latencies, 50):6.1f} ms   "
                              f"p99 {pct(latencies, 99):6.1f} ms   max {max(latencies) * 1000:6.1f} ms   errors {failed}",
                              flush=True)
                if phases in ("all", "mix"):
                    with mp.Pool(clients) as pool:
                        parts = pool.map(_open_process, [(base, seeded, "mix", rate / clients, seconds, k, 32)
                                                         for k in range(clients)])
                    mix = [x for part, _ in parts for x in part]
                    errors = sum(e for _, e in parts)
                    print(f"{engine:10}  mix at {rate:.0f} requests/s: p50 {pct(mix, 50):6.1f} ms   "
                          f"p99 {pct(mix, 99):6.1f} ms   max {max(mix) * 1000:6.1f} ms   errors {errors} of {len(mix)}",
                          flush=True)
            finally:
                print(f"{engine:10}  (machine load average after: {os.getloadavg()[0]:.1f})", flush=True)
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
    parser.add_argument("--phases", choices=["all", "reads", "mix"], default="all")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the throughput phases (seconds split)")
    args = parser.parse_args()
    for engine in (["sqlite", "postgresql"] if args.engine == "both" else [args.engine]):
        run(engine, args.seconds, args.workers, args.rate, args.clients, args.connections, args.phases, args.rounds)


if __name__ == "__main__":
    main()
