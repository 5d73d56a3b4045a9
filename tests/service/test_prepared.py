"""Statements run through the driver (core/prepared.py) give exactly what SQLAlchemy's ORM gives, on both engines:
the same values of the same types (UTC date-times, exact decimals, JSON), read in the session's own transaction
after what it holds was flushed; and the driver's errors become SQLAlchemy's."""

from __future__ import annotations

import gc
import weakref
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.models import Account
from meterline.core.clock import utc_now
from meterline.core.db import begin_write, close_read
from meterline.core.prepared import Prepared, PreparedWrite, columns, from_json, json_rows, load
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.entitlements.feature_service import FeatureService
from meterline.entitlements.models import FeatureCreditEntry
from meterline.entitlements.service import FeatureCreditService, Grant
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests.conftest import new_org

_ACCOUNT = Prepared(
    select(*columns(Account)).where(Account.org_id == bindparam("org_id"), Account.id == bindparam("account_id"))
)
_RENAME = PreparedWrite(
    update(Organization).where(Organization.id == bindparam("org_id")).values(name=bindparam("new_name"))
)
_ENTRIES = Prepared(
    select(*columns(FeatureCreditEntry))
    .where(FeatureCreditEntry.org_id == bindparam("org_id"), FeatureCreditEntry.ends_at > bindparam("after"))
    .order_by(FeatureCreditEntry.pk)
)


def _values(instance: object) -> dict[str, object]:
    return {attr.key: getattr(instance, attr.key) for attr in inspect(type(instance)).column_attrs}


def test_a_prepared_read_gives_what_the_orm_gives(ctx: Context, session: Session) -> None:
    CustomerService(ctx).create(
        CreateCustomerRequest.model_validate(
            {
                "id": "acme",
                "name": "Acme",
                "primaryEmail": "a@acme.test",
                "address": {"line1": "1 Main St", "city": "Pune", "country": "IN"},
                "account": {"id": "acme-1", "name": "Acme 1", "metadata": {"tier": "gold"}, "tags": ["a", "b"]},
            }
        )
    )
    feature = FeatureService(ctx).create("Calls", None, []).feature
    credits = FeatureCreditService(ctx)
    for days, granted in ((1, Decimal("0.000000000001")), (2, Decimal("999999999999999.5")), (3, Decimal("12.50"))):
        until = ctx.now + timedelta(days=days)
        credits.grant(Grant(account_id="acme-1", feature_id=feature.pk, granted=granted, effective_until=until))
    session.flush()

    row = _ACCOUNT.first(session, {"org_id": ctx.org_id, "account_id": "acme-1"})
    assert row is not None
    prepared = load(Account, row)
    orm = session.scalar(select(Account).where(Account.org_id == ctx.org_id, Account.id == "acme-1"))
    assert orm is not None and prepared is not orm
    assert _values(prepared) == _values(orm)
    assert prepared.metadata_ == {"tier": "gold"} and prepared.tags == ["a", "b"]
    assert prepared.created_at.utcoffset() == timedelta(0)
    assert inspect(prepared).detached

    rows = _ENTRIES.all(session, {"org_id": ctx.org_id, "after": ctx.now})
    loaded = [load(FeatureCreditEntry, r) for r in rows]
    stored = list(session.scalars(select(FeatureCreditEntry).where(FeatureCreditEntry.org_id == ctx.org_id)))
    assert [_values(e) for e in loaded] == [_values(e) for e in sorted(stored, key=lambda e: e.pk)]
    expected = [Decimal("0.000000000001"), Decimal("12.50"), Decimal("999999999999999.5")]
    assert sorted(e.granted for e in loaded) == expected
    assert all(isinstance(e.granted, Decimal) and e.ends_at.utcoffset() == timedelta(0) for e in loaded)
    # a date-time parameter is bound as the column stores it (on SQLite, fixed-width UTC text)
    later = _ENTRIES.all(session, {"org_id": ctx.org_id, "after": ctx.now + timedelta(days=2, hours=1)})
    assert [load(FeatureCreditEntry, r).granted for r in later] == [Decimal("12.50")]


def test_a_prepared_read_sees_what_the_session_holds_unflushed(ctx: Context, session: Session) -> None:
    CustomerService(ctx).create(
        CreateCustomerRequest.model_validate({"id": "zed", "name": "Zed", "primaryEmail": "z@zed.test", "address": {}})
    )
    account = session.scalar(select(Account).where(Account.org_id == ctx.org_id, Account.id == "zed"))
    assert account is not None
    account.name = "Zed renamed"  # pending in the session, not flushed yet
    account.updated_at = utc_now()
    row = _ACCOUNT.first(session, {"org_id": ctx.org_id, "account_id": "zed"})
    assert row is not None and load(Account, row).name == "Zed renamed"
    assert _ACCOUNT.first(session, {"org_id": ctx.org_id, "account_id": "nobody"}) is None


def test_a_driver_error_is_sqlalchemy_s(session: Session) -> None:
    broken = Prepared(select(text("no_such_column")).select_from(Account).where(Account.id == bindparam("id")))
    with pytest.raises(DBAPIError, match="no_such_column"):
        broken.all(session, {"id": "x"})


def test_rows_as_json_come_back_exact(ctx: Context, session: Session) -> None:
    """PostgreSQL's one-statement reads carry rows as JSON (`json_rows`): decimals as text, never a float; date-times
    in UTC, the sentinels included; the rows in the order asked and only those matching."""
    if session.get_bind().dialect.name != "postgresql":
        return  # (the JSON form is PostgreSQL's: SQLite reads the rows themselves, one statement each)
    CustomerService(ctx).create(
        CreateCustomerRequest.model_validate({"id": "jay", "name": "Jay", "primaryEmail": "j@jay.test", "address": {}})
    )
    feature = FeatureService(ctx).create("Json calls", None, []).feature
    credits = FeatureCreditService(ctx)
    for days, granted in ((3, Decimal("0.000000000001")), (1, Decimal("999999999999999.5")), (2, Decimal("12.50"))):
        until = ctx.now + timedelta(days=days)
        credits.grant(Grant(account_id="jay", feature_id=feature.pk, granted=granted, effective_until=until))
    session.flush()
    entries = json_rows(
        FeatureCreditEntry,
        FeatureCreditEntry.org_id == Account.org_id,
        FeatureCreditEntry.account_pk == Account.pk,
        FeatureCreditEntry.ends_at > bindparam("after"),
        order_by=[FeatureCreditEntry.ends_at],
    )
    statement = Prepared(
        select(Account.pk, entries).where(Account.org_id == bindparam("org_id"), Account.id == bindparam("id"))
    )
    row = statement.first(session, {"org_id": ctx.org_id, "id": "jay", "after": ctx.now})
    assert row is not None
    loaded = from_json(FeatureCreditEntry, row[1])
    stored = sorted(
        session.scalars(select(FeatureCreditEntry).where(FeatureCreditEntry.account_pk == row[0])),
        key=lambda e: e.ends_at,
    )
    assert [_values(e) for e in loaded] == [_values(e) for e in stored]
    assert [e.granted for e in loaded] == [Decimal("999999999999999.5"), Decimal("12.50"), Decimal("0.000000000001")]
    assert all(type(e.granted) is Decimal and e.starts_at.tzinfo is not None for e in loaded)
    assert all(e.ends_at.utcoffset() == timedelta(0) for e in loaded)
    later = statement.first(session, {"org_id": ctx.org_id, "id": "jay", "after": ctx.now + timedelta(days=5)})
    assert later is not None and later[1] is None and from_json(FeatureCreditEntry, later[1]) == []


def _prepared_statements(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql")) or 0)


def test_a_read_keeps_no_write_and_postgresql_keeps_its_prepared_statements(
    session_factory: sessionmaker[Session],
) -> None:
    """`close_read` ends a read request's unit of work: whatever it wrote or changed is never kept (SQLAlchemy's
    writes, text SQL, driver SQL through `PreparedWrite`, an ORM change not flushed); on PostgreSQL a read that ran
    only SELECTs commits, so that the hot reads' prepared statements stay on the connection for the next request."""
    org = new_org(session_factory)
    postgresql = session_factory.kw["bind"].dialect.name == "postgresql"
    for change in ("flush", "text", "driver", "unflushed"):
        session = session_factory()
        if not postgresql:
            begin_write(session)  # (SQLite: a write needs the write lock; a read request would not take it)
        found = _ACCOUNT.first(session, {"org_id": org.id, "account_id": "nobody"})
        assert found is None
        renamed = session.get(Organization, org.id)
        assert renamed is not None
        if change == "flush":
            renamed.name = "Changed by a read"
            session.flush()
        elif change == "text":
            session.execute(text("UPDATE organizations SET name = 'Changed by a read' WHERE id = :id"), {"id": org.id})
        elif change == "driver":
            assert _RENAME.run(session, [{"org_id": org.id, "new_name": "Changed by a read"}]) == 1
        else:
            renamed.name = "Changed by a read"  # pending: a commit would flush it
        close_read(session)
        with session_factory() as check:
            assert check.get(Organization, org.id).name == org.name, change  # type: ignore[union-attr]

    if not postgresql:
        return
    # a fresh pool: its one connection is used again by each unit of work (a pool that other tests filled hands its
    # connections out in turn, and the one checked would not be the one that prepared)
    session_factory.kw["bind"].dispose()
    with session_factory() as session:
        for _ in range(3):
            assert _ACCOUNT.first(session, {"org_id": org.id, "account_id": "nobody"}) is None
            session.scalar(select(Organization).where(Organization.id == org.id))  # an ORM SELECT keeps it a read
            close_read(session)
        assert _prepared_statements(session) >= 1
        session.execute(text("SELECT 1"))  # text SQL: the read ends with ROLLBACK, which forgets them
        close_read(session)
        assert _prepared_statements(session) == 0
        session.rollback()


def test_a_unit_of_work_leaves_no_reference_cycle(session_factory: sessionmaker[Session]) -> None:
    """A request's session, its transaction and its connection are freed as soon as it ends, by reference counting
    alone: a cycle among them (the driver's connection was once remembered with a strong reference to the
    transaction, which refers to the session) left every request's session to the garbage collector, whose full
    passes then paused the server for tens of milliseconds every few seconds (docs/performance.md, Session 8)."""
    org = new_org(session_factory)
    gc.collect()
    gc.disable()
    try:
        for write in (False, True):
            session = session_factory()
            if write:
                begin_write(session)
                assert _RENAME.run(session, [{"org_id": org.id, "new_name": org.name}]) == 1
            assert _ACCOUNT.first(session, {"org_id": org.id, "account_id": "nobody"}) is None
            assert session.get(Organization, org.id) is not None
            if write:
                session.commit()
                session.close()
            else:
                close_read(session)
            gone = weakref.ref(session)
            del session
            assert gone() is None, "write" if write else "read"
    finally:
        gc.enable()
