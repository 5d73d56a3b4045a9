"""The pipeline view of an event is recorded at ingestion (issue 14, defect 7), on both engines: what each meter did
is stored with the event in the same write; events stored before that record (migration 0008) still read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.events.clickhouse_events import ClickHouseEvents, outbox_row
from meterline.events.models import Event as StoredEvent
from meterline.events.service import EventQueryService
from meterline.events.usage_store import clickhouse_of
from meterline.metering.meter_service import UsageMeterService
from meterline.tenancy.context import Context
from meterline.usecases.events import ingestion
from tests.conftest import new_org
from tests.service.test_ingestion import event, setup_catalog
from tests.stored_events import stored_events


def test_the_record_is_written_at_ingestion_and_old_events_still_read(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    at = utc_now() - timedelta(minutes=5)
    with unit_of_work(session_factory) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        meter_id = setup_catalog(ctx)
        results = ingestion(ctx).ingest([event("a", at, "2.5"), event("a", at, "9"), event("b", at, "1")])
        assert [r.status for r in results] == [
            "INGESTION_COMPLETED_EVENT_NOT_METERED",
            "INGESTION_FAILED_DUPLICATE_EVENT",
            "INGESTION_COMPLETED_EVENT_NOT_METERED",
        ]
    with unit_of_work(session_factory) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        stored = {e.event_id + ("" if e.units is not None else "-dup"): e.meters for e in stored_events(s, org.id)}
        assert stored == {
            "a": [[meter_id, "calls", "PROCESSED_UNITS_COMPUTED", "2.5"]],
            "a-dup": None,
            "b": [[meter_id, "calls", "PROCESSED_UNITS_COMPUTED", "1"]],
        }
        UsageMeterService(ctx).deactivate(meter_id)
        # an event stored before outcomes were recorded: the meters it reached, named from the catalog
        clickhouse = clickhouse_of(s)
        if clickhouse is None:
            s.execute(
                update(StoredEvent).where(StoredEvent.org_id == org.id, StoredEvent.event_id == "b").values(meters=None)
            )
        else:  # events kept in ClickHouse (the second pass): a newer version of the row, as moved from such a database
            [b] = stored_events(s, org.id, event_id="b")
            row = outbox_row(b, b.clickhouse_version + 1)
            row[13] = None  # meters
            ClickHouseEvents(clickhouse).insert([(org.id, "legacy", row)])
    with unit_of_work(session_factory) as s:
        service = EventQueryService(Context(session=s, org=s.merge(org), now=utc_now()))
        assert [p.meters for p in service.pipelines("a")] == [[(meter_id, "calls", Decimal("2.5"))], []]
        assert [p.meters for p in service.pipelines("b")] == [[(meter_id, "calls", Decimal("1"))]]
