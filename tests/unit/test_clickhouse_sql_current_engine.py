"""The ClickHouse usage store's SQL (events/clickhouse.py) on a current ClickHouse engine, chdb's (tests/chdb_usage.py):
the same statements the tests run on Debian's 18.16 server give the same exact answers. A batch shipped twice counts
once, before and after ClickHouse merges the copies; quantities beyond 12 decimals and corrections add exactly; the
batches left out are not read; another organization's usage never is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from chdb import session as chdb_session  # the `test` extras install it

from meterline.events.clickhouse import INLINE_VALUES, Compacted, UsageRow, micros
from tests.chdb_usage import ChdbUsage

UTC = timezone.utc
DAY = datetime(2024, 3, 1, tzinfo=UTC)
END = DAY + timedelta(days=1)
B0, B1 = micros(DAY), micros(DAY + timedelta(minutes=15))
A, B = "org_a", "org_b"
ACC2 = "it's\\2"  # a quote and a backslash: the driver's escaping, read back by the current engine


def rows() -> tuple[list[UsageRow], list[UsageRow], list[UsageRow], list[UsageRow]]:
    """Batches b1 (with a quantity of 28 digits), b2 (corrections, one of them beyond 12 decimals, two rows outside
    the day), b3 (still pending in the outbox) and the other organization's b9."""
    b1: list[UsageRow] = [
        (A, "acc1", "m1", B0, D("1.5"), 3, "b1", 0),
        (A, "acc1", "m1", B1, D(1) / D(3), 1, "b1", 1),  # 0.3333333333333333333333333333: the text column
        (A, ACC2, "m1", B0, D("10"), 2, "b1", 2),
    ]
    b2: list[UsageRow] = [
        (A, "acc1", "m1", B1, D("-0.25"), 1, "b2", 0),
        (A, "acc1", "m2", B0, D("-2.000000000001"), 1, "b2", 1),
        (A, "acc1", "m2", B0, D(-1) / D(7), 1, "b2", 2),  # -0.1428571428571428571428571429
        (A, "acc1", "m1", micros(DAY - timedelta(minutes=15)), D("7"), 1, "b2", 3),  # before the day
        (A, "acc1", "m1", micros(END), D("7"), 1, "b2", 4),  # the end is left out
    ]
    b3: list[UsageRow] = [(A, "acc1", "m1", B0, D("100"), 5, "b3", 0)]
    b9: list[UsageRow] = [
        (B, "acc1", "m1", B0, D("1000"), 7, "b9", 0),
        (B, "acc1", "m2", B1, D("0.0000000000001"), 1, "b9", 1),
    ]
    return b1, b2, b3, b9


@pytest.fixture
def usage(tmp_path: Path) -> Iterator[ChdbUsage]:
    session = chdb_session.Session(str(tmp_path / "chdb"))
    store = ChdbUsage(session)
    store.create_schema()
    store.create_schema()  # IF NOT EXISTS: a second run changes nothing
    store.execute("SYSTEM STOP MERGES meterline.usage_rows")  # the copies stay until the test merges them itself
    store.execute("SYSTEM STOP MERGES meterline.usage_compact")
    b1, b2, b3, b9 = rows()
    store.insert(b1)
    store.insert(b2)
    store.insert(b3)
    store.insert(b9)
    store.insert(b1)  # shipped twice: the same (batch_id, seq), in a part of its own until ClickHouse merges
    store.insert(b3[:1])
    yield store
    session.close()


SUMS = {
    ("acc1", "m1"): (D("1.5833333333333333333333333333"), 5),  # 1.5 + 1/3 - 0.25
    ("acc1", "m2"): (D("-2.1428571428581428571428571429"), 2),  # -2.000000000001 - 1/7
    (ACC2, "m1"): (D("10"), 2),
}
SUMS_WITH_B3 = {**SUMS, ("acc1", "m1"): (D("101.5833333333333333333333333333"), 10)}
BUCKETS = [
    ("acc1", "m1", B0, D("101.5"), 8),
    ("acc1", "m1", B1, D("0.0833333333333333333333333333"), 2),  # 1/3 - 0.25
    ("acc1", "m2", B0, D("-2.1428571428581428571428571429"), 2),
    (ACC2, "m1", B0, D("10"), 2),
]


def check(usage: ChdbUsage, through: int = 0, writers: dict[int, str] | None = None) -> None:
    """The reads' answers, reading the generations up to `through` (as `writers` wrote those taken over); once b1 and
    b2 are compacted, they are never in the outbox again (only b3 may be)."""
    compacted = Compacted(through, writers or {})
    everyone, meters = ["acc1", ACC2, "nobody"], ["m1", "m2"]
    assert usage.sums(A, everyone, meters, DAY, END, leave_out=["b3"], compacted=compacted) == SUMS
    assert usage.sums(A, everyone, meters, DAY, END, compacted=compacted) == SUMS_WITH_B3
    if compacted == 0:
        assert usage.sums(A, everyone, meters, DAY, END, leave_out=["b2", "b3", "b-unknown"], compacted=compacted) == {
            ("acc1", "m1"): (D("1.8333333333333333333333333333"), 4),
            (ACC2, "m1"): (D("10"), 2),
        }
        assert usage.bucket_sums(A, DAY, END, meter_ids=["m2"], leave_out=["b2"], compacted=compacted) == []
    assert usage.sums(A, ["acc1"], ["m2"], DAY, END, compacted=compacted) == {("acc1", "m2"): SUMS[("acc1", "m2")]}
    assert usage.sums(A, [], meters, DAY, END, compacted=compacted) == {}
    assert usage.sums(A, everyone, meters, DAY - timedelta(minutes=15), DAY, compacted=compacted) == {
        ("acc1", "m1"): (D("7"), 1)
    }
    assert usage.sums(B, everyone, meters, DAY, END, compacted=compacted) == {
        ("acc1", "m1"): (D("1000"), 7),
        ("acc1", "m2"): (D("1E-13"), 1),
    }
    assert usage.sums("org_c", everyone, meters, DAY, END, compacted=compacted) == {}

    assert sorted(usage.bucket_sums(A, DAY, END, compacted=compacted)) == sorted(BUCKETS)
    assert sorted(usage.bucket_sums(A, DAY, END, leave_out=["b3"], compacted=compacted)) == sorted(
        [("acc1", "m1", B0, D("1.5"), 3), *BUCKETS[1:]]
    )
    assert usage.bucket_sums(A, DAY, END, account_pks=[ACC2], compacted=compacted) == [(ACC2, "m1", B0, D("10"), 2)]
    assert usage.bucket_sums(A, DAY, END, meter_ids=[], compacted=compacted) == []
    assert usage.bucket_sums(B, DAY, END, meter_ids=["m2"], compacted=compacted) == [("acc1", "m2", B1, D("1E-13"), 1)]

    for _, _, bucket, quantity, events in usage.bucket_sums(A, DAY, END, compacted=compacted):
        assert (type(bucket), type(quantity), type(events)) == (int, D, int)

    # lists longer than INLINE_VALUES go as external tables (sets): the same answers
    many = [*everyone, *(f"acc-{n}" for n in range(INLINE_VALUES))]
    unknown = [f"b-{n}" for n in range(INLINE_VALUES)]
    assert usage.sums(A, many, meters, DAY, END, leave_out=["b3", *unknown], compacted=compacted) == SUMS
    assert sorted(
        usage.bucket_sums(A, DAY, END, account_pks=many, leave_out=["b3", *unknown], compacted=compacted)
    ) == sorted([("acc1", "m1", B0, D("1.5"), 3), *BUCKETS[1:]])
    assert any("(SELECT v FROM pending)" in s for s in usage.statements)


def stored(usage: ChdbUsage) -> list[tuple[object, ...]]:
    return usage.execute(
        "SELECT org_id, batch_id, count() FROM meterline.usage_rows GROUP BY org_id, batch_id ORDER BY org_id, batch_id"
    )


def test_reads_count_each_row_once_exactly_before_and_after_merges(usage: ChdbUsage) -> None:
    assert stored(usage) == [(A, "b1", 6), (A, "b2", 5), (A, "b3", 2), (B, "b9", 2)]  # the copies are there
    check(usage)

    usage.execute("SYSTEM START MERGES meterline.usage_rows")
    usage.execute("OPTIMIZE TABLE meterline.usage_rows FINAL")
    assert stored(usage) == [(A, "b1", 3), (A, "b2", 5), (A, "b3", 1), (B, "b9", 2)]  # merged away
    check(usage)


def test_quantities_travel_exactly(usage: ChdbUsage) -> None:
    """Up to 12 decimals in the Decimal column, more as text (events/clickhouse.py, `_split`): both read back as
    written, through the same parameter substitution as the native client's."""
    found = usage.execute(
        "SELECT seq, quantity, quantity_text FROM meterline.usage_rows WHERE org_id = %(org)s AND batch_id = %(batch)s "
        "GROUP BY seq, quantity, quantity_text ORDER BY seq",
        {"org": A, "batch": "b2"},
    )
    assert found == [
        (0, D("-0.25"), ""),
        (1, D("-2.000000000001"), ""),
        (2, D(0), "-0.1428571428571428571428571429"),
        (3, D(7), ""),
        (4, D(7), ""),
    ]
    assert [type(q) for _, q, _ in found] == [D] * 5


def test_compaction_keeps_every_read_exact(usage: ChdbUsage) -> None:
    """Generation 1 compacts the rows shipped in epoch 0 but b3's (in the outbox when it started: a copy shipped by a
    shipper that died); b3 is then shipped for real in epoch 1. Another compactor took the job over (writer "t2") and
    wrote it whole, and a third attempt ("t3") wrote half of it: a read sums only the recorded writer's rows, whichever
    it is. The reads are the same before and after the compacted rows are deleted, and after generation 2 compacts b3
    too."""
    usage.compact(0, 1, ["b3"], "")
    usage.compact(0, 1, ["b3"], "t2")
    usage.execute(
        "INSERT INTO meterline.usage_compact SELECT org_id, account_pk, meter_id, bucket, quantity, quantity_text, "
        "events, generation, 't3' FROM meterline.usage_compact WHERE writer = '' AND account_pk = 'acc1'"
    )
    assert usage.execute("SELECT writer, count() FROM meterline.usage_compact GROUP BY writer ORDER BY writer") == [
        ("", 8),
        ("t2", 8),
        ("t3", 7),
    ]
    _, _, b3, _ = rows()
    usage.insert(b3, ship_seq=1)
    check(usage, 1)  # generation 1 as its first compactor wrote it
    check(usage, 1, {1: "t2"})  # ... or as the one that took it over wrote it: the same sums, read once
    check(usage, 0)  # a read that began before generation 1 was recorded: the rows it replaced are still there
    everyone, meters = ["acc1", ACC2, "nobody"], ["m1", "m2"]
    half = usage.sums(A, everyone, meters, DAY, END, compacted=Compacted(1, {1: "t3"}))
    assert half != SUMS_WITH_B3  # the half-written attempt, were it the one recorded: what the others avoid
    usage.execute("SYSTEM START MERGES meterline.usage_rows")  # a mutation waits for merges
    usage.forget_rows_before(1)
    usage.execute("SYSTEM START MERGES meterline.usage_compact")
    usage.execute("OPTIMIZE TABLE meterline.usage_compact FINAL")
    assert stored(usage) == [(A, "b3", 1)]
    check(usage, 1)
    check(usage, 1, {1: "t2"})

    usage.compact(1, 2, [], "")
    usage.forget_rows_before(2)
    assert stored(usage) == []
    for compacted in (Compacted(2, {}), Compacted(2, {1: "t2"})):
        assert usage.sums(A, everyone, meters, DAY, END, compacted=compacted) == SUMS_WITH_B3
        assert sorted(usage.bucket_sums(A, DAY, END, compacted=compacted)) == sorted(BUCKETS)
        assert usage.sums(B, everyone, meters, DAY, END, compacted=compacted) == {
            ("acc1", "m1"): (D("1000"), 7),
            ("acc1", "m2"): (D("1E-13"), 1),
        }
    assert usage.spans() == {A: (micros(DAY - timedelta(minutes=15)), micros(END)), B: (B0, B1)}
