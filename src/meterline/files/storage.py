"""Where generated files' bytes live: one interface (`FileStore`), two stores.

- `LocalStore` (the default): a directory on this machine (`METERLINE_FILES_DIR`; empty: `files/` beside the SQLite
  database, or `data/files`). Its download links are a Meterline route, `/api/files/{id}/content`, signed with
  HMAC-SHA256 over the file id and the link's expiry (`sign`, `verify`: compared in constant time).
- `S3Store`: an S3-compatible object store (`METERLINE_S3_BUCKET` and the other `s3_*` settings, docs/reports.md);
  its download links are S3's own presigned URLs. boto3 is needed only then (the `s3` extra).

The store of a process is made once from its settings (`configure`, called by the app and the CLI; `current`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from sqlalchemy.engine import make_url

from meterline.core.errors import BadRequest
from meterline.core.settings import Settings, load_settings

LOCAL, S3 = "local", "s3"
MAX_EXPIRY = 7 * 24 * 3600  # seconds: S3's own bound for a presigned URL, kept for both stores
DEFAULT_EXPIRY = 3600
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,500}$")


class FileStore(Protocol):
    name: str

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def read(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, *, file_id: str, filename: str, content_type: str, expires_at: int, base_url: str) -> str:
        """A link that downloads the file until `expires_at` (Unix seconds), and not after."""
        ...


def _checked_key(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key:
        raise ValueError(f"unsafe storage key {key!r}")
    return key


def sign(secret: str, file_id: str, expires_at: int) -> str:
    message = f"{file_id}\n{expires_at}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, file_id: str, expires_at: int, signature: str, now: int) -> bool:
    """The signature is this file's and this expiry's (constant-time), and the link has not expired."""
    good = hmac.compare_digest(sign(secret, file_id, expires_at).encode(), signature.encode())
    return good and now < expires_at


class LocalStore:
    name = LOCAL

    def __init__(self, root: Path, secret: str | None) -> None:
        self.root = root
        self.secret = secret  # None: the database's instance secret (files/service.py)

    def _path(self, key: str) -> Path:
        return self.root / _checked_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # readers never see half a file

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str, *, file_id: str, filename: str, content_type: str, expires_at: int, base_url: str) -> str:
        if self.secret is None:  # pragma: no cover - the service always supplies one
            raise RuntimeError("LocalStore.url needs a secret")
        query = urlencode({"expires": expires_at, "signature": sign(self.secret, file_id, expires_at)})
        return f"{base_url.rstrip('/')}/api/files/{quote(file_id, safe='.')}/content?{query}"

    def with_secret(self, secret: str) -> LocalStore:
        return LocalStore(self.root, secret)


class S3Store:
    name = S3

    def __init__(self, settings: Settings) -> None:
        import boto3  # the `s3` extra: needed only when an S3 bucket is configured
        from botocore.config import Config

        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/")
        options: dict[str, Any] = {"region_name": settings.s3_region}
        if settings.s3_endpoint_url:
            options["endpoint_url"] = settings.s3_endpoint_url
        if settings.s3_access_key_id:
            options["aws_access_key_id"] = settings.s3_access_key_id
            options["aws_secret_access_key"] = settings.s3_secret_access_key
        self.client = boto3.client("s3", config=Config(signature_version="s3v4"), **options)

    def _key(self, key: str) -> str:
        key = _checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def read(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        return bytes(body.read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def url(self, key: str, *, file_id: str, filename: str, content_type: str, expires_at: int, base_url: str) -> str:
        import time

        seconds = max(1, expires_at - int(time.time()))
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(key),
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=seconds,
            )
        )


def files_dir(settings: Settings) -> Path:
    """`files_dir`, else `files/` beside the SQLite database file, else `data/files`."""
    if settings.files_dir:
        return Path(settings.files_dir)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "files"
    return Path("data/files").resolve()


def make_store(settings: Settings) -> FileStore:
    if settings.s3_bucket:
        return S3Store(settings)
    return LocalStore(files_dir(settings), settings.secret_key or None)


_lock = threading.Lock()
_current: FileStore | None = None


def configure(settings: Settings) -> FileStore:
    """The process's store, from its settings (the app and the CLI call it once at start)."""
    global _current
    with _lock:
        _current = make_store(settings)
        return _current


def current() -> FileStore:
    """The process's store; from the environment's settings when nothing configured it."""
    with _lock:
        store = _current
    return store if store is not None else configure(load_settings())


def checked_expiry(expiry: int | None) -> int:
    if expiry is None:
        return DEFAULT_EXPIRY
    if not 1 <= expiry <= MAX_EXPIRY:
        raise BadRequest(f"expiry must be between 1 and {MAX_EXPIRY} seconds; got {expiry}")
    return expiry
