"""Ingestion at the service level on both engines: exactly-once under concurrency, and usage from the rollups
equal to usage recomputed from the raw events."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.events import pipeline
from meterline.events.models import EventId
from meterline.events.service import UsageService
from meterline.events.wire import Event, event_from
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    DimensionsSchema,
    EventAttributeSchema,
)
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import ingestion
from tests.conftest import new_org
from tests.stored_events import stored_events

UTC = timezone.utc
DAY = datetime(2024, 3, 1, tzinfo=UTC)


def setup_catalog(ctx: Context) -> str:
    """Customer acme, schema api_calls (calls; region), an active SUM meter on calls. Returns the meter id."""
    CustomerService(ctx).create(
        CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=Address())
    )
    EventSchemaService(ctx).create(
        CreateEventSchemaRequest(
            name="api_calls",
            attributes=[EventAttributeSchema(name="calls")],
            dimensions=[DimensionsSchema(name="region")],
        )
    )
    EventSchemaService(ctx).activate("api_calls")
    meters = UsageMeterService(ctx)
    meter = meters.create(
        CreateUsageMeterRequest(
            name="calls",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="api_calls",
            computations=[Computation(order=1, computation='{"var":"attribute.calls"}')],
        )
    )
    meters.activate(meter.id)
    return meter.id


def event(event_id: str, at: datetime, calls: str = "1") -> Event:
    return event_from(
        {
            "schemaName": "api_calls",
            "id": event_id,
            "timestamp": at.isoformat(),
            "accountId": "acme",
            "attributes": [{"name": "calls", "value": calls}],
            "dimensions": {"region": "us"},
        }
    )


@pytest.fixture
def catalog_org(session_factory: sessionmaker[Session]) -> Iterator[tuple[Organization, str]]:
    org = new_org(session_factory)
    with unit_of_work(session_factory) as s:
        meter_id = setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))
    yield org, meter_id


def test_concurrent_overlapping_batches_count_each_id_once(
    session_factory: sessionmaker[Session], catalog_org: tuple[Organization, str]
) -> None:
    org, meter_id = catalog_org
    pool = [f"ev-{i}" for i in range(300)]
    sent: set[str] = set()
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            for _ in range(4):
                ids = rng.choices(pool, k=100)  # duplicates inside the batch and across threads
                with unit_of_work(session_factory) as s:
                    ingestion(Context(session=s, org=s.merge(org), now=utc_now())).ingest(
                        [event(i, DAY + timedelta(minutes=pool.index(i) % 96 * 15)) for i in ids]
                    )
                with lock:
                    sent.update(ids)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    with unit_of_work(session_factory, write=False) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        accepted = len(stored_events(s, org.id, statuses=pipeline.ACCEPTED))
        duplicates = len(stored_events(s, org.id, statuses={pipeline.DUPLICATE}))
        claimed = s.scalar(select(func.count()).where(EventId.org_id == org.id))
        usage = {u.meter_id: u for u in UsageService(ctx).of_account("acme", DAY, DAY + timedelta(days=1))}
    assert accepted == claimed == len(sent)
    assert accepted + duplicates == 8 * 4 * 100
    assert usage[meter_id].usage == Decimal(len(sent)) and usage[meter_id].events == len(sent)


OFFSETS = [
    timedelta(0),
    timedelta(hours=5, minutes=30),
    timedelta(hours=5, minutes=45),
    timedelta(hours=-3, minutes=-30),
]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 3 * 24 * 3600 - 1),
            st.decimals("-1000", "1000", places=3, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=40,
    ),
    windows=st.lists(st.tuples(st.sampled_from(OFFSETS), st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=4),
)
def test_usage_from_rollups_equals_usage_from_raw_events(
    session_factory: sessionmaker[Session],
    catalog_org: tuple[Organization, str],
    events: list[tuple[int, Decimal]],
    windows: list[tuple[timedelta, int, int]],
) -> None:
    org, meter_id = catalog_org
    batch_tag = random.getrandbits(48)
    with unit_of_work(session_factory) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        ingestion(ctx).ingest(
            [
                event(f"p{batch_tag}-{n}", DAY + timedelta(seconds=sec), str(value))
                for n, (sec, value) in enumerate(events)
            ]
        )
    with unit_of_work(session_factory, write=False) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        raw = [(e.timestamp, Decimal(e.units[meter_id])) for e in stored_events(s, org.id, statuses=pipeline.ACCEPTED)]
        for offset, first_day, days in windows:
            # local midnights in a zone with that offset, as UTC instants
            start = DAY.replace(tzinfo=timezone(offset)) + timedelta(days=first_day - 1)
            end = start + timedelta(days=days)
            got = {u.meter_id: u for u in UsageService(ctx).of_account("acme", start, end)}[meter_id]
            expected = [units for ts, units in raw if start <= ts < end]
            assert got.usage == sum(expected, Decimal(0))
            assert got.events == len(expected)


def test_the_window_forgets_only_the_ids_claimed_before_it_in_its_own_organization(
    session_factory: sessionmaker[Session], catalog_org: tuple[Organization, str]
) -> None:
    from meterline.events.store import EventStore

    org, _ = catalog_org
    other = new_org(session_factory)
    early, edge, late = DAY - timedelta(days=40), DAY - timedelta(days=30), DAY - timedelta(days=1)
    claims = ((org, "old", early), (org, "edge", edge), (org, "new", late), (other, "old", early))
    for owner, event_id, claimed in claims:
        with unit_of_work(session_factory) as s:
            assert EventStore(s, owner.id).claim_ids([event_id], claimed) == {event_id}
    with unit_of_work(session_factory) as s:
        assert EventStore(s, org.id).forget_ids_before(edge) == 1
    with unit_of_work(session_factory) as s:
        assert EventStore(s, org.id).forget_ids_before(edge) == 0  # nothing left to forget: it says so
    with unit_of_work(session_factory, write=False) as s:
        left = set(s.execute(select(EventId.org_id, EventId.event_id).where(EventId.org_id.in_([org.id, other.id]))))
    assert left == {(org.id, "edge"), (org.id, "new"), (other.id, "old")}  # claimed at `before`: not before it


def test_ids_past_the_window_can_be_ingested_again(
    session_factory: sessionmaker[Session], catalog_org: tuple[Organization, str]
) -> None:
    org, _ = catalog_org
    statuses = []
    for forget in (False, True):
        with unit_of_work(session_factory) as s:
            ctx = Context(session=s, org=s.merge(org), now=utc_now())
            if forget:
                from meterline.events.store import EventStore

                assert EventStore(s, org.id).forget_ids_before(utc_now() + timedelta(seconds=1)) == 1
            statuses.append(ingestion(ctx).ingest([event("again", DAY)])[0].status)
    assert statuses == [pipeline.NOT_METERED, pipeline.NOT_METERED]
