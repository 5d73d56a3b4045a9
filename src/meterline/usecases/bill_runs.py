"""Bill runs with every step they take, for every entry point (the worker, `meterline bill-run`, `meterline demo`):
invoicing's run with the invoice groups' step supplied (usecases/invoice_groups.py: COMPOSITE invoices)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.settings import Settings
from meterline.files import storage
from meterline.invoicing import billing
from meterline.invoicing.leases import Leases
from meterline.usecases import housekeeping
from meterline.usecases.invoice_groups import consolidate


def run(
    factory: sessionmaker[Session],
    as_of: datetime,
    *,
    now: datetime,
    org_id: str | None = None,
    progress: billing.Progress | None = None,
    retry_now: bool = False,
) -> billing.RunResult:
    """Bill every organization (or `org_id`) up to `as_of`, every part of it (no leases): `meterline bill-run`, the
    demo. As correct beside running workers (invoicing/leases.py), only not shared with them."""
    return billing.run(
        factory, as_of, now=now, groups=consolidate, leases=None, org_id=org_id, progress=progress, retry_now=retry_now
    )


def worker(factory: sessionmaker[Session], settings: Settings, interval: float) -> billing.Worker:
    """The billing worker of `meterline serve` and `meterline worker`: bill runs (with the groups' step) every
    `interval` seconds, shared part by part with the other workers through leases (invoicing/leases.py), and
    usecases/housekeeping.py's chores every hour."""
    retention = timedelta(days=settings.webhook_retention_days)
    files = timedelta(days=settings.file_retention_days)
    return billing.Worker(
        factory,
        interval,
        groups=consolidate,
        housekeeping=lambda now: housekeeping.run(
            factory, now, webhook_retention=retention, file_retention=files, store=storage.current()
        ),
        leases=Leases(factory, ttl=timedelta(seconds=settings.billing_lease_seconds), clock=utc_now),
    )
