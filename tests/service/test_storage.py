"""Portable column types and the unit of work, through real connections on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import ExactDecimal, UTCDateTime, create_db_engine, unit_of_work

metadata = MetaData()
probe = Table(
    "test_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", ExactDecimal()),
    Column("at", UTCDateTime()),
)


# One table for the module: each test writes and reads only its own range of ids (100s, 200s, 300s), so they pass in
# any order.
@pytest.fixture(scope="module")
def probe_table(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    engine = session_factory.kw["bind"]
    metadata.create_all(engine)
    yield session_factory
    metadata.drop_all(engine)


def test_exact_decimals_survive_both_engines(probe_table: sessionmaker[Session]) -> None:
    values = [Decimal("0.1"), Decimal("12345678901234567890.123456789"), Decimal("-0.000000001"), Decimal("100.00")]
    with unit_of_work(probe_table) as s:
        s.execute(insert(probe), [{"id": 100 + i, "amount": v} for i, v in enumerate(values)])
    with unit_of_work(probe_table, write=False) as s:
        got = list(s.scalars(select(probe.c.amount).where(probe.c.id.between(100, 199)).order_by(probe.c.id)))
    assert got == values
    assert all(isinstance(v, Decimal) for v in got)
    # a float never reaches a money column
    with pytest.raises(StatementError, match="refusing float for an exact amount: 0.1"):
        with unit_of_work(probe_table) as s:
            s.execute(insert(probe), {"id": 199, "amount": 0.1})


def test_datetimes_are_stored_utc_and_come_back_aware(probe_table: sessionmaker[Session]) -> None:
    kolkata = timezone(timedelta(hours=5, minutes=30))
    moments = [
        datetime(2024, 1, 1, 5, 30, tzinfo=kolkata),  # = 2024-01-01T00:00Z
        datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
        datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
        datetime(56, 4, 15, 9, 59, 53, tzinfo=timezone.utc),  # a year under 1000 still sorts (padded to 4 digits)
    ]
    with unit_of_work(probe_table) as s:
        s.execute(insert(probe), [{"id": 200 + i, "at": m} for i, m in enumerate(moments)])
    with unit_of_work(probe_table, write=False) as s:
        got = list(s.scalars(select(probe.c.at).where(probe.c.id.between(200, 299)).order_by(probe.c.id)))
        ordered = list(s.scalars(select(probe.c.id).where(probe.c.id.between(200, 299)).order_by(probe.c.at)))
        after = list(
            s.scalars(
                select(probe.c.id).where(
                    probe.c.at >= datetime(2024, 1, 1, tzinfo=timezone.utc), probe.c.id.between(200, 299)
                )
            )
        )
    assert got == moments
    assert all(m.utcoffset() == timedelta(0) for m in got)
    assert ordered == [203, 201, 200, 202]  # SQL order is time order on both engines
    assert sorted(after) == [200, 202]
    with pytest.raises(StatementError, match="naive datetime: Meterline stores UTC-aware datetimes only"):
        with unit_of_work(probe_table) as s:
            s.execute(insert(probe), {"id": 299, "at": datetime(2024, 1, 1)})


def test_unit_of_work_rolls_back_on_error(probe_table: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError, match="^boom$"):
        with unit_of_work(probe_table) as s:
            s.execute(insert(probe), {"id": 300, "amount": Decimal(1)})
            raise RuntimeError("boom")
    with unit_of_work(probe_table, write=False) as s:
        assert s.scalar(select(probe.c.id).where(probe.c.id == 300)) is None


def test_migration_0005_sums_existing_buckets_into_local_days(tmp_path: Path) -> None:
    """A database with 15-minute usage from before daily totals gets them, per organization timezone."""
    from alembic import command
    from sqlalchemy import text

    from meterline.migrations import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = create_db_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO organizations (id, name, base_currency, timezone, net_term_days, created_at, "
                "updated_at) VALUES ('o1', 'O', 'USD', 'Asia/Kolkata', 0, '2024-01-01T00:00:00.000000Z', "
                "'2024-01-01T00:00:00.000000Z')"
            )
        )
        for bucket, qty in (
            ("2024-03-01 18:15:00.000000", "1.5"),
            ("2024-03-01 18:45:00.000000", "2"),
            ("2024-03-01 18:30:00.000000", "0.25"),
        ):
            # 18:15 UTC is 23:45 on 1 March in Kolkata; 18:30 and 18:45 UTC are already 2 March
            c.execute(text("INSERT INTO usage_rollups VALUES ('o1', 'a1', 'm1', :b, :q, 1)"), {"b": bucket, "q": qty})
    command.upgrade(alembic_config(url), "head")
    with engine.begin() as c:
        rows = c.execute(text("SELECT day_start, quantity, events FROM usage_daily ORDER BY day_start")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("2024-02-29 18:30:00.000000", "1.5", 1),
        ("2024-03-01 18:30:00.000000", "2.25", 2),
    ]


@pytest.mark.parametrize(
    ("before", "refusal"),
    [
        ("0025", r"keeps its usage in ClickHouse \(ch.internal:9000/meterline\); from this version on its events"),
        ("0026", r"keeps its usage and events in ClickHouse \(ch.internal:9000/meterline\); from this version on an "),
    ],
)
def test_migrations_that_change_clickhouse_refuse_an_installation_kept_there_and_say_what_to_do(
    tmp_path: Path, before: str, refusal: str
) -> None:
    """0026 (events move to ClickHouse with usage) and 0027 (the event_keys table) change what ClickHouse holds: an
    installation that keeps usage there upgrades after moving it back (its processes would otherwise ship events to
    a table nobody created, or look up events by id in a table that has none of them). Refused in words, nothing
    changed; once moved back, it upgrades."""
    from alembic import command
    from sqlalchemy import text

    from meterline.migrations import alembic_config

    url = f"sqlite:///{tmp_path / 'moved.db'}"
    command.upgrade(alembic_config(url), before)
    engine = create_db_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO installation (name, value, updated_at) VALUES ('usage_store', "
                "'clickhouse://meterline:secret@ch.internal:9000/meterline', '2026-12-03T00:00:00.000000Z')"
            )
        )
    with pytest.raises(RuntimeError, match=refusal) as raised:
        command.upgrade(alembic_config(url), "head")
    assert "secret" not in str(raised.value)
    assert "`meterline usage-store --database`" in str(raised.value)
    with engine.begin() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == before
        c.execute(text("DELETE FROM installation"))  # moved back
    command.upgrade(alembic_config(url), "head")
    with engine.begin() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0027"
    engine.dispose()
