"""The events' SQL (events/clickhouse_events.py) on a current ClickHouse engine, chdb's (tests/chdb_usage.py): the
statements the ClickHouse pass runs on Debian's 18.16 server give the same answers. Each event is read at its newest
version (a status filter tests that version, never an older one), a version shipped twice is read once, before and
after ClickHouse merges, the events left out (the outbox holds newer versions) are not read, and another
organization's never are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from chdb import session as chdb_session  # the `test` extras install it

from meterline.events import clickhouse_events
from meterline.events.clickhouse import ClickHouseUsage, micros
from meterline.events.clickhouse_events import ClickHouseEvents, EventFilter
from tests.chdb_usage import ChdbUsage

UTC = timezone.utc
DAY = datetime(2024, 3, 1, tzinfo=UTC)
A, B = "org_a", "org_b"
OK, FAILED, REVERTED = "INGESTION_COMPLETED", "INGESTION_FAILED", "REVERTED"


def version(
    pk: str, v: int, status: str, *, at: datetime = DAY, account: str | None = "acc1", eid: str | None = None
) -> list[Any]:
    """An event's version as the outbox carries it (events/clickhouse_events.py's `outbox_row`)."""
    return [
        *(pk, v, eid or f"id-{pk}", "calls", 1, "ref-" + (account or "gone"), account, micros(at)),
        *([{"name": "n", "value": "1"}], {"region": "it's \\ here"}, status, None if v == 0 else f"v{v}"),
        *({"m1": "1.5"} if status != FAILED else None, None, None, micros(at)),
    ]


def fill(store: ClickHouseUsage) -> ClickHouseEvents:
    """The events of these tests in `store`'s database (its schema created), merges stopped: each copy stays a part
    of its own until a test merges them."""
    store.execute(f"SYSTEM STOP MERGES {store.address.database}.events")
    found = ClickHouseEvents(store)
    first = [
        (A, "b1", version("e1", 0, OK)),
        (A, "b1", version("e2", 0, OK, at=DAY + timedelta(hours=1))),
        (A, "b1", version("e3", 0, FAILED, account=None, at=DAY + timedelta(days=1))),
        (A, "b1", version("e4", 0, OK, account="acc2", at=DAY + timedelta(days=2), eid="shared")),
        (B, "b9", version("e1", 0, OK)),  # another organization's event of the same pk
    ]
    found.insert(first)
    found.insert([(A, "b2", version("e2", 1, REVERTED, at=DAY + timedelta(hours=1)))])  # a correction
    found.insert([(A, "b3", version("e5", 0, OK, account="acc2", at=DAY + timedelta(days=2), eid="shared"))])
    found.insert(first)  # shipped twice
    return found


@pytest.fixture
def events(tmp_path: Path) -> Iterator[ClickHouseEvents]:
    session = chdb_session.Session(str(tmp_path / "chdb"))
    store = ChdbUsage(session)
    store.create_schema()
    yield fill(store)
    session.close()


def pks(found: list[Any]) -> list[tuple[str, int, str]]:
    return [(e.pk, e.clickhouse_version, e.status) for e in found]


def check(events: ClickHouseEvents) -> None:
    assert pks(events.newest(A, EventFilter())) == [
        ("e1", 0, OK),
        ("e2", 1, REVERTED),
        ("e3", 0, FAILED),
        ("e4", 0, OK),
        ("e5", 0, OK),
    ]
    [e1] = events.newest(A, EventFilter(pks=["e1"]))
    assert (e1.attributes, e1.dimensions, e1.units, e1.meters, e1.account_pk) == (
        [{"name": "n", "value": "1"}],
        {"region": "it's \\ here"},
        {"m1": "1.5"},
        None,
        "acc1",
    )
    assert e1.timestamp == DAY and e1.status_description is None and e1.schema_version == 1
    # the status is the newest version's: e2 was INGESTION_COMPLETED at version 0, and is not any more
    assert pks(events.newest(A, EventFilter(statuses={OK}))) == [("e1", 0, OK), ("e4", 0, OK), ("e5", 0, OK)]
    assert events.count(A, EventFilter(statuses={OK})) == 3
    assert events.count(A, EventFilter(statuses={REVERTED})) == 1
    assert events.count(A, EventFilter()) == 5 and events.count(B, EventFilter()) == 1
    assert pks(events.newest(A, EventFilter(), leave_out=["e2", "e4"])) == [
        ("e1", 0, OK),
        ("e3", 0, FAILED),
        ("e5", 0, OK),
    ]
    assert pks(events.newest(A, EventFilter(), after="e2", limit=2)) == [("e3", 0, FAILED), ("e4", 0, OK)]
    assert pks(events.newest(A, EventFilter(), after="e4", descending=True, limit=2)) == [
        ("e3", 0, FAILED),
        ("e2", 1, REVERTED),
    ]
    assert [e.pk for e in events.newest(A, EventFilter(event_id="shared"))] == ["e4", "e5"]
    assert [e.pk for e in events.newest(A, EventFilter(account_pk="acc2"))] == ["e4", "e5"]
    within = EventFilter(start=DAY + timedelta(hours=1), end=DAY + timedelta(days=2))
    assert [e.pk for e in events.newest(A, within)] == ["e2", "e3"]
    # the events that reached an account, or none but were sent with one of these accountIds
    reached = EventFilter(account_pks={"acc1"}, account_refs={"ref-gone"})
    assert [e.pk for e in events.newest(A, reached)] == ["e1", "e2", "e3"]
    assert [e.pk for e in events.newest(A, EventFilter(account_pks=set()))] == []
    # per period and key: periods start at DAY, DAY + 1 and DAY + 2 days
    starts = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    counts = events.counts(A, EventFilter(start=DAY, end=DAY + timedelta(days=3)), starts, ["account_pk", "status"])
    assert sorted(counts, key=str) == sorted(
        [(0, "acc1", OK, 1), (0, "acc1", REVERTED, 1), (1, None, FAILED, 1), (2, "acc2", OK, 2)], key=str
    )
    assert events.distinct(A, EventFilter(), "ifNull(account_pk, account_ref)", 10) == {"acc1", "acc2", "ref-gone"}
    assert events.distinct(A, EventFilter(), "status", 1) in ({OK}, {REVERTED}, {FAILED})
    moved = events.all_newest(("", ""), 100)
    assert [(org, e.pk, e.clickhouse_version) for org, e in moved] == [
        (A, "e1", 0),
        (A, "e2", 1),
        (A, "e3", 0),
        (A, "e4", 0),
        (A, "e5", 0),
        (B, "e1", 0),
    ]
    assert [(org, e.pk) for org, e in events.all_newest((A, "e4"), 100)] == [(A, "e5"), (B, "e1")]


def test_each_event_is_read_at_its_newest_version_once(events: ClickHouseEvents) -> None:
    raw = events.clickhouse.execute("SELECT count() FROM meterline.events")
    assert raw == [(12,)]  # five events and another organization's, twice; a correction; a sixth event
    check(events)


def test_the_same_answers_once_clickhouse_has_merged_the_copies(events: ClickHouseEvents) -> None:
    events.clickhouse.execute("SYSTEM START MERGES meterline.events")
    events.clickhouse.execute("OPTIMIZE TABLE meterline.events FINAL")
    assert events.clickhouse.execute("SELECT count() FROM meterline.events") == [(6,)]  # the newest version of each
    check(events)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_pages_found_a_few_rows_at_a_time_are_the_same(
    events: ClickHouseEvents, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's keys are read a chunk of rows at a time: chunks that end between two versions of an event, or between
    two copies of one, still take each event once, at its newest version."""
    monkeypatch.setattr(clickhouse_events, "FIRST_CHUNK", chunk)
    monkeypatch.setattr(clickhouse_events, "ROWS_PER_EVENT", 0)
    check(events)
    assert events.count(A, EventFilter(), up_to=2) == 3  # counting stops past the cap
    assert events.count(A, EventFilter(statuses={OK}), up_to=10) == 3


def check_corrected_status(store: ClickHouseUsage) -> None:
    """REVERTED pages read only the rows with that status, then keep the events whose newest version it is: not an
    event reverted once and written again since (a newer version), nor one never reverted. (`store`: its schema
    created, nothing in it.)"""
    store.execute(f"SYSTEM STOP MERGES {store.address.database}.events")
    events = ClickHouseEvents(store)
    # one INSERT per version: a current server collapses the versions of one event inside one INSERT
    # (optimize_on_insert), which would leave nothing for this test to tell apart
    for row in [
        (A, "b1", version("r1", 0, OK)),
        (A, "b2", version("r1", 1, REVERTED)),
        (A, "b1", version("x2", 0, OK)),
        (A, "b2", version("x2", 1, REVERTED)),
        (A, "b3", version("x2", 2, OK)),  # no longer reverted
        (A, "b1", version("n3", 0, OK)),
        (A, "b1", version("r4", 0, OK)),
        (A, "b2", version("r4", 1, REVERTED)),
        (A, "b2", version("r4", 1, REVERTED)),  # shipped twice
        (B, "b9", version("r1", 1, REVERTED)),
    ]:
        events.insert([row])
    assert store.execute(f"SELECT count() FROM {store.address.database}.events") == [(10,)]  # noqa: S608
    reverted = EventFilter(statuses={REVERTED})
    assert pks(events.newest(A, reverted, limit=10)) == [("r1", 1, REVERTED), ("r4", 1, REVERTED)]
    assert pks(events.newest(A, reverted, limit=1, descending=True)) == [("r4", 1, REVERTED)]
    assert pks(events.newest(A, reverted, limit=1, after="r1")) == [("r4", 1, REVERTED)]
    assert events.count(A, reverted, up_to=10) == 2 == events.count(A, reverted)
    assert events.count(A, EventFilter(), up_to=2) == 3 and events.count(A, EventFilter(), up_to=10) == 4


@pytest.mark.parametrize("chunk", [1, 1_000])
def test_a_status_only_corrections_write_is_found_on_the_newest_version_only(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clickhouse_events, "FIRST_CHUNK", chunk)
    monkeypatch.setattr(clickhouse_events, "ROWS_PER_EVENT", 0)
    session = chdb_session.Session(str(tmp_path / "chdb"))
    store = ChdbUsage(session)
    store.create_schema()
    check_corrected_status(store)
    session.close()
