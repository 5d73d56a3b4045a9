"""Customer and account rules (billing-rules D13) at the service level, on both engines."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.schemas import (
    AddAccountAliasesRequest,
    CreateAccountAliasRequest,
    CreateAccountRequest,
    UpdateAccountRequest,
)
from meterline.accounts.service import AccountService
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.pagination import PageRequest
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest, UpdateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.accounts import has_billing_history
from tests.conftest import new_org, org_in

UTC = timezone.utc


def customer_request(customer_id: str = "acme", **kwargs: object) -> CreateCustomerRequest:
    return CreateCustomerRequest(
        id=customer_id, name="Acme Inc", primary_email="a@acme.test", address=Address(), **kwargs
    )


def test_default_account_takes_the_organizations_base_currency(session: Session) -> None:
    ctx = Context(session=session, org=org_in(session, base_currency="INR"), now=utc_now())
    created = CustomerService(ctx).create(customer_request())
    assert (created.account.id, created.account.name, created.account.invoice_currency) == ("acme", "Acme Inc", "INR")


def test_customer_id_never_changes_and_duplicates_conflict(ctx: Context) -> None:
    service = CustomerService(ctx)
    service.create(customer_request())
    with pytest.raises(Conflict, match="^A customer with id acme already exists$"):
        service.create(customer_request())
    updated = service.update("acme", UpdateCustomerRequest(name="Acme Two"))
    assert (updated.id, updated.name) == ("acme", "Acme Two")
    assert "id" not in UpdateCustomerRequest.model_fields


def test_account_currency_is_fixed(ctx: Context) -> None:
    CustomerService(ctx).create(customer_request())
    accounts = AccountService(ctx)
    with pytest.raises(BadRequest, match="cannot be changed"):
        accounts.update("acme", UpdateAccountRequest(invoice_currency="EUR"))
    assert accounts.get("acme").invoice_currency == "USD"


def test_archive_when_history_exists(ctx: Context) -> None:
    service = CustomerService(ctx)
    service.create(customer_request())
    service.accounts.create(
        CreateAccountRequest(id="acme-2", name="Second", customer_id="acme", aliases=["acme-2-alias"])
    )
    service.delete("acme", has_history=lambda _ctx, account: account.id == "acme")
    customer = service.get("acme")  # still readable by id
    assert customer.status == "ARCHIVED"
    assert {a.status for a in service.accounts.of_customer(customer)} == {"ARCHIVED"}
    assert service.page(PageRequest()).items == []
    assert service.accounts.page(PageRequest()).items == []
    assert service.accounts.view(service.accounts.get("acme-2")).aliases == []  # aliases ended
    with pytest.raises(BadRequest, match="archived"):
        service.update("acme", UpdateCustomerRequest(name="Back"))
    with pytest.raises(BadRequest, match="archived"):
        service.accounts.create(CreateAccountRequest(id="acme-3", name="Third", customer_id="acme"))
    with pytest.raises(Conflict, match="^A customer with id acme already exists$"):  # an archived id is still taken
        service.create(customer_request())


def test_delete_without_history_removes_everything(ctx: Context) -> None:
    service = CustomerService(ctx)
    service.create(
        customer_request(settings=[{"id": "qb", "value": "1", "namespace": "USER", "name": "QB", "dataType": "STRING"}])
    )
    service.accounts.add_aliases("acme", AddAccountAliasesRequest(aliases=["acme-alias"]))
    service.delete("acme", has_history=has_billing_history)
    with pytest.raises(NotFound, match="^Customer acme not found$"):
        service.get("acme")
    assert service.settings.for_entity("CUSTOMER", "acme") == []
    assert service.accounts.resolve("acme-alias", utc_now()) is None


def test_resolve_by_id_or_alias_effective_at_a_time(ctx: Context) -> None:
    service = CustomerService(ctx)
    service.create(customer_request())
    service.accounts.create(CreateAccountRequest(id="b", name="Bravo", customer_id="acme"))
    jan, jul = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
    service.accounts.add_aliases(
        "acme",
        AddAccountAliasesRequest(
            account_aliases=[CreateAccountAliasRequest(value="phone", effective_from=jan, effective_until=jul)]
        ),
    )
    service.accounts.add_aliases(
        "b", AddAccountAliasesRequest(account_aliases=[CreateAccountAliasRequest(value="phone", effective_from=jul)])
    )
    resolve = service.accounts.resolve
    assert resolve("acme", jan).id == "acme"  # type: ignore[union-attr]
    assert resolve("phone", jan).id == "acme"  # type: ignore[union-attr]
    assert resolve("phone", jul - timedelta(microseconds=1)).id == "acme"  # type: ignore[union-attr]
    assert resolve("phone", jul).id == "b"  # type: ignore[union-attr]
    assert resolve("phone", jan - timedelta(microseconds=1)) is None
    assert resolve("nobody", jul) is None


def test_organizations_never_see_each_other(session: Session, org: Organization) -> None:
    other = org_in(session)
    mine = Context(session=session, org=org, now=utc_now())
    theirs = Context(session=session, org=other, now=utc_now())
    CustomerService(mine).create(customer_request())
    with pytest.raises(NotFound, match="^Customer acme not found$"):
        CustomerService(theirs).get("acme")
    with pytest.raises(NotFound, match="^Account acme not found$"):
        AccountService(theirs).get("acme")
    with pytest.raises(NotFound, match="^Customer acme not found$"):
        AccountService(theirs).create(CreateAccountRequest(id="x", name="Sneaky", customer_id="acme"))
    assert CustomerService(theirs).page(PageRequest()).items == []
    CustomerService(theirs).create(customer_request())  # same ids are independent
    assert CustomerService(mine).get("acme").pk != CustomerService(theirs).get("acme").pk


def test_keyset_pages_neither_repeat_nor_skip_under_inserts(ctx: Context) -> None:
    service = CustomerService(ctx)
    for i in range(4):
        service.create(customer_request(f"c{i}"))
    first = service.page(PageRequest(size=2))
    service.create(customer_request("c4"))  # inserted while the client pages
    from meterline.core.pagination import page_request

    second = service.page(page_request(first.next_token, 2))
    third = service.page(page_request(second.next_token, 2))
    ids = [c.id for c in first.items + second.items + third.items]
    assert ids == ["c0", "c1", "c2", "c3", "c4"]
    assert third.next_token is None


def test_concurrent_claims_of_one_alias_leave_exactly_one_holder(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    with unit_of_work(session_factory) as s:
        service = CustomerService(Context(session=s, org=s.merge(org), now=utc_now()))
        for i in range(6):
            service.create(customer_request(f"c{i}"))
    results: list[str] = []
    barrier = threading.Barrier(6)

    def claim(i: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as s:
                AccountService(Context(session=s, org=s.merge(org), now=utc_now())).add_aliases(
                    f"c{i}", AddAccountAliasesRequest(aliases=["contested"])
                )
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 5 + ["ok"]
    with unit_of_work(session_factory, write=False) as s:
        from sqlalchemy import func, select

        from meterline.accounts.models import AccountAlias

        count = s.scalar(select(func.count()).where(AccountAlias.org_id == org.id, AccountAlias.value == "contested"))
    assert count == 1
