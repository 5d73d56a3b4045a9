from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.core.repository import OrgRepository
from meterline.files.models import StoredFile


class FileRepository(OrgRepository):
    def by_id(self, file_id: str) -> StoredFile | None:
        return self.session.scalar(self.scoped(StoredFile).where(StoredFile.pk == file_id))

    def add(self, row: StoredFile) -> None:
        self.session.add(row)
        self.session.flush()


def file_for_link(session: Session, file_id: str) -> StoredFile | None:
    """A file by its id alone, for a signed download link (the signature names the file; no organization asks)."""
    return session.scalar(select(StoredFile).where(StoredFile.pk == file_id))
