"""Feature credits at the service level on both engines, on a clock the test moves: the consumption order, expiry,
voids, update rules, UNDO refunds, and random histories after which entries, consumptions and the event log agree
(docs/entitlements.md)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest, MeterlineError
from meterline.core.money import exact_sum
from meterline.entitlements.feature_service import Association, FeatureService
from meterline.entitlements.models import FeatureConsumption, FeatureCreditEntry
from meterline.entitlements.service import (
    FeatureCreditService,
    Grant,
    cycle_entry_id,
    entry_balance,
    entry_status,
)
from meterline.entitlements.statuses import EntrySource
from meterline.events import pipeline
from meterline.events.schemas import CorrectionEvent
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import corrections, entitled_ingestion, ingestion
from tests.conftest import new_org
from tests.service.test_ingestion import event, setup_catalog
from tests.stored_events import stored_events

UTC = timezone.utc
D = Decimal
T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
R = TypeVar("R")


class Clock:
    """An organization with the catalog (customer acme, schema api_calls) and a feature reading api_calls.calls;
    each step is one unit of work at an instant the test chooses."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.org = new_org(factory)
        with self.at(T0 - 30 * DAY) as ctx:
            setup_catalog(ctx)
            self.feature = FeatureService(ctx).create("Calls", None, [Association("api_calls", "calls")]).feature.pk

    @contextmanager
    def at(self, now: datetime) -> Iterator[Context]:
        with unit_of_work(self.factory) as session:
            yield Context(session=session, org=session.get(Organization, self.org.id), now=now)  # type: ignore[arg-type]

    def run(self, now: datetime, work: Callable[[Context], R]) -> R:
        with self.at(now) as ctx:
            return work(ctx)

    def grant(self, now: datetime, granted: str, start: datetime | None, end: datetime | None, **kw: Any) -> str:
        def work(ctx: Context) -> str:
            return (
                FeatureCreditService(ctx)
                .grant(Grant("acme", self.feature, D(granted), effective_from=start, effective_until=end, **kw))
                .entry_id
            )

        return self.run(now, work)

    def entitled(self, now: datetime, event_id: str, at: datetime, calls: str) -> str:
        """The ingestion status, or the refusal's class name."""
        try:
            return self.run(now, lambda ctx: entitled_ingestion(ctx).ingest(event(event_id, at, calls)).status)
        except MeterlineError as exc:
            return type(exc).__name__

    def undo(self, now: datetime, event_id: str, action: str = "UNDO") -> str:
        try:
            body = CorrectionEvent.model_validate({"id": event_id})
            return self.run(now, lambda ctx: corrections(ctx).correct(action, body, expected_reference=None).status)  # type: ignore[arg-type]
        except MeterlineError as exc:
            return type(exc).__name__

    def entries(self, now: datetime) -> dict[str, tuple[str, str, Decimal, Decimal, Decimal]]:
        """entry id -> (source, status, granted, used, balance) as read at `now`."""

        def work(ctx: Context) -> dict[str, tuple[str, str, Decimal, Decimal, Decimal]]:
            rows = ctx.session.scalars(
                select(FeatureCreditEntry)
                .where(FeatureCreditEntry.org_id == self.org.id)
                .order_by(FeatureCreditEntry.pk)
            )
            return {
                e.entry_id: (e.source, entry_status(e, now), e.granted, e.used, entry_balance(e, now)) for e in rows
            }

        return self.run(now, work)

    def balance(self, now: datetime) -> Decimal:
        return self.run(now, lambda ctx: FeatureCreditService(ctx).credits("acme", self.feature).balance)

    def check(self) -> None:
        """Entries, consumptions and the event log agree: each entry's used is the sum of what was consumed from it,
        within what it grants; an accepted entitled event's units were consumed exactly once and not given back; a
        reverted one's were all given back, each REFUND entry granting what it gave back."""
        with unit_of_work(self.factory, write=False) as s:
            entries = {
                e.pk: e for e in s.scalars(select(FeatureCreditEntry).where(FeatureCreditEntry.org_id == self.org.id))
            }
            consumed = list(s.scalars(select(FeatureConsumption).where(FeatureConsumption.org_id == self.org.id)))
            events = {e.pk: e for e in stored_events(s, self.org.id)}
        for entry in entries.values():
            assert entry.used == exact_sum(c.units for c in consumed if c.entry_pk == entry.pk), entry.entry_id
            assert 0 <= entry.used <= entry.granted, entry.entry_id
        for pk in {c.event_pk for c in consumed}:
            mine = [c for c in consumed if c.event_pk == pk]
            stored = events[pk]
            if stored.status in pipeline.ACCEPTED:
                assert all(c.refunded_at is None for c in mine)
                assert exact_sum(c.units for c in mine) == D(stored.attributes[0]["value"])
            else:
                assert stored.status == "REVERTED" and all(c.refunded_at is not None for c in mine)
        for entry in entries.values():
            if entry.source == EntrySource.REFUND:
                assert entry.granted == exact_sum(c.units for c in consumed if c.refund_entry_pk == entry.pk)
                assert events[entry.origin or ""].status == "REVERTED"


@pytest.fixture
def clock(session_factory: sessionmaker[Session]) -> Clock:
    return Clock(session_factory)


def test_units_are_taken_from_the_entry_ending_first_then_started_first_then_made_first(clock: Clock) -> None:
    now = T0 + timedelta(hours=1)
    a = clock.grant(T0, "5", T0, T0 + 30 * DAY)
    b = clock.grant(T0, "3", T0 - DAY, T0 + 2 * DAY)  # ends first
    c = clock.grant(T0, "4", T0 - 10 * DAY, T0 + 30 * DAY)  # ends with a, started before it
    d = clock.grant(T0, "4", T0, T0 + 30 * DAY)  # as a, made after it
    assert clock.entitled(now, "e1", now, "10") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    used = {k: v[3] for k, v in clock.entries(now).items()}
    assert (used[b], used[c], used[a], used[d]) == (3, 4, 3, 0)
    assert clock.entitled(now, "e2", now, "4") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    used = {k: v[3] for k, v in clock.entries(now).items()}
    assert (used[a], used[d]) == (5, 2)
    assert clock.entitled(now, "e3", now, "2.000000000001") == "InsufficientCredits"
    assert clock.entitled(now, "e3", now, "2") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert clock.balance(now) == 0
    clock.check()


def test_an_entry_covers_events_inside_its_window_until_it_expires(clock: Clock) -> None:
    week = clock.grant(T0, "5", T0, T0 + 7 * DAY)
    later = clock.grant(T0, "5", T0 + 10 * DAY, T0 + 20 * DAY)
    now = T0 + DAY
    assert clock.balance(now) == 5  # `later` is not in effect yet
    # an event at T0+1d cannot use `later`; one at T0+11d (sent then) cannot use `week`
    assert clock.entitled(now, "a", now, "6") == "InsufficientCredits"
    assert clock.entitled(now, "a", now, "5") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    then = T0 + 11 * DAY
    assert clock.entries(then)[week][1:] == ("EXPIRED", 5, 5, 0)
    assert clock.entries(then)[later][1:] == ("ACTIVE", 5, 0, 5)
    assert clock.entitled(then, "b", then, "5") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    # an entry that ended is spent for good, even for an event timestamped inside its window
    refill = clock.grant(then, "1", T0, T0 + 12 * DAY)
    assert clock.entitled(T0 + 12 * DAY, "c", T0 + 11 * DAY, "1") == "InsufficientCredits"
    assert clock.entries(T0 + 12 * DAY)[refill][1] == "EXPIRED"
    assert clock.balance(T0 + 12 * DAY) == 0
    clock.check()


def test_void_and_update_rules(clock: Clock) -> None:
    entry = clock.grant(T0, "10", T0, T0 + 5 * DAY)
    assert clock.entitled(T0, "x", T0, "4") == "INGESTION_COMPLETED_EVENT_NOT_METERED"

    def update(now: datetime, **kw: Any) -> str:
        try:
            return str(
                clock.run(now, lambda ctx: FeatureCreditService(ctx).update("acme", clock.feature, entry, **kw).granted)
            )
        except BadRequest as exc:
            return exc.message

    assert update(T0, effective_until=None, granted=D(4)) == "4"  # down to what is used
    assert update(T0, effective_until=None, granted=D("3.9")).startswith("granted: must be at least what the entry")
    assert update(T0, effective_until=T0, granted=None).startswith("effectiveUntil must be in the future")
    assert update(T0, effective_until=T0 + 6 * DAY, granted=D(6)) == "6"
    assert update(T0 + 7 * DAY, effective_until=T0 + 9 * DAY, granted=None) == (
        f"Entry {entry} is EXPIRED: only an ACTIVE entry can be updated"
    )
    clock.run(T0 + DAY, lambda ctx: FeatureCreditService(ctx).void("acme", clock.feature, entry))
    assert clock.entries(T0 + DAY)[entry][1:] == ("VOIDED", 6, 4, 0)  # what was used stays
    assert clock.entitled(T0 + DAY, "y", T0 + DAY, "1") == "InsufficientCredits"
    with pytest.raises(BadRequest, match="is VOIDED: only an ACTIVE entry can be voided"):
        clock.run(T0 + DAY, lambda ctx: FeatureCreditService(ctx).void("acme", clock.feature, entry))
    clock.check()


def test_undo_gives_back_what_is_still_usable_as_refund_entries(clock: Clock) -> None:
    short = clock.grant(T0, "2", T0, T0 + DAY)
    voided = clock.grant(T0, "3", T0, T0 + 5 * DAY)
    kept = clock.grant(T0, "10", T0, T0 + 30 * DAY)
    at = T0 + timedelta(hours=1)
    assert clock.entitled(at, "e", at, "7") == "INGESTION_COMPLETED_EVENT_NOT_METERED"  # 2 + 3 + 2
    clock.run(at, lambda ctx: FeatureCreditService(ctx).void("acme", clock.feature, voided))
    assert clock.undo(at, "e", "REDO") == "BadRequest"
    assert clock.undo(at, "e", "REDO_EVENT") == "BadRequest"
    later = T0 + 2 * DAY  # `short` has expired
    assert clock.undo(later, "e") == "REVERTED"
    entries = clock.entries(later)
    [event_pk] = clock.run(
        later,
        lambda ctx: [e.pk for e in stored_events(ctx.session, clock.org.id)],
    )
    # only what came from `kept` (still ACTIVE) comes back; n counts the refunds, from 1
    assert {k: v for k, v in entries.items() if v[0] == "REFUND"} == {
        f"{event_pk}#1$REFUND": ("REFUND", "ACTIVE", 2, 0, 2)
    }
    assert (entries[short][3], entries[voided][3], entries[kept][3]) == (2, 3, 2)
    assert clock.balance(later) == 10
    assert clock.undo(later, "e") == "BadRequest"  # once
    clock.check()
    # the refund has the window of the entry it came from: same end and start, made later, so it pays after it
    assert clock.entitled(later, "e", later, "9") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    after = clock.entries(later)
    assert (after[kept][3], after[f"{event_pk}#1$REFUND"][3]) == (10, 1)
    clock.check()


def test_a_plain_event_of_the_feature_schema_is_corrected_as_before(clock: Clock) -> None:
    """Events that never went through /entitled consume nothing, and REDO works for them."""

    clock.run(T0, lambda ctx: ingestion(ctx).ingest([event("p", T0, "3")]))
    assert clock.undo(T0, "p", "REDO") == "REVERTED_AND_REINGESTED"
    assert clock.entries(T0) == {}


def test_grants_with_an_entry_id_are_idempotent(clock: Clock) -> None:
    entry_id = cycle_entry_id("ps.01hy5gq0v0r8m4x2k7w3t6n9zc", T0.date(), EntrySource.PRICE_PLAN)
    assert entry_id == "ps.01hy5gq0v0r8m4x2k7w3t6n9zc#20240301$PRICE_PLAN" and len(entry_id) <= 50
    first = clock.grant(T0, "10", T0, T0 + 31 * DAY, source=EntrySource.PRICE_PLAN, entry_id=entry_id, origin="ps.x")
    again = clock.grant(T0, "10", T0, T0 + 31 * DAY, source=EntrySource.PRICE_PLAN, entry_id=entry_id, origin="ps.x")
    assert first == again == entry_id
    assert clock.entries(T0) == {entry_id: ("PRICE_PLAN", "ACTIVE", 10, 0, 10)}
    with pytest.raises(BadRequest, match="granted: must be more than 0"):
        clock.grant(T0, "0", None, None)
    with pytest.raises(BadRequest, match="effectiveUntil must be after effectiveFrom"):
        clock.grant(T0, "1", T0, T0)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("grant"), st.integers(1, 9), st.integers(-3, 3), st.integers(1, 6)),
            st.tuples(st.just("use"), st.integers(0, 6), st.integers(-2, 1), st.just(0)),
            st.tuples(st.just("undo"), st.integers(0, 30), st.just(0), st.just(0)),
            st.tuples(st.just("void"), st.integers(0, 30), st.just(0), st.just(0)),
            st.tuples(st.just("shrink"), st.integers(0, 30), st.integers(0, 5), st.just(0)),
        ),
        min_size=5,
        max_size=25,
    )
)
def test_random_histories_never_overdraw_and_keep_the_ledger_exact(
    session_factory: sessionmaker[Session], steps: list[tuple[str, int, int, int]]
) -> None:
    clock = Clock(session_factory)
    tag = secrets.token_hex(4)
    now, made, used = T0, [], []
    for n, (kind, a, b, c) in enumerate(steps):
        now += timedelta(hours=7)  # entries expire as time goes by
        if kind == "grant":
            made.append(clock.grant(now, str(a), now + b * DAY, now + (b + c) * DAY) if b + c > 0 else None)
        elif kind == "use":
            before = clock.balance(now)
            status = clock.entitled(now, f"{tag}-{n}", now + b * timedelta(hours=1), str(a))
            if status == "InsufficientCredits":
                assert clock.balance(now) == before
            else:
                assert status == "INGESTION_COMPLETED_EVENT_NOT_METERED"
                used.append(f"{tag}-{n}")
        elif kind == "undo" and used:
            assert clock.undo(now, used.pop(a % len(used))) == "REVERTED"
        elif kind in ("void", "shrink") and [m for m in made if m]:
            entry = [m for m in made if m][a % len([m for m in made if m])]

            def change(ctx: Context, entry: str = entry, granted: Decimal = D(b + 1), kind: str = kind) -> None:
                service = FeatureCreditService(ctx)
                if kind == "void":
                    service.void("acme", clock.feature, entry)
                else:
                    service.update("acme", clock.feature, entry, effective_until=None, granted=granted)

            try:
                clock.run(now, change)
            except BadRequest:
                pass  # not ACTIVE any more, or below what it used: refused, nothing changed
        assert all(v[4] >= 0 for v in clock.entries(now).values())
        clock.check()


def test_an_undo_after_the_overage_period_ended_takes_the_overage_off_the_bill(clock: Clock) -> None:
    """The period's invoice bills its OVERAGE entry's `used`, and an event of the period can be undone until that
    invoice is final (its grace period): the UNDO lowers `used` even though the entry has ended, or voided, since."""
    for n, (start, ended, voided) in enumerate(((T0, T0 + DAY, False), (T0 + 3 * DAY, T0 + 30 * DAY, True))):
        room = clock.grant(start, "10", start, ended, source=EntrySource.OVERAGE, entry_id=f"ps.x#{n}$OVERAGE")
        at = start + timedelta(hours=1)
        assert clock.entitled(at, f"o{n}", at, "3") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
        if voided:
            clock.run(at, lambda ctx, room=room: FeatureCreditService(ctx).void("acme", clock.feature, room))
        later = start + 2 * DAY
        assert clock.entries(later)[room][1:4] == ("VOIDED" if voided else "EXPIRED", 10, 3)
        assert clock.undo(later, f"o{n}") == "REVERTED"
        assert clock.entries(later)[room][1:4] == ("VOIDED" if voided else "EXPIRED", 10, 0)
        assert {v[0] for v in clock.entries(later).values()} == {"OVERAGE"}  # no REFUND entry: nothing comes back
