from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class EntitySetting(Base):
    """A named value attached to an entity (ORGANIZATION, CUSTOMER, ACCOUNT, ...).

    `full_id` is `setting.<namespace>.<id>.<entityType>.<entityId>`, the id Togai's `/settings/{id}` path takes.
    """

    __tablename__ = "entity_settings"
    __table_args__ = (
        UniqueConstraint("org_id", "full_id", name="uq_entity_settings_org_id_full_id"),
        Index("ix_entity_settings_org_id_entity", "org_id", "entity_type", "entity_id"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    full_id: Mapped[str] = mapped_column(String(600))
    id: Mapped[str] = mapped_column(String(255))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(255))
    namespace: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)
    data_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
