"""Alerts (a template instantiated for an account, a customer or the organization) and their incidents.

An incident is one (subject, level) crossing of an alert. While it counts (OPEN, or CLOSED by hand while the
condition still holds) it carries `active_key` = alert|subject|level, unique: one incident per level per crossing,
whatever evaluates it (two workers at once included). When the condition clears the key is released (an OPEN one is
RESOLVED), so the next crossing opens a new incident.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


def dumps(value: Any) -> str:
    """The JSON columns' text: numbers exact (Decimals as written)."""
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return {} if not text else json.loads(text, parse_float=Decimal, parse_int=Decimal)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_due", "status", "next_evaluation_at"),  # what the worker claims
        Index("ix_alerts_org_id_pk", "org_id", "pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `alert.`: the API's id
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)  # +1 at every update; incidents keep the version they opened at
    description: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # AlertStatus
    interval: Mapped[int] = mapped_column(Integer)  # minutes between evaluations
    validity: Mapped[int | None] = mapped_column(Integer)  # minutes from active_since; None: forever
    entity_type: Mapped[str] = mapped_column(String(16))  # EntityType, from entity_details
    entity_id: Mapped[str | None] = mapped_column(String(255))  # the account's or customer's id
    entity_details: Mapped[str] = mapped_column(Text)  # JSON, as given
    owner_details: Mapped[str] = mapped_column(Text)  # JSON, as given
    parameters: Mapped[str] = mapped_column(Text)  # JSON, as given (numbers exact)
    active_since: Mapped[datetime] = mapped_column(UTCDateTime())
    next_evaluation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # ACTIVE only
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))  # the last evaluation's failure; None after a success
    failures: Mapped[int] = mapped_column(Integer)  # evaluations failed in a row
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Incident(Base):
    __tablename__ = "alert_incidents"
    __table_args__ = (
        UniqueConstraint("active_key", name="uq_alert_incidents_active_key"),
        Index("ix_alert_incidents_alert_pk_active", "alert_pk", "active_key"),
        Index("ix_alert_incidents_org_id_pk", "org_id", "pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `incident.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    alert_pk: Mapped[str] = mapped_column(ForeignKey("alerts.pk", ondelete="CASCADE"))
    alert_version: Mapped[int] = mapped_column(Integer)
    template_id: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(64))  # evaluation.level_text
    status: Mapped[str] = mapped_column(String(16))  # IncidentStatus
    active_key: Mapped[str | None] = mapped_column(String(400))  # alert|subject|level while it counts; else None
    report_data: Mapped[str] = mapped_column(Text)  # JSON: the figures at the last check
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the alert's validity end
    last_checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
