"""Named licenses (docs/pricing.md "Licenses", "Named licenses"): who holds each seat of a NAMED_LICENSE add-on over
time, read from the accepted `togai-named-license` events (events/predefined.py), never stored apart from them.

Per (account, license, name), in event time order (then ingestion order): action 1 adds the seat if the name holds
none (a second add while held changes nothing), action -1 ends the seat the name holds (a remove when none is held
changes nothing). A seat is one `NamedLicenseUpdate`: its id is the id (referenceId) of the event that added it,
`effectiveFrom` that event's timestamp, `effectiveUntil` the removing event's (none while held); a seat added and
removed at one instant held nothing and is left out. A correction that reverts an event (UNDO, REDO, REDO_EVENT)
changes the seats with it: a reverted event is no longer accepted, so it is no longer read.

The quantity of a named license, for pricing, is the number of its seats in force (billing-rules D7 then reads it
as any license's quantity: a day's quantity is the largest in force that day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select

from meterline.accounts.repository import AccountRepository
from meterline.core.pagination import Page, PageRequest, encode_token
from meterline.core.repository import OrgRepository
from meterline.events.models import Event
from meterline.events.predefined import NAMED_LICENSE
from meterline.events.statuses import ACCEPTED

CHUNK = 500  # events read at a time by a page of seats (NamedSeats.page), at most MAX_CHUNKS times
MAX_CHUNKS = 4
Steps = dict[str, list[tuple[datetime, Decimal]]]  # license id -> (effective from, quantity), in order


@dataclass(frozen=True)
class NamedSeat:
    id: str
    license_id: str
    account_pk: str
    name: str
    effective_from: datetime
    effective_until: datetime | None
    created_at: datetime
    updated_at: datetime


def _action(attributes: Iterable[dict[str, str]]) -> Decimal:
    return next((Decimal(a["value"]) for a in attributes if a.get("name") == "action"), Decimal(0))


Row = tuple[str, str, datetime, list[dict[str, str]], dict[str, str], datetime]  # pk, account pk, timestamp, ...


def fold(rows: Iterable[Row]) -> list[NamedSeat]:
    """The seats that accepted events (pk, account pk, timestamp, attributes, dimensions, created at), given in
    event time order, make: in id order."""
    held: dict[tuple[str, str, str], NamedSeat] = {}
    seats: list[NamedSeat] = []
    for pk, account_pk, at, attributes, dimensions, created in rows:
        key = (account_pk, dimensions["license_id"], dimensions["name"])
        if _action(attributes) > 0:
            if key not in held:
                held[key] = NamedSeat(pk, key[1], account_pk, key[2], at, None, created, created)
        elif key in held:
            seat = held.pop(key)
            if at > seat.effective_from:
                seats.append(replace(seat, effective_until=at, updated_at=max(seat.created_at, created)))
    seats.extend(held.values())
    return sorted(seats, key=lambda s: s.id)


class NamedSeats(OrgRepository):
    def _seats_query(self, account_pks: set[str] | None) -> Select[Any]:
        stmt = select(
            Event.pk, Event.account_pk, Event.timestamp, Event.attributes, Event.dimensions, Event.created_at
        ).where(Event.org_id == self.org_id, Event.schema_name == NAMED_LICENSE, Event.status.in_(sorted(ACCEPTED)))
        if account_pks is not None:
            stmt = stmt.where(Event.account_pk.in_(sorted(account_pks)))
        return stmt.order_by(Event.timestamp, Event.pk)

    def seats(self, account_pks: set[str] | None = None) -> list[NamedSeat]:
        """The seats of these accounts (all accounts: None), in the order they were added (by id)."""
        if account_pks is not None and not account_pks:
            return []
        return fold(self.session.execute(self._seats_query(account_pks)))

    def seats_within(self, account_pks: set[str] | None, limit: int) -> list[NamedSeat] | None:
        """`seats`, or None when more than `limit` named-license events would be read (a request's bound)."""
        if account_pks is not None and not account_pks:
            return []
        rows = list(self.session.execute(self._seats_query(account_pks).limit(limit + 1)))
        return None if len(rows) > limit else fold(rows)

    def _accepted(self, *columns: Any) -> Select[Any]:
        return select(*columns).where(
            Event.org_id == self.org_id, Event.schema_name == NAMED_LICENSE, Event.status.in_(sorted(ACCEPTED))
        )

    def page(self, request: PageRequest) -> tuple[Page[NamedSeat], dict[str, str]]:
        """A page of the organization's seats in id order, and the ids of their accounts (by pk).

        Bounded (it read every named-license event of the organization per page): a seat's id is the id of the event
        that added it, so the seats with ids in (after, last] are among those of the (account, license, name) of the
        adding events with ids in that range. Events are taken CHUNK at a time in id order, and only those seats'
        events are read and folded, until the page is full; after MAX_CHUNKS chunks a page may end short, with a
        nextToken to go on from (keyset pages promise no size, only the order and that nothing is skipped)."""
        seats: list[NamedSeat] = []
        after, scanned = request.after, 0
        while len(seats) <= request.size and scanned < MAX_CHUNKS:
            stmt = self._accepted(Event.pk, Event.account_pk, Event.attributes, Event.dimensions)
            if after is not None:
                stmt = stmt.where(Event.pk > after)
            chunk = list(self.session.execute(stmt.order_by(Event.pk).limit(CHUNK)))
            if not chunk:
                after = None  # the end
                break
            scanned += 1
            adds = [(a, d) for _, a, attributes, d in chunk if _action(attributes) > 0]
            if adds:
                rows = self.session.execute(
                    self._accepted(
                        Event.pk,
                        Event.account_pk,
                        Event.timestamp,
                        Event.attributes,
                        Event.dimensions,
                        Event.created_at,
                    )
                    .where(
                        Event.account_pk.in_(sorted({a for a, _ in adds})),
                        Event.dimensions["license_id"].as_string().in_(sorted({str(d["license_id"]) for _, d in adds})),
                        Event.dimensions["name"].as_string().in_(sorted({str(d["name"]) for _, d in adds})),
                    )
                    .order_by(Event.timestamp, Event.pk)
                )
                last = chunk[-1][0]
                seats += [s for s in fold(rows) if (after is None or s.id > after) and s.id <= last]
            after = chunk[-1][0]
        items = seats[: request.size]
        if len(seats) > request.size:
            token: str | None = encode_token(items[-1].id)
        else:  # every seat up to `after` is in the page: go on from there, unless the events ran out
            token = encode_token(after) if after is not None and len(chunk) == CHUNK else None
        accounts = AccountRepository(self.session, self.org_id).by_pks({s.account_pk for s in items})
        return Page(items=items, next_token=token, size=request.size), {pk: a.id for pk, a in accounts.items()}

    def steps_of(self, account_pks: set[str] | None) -> dict[str, Steps]:
        """Per account (these, or every account with seats: None), per named license, its quantity (the seats in
        force) from each instant it changes on."""
        return steps_of_seats(self.seats(account_pks), account_pks)

    def steps_within(self, account_pks: set[str] | None, limit: int) -> dict[str, Steps] | None:
        """`steps_of`, or None when more than `limit` named-license events would be read (a request's bound)."""
        seats = self.seats_within(account_pks, limit)
        return None if seats is None else steps_of_seats(seats, account_pks)


def steps_of_seats(seats: list[NamedSeat], account_pks: set[str] | None) -> dict[str, Steps]:
    """Per account, per named license, the number of seats in force from each instant it changes on."""
    changes: dict[tuple[str, str], dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for seat in seats:
        changes[(seat.account_pk, seat.license_id)][seat.effective_from] += 1
        if seat.effective_until is not None:
            changes[(seat.account_pk, seat.license_id)][seat.effective_until] -= 1
    out: dict[str, Steps] = {pk: {} for pk in account_pks or ()}
    for (account_pk, license_id), deltas in changes.items():
        quantity, steps = 0, []
        for at in sorted(deltas):
            quantity += deltas[at]
            steps.append((at, Decimal(quantity)))
        out.setdefault(account_pk, {})[license_id] = steps
    return out
