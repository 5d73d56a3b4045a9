"""Bill run throughput: finalize one monthly cycle of 10,000 accounts x 3 meters x 100 events (issues 5 and 19).

    .venv/bin/python bench/billrun.py [--accounts 10000] [--events 100] [--factor 10] [--engine sqlite|postgresql|both]
        [--usage-store database|clickhouse|both] [--no-compaction] [--processes N]

For each engine it builds a fresh database twice: with `--events` events per account and meter, then with
`--factor` times as many. Each has one organization (UTC), one event schema with 3 SUM meters, one plan (a tiered
card per meter, a fixed fee), and the accounts on it from 1 October 2026. Then it times
`bill_runs.run(as_of=2026-11-01)`, what `meterline bill-run --as-of 2026-11-01T00:00:00Z` runs: the October invoices
are created and finalized (numbered, DUE), and November's drafts created. It prints invoices finalized per second
and the ratio of the time with `--factor` x the events to the time with 1x (issue 5's targets: >= 1,000/s on
SQLite, ratio <= 1.2: the cost grows with accounts, not events).

Events: a bill run reads usage, never raw events, so the bench writes the usage rows that ingesting the events
writes (the 15-minute buckets and the daily totals, through EventStore.add_usage, the code ingestion uses), from
generated events with random timestamps in October and random units; it checks one account's invoice against the
generated events. Nothing here is a test: timings vary with the machine. `--factor 1` skips the second database.

Usage stores (issue 19): `database` keeps usage in the rollup tables (above); `clickhouse` in a ClickHouse server the
bench starts (tests/clickhouse_server.py), chosen in the database as `meterline usage-store --clickhouse` does: the
same EventStore.add_usage calls then write outbox batches (one per 500 accounts), which the real shipper code
(`ship_once`, events/shipper.py) ships until the outbox is empty before the clock starts, and compaction
(events/compaction.py) sums the shipped rows as `serve` does within a minute (`--no-compaction`: not); the run
reads usage from ClickHouse (plus the outbox, empty). With `both` (the default) each engine runs both stores and
prints the ratio.

Workers with leases (issue 19, "billing that scales out"): `--processes N` (N >= 2) times instead the workers'
run, side by side on three databases built alike: 1 process, then N processes started together, then 1 again (the
ratio takes the mean of the two single-process runs, so that neither the order nor a warmer cache favours a side).
Each process runs `billing.run` with its own `Leases` as `meterline worker` does (usecases/bill_runs.worker: the
groups' step, a lease of 120 s; as_of and now are 2026-11-01, not the wall clock, so that every run bills the same
October). The organization's accounts are cut into parts of `--accounts-per-part` (the workers' 5,000 by default:
2 parts for 10,000 accounts). It prints each run's invoices/s (all finalized invoices over the wall time from the
common start to the last process's end), what each process synced and finalized, and the ratio N processes / 1.
Each run checks that every account got exactly one DUE invoice, numbered 1 to N without a gap or a repeat, and
account 0's usage on it against the generated events.
`--factor` is not used.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest import drop_database, fresh_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from tests.service.billing_world import fee, make_plan, tiered_card  # noqa: E402
from usage_stores import (  # noqa: E402
    clickhouse_server_running,
    keep_usage_in_clickhouse,
    outbox_size,
    stores_of,
    wait_for_mutations,
)

from meterline.accounts.models import Account  # noqa: E402
from meterline.core.clock import utc_now  # noqa: E402
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work  # noqa: E402
from meterline.core.ids import new_ids  # noqa: E402
from meterline.core.schemas import Address  # noqa: E402
from meterline.customers.schemas import CreateCustomerRequest  # noqa: E402
from meterline.customers.service import CustomerService  # noqa: E402
from meterline.events import compaction, shipper  # noqa: E402
from meterline.events.store import EventStore  # noqa: E402
from meterline.events.usage_store import clickhouse_of  # noqa: E402
from meterline.invoicing import billing  # noqa: E402
from meterline.invoicing.leases import ACCOUNTS_PER_PART, Leases  # noqa: E402
from meterline.invoicing.models import Invoice  # noqa: E402
from meterline.metering.meter_service import UsageMeterService  # noqa: E402
from meterline.metering.schema_service import EventSchemaService  # noqa: E402
from meterline.metering.schemas import (  # noqa: E402
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    EventAttributeSchema,
)
from meterline.migrations import upgrade  # noqa: E402
from meterline.schedules.models import PricingSchedule  # noqa: E402
from meterline.schedules.schemas import UpdatePricingScheduleRequest  # noqa: E402
from meterline.tenancy.context import Context  # noqa: E402
from meterline.tenancy.service import TenancyService  # noqa: E402
from meterline.usecases import bill_runs  # noqa: E402
from meterline.usecases.invoice_groups import consolidate  # noqa: E402
from meterline.usecases.schedules import edit_schedules  # noqa: E402

UTC = timezone.utc
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
SECONDS = 31 * 86400
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def build(
    url: str, accounts: int, events: int, clickhouse_server: str | None = None, compact: bool = True
) -> tuple[str, Decimal]:
    """The database of the bench; returns the organization id and account 0's usage total on meter 0. With
    `clickhouse_server`, usage is kept in a fresh ClickHouse database there, shipped before this returns."""
    upgrade(url)
    if clickhouse_server is not None:
        keep_usage_in_clickhouse(url, clickhouse_server, "billrun")
    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory) as s:
        org = TenancyService(s).create_organization(name="Bench", now=OCTOBER - timedelta(days=1))
        ctx = Context(session=s, org=org, now=OCTOBER - timedelta(days=1))
        schemas = EventSchemaService(ctx)
        schemas.create(
            CreateEventSchemaRequest(
                name="usage", attributes=[EventAttributeSchema(name=f"a{i}") for i in range(3)], dimensions=[]
            )
        )
        schemas.activate("usage")
        meters = []
        for i in range(3):
            meter = UsageMeterService(ctx).create(
                CreateUsageMeterRequest(
                    name=f"meter{i}",
                    type="COUNTER",
                    aggregation="SUM",
                    event_schema_name="usage",
                    computations=[Computation(order=1, computation=f'{{"var":"attribute.a{i}"}}')],
                )
            )
            UsageMeterService(ctx).activate(meter.id)
            meters.append(meter.id)
        plan = make_plan(
            ctx,
            "Bench",
            grace=0,
            usageRateCards=[{**tiered_card(m), "displayName": f"Meter {i}"} for i, m in enumerate(meters)],
            fixedFeeRateCards=[fee(ctx, "Platform", "49")],
        )
        customers = CustomerService(ctx)
        for n in range(accounts):
            customers.create(
                CreateCustomerRequest(
                    id=f"c{n:05d}", name=f"Customer {n}", primary_email=f"c{n}@bench.test", address=Address()
                )
            )
        edit_schedules(
            ctx,
            "c00000",
            [
                UpdatePricingScheduleRequest.model_validate(
                    {"pricePlanId": plan, "effectiveFrom": "2026-10-01", "effectiveUntil": "9999-01-01"}
                )
            ],
        )
        first = s.scalars(select(PricingSchedule)).one()
        pks = [a.pk for a in s.scalars(select(Account).where(Account.org_id == org.id, Account.id != "c00000"))]
        # the other accounts get the same schedule row (what the association writes), in one go
        s.add_all(
            [
                PricingSchedule(
                    pk=pk,
                    org_id=org.id,
                    account_pk=a,
                    plan_pk=first.plan_pk,
                    plan_version=1,
                    start_at=first.start_at,
                    end_at=first.end_at,
                    override=None,
                    cycle=first.cycle,
                    created_at=first.created_at,
                )
                for pk, a in zip(new_ids("ps", len(pks)), pks, strict=True)
            ]
        )
        org_id, all_pks = org.id, [first.account_pk, *pks]
    rng = random.Random(5)
    check = Decimal(0)
    for i in range(0, len(all_pks), 500):
        increments: dict[tuple[str, str, datetime], tuple[Decimal, int]] = {}
        for account_pk in all_pks[i : i + 500]:
            for meter_id in meters:
                for _ in range(events):
                    bucket = OCTOBER + timedelta(seconds=rng.randrange(SECONDS) // 900 * 900)
                    units = Decimal(rng.randrange(1, 20))
                    qty, n = increments.get((account_pk, meter_id, bucket), (Decimal(0), 0))
                    increments[(account_pk, meter_id, bucket)] = (qty + units, n + 1)
                    if account_pk == all_pks[0] and meter_id == meters[0]:
                        check += units
        with unit_of_work(factory) as s:
            EventStore(s, org_id).add_usage(increments, UTC, datetime.now(UTC))
    if clickhouse_server is not None:
        while shipper.ship_once(factory):  # the shipper's rounds, until the outbox is empty
            pass
        assert outbox_size(factory) == 0
        if compact:  # as `serve` does within a minute; the summed rows deleted (the steady state)
            compaction.DELETE_AFTER = timedelta(0)
            assert compaction.compact_once(factory)
            with unit_of_work(factory, write=False) as s:
                store = clickhouse_of(s)
            assert store is not None
            wait_for_mutations(store)
    return org_id, check


def timed_run(url: str, org_id: str, check: Decimal, accounts: int) -> float:
    billing.batch_process_gc()  # as `meterline bill-run` does
    factory = make_session_factory(create_db_engine(url))
    started = time.perf_counter()
    result = bill_runs.run(factory, AS_OF, now=AS_OF, org_id=org_id)
    elapsed = time.perf_counter() - started
    assert result.finalized == accounts, result
    check_account_0(factory, check)
    return elapsed


def check_account_0(factory: sessionmaker[Session], check: Decimal) -> None:
    """Account 0's DUE invoice carries the usage of the generated events (`check`, its total on meter 0)."""
    with unit_of_work(factory, write=False) as s:
        first = s.scalars(
            select(Invoice)
            .join(Account, Account.pk == Invoice.account_pk)
            .where(Account.id == "c00000", Invoice.status == "DUE")
        ).one()
    assert f'"quantity":{check}' in (first.usage or ""), "account 0's usage does not match the generated events"


def leased_process(url: str, accounts_per_part: int, start: Any, results: Any) -> None:
    """One worker's run with leases (a process of its own): waits for the common start, then bills as
    `meterline worker` does; puts (finalized, failures, parts synced, start, end) on `results`."""
    billing.batch_process_gc()  # as `meterline worker` does
    factory = make_session_factory(create_db_engine(url))
    leases = Leases(factory, ttl=timedelta(seconds=120), clock=utc_now, accounts_per_part=accounts_per_part)
    start.wait()
    began = time.time()
    result = billing.run(factory, AS_OF, now=AS_OF, groups=consolidate, leases=leases)
    ended = time.time()
    results.put((result.finalized, len(result.failures), sorted(part for _, part in leases.taken), began, ended))


def timed_leased_run(
    url: str, accounts: int, processes: int, accounts_per_part: int, check: Decimal
) -> tuple[float, str]:
    """`processes` workers at once on one database; returns the wall time and what each did. Checks every invoice
    (once each, numbered 1 to `accounts`) and account 0's usage against the generated events (`check`)."""
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(processes), spawn.Queue()
    workers = [
        spawn.Process(target=leased_process, args=(url, accounts_per_part, start, results)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    done = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    finalized = sum(d[0] for d in done)
    assert finalized == accounts and not any(d[1] for d in done), done
    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory, write=False) as s:
        due = s.execute(
            select(
                func.count(),
                func.count(func.distinct(Invoice.account_pk)),
                func.count(func.distinct(Invoice.sequence_number)),
                func.min(Invoice.sequence_number),
                func.max(Invoice.sequence_number),
            ).where(Invoice.status == "DUE")
        ).one()
    expected = (accounts, accounts, accounts, 1, accounts)
    assert tuple(due) == expected, f"DUE invoices, their accounts, numbers, first and last number: {tuple(due)}"
    check_account_0(factory, check)
    wall = max(d[4] for d in done) - min(d[3] for d in done)
    each = ", ".join(f"parts {d[2]} finalized {d[0]:,} in {d[4] - d[3]:.1f} s" for d in done)
    return wall, each


def leases_main(args: argparse.Namespace, engines: list[str], stores: list[str]) -> None:
    running = clickhouse_server_running() if "clickhouse" in stores else contextlib.nullcontext(None)
    with tempfile.TemporaryDirectory() as tmp, running as server:
        for engine in engines:
            for store in stores:
                rates: dict[int, list[float]] = {1: [], args.processes: []}
                for run, processes in enumerate((1, args.processes, 1)):  # 1 before and after: no order effect
                    url = fresh_database(engine, Path(tmp), f"leases{run}{store[:2]}")
                    try:
                        _, check = build(
                            url,
                            args.accounts,
                            args.events,
                            server if store == "clickhouse" else None,
                            not args.no_compaction,
                        )
                        wall, each = timed_leased_run(url, args.accounts, processes, args.accounts_per_part, check)
                    finally:
                        drop_database(url)
                    rates[processes].append(args.accounts / wall)
                    print(
                        f"{engine:10} {store:10} store  {processes} worker process(es), leases: {wall:.2f} s = "
                        f"{rates[processes][-1]:,.0f} invoices/s ({each}; each invoice once, 1 to {args.accounts})",
                        flush=True,
                    )
                print(
                    f"{engine:10} {store:10} store  invoices/s {args.processes} processes / 1 process (the mean of "
                    f"the runs before and after): {rates[args.processes][0] / statistics.mean(rates[1]):.2f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100, help="events per account and meter")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--usage-store", choices=["database", "clickhouse", "both"], default="both")
    parser.add_argument("--no-compaction", action="store_true", help="ClickHouse store: read the rows as shipped")
    parser.add_argument("--processes", type=int, default=1, help="N >= 2: workers with leases, N processes against 1")
    parser.add_argument("--accounts-per-part", type=int, default=ACCOUNTS_PER_PART, help="with --processes")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    stores = stores_of(args.usage_store)
    if args.processes > 1:
        leases_main(args, engines, stores)
        return
    scales = (1, args.factor) if args.factor > 1 else (1,)
    running = clickhouse_server_running() if "clickhouse" in stores else contextlib.nullcontext(None)
    with tempfile.TemporaryDirectory() as tmp, running as server:
        for engine in engines:
            rates: dict[str, float] = {}
            for store in stores:
                times = []
                for run, scale in enumerate(scales):
                    url = fresh_database(engine, Path(tmp), f"billrun{run}{store[:2]}")
                    try:
                        t0 = time.perf_counter()
                        org_id, check = build(
                            url,
                            args.accounts,
                            args.events * scale,
                            server if store == "clickhouse" else None,
                            not args.no_compaction,
                        )
                        built = time.perf_counter() - t0
                        elapsed = timed_run(url, org_id, check, args.accounts)
                    finally:
                        drop_database(url)
                    times.append(elapsed)
                    print(
                        f"{engine:10} {store:10} store  {args.accounts:,} accounts x 3 meters x "
                        f"{args.events * scale:,} events: bill run {elapsed:.2f} s = {args.accounts / elapsed:,.0f} "
                        f"invoices/s (setup {built:.0f} s; account 0's usage exact)",
                        flush=True,
                    )
                rates[store] = args.accounts / times[0]
                if len(times) == 2:
                    print(
                        f"{engine:10} {store:10} store  time with {args.factor}x the events / time with 1x: "
                        f"{times[1] / times[0]:.2f}",
                        flush=True,
                    )
            if len(rates) == 2:
                print(
                    f"{engine:10} invoices/s ClickHouse / database store: "
                    f"{rates['clickhouse'] / rates['database']:.2f} "
                    "(target: >= 1,000 invoices/s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
