"""Event corrections at the service level on both engines: undoing events leaves usage exactly as if they had never
come, a correction is all or nothing, and concurrent corrections of one event revert it once."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest, MeterlineError, NotFound
from meterline.core.money import exact_sum
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.events import pipeline
from meterline.events.models import EventId
from meterline.events.schemas import CorrectionEvent
from meterline.events.service import UsageService
from meterline.events.wire import Event, event_from
from meterline.jobs.models import Job
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    DimensionsSchema,
    EventAttributeSchema,
    UsageMeterFilterEntry,
)
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import corrections, ingestion
from meterline.usecases.jobs import confirm_job, request_correction
from tests.conftest import new_org
from tests.stored_events import stored_events

UTC = timezone.utc
DAY = datetime(2024, 3, 1, tzinfo=UTC)
WINDOWS = [
    (DAY, DAY + timedelta(days=3)),
    (DAY, DAY + timedelta(hours=5, minutes=45)),
    (DAY + timedelta(days=1, hours=2, minutes=15), DAY + timedelta(days=2)),
]


def setup_catalog(ctx: Context) -> None:
    """Customer acme, schema api_calls (calls; region), a SUM meter on calls for region us, a COUNT meter."""
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
    for request in (
        CreateUsageMeterRequest(
            name="us_calls",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="api_calls",
            filters=[UsageMeterFilterEntry(field="region", value="us")],
            computations=[Computation(order=1, computation='{"var":"attribute.calls"}')],
        ),
        CreateUsageMeterRequest(name="requests", type="COUNTER", aggregation="COUNT", event_schema_name="api_calls"),
    ):
        meters.activate(meters.create(request).id)


def event(event_id: str, at: datetime, calls: str = "1", region: str = "us") -> Event:
    return event_from(
        {
            "schemaName": "api_calls",
            "id": event_id,
            "timestamp": at.isoformat(),
            "accountId": "acme",
            "attributes": [{"name": "calls", "value": calls}],
            "dimensions": {"region": region},
        }
    )


def named(event_id: str) -> CorrectionEvent:
    return CorrectionEvent.model_validate({"id": event_id})


@pytest.fixture
def catalog_org(session_factory: sessionmaker[Session]) -> Iterator[Organization]:
    org = new_org(session_factory)
    with unit_of_work(session_factory) as s:
        setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))
    yield org


def usage_snapshot(session_factory: sessionmaker[Session], org: Organization) -> list[dict[str, tuple[Decimal, int]]]:
    with unit_of_work(session_factory, write=False) as s:
        service = UsageService(Context(session=s, org=s.merge(org), now=utc_now()))
        return [{u.name: (u.usage, u.events) for u in service.of_account("acme", start, end)} for start, end in WINDOWS]


def run(session_factory: sessionmaker[Session], org: Organization, work):  # type: ignore[no-untyped-def]
    with unit_of_work(session_factory) as s:
        return work(Context(session=s, org=s.merge(org), now=utc_now()))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 3 * 24 * 3600 - 1),
            st.decimals("-1000", "1000", places=4, allow_nan=False, allow_infinity=False),
            st.sampled_from(["us", "eu"]),
            st.booleans(),  # undone later?
        ),
        min_size=1,
        max_size=30,
    ),
    redo_first=st.booleans(),
)
def test_ingest_then_undo_leaves_usage_as_if_the_events_never_came(
    session_factory: sessionmaker[Session],
    catalog_org: Organization,
    events: list[tuple[int, Decimal, str, bool]],
    redo_first: bool,
) -> None:
    org = catalog_org
    tag = secrets.token_hex(6)  # not `random`: hypothesis seeds it the same for every example
    before = usage_snapshot(session_factory, org)
    batch = [
        event(f"h{tag}-{n}", DAY + timedelta(seconds=sec), str(value), region)
        for n, (sec, value, region, _) in enumerate(events)
    ]
    run(session_factory, org, lambda ctx: ingestion(ctx).ingest(batch))
    undone = [e.id for e, (*_, undo) in zip(batch, events, strict=True) if undo]
    kept = [e for e, (*_, undo) in zip(batch, events, strict=True) if not undo]
    for event_id in undone:
        if redo_first:  # a REDO in between changes nothing either
            run(
                session_factory,
                org,
                lambda ctx, i=event_id: corrections(ctx).correct("REDO", named(i), expected_reference=None),
            )
        run(
            session_factory,
            org,
            lambda ctx, i=event_id: corrections(ctx).correct("UNDO", named(i), expected_reference=None),
        )
    # as if only the kept events had come: the same as ingesting just them into the earlier state
    expected = []
    for (start, end), previous in zip(WINDOWS, before, strict=True):
        got = dict(previous)
        inside = [e for e in kept if start <= e.timestamp < end]
        qty, n = got["us_calls"]
        us = [Decimal(e.attributes[0].value) for e in inside if e.dimensions["region"] == "us"]
        got["us_calls"] = (qty + sum(us, Decimal(0)), n + len(us))
        qty, n = got["requests"]
        got["requests"] = (qty + len(inside), n + len(inside))
        expected.append(got)
    assert usage_snapshot(session_factory, org) == expected
    with unit_of_work(session_factory, write=False) as s:
        claimed = set(
            s.scalars(
                select(EventId.event_id).where(EventId.org_id == org.id, EventId.event_id.in_([e.id for e in batch]))
            )
        )
    assert claimed == {e.id for e in kept}  # the undone ids are free again
    # ...and ingesting them again counts them again
    if undone:
        again = [e for e in batch if e.id in set(undone)]
        results = run(session_factory, org, lambda ctx: ingestion(ctx).ingest(again))
        assert all(r.accepted for r in results)


def undo_exactness(session_factory: sessionmaker[Session], org: Organization, values: list[str], keep: int = 2) -> None:
    """Ingest `values`, undo all but the first `keep`: the usage is their exact sum."""
    run(
        session_factory,
        org,
        lambda ctx: ingestion(ctx).ingest(
            [event(f"d{n}", DAY + timedelta(minutes=1), v) for n, v in enumerate(values)]
        ),
    )
    for n in range(keep, len(values)):
        run(
            session_factory,
            org,
            lambda ctx, n=n: corrections(ctx).correct("UNDO", named(f"d{n}"), expected_reference=None),
        )
    snapshot = usage_snapshot(session_factory, org)
    assert snapshot[0]["us_calls"] == (exact_sum(Decimal(v) for v in values[:keep]), keep)
    assert snapshot[0]["requests"] == (Decimal(keep), keep)


def test_undo_is_exact(session_factory: sessionmaker[Session], catalog_org: Organization) -> None:
    undo_exactness(session_factory, catalog_org, ["0.1", "-0.3", "0.2", "123456789012345.789012345678", "-0.0000001"])


def test_undo_is_exact_beyond_28_digits(session_factory: sessionmaker[Session], catalog_org: Organization) -> None:
    # each value within the number rule (below 10^15, 12 decimals); the eleven kept sum to 29 significant digits
    undo_exactness(
        session_factory, catalog_org, ["999999999999999.999999999999"] * 10 + ["0.000000000001", "0.1", "-0.3"], keep=11
    )


def test_redo_event_in_one_transaction_with_other_work(
    session_factory: sessionmaker[Session], catalog_org: Organization
) -> None:
    """The service never commits: a correction rolled back with its transaction leaves nothing behind."""
    org = catalog_org
    run(session_factory, org, lambda ctx: ingestion(ctx).ingest([event("t1", DAY, "5")]))
    before = usage_snapshot(session_factory, org)
    with pytest.raises(RuntimeError, match="^roll back$"):
        with unit_of_work(session_factory) as s:
            ctx = Context(session=s, org=s.merge(org), now=utc_now())
            corrected = CorrectionEvent.model_validate(msgspec.to_builtins(event("t1", DAY, "50")))
            result = corrections(ctx).correct("REDO_EVENT", corrected, expected_reference=None)
            assert result.status == "REVERTED_AND_REINGESTED"
            raise RuntimeError("roll back")
    assert usage_snapshot(session_factory, org) == before
    with unit_of_work(session_factory, write=False) as s:
        statuses = [e.status for e in stored_events(s, org.id, event_id="t1")]
    assert statuses == ["INGESTION_COMPLETED_EVENT_NOT_METERED"]


def test_errors_name_the_reason(session_factory: sessionmaker[Session], catalog_org: Organization) -> None:
    org = catalog_org
    run(session_factory, org, lambda ctx: ingestion(ctx).ingest([event("ok", DAY)]))
    with pytest.raises(NotFound, match="^Event 'unknown' not found$"):
        run(
            session_factory,
            org,
            lambda ctx: corrections(ctx).correct("UNDO", named("unknown"), expected_reference=None),
        )
    with pytest.raises(BadRequest, match="event.id"):
        run(session_factory, org, lambda ctx: corrections(ctx).correct("UNDO", None, expected_reference=None))
    with pytest.raises(BadRequest, match="event.accountId"):
        run(
            session_factory,
            org,
            lambda ctx: corrections(ctx).correct(
                "REDO_EVENT",
                CorrectionEvent.model_validate(
                    {
                        "id": "ok",
                        "schemaName": "api_calls",
                        "timestamp": DAY.isoformat(),
                        "attributes": [],
                        "dimensions": {},
                    }
                ),
                expected_reference=None,
            ),
        )
    with pytest.raises(BadRequest, match="missing attribute calls"):
        run(
            session_factory,
            org,
            lambda ctx: corrections(ctx).correct(
                "REDO_EVENT",
                CorrectionEvent.model_validate(
                    {
                        "id": "ok",
                        "schemaName": "api_calls",
                        "timestamp": DAY.isoformat(),
                        "accountId": "acme",
                        "attributes": [],
                        "dimensions": {"region": "us"},
                    }
                ),
                expected_reference=None,
            ),
        )
    # none of that changed the event
    with unit_of_work(session_factory, write=False) as s:
        statuses = [e.status for e in stored_events(s, org.id, event_id="ok")]
    assert statuses == ["INGESTION_COMPLETED_EVENT_NOT_METERED"]


def test_an_undo_frees_the_id_in_its_own_organization_only(
    session_factory: sessionmaker[Session], catalog_org: Organization
) -> None:
    # Given two organizations that each ingested an event with the same id
    other = new_org(session_factory)
    run(session_factory, other, setup_catalog)
    for org in (catalog_org, other):
        assert [
            r.accepted for r in run(session_factory, org, lambda ctx: ingestion(ctx).ingest([event("shared", DAY)]))
        ] == [True]
    # When the first organization undoes its event
    run(
        session_factory,
        catalog_org,
        lambda ctx: corrections(ctx).correct("UNDO", named("shared"), expected_reference=None),
    )
    # Then the id is free again there, and still claimed in the other organization: a second copy there is a duplicate
    with unit_of_work(session_factory, write=False) as s:
        claims = set(
            s.scalars(
                select(EventId.org_id).where(
                    EventId.event_id == "shared", EventId.org_id.in_([catalog_org.id, other.id])
                )
            )
        )
    assert claims == {other.id}
    [again] = run(session_factory, other, lambda ctx: ingestion(ctx).ingest([event("shared", DAY)]))
    assert (again.accepted, again.status) == (False, "INGESTION_FAILED_DUPLICATE_EVENT")
    [back] = run(session_factory, catalog_org, lambda ctx: ingestion(ctx).ingest([event("shared", DAY)]))
    assert back.accepted


def test_concurrent_corrections_of_one_event_revert_it_once(
    session_factory: sessionmaker[Session], catalog_org: Organization
) -> None:
    org = catalog_org
    run(
        session_factory,
        org,
        lambda ctx: ingestion(ctx).ingest([event("race", DAY, "7"), event("other", DAY, "1")]),
    )
    barrier = threading.Barrier(6)
    outcomes: list[object] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        action = "UNDO" if n % 2 else "REDO"
        try:
            result = run(
                session_factory,
                org,
                lambda ctx: corrections(ctx).correct(action, named("race"), expected_reference=None),
            )
            outcome: object = result.status
        except MeterlineError as exc:
            outcome = type(exc).__name__
        except BaseException as exc:  # surfaced below
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(o, str) for o in outcomes), outcomes
    with unit_of_work(session_factory, write=False) as s:
        rows = stored_events(s, org.id, event_id="race")
        claimed = s.scalar(select(EventId.event_id).where(EventId.org_id == org.id, EventId.event_id == "race"))
    accepted = [e for e in rows if e.status in pipeline.ACCEPTED]
    # each success reverted exactly the event in force; at most one event with the id is in force at the end
    successes = [o for o in outcomes if o in ("REVERTED", "REVERTED_AND_REINGESTED")]
    assert len(rows) == 1 + outcomes.count("REVERTED_AND_REINGESTED")
    assert len(accepted) == (0 if outcomes and rows[-1].status == "REVERTED" else 1)
    assert successes and len(accepted) <= 1
    assert (claimed is not None) == bool(accepted)
    snapshot = usage_snapshot(session_factory, org)[0]
    assert snapshot["us_calls"] == (Decimal(1 + 7 * len(accepted)), 1 + len(accepted))
    assert snapshot["requests"] == (Decimal(1 + len(accepted)), 1 + len(accepted))


def test_a_confirmation_that_meets_a_concurrent_correction_says_to_request_it_again(
    session_factory: sessionmaker[Session], catalog_org: Organization, db_url: str
) -> None:
    """A job confirmed while another transaction corrects its event: PostgreSQL lets the confirmation read the event
    and then wait for its row lock, so it meets the race (409); SQLite's one writer makes it wait first, so it reads
    the event reverted (400). Either way the job is FAILED, nothing else changes, and the reason says what to do
    next: the correction is requested again (a FAILED job cannot be retried)."""
    org = catalog_org
    run(session_factory, org, lambda ctx: ingestion(ctx).ingest([event("m1", DAY, "3")]))
    job_id = run(
        session_factory, org, lambda ctx: request_correction(ctx, "UNDO", named("m1"), expected_reference=None).job.pk
    )
    postgres = db_url.startswith("postgresql")
    corrected, release = threading.Event(), threading.Event()
    answers: list[object] = []

    def other() -> None:  # the concurrent correction: applied, held uncommitted until the confirmation waits
        with unit_of_work(session_factory) as s:
            corrections(Context(session=s, org=s.merge(org), now=utc_now())).correct(
                "UNDO", named("m1"), expected_reference=None
            )
            corrected.set()
            release.wait(60)

    def confirm() -> None:
        try:
            answers.append(run(session_factory, org, lambda ctx: confirm_job(ctx, job_id)[1]))
        except BaseException as exc:  # surfaced below
            answers.append(exc)

    first = threading.Thread(target=other)
    first.start()
    assert corrected.wait(60)
    second = threading.Thread(target=confirm)
    second.start()
    if postgres:  # the confirmation waits for the event's lock (its row's, or with events in ClickHouse an advisory
        # lock of it): only then may the other correction commit
        with unit_of_work(session_factory, write=False) as s:
            while not s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() "
                    "AND (query ILIKE '%FOR UPDATE%' OR query ILIKE '%pg_advisory_xact_lock%')"
                )
            ):
                s.rollback()
    release.set()
    first.join()
    second.join()
    [refusal] = answers
    if postgres:
        assert isinstance(refusal, tuple) and refusal[0] == 409, refusal
        assert "corrected concurrently" in refusal[1] and "request the correction again" in refusal[1], refusal
    else:
        assert isinstance(refusal, tuple) and refusal[0] == 400 and "stored statuses are REVERTED" in refusal[1]
    with unit_of_work(session_factory, write=False) as s:
        job = s.get(Job, job_id)
        assert job is not None and job.status == "FAILED"
        statuses = [e.status for e in stored_events(s, org.id, event_id="m1")]
    assert statuses == ["REVERTED"]
