"""Usage kept in ClickHouse (docs/clickhouse.md), on both engines, against a real ClickHouse server: the outbox is
committed with the events, the shipper moves it, every read counts each batch once (in the outbox, in ClickHouse,
or shipped twice), exactly, one organization never sees another's usage."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.repository import AccountRepository
from meterline.core.clock import utc_now
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.core.errors import Unavailable
from meterline.core.money import EXACT
from meterline.core.pagination import PageRequest
from meterline.events.clickhouse import ClickHouseError, ClickHouseUsage, Compacted, micros
from meterline.events.compaction import Job, _database_now, compact_once, finish, start
from meterline.events.models import Event as StoredEvent, UsageOutbox, UsageRollup
from meterline.events.moves import move_to_clickhouse, move_to_database
from meterline.events.schemas import CorrectionEvent
from meterline.events.service import UsageService
from meterline.events.shipper import ship, ship_once
from meterline.events.store import OUTBOX_MAX_AGE, EventStore
from meterline.events.usage_store import clickhouse_of, compacted_through, lock_choice
from meterline.files.storage import LocalStore
from meterline.metrics.repository import MetricsRepository
from meterline.reports.schemas import CreateReportRequest
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import corrections, ingestion
from meterline.usecases.reports import report_service
from tests.conftest import PG_ADMIN_URL, fresh_database, keep_usage_in_clickhouse, new_org
from tests.service.test_ingestion import event, setup_catalog
from tests.test_cli import meterline
from tests.unit import test_clickhouse_events_current_engine as current_engine

UTC = timezone.utc
DAY = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def factory(
    db_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """An installation of its own (on the engine of `db_url`) that keeps its usage in ClickHouse."""
    with fresh_database(db_url, tmp_path_factory) as url:
        keep_usage_in_clickhouse(url, clickhouse_url)
        engine = create_db_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture
def acme(factory: sessionmaker[Session]) -> tuple[Organization, str]:
    org = new_org(factory)
    with unit_of_work(factory) as s:
        meter_id = setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))
    return org, meter_id


def ingest(factory: sessionmaker[Session], org: Organization, *events: tuple[str, datetime, str]) -> None:
    with unit_of_work(factory) as s:
        ingestion(Context(session=s, org=s.merge(org), now=utc_now())).ingest([event(*e) for e in events])


def usage_of(factory: sessionmaker[Session], org: Organization, meter_id: str) -> tuple[Decimal, int]:
    with unit_of_work(factory, write=False) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        found = {u.meter_id: u for u in UsageService(ctx).of_account("acme", DAY, DAY + timedelta(days=1))}
    return found[meter_id].usage, found[meter_id].events


def clickhouse(factory: sessionmaker[Session]) -> ClickHouseUsage:
    with unit_of_work(factory, write=False) as s:
        store = clickhouse_of(s)
    assert store is not None
    return store


def raw_rows(factory: sessionmaker[Session], org: Organization) -> int:
    store = clickhouse(factory)
    [(count,)] = store.execute(
        f"SELECT count() FROM {store.address.database}.usage_rows WHERE org_id = %(org)s",  # noqa: S608
        {"org": org.id},
    )
    return int(count)


def outbox_of(factory: sessionmaker[Session], org: Organization) -> int:
    with unit_of_work(factory, write=False) as s:
        return int(s.scalar(select(func.count()).where(UsageOutbox.org_id == org.id)) or 0)


def test_usage_is_read_from_the_outbox_then_from_clickhouse_and_never_from_the_rollups(
    factory: sessionmaker[Session], acme: tuple[Organization, str]
) -> None:
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "2.5"), ("b", DAY + timedelta(hours=2), "4"))
    assert outbox_of(factory, org) == 1 and raw_rows(factory, org) == 0
    assert usage_of(factory, org, meter) == (Decimal("6.5"), 2)  # from the outbox
    while ship_once(factory):
        pass
    assert outbox_of(factory, org) == 0 and raw_rows(factory, org) == 2
    assert usage_of(factory, org, meter) == (Decimal("6.5"), 2)  # from ClickHouse
    ingest(factory, org, ("c", DAY + timedelta(hours=1), "1"), ("a", DAY + timedelta(hours=3), "100"))  # a: a duplicate
    assert usage_of(factory, org, meter) == (Decimal("7.5"), 3)  # ClickHouse plus the outbox
    with unit_of_work(factory, write=False) as s:
        assert s.scalar(select(func.count()).where(UsageRollup.org_id == org.id)) == 0


def test_a_batch_shipped_twice_counts_once(factory: sessionmaker[Session], acme: tuple[Organization, str]) -> None:
    """The shipper dies after ClickHouse acknowledged the rows and before it deleted the batch: shipped again."""
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "3"), ("b", DAY + timedelta(hours=5), "0.25"))

    with pytest.raises(RuntimeError, match="^the shipper died$"), unit_of_work(factory) as s:
        assert ship(s, clickhouse(factory), limit=1_000_000) >= 1
        raise RuntimeError("the shipper died")  # the delete is rolled back: the batch is still in the outbox
    assert outbox_of(factory, org) == 1 and raw_rows(factory, org) == 2
    assert usage_of(factory, org, meter) == (Decimal("3.25"), 2)  # the outbox's copy only
    while ship_once(factory):
        pass
    assert outbox_of(factory, org) == 0 and raw_rows(factory, org) == 4  # two copies of each row in ClickHouse
    assert usage_of(factory, org, meter) == (Decimal("3.25"), 2)


def test_quantities_beyond_twelve_decimals_and_corrections_sum_exactly(
    factory: sessionmaker[Session], acme: tuple[Organization, str]
) -> None:
    org, meter = acme
    third = Decimal(1) / Decimal(3)  # 28 significant digits: more decimals than the column keeps
    ingest(factory, org, ("x", DAY, "1"))
    with unit_of_work(factory) as s:
        account = AccountRepository(s, org.id).by_id("acme")
        assert account is not None
        account_pk = account.pk
        store = EventStore(s, org.id)
        store.add_usage({(account_pk, meter, DAY): (third, 1)}, UTC, utc_now())
        store.add_usage({(account_pk, meter, DAY + timedelta(minutes=15)): (third, 1)}, UTC, utc_now())
        store.add_usage({(account_pk, meter, DAY): (Decimal("-1"), -1)}, UTC, utc_now())  # a correction's UNDO
    expected = (third + third, 2)  # 1 + 1/3 + 1/3 - 1
    assert usage_of(factory, org, meter) == expected
    ship_once(factory)
    assert usage_of(factory, org, meter) == expected
    with unit_of_work(factory, write=False) as s:
        assert EventStore(s, org.id).usage_of_accounts(
            [account_pk], [meter], DAY, DAY + timedelta(days=1), daily=True
        ) == {(account_pk, meter): expected}


def test_one_organization_never_reads_another_s_usage(factory: sessionmaker[Session]) -> None:
    orgs = [new_org(factory) for _ in range(2)]
    meters = []
    for org in orgs:
        with unit_of_work(factory) as s:
            meters.append(setup_catalog(Context(session=s, org=s.merge(org), now=utc_now())))
    ingest(factory, orgs[0], ("same", DAY + timedelta(hours=1), "10"))
    ingest(factory, orgs[1], ("same", DAY + timedelta(hours=1), "1"))
    ship_once(factory)
    ingest(factory, orgs[0], ("other", DAY + timedelta(hours=2), "5"))  # in the outbox
    assert usage_of(factory, orgs[0], meters[0]) == (Decimal(15), 2)
    assert usage_of(factory, orgs[1], meters[1]) == (Decimal(1), 1)


def test_concurrent_shippers_and_writers_lose_and_double_nothing(
    factory: sessionmaker[Session], acme: tuple[Organization, str]
) -> None:
    org, meter = acme
    stop = threading.Event()
    failures: list[BaseException] = []

    def shipper() -> None:
        try:
            while not stop.is_set():
                ship_once(factory, limit=3)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    def writer(n: int) -> None:
        try:
            for i in range(15):
                ingest(factory, org, (f"w{n}-{i}", DAY + timedelta(minutes=15 * i), "1"))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    def compactor() -> None:  # compacts what the shippers shipped meanwhile (events/compaction.py)
        try:
            while not stop.is_set():
                compact_once(factory)
                stop.wait(0.05)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    shippers = [threading.Thread(target=shipper) for _ in range(2)] + [threading.Thread(target=compactor)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in shippers + writers:
        t.start()
    seen = []
    for t in writers:
        while t.is_alive():
            seen.append(usage_of(factory, org, meter)[1])  # reads meanwhile never go down, never pass 45
            t.join(0.01)
    stop.set()
    for t in shippers:
        t.join()
    assert not failures, failures
    assert seen == sorted(seen) and all(n <= 45 for n in seen)
    while ship_once(factory):
        pass
    assert outbox_of(factory, org) == 0
    assert usage_of(factory, org, meter) == (Decimal(45), 45)


def ship_all(factory: sessionmaker[Session]) -> None:
    while ship_once(factory):
        pass


def rows_shipped_before(factory: sessionmaker[Session], org: Organization, epoch: int) -> int:
    """How many of the organization's shipped rows are of an epoch before `epoch`, once ClickHouse has run the
    deletions compaction asked for (mutations run in the background: waited for here, up to 120 s on a loaded
    machine; a failure says whether they were still running)."""
    store = clickhouse(factory)
    table = f"{store.address.database}.usage_rows"
    deadline = time.monotonic() + 120
    while True:
        [(busy,)] = store.execute(
            "SELECT count() FROM system.mutations WHERE database = %(db)s AND is_done = 0",
            {"db": store.address.database},
        )
        if not busy:
            break
        assert time.monotonic() < deadline, f"{busy} deletions still running after 120 s"
        time.sleep(0.1)
    [(count,)] = store.execute(
        f"SELECT count() FROM {table} WHERE org_id = %(org)s AND ship_seq < %(epoch)s",  # noqa: S608
        {"org": org.id, "epoch": epoch},
    )
    return int(count)


def test_compaction_keeps_every_read_exact_and_deletes_the_rows_it_replaced(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches shipped one by one (three rows in one bucket, a quantity beyond 12 decimals, a correction) become one
    row per bucket; the reads are the same before and after, and after more usage is shipped and compacted again."""
    org, meter = acme
    for n, quantity in enumerate(["1.5", "2", "0.25"]):
        ingest(factory, org, (f"e{n}", DAY + timedelta(hours=1), quantity))
        ship_all(factory)
    third = Decimal(1) / Decimal(3)
    with unit_of_work(factory) as s:
        account = AccountRepository(s, org.id).by_id("acme")
        assert account is not None
        store = EventStore(s, org.id)
        store.add_usage({(account.pk, meter, DAY + timedelta(hours=2)): (third, 1)}, UTC, utc_now())
        store.add_usage({(account.pk, meter, DAY + timedelta(hours=1)): (Decimal("-0.5"), -1)}, UTC, utc_now())
    ship_all(factory)
    expected = (EXACT.add(Decimal("3.25"), third), 3)
    assert raw_rows(factory, org) == 5 and usage_of(factory, org, meter) == expected
    assert compact_once(factory)
    assert usage_of(factory, org, meter) == expected
    store = clickhouse(factory)
    compact, count = f"{store.address.database}.usage_compact", "SELECT count() FROM {} WHERE org_id = %(org)s"
    [(written,)] = store.execute(count.format(compact), {"org": org.id})
    store.execute(f"SYSTEM STOP MERGES {compact}")  # the copies stay apart while the read runs
    try:
        store.execute(  # a compactor that was taken over wrote the generation too, late: rows nobody reads
            f"INSERT INTO {compact} SELECT org_id, account_pk, meter_id, bucket, quantity, quantity_text, events, "  # noqa: S608
            f"generation, 'late' FROM {compact} WHERE org_id = %(org)s",
            {"org": org.id},
        )
        assert usage_of(factory, org, meter) == expected
        assert store.execute(count.format(compact), {"org": org.id}) == [(2 * written,)]  # both copies were there
    finally:
        store.execute(f"SYSTEM START MERGES {compact}")
    assert rows_shipped_before(factory, org, 1 << 62) == 5  # kept for the reads that began before (DELETE_AFTER)
    monkeypatch.setattr("meterline.events.compaction.DELETE_AFTER", timedelta(0))
    ingest(factory, org, ("other", DAY + timedelta(hours=5), "0"))
    ship_all(factory)
    while compact_once(factory):  # other tests' organizations share the installation: until nothing is left
        pass
    expected = (expected[0], 4)
    assert usage_of(factory, org, meter) == expected
    assert rows_shipped_before(factory, org, 1 << 62) == 0  # every row compacted, then deleted
    assert usage_of(factory, org, meter) == expected

    ingest(factory, org, ("later", DAY + timedelta(hours=1), "10"))
    ship_all(factory)
    later = (EXACT.add(expected[0], Decimal(10)), 5)
    assert usage_of(factory, org, meter) == later  # a compacted bucket plus a new row
    assert compact_once(factory)
    assert usage_of(factory, org, meter) == later
    with unit_of_work(factory, write=False) as s:
        buckets = EventStore(s, org.id).usage_buckets(clickhouse(factory), DAY, DAY + timedelta(days=1))
    assert sorted((b, q, n) for _, _, b, q, n in buckets) == [
        (DAY + timedelta(hours=1), Decimal("13.25"), 3),
        (DAY + timedelta(hours=2), third, 1),
        (DAY + timedelta(hours=5), Decimal(0), 1),
    ]
    monkeypatch.setattr("meterline.events.store.READ_LIMIT", timedelta(seconds=-1))  # a read that took too long
    with pytest.raises(ClickHouseError, match="a usage read took longer than -1 s: try again"):
        usage_of(factory, org, meter)


def test_the_rows_a_generation_summed_are_deleted_only_once_it_is_old_enough(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generation's rows stay while a read that began before it was recorded may still stand on them
    (DELETE_AFTER), and are deleted by a later compaction once it is old enough."""
    monkeypatch.setattr("meterline.events.compaction.DELETE_AFTER", timedelta(seconds=1))
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "3"))
    ship_all(factory)
    while compact_once(factory):
        pass
    with unit_of_work(factory, write=False) as s:
        first = compacted_through(s).through
    assert rows_shipped_before(factory, org, first) == 1  # just recorded: kept
    time.sleep(1.1)
    ingest(factory, org, ("b", DAY + timedelta(hours=1), "4"))
    ship_all(factory)
    assert compact_once(factory)  # records a newer generation and deletes what the old enough one summed
    assert rows_shipped_before(factory, org, first) == 0
    assert raw_rows(factory, org) == 1  # "b", summed by the newer generation, kept for now
    assert usage_of(factory, org, meter) == (Decimal(7), 2)


def test_a_sqlite_reader_s_snapshot_counts_toward_the_read_limit(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite reader's transaction reads the snapshot its first statement took, whatever compaction recorded and
    deleted since: a read of usage is refused once that snapshot is older than READ_LIMIT. PostgreSQL's statements
    each read afresh, so there the read's own duration counts."""
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "3"))
    monkeypatch.setattr("meterline.events.store.READ_LIMIT", timedelta(seconds=0.5))
    with unit_of_work(factory, write=False) as s:
        ctx = Context(session=s, org=s.merge(org), now=utc_now())
        assert s.scalar(select(func.count()).select_from(UsageOutbox)) is not None  # the snapshot is taken
        time.sleep(0.6)
        if s.get_bind().dialect.name == "sqlite":
            with pytest.raises(ClickHouseError, match="a usage read took longer than 0.5 s: try again"):
                UsageService(ctx).of_account("acme", DAY, DAY + timedelta(days=1))
        else:
            [found] = [
                u for u in UsageService(ctx).of_account("acme", DAY, DAY + timedelta(days=1)) if u.meter_id == meter
            ]
            assert (found.usage, found.events) == (Decimal(3), 1)


def test_a_generation_is_stamped_when_it_is_recorded_not_when_its_transaction_began(
    factory: sessionmaker[Session],
) -> None:
    """`finish` may wait for the epoch's lock; the time it records must be taken after that wait (PostgreSQL's
    `now()` is the transaction's start: a generation stamped early looks old enough to delete too soon)."""
    with unit_of_work(factory) as s:
        s.execute(select(1))  # the transaction has begun
        waited_from = utc_now()
        time.sleep(0.3)  # as if waiting for a shipper's share lock
        assert _database_now(s) >= waited_from + timedelta(seconds=0.3)


def test_a_copy_from_a_shipper_that_died_is_not_compacted_and_counts_once(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shipper dies after ClickHouse took its rows: the batch is still in the outbox when compaction starts, so its
    copy is left out; shipped for real afterwards (in a later epoch), it counts once, compacted or not."""
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "3"))
    ship_all(factory)
    ingest(factory, org, ("b", DAY + timedelta(hours=1), "4"))
    with pytest.raises(RuntimeError, match="^the shipper died$"), unit_of_work(factory) as s:
        assert ship(s, clickhouse(factory), limit=1_000_000) >= 1
        raise RuntimeError("the shipper died")
    assert outbox_of(factory, org) == 1 and raw_rows(factory, org) == 2
    monkeypatch.setattr("meterline.events.compaction.DELETE_AFTER", timedelta(0))
    assert compact_once(factory)
    assert usage_of(factory, org, meter) == (Decimal(7), 2)  # "b" from the outbox, its early copy not counted
    ship_all(factory)
    assert usage_of(factory, org, meter) == (Decimal(7), 2)
    while compact_once(factory):
        pass
    assert usage_of(factory, org, meter) == (Decimal(7), 2)
    assert rows_shipped_before(factory, org, 1 << 62) == 0


def test_a_compaction_that_died_half_way_is_taken_over_and_its_rows_never_read(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compactor writes half of its generation and dies before recording it: reads are exact meanwhile; another
    compactor leaves the job alone while it is recent (TAKE_OVER_AFTER), then takes it over under a writer of its
    own, writes it whole and records it; the half-written rows are never read. The holder of a job takes it over at
    once (after an error of its own), and a compactor that was taken over cannot record the job."""
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "2"), ("b", DAY + timedelta(hours=3), "5"))
    ship_all(factory)
    with unit_of_work(factory) as s:
        job = start(s, "dead")
    assert isinstance(job, Job) and job.writer == ""
    store = clickhouse(factory)
    compact = f"{store.address.database}.usage_compact"
    with unit_of_work(factory, write=False) as s:
        account = AccountRepository(s, org.id).by_id("acme")
        assert account is not None
    store.execute(  # half of the generation reached ClickHouse (a's bucket, not b's) before the compactor died
        f"INSERT INTO {compact} (org_id, account_pk, meter_id, bucket, quantity, quantity_text, events, generation, "  # noqa: S608
        "writer) VALUES",
        [(org.id, account.pk, meter, micros(DAY + timedelta(hours=1)), Decimal(2), "", 1, job.generation, "")],
    )
    ingest(factory, org, ("c", DAY + timedelta(hours=1), "1"))
    ship_all(factory)  # in the new epoch
    assert usage_of(factory, org, meter) == (Decimal(8), 3)
    assert not compact_once(factory)  # the job is recent, and held by the compactor that "died"
    with unit_of_work(factory) as s:
        again = start(s, "dead")  # its holder takes it over at once
    assert isinstance(again, Job) and again.generation == job.generation and again.writer not in ("", job.writer)
    with unit_of_work(factory) as s:
        assert finish(s, job) is None  # taken over: the first writer cannot record it
    monkeypatch.setattr("meterline.events.compaction.TAKE_OVER_AFTER", timedelta(0))
    assert compact_once(factory)  # taken over again (this process), written whole, recorded
    with unit_of_work(factory) as s:
        assert finish(s, again) is None  # done already
    assert usage_of(factory, org, meter) == (Decimal(8), 3)
    [(recorded,)] = store.execute(
        f"SELECT count() FROM {compact} WHERE org_id = %(org)s AND generation = %(generation)s "  # noqa: S608
        "AND writer NOT IN ('', %(again)s)",
        {"org": org.id, "generation": job.generation, "again": again.writer},
    )
    assert recorded == 2  # one row per bucket, written once by the writer recorded
    with unit_of_work(factory, write=False) as s:
        assert compacted_through(s).writers.get(job.generation) not in (None, "", again.writer)
    while compact_once(factory):
        pass
    assert usage_of(factory, org, meter) == (Decimal(8), 3)


def test_clickhouse_down_keeps_the_outbox_and_says_so(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, meter = acme
    ingest(factory, org, ("a", DAY, "1"))
    unreachable = ClickHouseUsage("clickhouse://127.0.0.1:1/nowhere")
    monkeypatch.setattr("meterline.events.shipper.clickhouse_of", lambda _s: unreachable)
    with pytest.raises(ClickHouseError, match=r"ClickHouse at clickhouse://default@127.0.0.1:1/nowhere"):
        ship_once(factory)
    monkeypatch.undo()
    assert outbox_of(factory, org) == 1
    while ship_once(factory):
        pass
    assert usage_of(factory, org, meter) == (Decimal(1), 1)


def test_each_transaction_reads_the_choice_once(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory, write=False) as s:
        store = clickhouse_of(s)
        assert store is not None and clickhouse_of(s) is store
    with unit_of_work(factory, write=False) as s:
        assert clickhouse_of(s) is store  # read again, and the same store (its connections) for the same URL


def stored_event_ids(factory: sessionmaker[Session], org: Organization) -> list[str]:
    with unit_of_work(factory, write=False) as s:
        return sorted(str(e.event_id) for e in EventStore(s, org.id).page(PageRequest(size=50)).items)


def test_a_process_left_running_during_a_move_follows_it_and_loses_nothing(
    db_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A `serve` that was not stopped while `meterline usage-store` moved usage and events (both ways): an ingestion
    that begins during the move waits for it (PostgreSQL: the choice's advisory lock; SQLite: the write lock), then
    writes where the move put everything, and so does every later one; nothing it accepted is lost or counted
    twice, as read by a process started afterwards."""
    with fresh_database(db_url, tmp_path_factory) as url:
        running_engine, mover_engine, later_engine = create_db_engine(url), create_db_engine(url), create_db_engine(url)
        running, mover, later = (make_session_factory(e) for e in (running_engine, mover_engine, later_engine))
        org = new_org(running)
        with unit_of_work(running) as s:
            meter = setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))
        postgres = running_engine.dialect.name == "postgresql"
        target = f"{clickhouse_url}running_{secrets.token_hex(4)}"

        def move_while_ingesting(move: Callable[[Session, Callable[[str], None]], object], event_id: str) -> None:
            moving, go, done = threading.Event(), threading.Event(), threading.Event()
            errors: list[BaseException] = []

            def progress(_what: str) -> None:
                moving.set()
                go.wait(30)

            def run(work: Callable[[], object]) -> None:
                try:
                    work()
                except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                    errors.append(exc)

            def do_move() -> None:
                with unit_of_work(mover) as s:
                    move(s, progress)

            mover_thread = threading.Thread(target=run, args=(do_move,))
            mover_thread.start()
            assert moving.wait(30), errors  # the move is half-way, holding the choice

            def do_ingest() -> None:
                ingest(running, org, (event_id, DAY, "1"))
                done.set()

            ingester = threading.Thread(target=run, args=(do_ingest,))
            ingester.start()
            if postgres:  # the ingestion waits for the choice's lock
                deadline = time.monotonic() + 10
                while not waits_for_the_choice(later) and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert waits_for_the_choice(later)
            else:  # the ingestion waits for the write lock
                time.sleep(0.3)
            assert not done.is_set()
            go.set()
            mover_thread.join(30)
            ingester.join(30)
            assert not errors, errors
            assert done.is_set()

        ingest(running, org, ("a", DAY, "1"))
        move_while_ingesting(lambda s, progress: move_to_clickhouse(s, target, utc_now(), progress), "b")
        ingest(running, org, ("c", DAY, "1"))
        with unit_of_work(later, write=False) as s:
            assert s.scalar(select(func.count()).select_from(UsageRollup)) == 0  # b and c went to the outbox
            assert s.scalar(select(func.count()).select_from(StoredEvent)) == 0
            assert s.scalar(select(func.count()).select_from(UsageOutbox)) == 2
        assert usage_of(later, org, meter) == (Decimal(3), 3)
        assert stored_event_ids(later, org) == ["a", "b", "c"]

        move_while_ingesting(lambda s, progress: move_to_database(s, utc_now(), progress), "d")
        ingest(running, org, ("e", DAY, "1"))
        with unit_of_work(later, write=False) as s:
            assert s.scalar(select(func.count()).select_from(UsageOutbox)) == 0  # d and e went to the rollups
            assert s.scalar(select(func.count()).select_from(StoredEvent)) == 5
        assert usage_of(later, org, meter) == (Decimal(5), 5)
        assert stored_event_ids(later, org) == ["a", "b", "c", "d", "e"]
        assert usage_of(running, org, meter) == (Decimal(5), 5)
        for engine in (running_engine, mover_engine, later_engine):
            engine.dispose()


def waits_for_the_choice(factory: sessionmaker[Session]) -> bool:
    with unit_of_work(factory, write=False) as s:
        return bool(
            s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%pg_advisory_xact_lock_shared%'"
                )
            )
        )


def test_a_transaction_waits_for_a_move_a_while_then_is_answered_503(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (on SQLite the move is the writer, and other writers wait for the write lock as for any writer:
    core/db.py): while a move holds the choice, a transaction that needs it waits up to CHOICE_WAIT (30 s), then is
    refused with Unavailable (503, Retry-After) and changes nothing; once the move ends, it goes through."""
    monkeypatch.setattr("meterline.events.usage_store.CHOICE_WAIT", "200ms")
    with fresh_database(PG_ADMIN_URL, tmp_path_factory) as url:
        engine = create_db_engine(url)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as moving:
            assert lock_choice(moving, lambda _said: None) is None
            with pytest.raises(Unavailable, match=r"^Usage and events are being moved .*; retry shortly$") as got:
                with unit_of_work(factory) as s:
                    clickhouse_of(s)
            assert got.value.headers == {"Retry-After": "5"}
        with unit_of_work(factory) as s:
            assert clickhouse_of(s) is None
        engine.dispose()


def test_a_move_waits_for_transactions_in_flight_a_while_then_names_them(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a move waits for the transactions that read the choice up to MOVE_WAIT (10 s; requests queue
    behind it meanwhile), saying so; a longer one (a report, a bill run) is named in its refusal, and nothing moved."""
    monkeypatch.setattr("meterline.events.usage_store.MOVE_WAIT", "300ms")
    with fresh_database(PG_ADMIN_URL, tmp_path_factory) as url:
        engine = create_db_engine(url)
        factory = make_session_factory(engine)
        said: list[str] = []
        with unit_of_work(factory, write=False) as long:
            assert clickhouse_of(long) is None  # holds the choice (shared) until it ends
            long.execute(text("SELECT 'a long report'"))
            refusal = r"^transactions still read where usage and events are kept after 300ms \(pid \d+ since "
            with pytest.raises(ValueError, match=refusal):
                with unit_of_work(factory) as moving:
                    move_to_database(moving, utc_now(), said.append)
        assert said == ["waiting for the transactions in flight that read where usage and events are kept"]
        with unit_of_work(factory) as s:
            assert lock_choice(s, said.append) is None  # nobody in flight: at once, nothing said
        assert len(said) == 1
        engine.dispose()


def test_a_move_on_a_busy_sqlite_database_says_so_in_a_line(tmp_path_factory: pytest.TempPathFactory) -> None:
    """SQLite: another process holds the write lock longer than SQLite's busy timeout (10 s): the move changes
    nothing and says why in one line, not a traceback."""
    with fresh_database("sqlite://", tmp_path_factory) as url:
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = meterline("usage-store", "--database", "--database-url", url)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert busy.returncode == 1
        assert "Traceback" not in busy.stderr
        said = " ".join(busy.stderr.split())
        assert "error: the database is busy or unavailable, nothing was moved: database is locked; run again" in said


def test_a_move_reaches_clickhouse_before_it_holds_anything(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL that cannot be reached (or hangs) fails the move before it holds the choice: running processes are not
    held up by a wrong URL."""

    def held(*_args: object) -> None:
        raise AssertionError("the choice was held before ClickHouse answered")

    monkeypatch.setattr("meterline.events.moves.lock_choice", held)
    with pytest.raises(ClickHouseError, match="Connection refused"), unit_of_work(factory) as s:
        move_to_clickhouse(s, "clickhouse://127.0.0.1:1/nowhere", utc_now(), lambda _said: None)


def test_a_compactor_does_not_record_its_job_once_usage_moved_elsewhere(
    factory: sessionmaker[Session], acme: tuple[Organization, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a compaction's start and its record, usage moved (back, and into another ClickHouse whose own job
    may bear the same generation and writer): the compactor checks the choice again and records nothing."""
    org, _ = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "2"))
    ship_all(factory)
    real = clickhouse(factory)
    calls: list[int] = []

    def choice(session: Session) -> ClickHouseUsage | None:
        calls.append(1)
        return real if len(calls) < 3 else ClickHouseUsage("clickhouse://127.0.0.1:1/elsewhere")

    monkeypatch.setattr("meterline.events.compaction.clickhouse_of", choice)
    with unit_of_work(factory, write=False) as s:
        before = compacted_through(s).through
    assert not compact_once(factory)
    assert len(calls) == 3
    with unit_of_work(factory, write=False) as s:
        assert compacted_through(s).through == before  # not recorded
    monkeypatch.undo()
    monkeypatch.setattr("meterline.events.compaction.TAKE_OVER_AFTER", timedelta(0))
    while compact_once(factory):  # taken over and recorded by the next round
        pass
    with unit_of_work(factory, write=False) as s:
        assert compacted_through(s).through > before


def test_meterline_usage_store_moves_the_usage_counted_so_far(
    db_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An installation that kept usage in its database moves it with `meterline usage-store --clickhouse URL`:
    the same usage afterwards, read from ClickHouse, none left in the rollups; a bad URL changes nothing."""
    with fresh_database(db_url, tmp_path_factory) as url:
        engine = create_db_engine(url)
        own = make_session_factory(engine)
        org = new_org(own)
        with unit_of_work(own) as s:
            meter = setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))
        ingest(own, org, ("a", DAY + timedelta(hours=1), "2"), ("b", DAY + timedelta(hours=20), "0.125"))
        assert usage_of(own, org, meter) == (Decimal("2.125"), 2)
        refused = meterline("usage-store", "--clickhouse", "http://nowhere", "--database-url", url)
        assert refused.returncode == 1 and "not a ClickHouse URL: 'http://nowhere'" in refused.stderr
        shown = meterline("usage-store", "--database-url", url)
        assert shown.stdout.strip() == "usage and events are kept in the database itself", shown
        target = f"{clickhouse_url}moved_{org.id.split('.')[1][:8]}"
        stranger = meterline("usage-store", "--clickhouse", target.replace("://", "://nobody@"), "--database-url", url)
        assert stranger.returncode == 1  # the server's reason, on one line
        assert "Code: 192. DB::Exception: Unknown user nobody." in stranger.stderr.replace("\n", " ")
        moved = meterline("usage-store", "--clickhouse", target, "--database-url", url)
        assert moved.returncode == 0, moved.stderr
        assert "(2 rows of usage and 2 events moved)" in moved.stderr
        same = meterline("usage-store", "--clickhouse", target, "--database-url", url)
        assert same.returncode == 1, same.stderr
        assert f"usage and events are already kept in {target.replace('://', '://default@')}: nothing to move" in (
            same.stderr.replace("\n", " ")
        )
        elsewhere = meterline("usage-store", "--clickhouse", f"{target}_other", "--database-url", url)
        assert elsewhere.returncode == 1, elsewhere.stderr  # refused: it would leave everything in `target` unread
        assert f"usage and events are already kept in {target.replace('://', '://default@')}: to keep them in " in (
            elsewhere.stderr.replace("\n", " ")
        )
        with unit_of_work(own, write=False) as s:
            assert s.scalar(select(func.count()).select_from(UsageRollup)) == 0
        assert raw_rows(own, org) == 2
        assert usage_of(own, org, meter) == (Decimal("2.125"), 2)
        ingest(own, org, ("c", DAY + timedelta(hours=2), "1"))
        assert usage_of(own, org, meter) == (Decimal("3.125"), 3)
        shown = meterline("usage-store", "--database-url", url)
        assert shown.stdout.strip() == f"usage and events are kept in {target.replace('://', '://default@')}"
        engine.dispose()


def test_a_clickhouse_database_takes_one_installation(
    db_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two installations named the same ClickHouse database: the first moves in (with no usage or events yet, so
    the database holds none after its move), the second is refused, in words, and keeps its usage where it was; the
    first may run its move again (e.g. after a failure). Sharing one would double usage: each installation's
    compaction sums every row of the database, the other's too."""
    target = f"{clickhouse_url}owned_{secrets.token_hex(4)}"
    with fresh_database(db_url, tmp_path_factory) as first, fresh_database(db_url, tmp_path_factory) as second:
        moved = meterline("usage-store", "--clickhouse", target, "--database-url", first)
        assert moved.returncode == 0, moved.stderr
        assert "(0 rows of usage and 0 events moved)" in moved.stderr
        refused = meterline("usage-store", "--clickhouse", target, "--database-url", second)
        assert refused.returncode == 1, refused.stderr
        said = " ".join(refused.stderr.split())
        assert f"{target.replace('://', '://default@')} belongs to another Meterline installation already" in said
        assert "each installation keeps its usage and events in a ClickHouse database of its own" in said
        shown = meterline("usage-store", "--database-url", second)
        assert shown.stdout.strip() == "usage and events are kept in the database itself"
        back = meterline("usage-store", "--database", "--database-url", first)
        assert back.returncode == 0, back.stderr
        again = meterline("usage-store", "--clickhouse", target, "--database-url", first)
        assert again.returncode == 0, again.stderr  # its own database, still empty


def test_a_stalled_outbox_refuses_new_usage_and_stores_nothing(
    factory: sessionmaker[Session], acme: tuple[Organization, str]
) -> None:
    """Backpressure: while the oldest batch has waited more than OUTBOX_MAX_AGE for ClickHouse, ingestion answers
    503 with Retry-After and keeps nothing (no event, no claim); once shipped, the same event is taken."""
    org, meter = acme
    while ship_once(factory):
        pass
    now = utc_now()
    with unit_of_work(factory) as s:
        ingestion(Context(session=s, org=s.merge(org), now=now - OUTBOX_MAX_AGE - timedelta(seconds=1))).ingest(
            [event("old", DAY, "1")]
        )
    with pytest.raises(Unavailable, match=r"usage is waiting to reach ClickHouse since .*: nothing was stored") as got:
        ingest(factory, org, ("new", DAY, "1"))
    assert got.value.status_code == 503 and got.value.headers == {"Retry-After": "5"}
    with unit_of_work(factory, write=False) as s:
        assert s.scalar(select(func.count()).where(StoredEvent.org_id == org.id, StoredEvent.event_id == "new")) == 0
    while ship_once(factory):
        pass
    ingest(factory, org, ("new", DAY, "1"))
    assert usage_of(factory, org, meter) == (Decimal(2), 2)


def test_usage_metrics_and_the_usage_report_source_read_clickhouse_and_the_outbox(
    factory: sessionmaker[Session], acme: tuple[Organization, str], tmp_path: Path
) -> None:
    """USAGE per period and group: the same sums from ClickHouse, the outbox, or both. The `usage` report source runs
    its unchanged query on a staging database of what it reads: ClickHouse's buckets (a batch shipped twice counted
    once) and the outbox's, with the accounts, customers and meters; filters, sums and events as on the rollups."""
    org, meter = acme
    ingest(factory, org, ("a", DAY + timedelta(hours=1), "2"), ("b", DAY + timedelta(hours=30), "0.5"))
    with pytest.raises(RuntimeError, match="^the shipper died$"), unit_of_work(factory) as s:
        ship(s, clickhouse(factory), limit=1_000_000)
        raise RuntimeError("the shipper died")
    while ship_once(factory):
        pass
    ingest(factory, org, ("c", DAY + timedelta(hours=2), "1.000000000001"))  # in the outbox
    days = [DAY, DAY + timedelta(days=1)]
    with unit_of_work(factory, write=False) as s:
        repo = MetricsRepository(s, org.id)
        assert repo.usage_sums(days, DAY, DAY + timedelta(days=2), meter_ids={meter}) == {
            (0, ()): Decimal("3.000000000001"),
            (1, ()): Decimal("0.5"),
        }
        assert repo.usage_groups(False, DAY, DAY + timedelta(days=2), group="customer", limit=10) == 1

    def report(body: dict[str, object]) -> list[str]:
        with unit_of_work(factory) as s:
            ctx = Context(session=s, org=s.merge(org), now=utc_now())
            service = report_service(ctx, LocalStore(tmp_path, None))
            made = service.create(CreateReportRequest.model_validate(body))
            return list(service.csv_rows(service.query_of(made)))

    day = {"fromDate": "2024-03-01T00:00:00Z", "toDate": "2024-03-02T00:00:00Z"}
    rows = report({"type": "TEMPLATE", "reportTemplateId": "usage_per_account_and_meter", **day})
    assert rows[1:] == [f"acme,acme,{meter},calls,3.000000000001,2\r\n"], rows
    later = {"fromDate": "2024-03-03T00:00:00Z", "toDate": "2024-03-04T00:00:00Z"}
    assert report({"type": "TEMPLATE", "reportTemplateId": "usage_per_account_and_meter", **later})[1:] == []
    buckets = {
        "type": "QUERY",
        "queryInput": {
            "baseDataSource": "usage",
            "selects": [{"columnName": "bucketStart"}, {"columnName": "usage"}, {"columnName": "events"}],
            "queryFilters": [{"column": {"columnName": "bucketStart"}, "operator": "GT", "args": [DAY.isoformat()]}],
            "sort": [{"column": {"columnName": "bucketStart"}, "sortOrder": "DESC"}],
            "limit": 10,
        },
    }
    assert report(buckets)[1:] == [
        "2024-03-02T06:00:00Z,0.5,1\r\n",
        "2024-03-01T02:00:00Z,1.000000000001,1\r\n",
        "2024-03-01T01:00:00Z,2,1\r\n",
    ]


def test_lists_longer_than_a_query_may_be_are_read_whole(factory: sessionmaker[Session]) -> None:
    """Reading the usage of 9,000 accounts while 9,000 batches wait in the outbox: both lists (about 330 KB each as
    text) exceed the server's max_query_size (256 KiB) and go with the query as external tables; every account is
    counted, every batch left out is left out."""
    org = new_org(factory)
    store = clickhouse(factory)
    n = 9_000
    accounts = [f"account-{i:05d}-{'x' * 24}" for i in range(n)]
    pending = [f"pending-{i:05d}-{'y' * 24}" for i in range(n)]
    bucket = int(DAY.timestamp()) * 1_000_000
    rows = [(org.id, a, "m", bucket, Decimal("1.5"), 1, f"shipped-{i}", 0) for i, a in enumerate(accounts)]
    rows += [(org.id, a, "m", bucket, Decimal(1000), 1, pending[i], 0) for i, a in enumerate(accounts)]
    store.insert(rows)
    none = Compacted(0, {})
    sums = store.sums(org.id, accounts, ["m"], DAY, DAY + timedelta(days=1), leave_out=pending, compacted=none)
    assert len(sums) == n and set(sums.values()) == {(Decimal("1.5"), 1)}
    buckets = store.bucket_sums(
        org.id, DAY, DAY + timedelta(days=1), account_pks=accounts, leave_out=pending, compacted=Compacted(0, {})
    )
    assert len(buckets) == n and {(q, e) for *_, q, e in buckets} == {(Decimal("1.5"), 1)}
    everything = store.sums(org.id, accounts, ["m"], DAY, DAY + timedelta(days=1), compacted=Compacted(0, {}))
    assert set(everything.values()) == {(Decimal("1001.5"), 2)}


def test_meterline_usage_store_moves_usage_back_into_the_database_and_there_again(
    db_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`meterline usage-store --database` moves usage back from ClickHouse: the batches shipped (one of them twice)
    and those still waiting in the outbox, each once, into the rollups; the usage reads the same, the outbox is
    empty, new usage goes to the rollups; a second move back says there is nothing to move. Moving to ClickHouse
    again afterwards reads the same once more."""
    with fresh_database(db_url, tmp_path_factory) as url:
        target = keep_usage_in_clickhouse(url, clickhouse_url)
        engine = create_db_engine(url)
        own = make_session_factory(engine)
        org = new_org(own)
        with unit_of_work(own) as s:
            meter = setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))
        ingest(own, org, ("a", DAY + timedelta(hours=1), "3"), ("b", DAY + timedelta(hours=5), "0.25"))
        with pytest.raises(RuntimeError, match="^the shipper died$"), unit_of_work(own) as s:
            ship(s, clickhouse(own), limit=1_000_000)
            raise RuntimeError("the shipper died")
        while ship_once(own):
            pass
        assert raw_rows(own, org) == 4  # two copies of each row
        ingest(own, org, ("c", DAY + timedelta(days=40), "0.000000000001"))  # waits in the outbox, another month
        with unit_of_work(own) as s:  # b's newer version (REVERTED) waits in the outbox too; version 0 is shipped
            ctx = Context(session=s, org=s.merge(org), now=utc_now())
            undo = CorrectionEvent.model_validate({"id": "b"})
            assert corrections(ctx).correct("UNDO", undo, expected_reference=None).status == "REVERTED"
        assert outbox_of(own, org) == 3  # c; the UNDO: its usage, then b's new version
        before = usage_of(own, org, meter)
        assert before == (Decimal("3"), 1)
        with unit_of_work(own, write=False) as s:
            statuses = {e.event_id: e.status for e in EventStore(s, org.id).page(PageRequest(size=10)).items}
        done = "INGESTION_COMPLETED_EVENT_NOT_METERED"  # (the catalog's meter has no price plan)
        assert statuses == {"a": done, "b": "REVERTED", "c": done}

        back = meterline("usage-store", "--database", "--database-url", url)
        assert back.returncode == 0, back.stderr
        assert "usage and events are kept in the database itself (4 rows of usage and 3 events moved)" in back.stderr
        with unit_of_work(own, write=False) as s:
            assert s.scalar(select(func.count()).select_from(UsageRollup)) == 3
            assert s.scalar(select(func.count()).select_from(UsageOutbox)) == 0
            rows = s.execute(select(StoredEvent.event_id, StoredEvent.status).where(StoredEvent.org_id == org.id))
            assert dict(rows.all()) == statuses  # each event once, as it stands (b's newest version)
        assert usage_of(own, org, meter) == before
        with unit_of_work(own, write=False) as s:
            ctx = Context(session=s, org=s.merge(org), now=utc_now())
            later = DAY + timedelta(days=40)
            [found] = [u for u in UsageService(ctx).of_account("acme", later, later + timedelta(days=1))]
            assert (found.usage, found.events) == (Decimal("0.000000000001"), 1)
        ingest(own, org, ("d", DAY + timedelta(hours=2), "1"))
        assert usage_of(own, org, meter) == (Decimal("4"), 2)
        with unit_of_work(own, write=False) as s:
            assert s.scalar(select(func.count()).select_from(UsageRollup)) == 4

        again = meterline("usage-store", "--database", "--database-url", url)
        assert again.returncode == 1 and "usage and events are already kept in the database itself" in again.stderr
        both = meterline("usage-store", "--database", "--clickhouse", target, "--database-url", url)
        assert both.returncode == 2 and "not both" in both.stderr

        there = meterline("usage-store", "--clickhouse", f"{target}_again", "--database-url", url)
        assert there.returncode == 0, there.stderr
        assert "(4 rows of usage and 4 events moved)" in there.stderr
        with unit_of_work(own, write=False) as s:
            assert s.scalar(select(func.count()).select_from(StoredEvent)) == 0  # all in ClickHouse now
            moved = {e.event_id: e.status for e in EventStore(s, org.id).page(PageRequest(size=10)).items}
        assert moved == {**statuses, "d": done}
        assert usage_of(own, org, meter) == (Decimal("4"), 2)
        engine.dispose()


def test_the_events_sql_gives_the_current_engines_answers_on_the_server(clickhouse_url: str) -> None:
    """The events' SQL on Debian's 18.16 server: the same answers as on chdb's current engine
    (tests/unit/test_clickhouse_events_current_engine.py), whose events and checks these are."""
    store = ClickHouseUsage(f"{clickhouse_url}events_{secrets.token_hex(4)}")
    store.create_schema()
    events = current_engine.fill(store)
    assert store.execute(f"SELECT count() FROM {store.address.database}.events") == [(12,)]  # noqa: S608
    current_engine.check(events)
    corrected = ClickHouseUsage(f"{clickhouse_url}events_{secrets.token_hex(4)}")
    corrected.create_schema()
    current_engine.check_corrected_status(corrected)
