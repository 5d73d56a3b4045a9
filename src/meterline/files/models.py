"""Generated files (report exports): what Meterline knows of each; the bytes are in the file store (storage.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class StoredFile(Base):
    """A file in the store: `store` is where it was written (`local` or `s3`), `key` its name there."""

    __tablename__ = "files"

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the file id (`file.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))  # the download's file name
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    store: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
