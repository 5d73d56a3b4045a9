"""The event store: every event as ingested, the ids claimed for deduplication, and usage rolled up by time.

Usage of (account, meter, window) is a sum over `usage_rollups`, never a scan of events. Buckets are 15 minutes
wide, so any window whose ends fall on a 15-minute boundary (every midnight of every real time zone does, +05:30
and +05:45 included) is exactly a set of whole buckets.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_org_id_event_id", "org_id", "event_id"),
        Index("ix_events_org_id_account_pk_timestamp", "org_id", "account_pk", "timestamp"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # Togai's referenceId
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(String(512))
    schema_name: Mapped[str] = mapped_column(String(50))
    schema_version: Mapped[int | None]
    account_ref: Mapped[str] = mapped_column(String(512))  # the accountId as sent: an id or an alias
    account_pk: Mapped[str | None] = mapped_column(String(40))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    attributes: Mapped[list[Any]]
    dimensions: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(48))
    status_description: Mapped[str | None] = mapped_column(String(250))
    # meter id -> units (decimal text) for every meter the event reached; null for failed events
    units: Mapped[dict[str, Any] | None]
    # What the pipeline did, recorded at ingestion: [meter id, name, outcome, units (decimal text) or null] for every
    # ACTIVE meter of the schema then (outcome PROCESSED_UNITS_COMPUTED or PROCESSED_FILTERED_OUT). Null for an event
    # that never reached the meters (rejected: a duplicate, an unknown account...) and for events stored before 0008.
    meters: Mapped[list[Any] | None]
    # What the schema's enrichments derived for an accepted event (Togai's EventPipelineInfoEnrichments:
    # {"attributes": [{name, type, value}], "dimensions": [...], "dependencies": [{key, type, name, value}]}); null
    # when the schema has none, for rejected events, and for events stored before 0014.
    enrichments: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Not a column: the version of an event read from ClickHouse (events/clickhouse_events.py), whose next version a
    # correction writes.
    clickhouse_version = 0


class EventId(Base):
    """Ids claimed by accepted events: the deduplication key (organization, event id), kept for the window."""

    __tablename__ = "event_ids"
    __table_args__ = (PrimaryKeyConstraint("org_id", "event_id", name="pk_event_ids"),)

    org_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(512))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UsageRollup(Base):
    __tablename__ = "usage_rollups"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "account_pk", "meter_id", "bucket_start", name="pk_usage_rollups"),
    )

    org_id: Mapped[str] = mapped_column(String(40))
    account_pk: Mapped[str] = mapped_column(String(40))
    meter_id: Mapped[str] = mapped_column(String(20))
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime())
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    events: Mapped[int]


class UsageDaily(Base):
    """The same usage per local day of the organization (`day_start` is that day's local midnight, in UTC): an
    invoice reads at most a row per day and meter, however many events the day had."""

    __tablename__ = "usage_daily"
    __table_args__ = (PrimaryKeyConstraint("org_id", "account_pk", "meter_id", "day_start", name="pk_usage_daily"),)

    org_id: Mapped[str] = mapped_column(String(40))
    account_pk: Mapped[str] = mapped_column(String(40))
    meter_id: Mapped[str] = mapped_column(String(20))
    day_start: Mapped[datetime] = mapped_column(UTCDateTime())
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    events: Mapped[int]


class UsageOutbox(Base):
    """Usage on its way to ClickHouse (docs/clickhouse.md), when the installation keeps usage there: each write of
    usage (an ingestion's, a correction's) is one row, committed with the events it counts, and deleted by the
    shipper once ClickHouse has its rows. `payload`: JSON [[account_pk, meter_id, bucket (µs), quantity, events]];
    `events`: the events (or their new versions) the write stored, JSON rows as events/clickhouse_events.py's
    `outbox_row` makes them, or null."""

    __tablename__ = "usage_outbox"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the batch id, never reused (time-ordered)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[str] = mapped_column(Text)
    events: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Installation(Base):
    """Settings of the whole installation kept in its database, so that every process that opens it agrees on them
    (`usage_store`: where usage is kept, 'clickhouse://...', or no row for the database itself)."""

    __tablename__ = "installation"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
