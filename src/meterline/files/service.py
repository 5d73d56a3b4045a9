"""Files: written once through the process's store (storage.py), read through signed, expiring links."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from meterline.core.errors import Conflict, NotFound
from meterline.core.ids import new_id
from meterline.files import storage
from meterline.files.models import StoredFile
from meterline.files.repository import FileRepository
from meterline.tenancy.context import Context
from meterline.tenancy.repository import TenancyRepository

SECRET_NAME = "file-link-signing-key"  # noqa: S105  # nosec B105 - the name of the secret's row, not a secret


def link_secret(session: Session, store: storage.FileStore) -> str:
    """The local store's signing key: `METERLINE_SECRET_KEY`, else the instance secret in the database (made by the
    first file's write, in that writing transaction, so every process and every later read agrees on it)."""
    if isinstance(store, storage.LocalStore) and store.secret:
        return store.secret
    return TenancyRepository(session).secret(SECRET_NAME)


class FileService:
    def __init__(self, ctx: Context, store: storage.FileStore) -> None:
        """`store` (required): where the bytes go (`storage.current()` in a running process)."""
        self.ctx = ctx
        self.store = store
        self.repo = FileRepository(ctx.session, ctx.org_id)

    def save(self, name: str, content_type: str, data: bytes, *, pk: str | None = None) -> StoredFile:
        """Write the bytes to the store and record the file (`pk`: a file id chosen by the caller, an invoice PDF's;
        default a new one). (A transaction rolled back after this leaves the bytes in the store with no row: nothing
        links to them.)"""
        if isinstance(self.store, storage.LocalStore):
            link_secret(self.ctx.session, self.store)  # made now, in a write, if it is the first file
        pk = pk or new_id("file")
        key = f"{self.ctx.org_id}/{pk}"
        self.store.put(key, data, content_type)
        row = StoredFile(
            pk=pk,
            org_id=self.ctx.org_id,
            name=name,
            content_type=content_type,
            size=len(data),
            store=self.store.name,
            key=key,
            created_at=self.ctx.now,
        )
        self.repo.add(row)
        return row

    def get(self, file_id: str) -> StoredFile:
        row = self.repo.by_id(file_id)
        if row is None:
            raise NotFound(f"File {file_id} not found")
        return row

    def download_url(self, file_id: str, *, expiry: int | None, base_url: str) -> str:
        """A link that downloads the file for `expiry` seconds (1 to 7 days; default one hour)."""
        seconds = storage.checked_expiry(expiry)
        row = self.get(file_id)
        store = self.store
        if row.store != store.name:
            raise Conflict(f"File {file_id} is in the {row.store} store, and this server uses the {store.name} store")
        if isinstance(store, storage.LocalStore):
            store = store.with_secret(link_secret(self.ctx.session, store))
        expires_at = int(time.time()) + seconds
        return store.url(
            row.key,
            file_id=row.pk,
            filename=row.name,
            content_type=row.content_type,
            expires_at=expires_at,
            base_url=base_url,
        )

    def read(self, file_id: str) -> tuple[StoredFile, bytes]:
        row = self.get(file_id)
        return row, self.store.read(row.key)
