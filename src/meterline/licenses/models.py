"""License quantities over time: each update records the absolute quantity of a license for an account from an
instant on (billing-rules D7: a day's quantity is the largest in force that day)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class LicenseUpdate(Base):
    __tablename__ = "license_updates"
    __table_args__ = (
        Index(
            "ix_license_updates_org_id_account_pk_license_id_effective_from",
            "org_id",
            "account_pk",
            "license_id",
            "effective_from",
        ),
        UniqueConstraint("org_id", "idempotency_key"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    license_id: Mapped[str] = mapped_column(String(50))  # the add-on id
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(50))  # the account's id (an update may name it by an alias)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())  # absolute, after the update
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
