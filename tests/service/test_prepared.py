"""Statements run through the driver (core/prepared.py) give exactly what SQLAlchemy's ORM gives, on both engines:
the same values of the same types (UTC date-times, exact decimals, JSON), read in the session's own transaction
after what it holds was flushed; and the driver's errors become SQLAlchemy's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from meterline.accounts.models import Account
from meterline.core.clock import utc_now
from meterline.core.prepared import Prepared, columns, load
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.entitlements.feature_service import FeatureService
from meterline.entitlements.models import FeatureCreditEntry
from meterline.entitlements.service import FeatureCreditService, Grant
from meterline.tenancy.context import Context

_ACCOUNT = Prepared(
    select(*columns(Account)).where(Account.org_id == bindparam("org_id"), Account.id == bindparam("account_id"))
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
