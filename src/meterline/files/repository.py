from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meterline.core.repository import OrgRepository
from meterline.files.models import StoredFile


class FileRepository(OrgRepository):
    def by_id(self, file_id: str) -> StoredFile | None:
        return self.session.scalar(self.scoped(StoredFile).where(StoredFile.pk == file_id))

    def expired(self, before: datetime, store: str, limit: int, *, kept_prefix: str) -> list[StoredFile]:
        """Up to `limit` files of `store` made before `before`, oldest first, but those whose id starts with
        `kept_prefix` (the retention of docs/operations.md, "File storage")."""
        return list(
            self.session.scalars(
                self.scoped(StoredFile)
                .where(
                    StoredFile.created_at < before,
                    StoredFile.store == store,
                    StoredFile.pk.not_like(f"{kept_prefix}%"),
                )
                .order_by(StoredFile.created_at, StoredFile.pk)
                .limit(limit)
            )
        )

    def remove(self, pks: list[str]) -> None:
        """The rows go (a report's `file_pk` becomes null: ON DELETE SET NULL)."""
        self.session.execute(delete(StoredFile).where(StoredFile.org_id == self.org_id, StoredFile.pk.in_(pks)))

    def add(self, row: StoredFile) -> None:
        self.session.add(row)
        self.session.flush()


def file_for_link(session: Session, file_id: str) -> StoredFile | None:
    """A file by its id alone, for a signed download link (the signature names the file; no organization asks)."""
    return session.scalar(select(StoredFile).where(StoredFile.pk == file_id))
