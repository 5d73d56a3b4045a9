"""What the billing worker forgets every hour, organization by organization (one organization's failure never stops
the others'; it is tried again the next hour):

- event-id claims older than the deduplication window (D6): a later event may reuse such an id;
- customer portal tokens expired for more than a day (until then a link says it expired; docs/portal.md);
- webhook messages older than `METERLINE_WEBHOOK_RETENTION_DAYS` none of whose deliveries still waits, with their
  deliveries and attempts (docs/webhooks.md), at most `MESSAGES_PER_ROUND` per organization and hour, so that a
  first clean-up of a large backlog never holds the database for long;
- generated files (report exports) older than `METERLINE_FILE_RETENTION_DAYS` (default 30), in the process's store:
  in batches of `FILES_PER_BATCH`, each batch its own transaction (the bytes deleted from the store, then the rows;
  a report whose file went keeps its row, without `fileId`), at most `FILE_BATCHES_PER_ROUND` batches per
  organization and hour. Finalized and COMPOSITE invoices' PDFs (`file.inv.*`, usecases/invoice_files.py) are kept:
  they are the invoices as issued. A file of another store (written before a switch of stores) is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.core.observability import describe
from meterline.events.store import CLAIM_DAYS, EventStore
from meterline.files import storage
from meterline.files.repository import FileRepository
from meterline.portal.repository import PortalRepository
from meterline.portal.service import KEPT_EXPIRED
from meterline.tenancy.models import Organization
from meterline.usecases import invoice_files
from meterline.webhooks.repository import WebhookRepository

log = logging.getLogger("meterline.housekeeping")
MESSAGES_PER_ROUND = 50_000
FILES_PER_BATCH = 200
FILE_BATCHES_PER_ROUND = 50


@dataclass(frozen=True)
class Forgotten:
    claims: int = 0
    portal_tokens: int = 0
    webhook_messages: int = 0
    files: int = 0


def forget_files(session: Session, org: str, before: datetime, store: storage.FileStore) -> int:
    """One batch of the organization's expired files: their bytes, then their rows; how many went."""
    repo = FileRepository(session, org)
    found = repo.expired(before, store.name, FILES_PER_BATCH, kept_prefix=invoice_files.INVOICE_PREFIX)
    for row in found:
        store.delete(row.key)  # a rolled-back batch leaves rows whose bytes are gone: the next round removes them
    repo.remove([row.pk for row in found])
    return len(found)


def run(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    webhook_retention: timedelta,
    file_retention: timedelta,
    store: storage.FileStore,
) -> Forgotten:
    """One round of every chore over every organization (each chore of each organization in its own transaction;
    the files' in batches, each its own transaction)."""
    chores: dict[str, Callable[[Session, str], int]] = {
        "claims": lambda s, org: EventStore(s, org).forget_ids_before(now - timedelta(days=CLAIM_DAYS)),
        "portal_tokens": lambda s, org: PortalRepository(s, org).forget_expired(now - KEPT_EXPIRED),
        "webhook_messages": lambda s, org: WebhookRepository(s, org).forget_messages_before(
            now - webhook_retention, MESSAGES_PER_ROUND
        ),
    }
    with unit_of_work(factory, write=False) as session:
        orgs = list(session.scalars(select(Organization.id).order_by(Organization.id)))
    counts = dict.fromkeys(chores, 0) | {"files": 0}
    for org in orgs:
        try:
            for _ in range(FILE_BATCHES_PER_ROUND):
                with unit_of_work(factory) as session:
                    gone = forget_files(session, org, now - file_retention, store)
                counts["files"] += gone
                if gone < FILES_PER_BATCH:
                    break
        except Exception as exc:  # one organization's failure never stops the others'; tried again next hour
            log.warning(
                "housekeeping failed", extra={"fields": {"org_id": org, "chore": "files", "error": describe(exc)}}
            )
        for name, chore in chores.items():
            try:
                with unit_of_work(factory) as session:
                    counts[name] += chore(session, org)
            except Exception as exc:  # one organization's failure never stops the others'; tried again next hour
                fields = {"org_id": org, "chore": name, "error": describe(exc)}
                log.warning("housekeeping failed", extra={"fields": fields})
    return Forgotten(**counts)
