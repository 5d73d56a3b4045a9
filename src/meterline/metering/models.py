from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class EventSchema(Base):
    """One version of an event schema: one row per (organization, name, version).

    `id` (`es.01...`) names the schema across its versions; `pk` names this version's row. `latest` marks the newest
    version, the one the API shows and edits; older versions are ARCHIVED. A deleted schema is its newest version
    with status ARCHIVED.
    `attributes` holds `[{"name", "defaultUnit"?}]`, `dimensions` `[{"name"}]`, `enrichments` Togai's object, all as
    the API spells them.
    """

    __tablename__ = "event_schemas"
    __table_args__ = (
        UniqueConstraint("org_id", "name", "version", name="uq_event_schemas_org_id_name_version"),
        Index("ix_event_schemas_org_id_latest_id", "org_id", "latest", "id"),
        Index("ix_event_schemas_org_id_id", "org_id", "id"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(50))
    version: Mapped[int]
    latest: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[list[Any]]
    dimensions: Mapped[list[Any]]
    filter_fields: Mapped[list[Any] | None]
    enrichments: Mapped[dict[str, Any] | None]
    event_id_template: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def attribute_names(self) -> list[str]:
        return [a["name"] for a in self.attributes or []]

    @property
    def dimension_names(self) -> list[str]:
        return [d["name"] for d in self.dimensions or []]


class UsageMeter(Base):
    """A usage meter of one event schema (by the schema's `id` and `name`).

    `id` is the short public id (`um.xxxxxxxxxxxx`, the SDK caps it at 20 characters); `pk` is time-ordered, so
    lists come in creation order. A name is unique among the organization's meters that are not ARCHIVED.
    `filters` holds `[{"field", "value"}]`, `computations` `[{"id"?, "matcher"?, "computation", "order"}]`.
    """

    __tablename__ = "usage_meters"
    __table_args__ = (
        UniqueConstraint("id", name="uq_usage_meters_id"),
        Index(
            "uq_usage_meters_org_id_name_live",
            "org_id",
            "name",
            unique=True,
            sqlite_where=text("status != 'ARCHIVED'"),
            postgresql_where=text("status != 'ARCHIVED'"),
        ),
        Index("ix_usage_meters_org_id_event_schema_name", "org_id", "event_schema_name"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(50))
    billable_name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    aggregation: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    filters: Mapped[list[Any]]
    computations: Mapped[list[Any]]
    event_schema_id: Mapped[str] = mapped_column(String(40))
    event_schema_name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
