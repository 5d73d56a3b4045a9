"""Usage kept in a ClickHouse cluster (docs/operations.md, "A cluster"), on both engines: two shards with ZooKeeper
and the replicated and distributed tables made by the docs' own DDL (tests/clickhouse_cluster.py). Many accounts'
rows spread over both shards and every read is exact; a batch shipped twice counts once; compaction sums through the
distributed tables; its deletion, which a distributed table refuses, is logged and changes no read; the operator's
deletion on the local tables, as the docs give it, leaves every read as it was."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.core.pagination import PageRequest
from meterline.events.clickhouse import ClickHouseUsage
from meterline.events.compaction import compact_once
from meterline.events.models import Installation
from meterline.events.moves import move_to_clickhouse
from meterline.events.shipper import ship
from meterline.events.store import EventStore
from meterline.events.usage_store import COMPACTION, choose_clickhouse
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests import clickhouse_cluster
from tests.conftest import fresh_database, new_org
from tests.service.test_ingestion import setup_catalog
from tests.service.test_usage_clickhouse import DAY, clickhouse, ingest, outbox_of, ship_all, usage_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[clickhouse_cluster.Cluster]:
    with clickhouse_cluster.running(tmp_path_factory.mktemp("cluster")) as running:
        yield running


def as_named(statement: str, database: str) -> str:
    """The docs' statement for a database named `database` (its tables' ZooKeeper paths named after it too)."""
    return re.sub(r"\bmeterline\b", database, statement)


def cluster_database(cluster: clickhouse_cluster.Cluster) -> str:
    """A database of its own on the cluster, made by the docs' DDL; its name."""
    database = f"meterline_{secrets.token_hex(4)}"
    first = ClickHouseUsage(f"{cluster.urls[0]}default")
    for statement in clickhouse_cluster.cluster_ddl():
        first.execute(as_named(statement, database))
    return database


@pytest.fixture
def installation(
    db_url: str, cluster: clickhouse_cluster.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[sessionmaker[Session], str]]:
    """An installation of its own that keeps its usage in a database of the cluster, made as the docs say: the
    cluster DDL first, then `usage-store --clickhouse` (choose_clickhouse) naming the first shard's server."""
    database = cluster_database(cluster)
    with fresh_database(db_url, tmp_path_factory) as url:
        engine = create_db_engine(url)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as s:
            choose_clickhouse(s, f"{cluster.urls[0]}{database}", utc_now())
        yield factory, database
        engine.dispose()


def customer(factory: sessionmaker[Session]) -> tuple[Organization, str]:
    """A new organization with customer acme and a SUM meter (tests/service/test_ingestion.py); its meter's id."""
    org = new_org(factory)
    with unit_of_work(factory) as s:
        return org, setup_catalog(Context(session=s, org=s.merge(org), now=utc_now()))


def local_rows(
    cluster: clickhouse_cluster.Cluster, database: str, table: str, expect: list[int] | None = None
) -> list[int]:
    """Each shard's own rows of `table` (usage_rows_local or usage_compact_local), once its deletions have run;
    with `expect`, until the counts are those (a replicated deletion may show in system.mutations a moment late),
    at most 120 s."""
    deadline = time.monotonic() + 120
    while True:
        counts = _local_rows(cluster, database, table)
        if expect is None or counts == expect or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def _local_rows(cluster: clickhouse_cluster.Cluster, database: str, table: str) -> list[int]:
    counts = []
    for url in cluster.urls:
        shard = ClickHouseUsage(f"{url}{database}")
        deadline = time.monotonic() + 120
        while shard.execute(
            "SELECT count() FROM system.mutations WHERE database = %(db)s AND is_done = 0", {"db": database}
        )[0][0]:
            assert time.monotonic() < deadline, "the shard's deletions were still running after 120 s"
            time.sleep(0.2)
        counts.append(int(shard.execute(f"SELECT count() FROM {database}.{table}")[0][0]))  # noqa: S608
    return counts


def operators_deletion(installation: sessionmaker[Session], database: str) -> str:
    """docs/operations.md's statement that deletes the summed rows on the local tables, with its N filled in."""
    text = (ROOT / "docs" / "operations.md").read_text()
    found = re.search(r"`(ALTER TABLE meterline\.usage_rows_local ON CLUSTER[^`]*WHERE ship_seq < N)`", text)
    assert found is not None, "docs/operations.md gives no deletion on the local tables"
    with unit_of_work(installation, write=False) as s:
        deleted = json.loads(s.scalar(select(Installation.value).where(Installation.name == COMPACTION)) or "{}")
    n = int(deleted["deleted"])
    assert n > 0
    return as_named(found.group(1), database).replace(" N", f" {n}")


def test_usage_on_a_cluster_is_exact_across_shards_through_compaction_and_the_operators_deletion(
    installation: tuple[sessionmaker[Session], str],
    cluster: clickhouse_cluster.Cluster,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory, database = installation
    accounts: list[tuple[Organization, str, tuple[Decimal, int]]] = []
    for n in range(12):  # 12 organizations' "acme": their rows are sharded by (organization, account)
        org, meter = customer(factory)
        ingest(factory, org, ("a", DAY + timedelta(hours=1), f"{n}.5"), ("b", DAY + timedelta(hours=5), "0.25"))
        accounts.append((org, meter, (Decimal(f"{n}.75"), 2)))

    first = accounts[0][0]
    with pytest.raises(RuntimeError, match="^the shipper died$"), unit_of_work(factory) as s:
        assert ship(s, clickhouse(factory), limit=1_000_000) == 12  # every batch, acknowledged by both shards
        raise RuntimeError("the shipper died")  # its deletions from the outbox are rolled back: shipped again
    # a compaction between the two (its epoch tags the second copy: the replicated tables would otherwise drop an
    # identical second insert by themselves, and the copies would not be under test)
    assert compact_once(factory)
    ship_all(factory)
    assert outbox_of(factory, first) == 0
    shipped = local_rows(cluster, database, "usage_rows_local")
    assert sum(shipped) == 12 * 2 * 2 and all(shipped), shipped  # two copies of each row, on both shards
    for org, meter, expected in accounts:
        assert usage_of(factory, org, meter) == expected

    monkeypatch.setattr("meterline.events.compaction.DELETE_AFTER", timedelta(0))
    monkeypatch.setattr("meterline.events.compaction._warned_at", None)  # this process's first refusal: a warning
    with caplog.at_level(logging.WARNING, logger="meterline.compaction"):
        assert compact_once(factory)
    [refused] = [r for r in caplog.records if "summed but not deleted" in r.getMessage()]
    assert "On a cluster, delete them on the local tables" in refused.getMessage()
    assert "Code: 48" in refused.getMessage()  # the distributed table's refusal (not supported), not any error
    summed = local_rows(cluster, database, "usage_compact_local")
    assert sum(summed) == 12 * 2 and all(summed), summed  # one row per bucket
    placed = [
        {
            org
            for (org,) in ClickHouseUsage(f"{url}{database}").execute(
                f"SELECT DISTINCT org_id FROM {database}.usage_compact_local"  # noqa: S608
            )
        }
        for url in cluster.urls
    ]
    assert not placed[0] & placed[1] and placed[0] | placed[1] == {org.id for org, _, _ in accounts}  # one shard each
    assert local_rows(cluster, database, "usage_rows_local") == shipped  # the distributed table refused to delete
    for org, meter, expected in accounts:
        assert usage_of(factory, org, meter) == expected

    ClickHouseUsage(f"{cluster.urls[0]}{database}").execute(operators_deletion(factory, database))
    assert local_rows(cluster, database, "usage_rows_local", expect=[0, 0]) == [0, 0]
    for org, meter, expected in accounts:
        assert usage_of(factory, org, meter) == expected

    org, meter, (quantity, events) = accounts[1]
    ingest(factory, org, ("later", DAY + timedelta(hours=1), "10"))
    ship_all(factory)
    later = (quantity + 10, events + 1)
    assert usage_of(factory, org, meter) == later  # compacted sums plus a new row
    assert compact_once(factory)
    assert usage_of(factory, org, meter) == later
    for other, other_meter, expected in accounts[2:]:
        assert usage_of(factory, other, other_meter) == expected


def test_a_move_onto_a_cluster_that_failed_half_way_is_refused_until_the_shards_are_emptied_as_the_docs_say(
    db_url: str,
    cluster: clickhouse_cluster.Cluster,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed move empties ClickHouse with TRUNCATE, which a distributed table takes and ignores: the move says
    so, the next move refuses the database, and after the docs' statements on the local tables it moves."""
    database = cluster_database(cluster)
    target = f"{cluster.urls[0]}{database}"
    with fresh_database(db_url, tmp_path_factory) as url:
        engine = create_db_engine(url)
        factory = make_session_factory(engine)
        org, meter = customer(factory)
        ingest(factory, org, ("a", DAY + timedelta(hours=1), "2.5"), ("b", DAY + timedelta(hours=3), "4"))
        expected = usage_of(factory, org, meter)
        assert expected == (Decimal("6.5"), 2)

        def died(moved: str) -> None:
            raise RuntimeError("the move died")

        monkeypatch.setattr("meterline.events.moves.MOVE_CHUNK", 1)  # ClickHouse took a row before it died
        with caplog.at_level(logging.WARNING, logger="meterline.events.moves"):
            with pytest.raises(RuntimeError, match="^the move died$"), unit_of_work(factory) as s:
                move_to_clickhouse(s, target, utc_now(), died)
        [kept] = [r for r in caplog.records if "are still there" in r.getMessage()]
        assert "still holds usage after TRUNCATE: on a cluster, empty the shards' local tables" in kept.getMessage()
        assert sum(local_rows(cluster, database, "usage_rows_local")) == 1
        assert usage_of(factory, org, meter) == expected  # still in the database's rollups: nothing changed there

        with pytest.raises(
            ValueError, match=r"holds usage or events already .* \(on a cluster, empty the shards' local tables instead"
        ):
            with unit_of_work(factory) as s:
                move_to_clickhouse(s, target, utc_now(), lambda moved: None)
        for statement in clickhouse_cluster.emptying():
            ClickHouseUsage(target).execute(as_named(statement, database))
        assert local_rows(cluster, database, "usage_rows_local", expect=[0, 0]) == [0, 0]
        with unit_of_work(factory) as s:
            assert move_to_clickhouse(s, target, utc_now(), lambda moved: None) == (2, 2)
        assert sum(local_rows(cluster, database, "usage_rows_local")) == 2
        assert usage_of(factory, org, meter) == expected  # read from the cluster now
        assert sum(local_rows(cluster, database, "events_local")) == 2
        with unit_of_work(factory, write=False) as s:  # the events too, each once, listed through the cluster
            assert [e.event_id for e in EventStore(s, org.id).page(PageRequest(size=10)).items] == ["a", "b"]
            assert [e.event_id for e in EventStore(s, org.id).by_event_id("b")] == ["b"]
        engine.dispose()
