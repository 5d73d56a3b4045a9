from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class PortalToken(Base):
    """A customer portal's delegate token (`POST /portal/token`): the customer it opens, its accounts (`account_pks`,
    or every account of the customer when `all_accounts`), and when it expires. As with API keys only a SHA-256 of
    the token is stored; `prefix` finds the row. Its issuer: the API key it was asked with (a JWT's subject is its
    key) or the console user who made it (`issued_by_key` / `issued_by_user`; no foreign key: a token whose issuer
    is revoked or removed opens nothing, portal/service.py `open_token`; both null before migration 0018)."""

    __tablename__ = "portal_tokens"
    __table_args__ = (
        Index("ix_portal_tokens_org_id_customer_pk", "org_id", "customer_pk"),
        Index("ix_portal_tokens_org_id_expires_at", "org_id", "expires_at"),  # forgetting expired tokens
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    customer_pk: Mapped[str] = mapped_column(ForeignKey("customers.pk", ondelete="CASCADE"))
    account_pks: Mapped[list[Any]]
    all_accounts: Mapped[bool]
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by_key: Mapped[str | None] = mapped_column(String(40))
    issued_by_user: Mapped[str | None] = mapped_column(String(40))
