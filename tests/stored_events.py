"""The events a test stored, read wherever the installation keeps them (its database, or ClickHouse in the second
pass: docs/clickhouse.md, "Events"), through the event store as the product reads them."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from meterline.core.pagination import PageRequest
from meterline.events.models import Event
from meterline.events.store import EventStore


def stored_events(
    session: Session, org_id: str, *, event_id: str | None = None, statuses: Collection[str] | None = None
) -> list[Event]:
    """The organization's events in the order stored (by pk), each as it stands now; `event_id`: those sent with
    it; `statuses`: those in one of them."""
    store = EventStore(session, org_id)
    if event_id is not None:
        found = store.by_event_id(event_id)
    else:
        found, after = [], None
        while True:
            page = store.page(PageRequest(size=1000, after=after))
            found += page.items
            if page.next_token is None:
                break
            after = page.items[-1].pk
    return [e for e in found if statuses is None or e.status in statuses]
