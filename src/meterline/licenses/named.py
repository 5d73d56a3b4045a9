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

from sqlalchemy import select

from meterline.accounts.repository import AccountRepository
from meterline.core.pagination import Page, PageRequest, encode_token
from meterline.core.repository import OrgRepository
from meterline.events.models import Event
from meterline.events.predefined import NAMED_LICENSE
from meterline.events.statuses import ACCEPTED

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
    def seats(self, account_pks: set[str] | None = None) -> list[NamedSeat]:
        """The seats of these accounts (all accounts: None), in the order they were added (by id)."""
        if account_pks is not None and not account_pks:
            return []
        stmt = select(
            Event.pk, Event.account_pk, Event.timestamp, Event.attributes, Event.dimensions, Event.created_at
        ).where(Event.org_id == self.org_id, Event.schema_name == NAMED_LICENSE, Event.status.in_(sorted(ACCEPTED)))
        if account_pks is not None:
            stmt = stmt.where(Event.account_pk.in_(sorted(account_pks)))
        return fold(self.session.execute(stmt.order_by(Event.timestamp, Event.pk)))

    def page(self, request: PageRequest) -> tuple[Page[NamedSeat], dict[str, str]]:
        """A page of the organization's seats in id order, and the ids of their accounts (by pk)."""
        seats = [s for s in self.seats() if request.after is None or s.id > request.after]
        items = seats[: request.size]
        token = encode_token(items[-1].id) if len(seats) > request.size else None
        accounts = AccountRepository(self.session, self.org_id).by_pks({s.account_pk for s in items})
        return Page(items=items, next_token=token, size=request.size), {pk: a.id for pk, a in accounts.items()}

    def steps_of(self, account_pks: set[str] | None) -> dict[str, Steps]:
        """Per account (these, or every account with seats: None), per named license, its quantity (the seats in
        force) from each instant it changes on."""
        changes: dict[tuple[str, str], dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
        for seat in self.seats(account_pks):
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
