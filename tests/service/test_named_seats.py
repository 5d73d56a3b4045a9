"""Named seats read from `togai-named-license` events (licenses/named.py), on both engines: a page of
`GET /named_license_updates` reads the events of the seats it may show, never every named-license event of the
organization (a client paging through 25,000 seats read all 50,000 events per page: quadratic)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meterline.core.pagination import PageRequest, page_request
from meterline.events.models import Event
from meterline.events.predefined import NAMED_LICENSE
from meterline.events.statuses import IngestionStatus
from meterline.licenses import named
from meterline.licenses.named import NamedSeat, NamedSeats
from meterline.tenancy.models import Organization

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _event(org: Organization, n: int, account: str, license_id: str, name: str, action: str, at: datetime) -> Event:
    return Event(
        pk=f"event.{n:026d}",
        org_id=org.id,
        event_id=f"e{n}",
        schema_name=NAMED_LICENSE,
        schema_version=1,
        account_ref=account,
        account_pk=account,
        timestamp=at,
        attributes=[{"name": "action", "value": action}],
        dimensions={"license_id": license_id, "name": name},
        status=IngestionStatus.NOT_METERED,
        created_at=at,
    )


def _history(org: Organization) -> list[Event]:
    """Per name of 30 (two accounts, two licenses; 10 of them twice over): added, removed, added again; some
    removed at the instant they were added (no seat), some never removed; and removes of names that hold nothing.
    Ingested out of time order."""
    events: list[Event] = []
    n = 0
    for i in range(40):
        account, license_id, name = f"account.a{i % 2}", f"addon.l{i % 3 % 2}", f"user{i % 30}"
        at = T0 + timedelta(minutes=i)
        steps: list[tuple[str, datetime]] = [("1", at), ("-1", at + timedelta(hours=1) if i % 4 else at)]
        steps += [("1", at + timedelta(hours=2)), ("1", at + timedelta(hours=3))]  # a second add while held
        if i % 3:
            steps.append(("-1", at + timedelta(hours=5)))
        for action, when in reversed(steps) if i % 2 else steps:
            n += 1
            events.append(_event(org, n, account, license_id, name, action, when))
    for j in range(10):  # removes of seats nobody holds
        n += 1
        events.append(_event(org, n, "account.a0", "addon.l0", f"nobody{j}", "-1", T0))
    return events


def _all_pages(repo: NamedSeats, size: int) -> list[NamedSeat]:
    seats: list[NamedSeat] = []
    after: str | None = None
    while True:
        page, _ = repo.page(page_request(after, size))
        seats += page.items
        if page.next_token is None:
            return seats
        after = page.next_token


@pytest.mark.parametrize(("chunk", "max_chunks"), [(1, 1), (1, 1000), (3, 2), (7, 1000), (500, 4)])
def test_pages_give_every_seat_once_in_id_order_reading_a_bounded_number_of_events(
    session: Session, org: Organization, chunk: int, max_chunks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of every size give the seats of the whole read, once each, in order (a page cut short by MAX_CHUNKS
    has a nextToken to go on from)."""
    history = _history(org)
    session.add_all(history)
    session.flush()
    repo = NamedSeats(session, org.id)
    every = repo.seats()
    assert len(every) > 20 and [s.id for s in every] == sorted(s.id for s in every)

    read: list[int] = []
    fold = named.fold

    def counting(rows: Iterable[Any]) -> list[NamedSeat]:
        rows = list(rows)
        read.append(len(rows))
        return fold(rows)

    monkeypatch.setattr(named, "CHUNK", chunk, raising=False)
    monkeypatch.setattr(named, "MAX_CHUNKS", max_chunks, raising=False)
    monkeypatch.setattr(named, "fold", counting)
    for size in (1, 2, 5, 50):
        read.clear()
        assert _all_pages(repo, size) == every
    read.clear()
    first, _ = repo.page(PageRequest(size=2))
    assert first.items == every[: len(first.items)] and first.next_token is not None
    # a page of 2 reads the events of the seats its first events touch, not every event of the organization
    assert sum(read) < len(history) / 2 if chunk < 10 else sum(read) <= len(history)


def test_a_bounded_read_of_the_seats_says_when_it_would_read_past_its_limit(
    session: Session, org: Organization
) -> None:
    """NAMED_LICENSE_USAGE's bound (metrics: at most 10,000 events per query, else a 400): `steps_within` reads at
    most `limit` events and answers None past it; within it, what `steps_of` answers."""
    history = _history(org)
    session.add_all(history)
    session.flush()
    repo = NamedSeats(session, org.id)
    assert repo.steps_within(None, len(history)) == repo.steps_of(None)
    assert repo.steps_within(None, len(history) - 1) is None
    one = {"account.a1"}
    of_one = sum(1 for e in history if e.account_pk == "account.a1")
    assert repo.steps_within(one, of_one) == repo.steps_of(one) != {"account.a1": {}}
    assert repo.steps_within(one, of_one - 1) is None
    assert repo.steps_within(set(), 0) == {}
