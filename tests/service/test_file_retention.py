"""File retention (usecases/housekeeping.py, docs/operations.md "File storage"), on both engines: report exports
older than the retention go, bytes and row, in batches; finalized invoices' PDFs and younger files stay; one
organization's failure never stops another's."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.files import storage
from meterline.files.models import StoredFile
from meterline.files.service import FileService
from meterline.reports.models import Report
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import housekeeping
from tests.conftest import new_org

RETENTION = timedelta(days=30)


class FailingFor:
    """A local store whose deletes fail for one organization's keys (a store outage seen by one organization)."""

    def __init__(self, store: storage.LocalStore, org_id: str) -> None:
        self.inner, self.org_id, self.name = store, org_id, store.name

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.inner.put(key, data, content_type)

    def read(self, key: str) -> bytes:
        return self.inner.read(key)

    def delete(self, key: str) -> None:
        if key.startswith(f"{self.org_id}/"):
            raise OSError("the store refused the delete")
        self.inner.delete(key)

    def url(self, key: str, *, file_id: str, filename: str, content_type: str, expires_at: int, base_url: str) -> str:
        return self.inner.url(
            key, file_id=file_id, filename=filename, content_type=content_type, expires_at=expires_at, base_url=base_url
        )


def _file(
    factory: sessionmaker[Session], org: Organization, store: storage.FileStore, at: datetime, pk: str | None = None
) -> StoredFile:
    with unit_of_work(factory) as session:
        ctx = Context(session=session, org=session.get(Organization, org.id), now=at)  # type: ignore[arg-type]
        return FileService(ctx, store).save("export.csv", "text/csv", b"a,b\r\n1,2\r\n", pk=pk)


def _report(factory: sessionmaker[Session], org: Organization, file_pk: str, at: datetime) -> str:
    pk = f"report.{file_pk.removeprefix('file.')}"
    with unit_of_work(factory) as session:
        session.add(
            Report(
                pk=pk,
                org_id=org.id,
                name="Wallet ledger",
                type="TEMPLATE",
                template_id="wallet_ledger",
                params={},
                query_input=None,
                account_id=None,
                status="COMPLETED",
                rows=1,
                total_rows=1,
                error=None,
                file_pk=file_pk,
                job_pk=None,
                created_at=at,
                updated_at=at,
            )
        )
    return pk


def _kept(factory: sessionmaker[Session], org: Organization) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(StoredFile.pk).where(StoredFile.org_id == org.id)))


def test_expired_exports_go_in_batches_invoice_pdfs_and_young_files_stay(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "FILES_PER_BATCH", 2)  # 5 expired files: 3 batches, each its own transaction
    store = storage.LocalStore(tmp_path, "secret")
    now = utc_now()
    old, young = now - RETENTION - timedelta(minutes=1), now - RETENTION + timedelta(minutes=1)
    org = new_org(session_factory)
    expired = [_file(session_factory, org, store, old) for _ in range(5)]
    report = _report(session_factory, org, expired[0].pk, old)
    fresh = _file(session_factory, org, store, young)
    pdf = _file(session_factory, org, store, old, pk="file.inv.00000000000000000000000000")

    forgotten = housekeeping.run(
        session_factory, now, webhook_retention=RETENTION, file_retention=RETENTION, store=store
    )
    assert forgotten.files >= 5  # (other tests' organizations may have expired files too)
    assert _kept(session_factory, org) == {fresh.pk, pdf.pk}
    for row in expired:
        assert not (tmp_path / row.key).exists()
    assert store.read(fresh.key) == store.read(pdf.key) == b"a,b\r\n1,2\r\n"
    with session_factory() as session:
        kept_report = session.get(Report, report)
        assert kept_report is not None and (kept_report.status, kept_report.file_pk) == ("COMPLETED", None)
    # a second round finds nothing more of this organization
    housekeeping.run(session_factory, now, webhook_retention=RETENTION, file_retention=RETENTION, store=store)
    assert _kept(session_factory, org) == {fresh.pk, pdf.pk}


def test_one_organizations_failure_does_not_stop_anothers(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store = storage.LocalStore(tmp_path, "secret")
    now = utc_now()
    old = now - RETENTION - timedelta(days=1)
    failing, fine = new_org(session_factory), new_org(session_factory)
    stuck = _file(session_factory, failing, store, old)
    gone = _file(session_factory, fine, store, old)

    flaky = FailingFor(store, failing.id)
    housekeeping.run(session_factory, now, webhook_retention=RETENTION, file_retention=RETENTION, store=flaky)
    assert _kept(session_factory, failing) == {stuck.pk}  # its batch rolled back: the row stays, tried next hour
    assert store.read(stuck.key) == b"a,b\r\n1,2\r\n"
    assert _kept(session_factory, fine) == set() and not (tmp_path / gone.key).exists()

    housekeeping.run(session_factory, now, webhook_retention=RETENTION, file_retention=RETENTION, store=store)
    assert _kept(session_factory, failing) == set()  # the store works again: it goes
