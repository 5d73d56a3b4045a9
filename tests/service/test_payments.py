"""Payments' rules on both engines: a payment record pays only the paying account's invoices, and the records add up
to the payment's total. Each refusal names its field and leaves every invoice as it was."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.payments.schemas import CreatePaymentRequest
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests.conftest import new_org
from tests.service.billing_world import t

D = Decimal
T = TypeVar("T")


def step(factory: sessionmaker[Session], org: Organization, work: Callable[[Context], T]) -> T:
    """One unit of work of `org` (a refusal rolls it back, as a request's does)."""
    with unit_of_work(factory) as session:
        return work(Context(session=session, org=session.merge(org), now=t(5, 1)))


def due_invoice(ctx: Context, customer_id: str, total: str) -> str:
    """A customer (and its default account of the same id) with one DUE custom invoice of `total`: its id."""
    CustomerService(ctx).create(
        CreateCustomerRequest(id=customer_id, name=customer_id, primary_email="a@x.test", address=Address())
    )
    items = [{"description": "Work", "value": D(total)}]
    invoice, _ = InvoiceService(ctx).create_custom(customer_id, t(4, 1), t(5, 1), "DUE", items, False, True, True, None)
    return invoice.pk


def payment(account_id: str, total: str, *records: tuple[str, str]) -> CreatePaymentRequest:
    body: dict[str, Any] = {
        "accountId": account_id,
        "currency": "USD",
        "totalAmount": D(total),
        "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "1"},
        "lineItemRecords": [
            {"type": "INVOICE", "togaiId": pk, "amount": D(amount), "order": n}
            for n, (pk, amount) in enumerate(records)
        ],
    }
    return CreatePaymentRequest.model_validate(body)


def paid(factory: sessionmaker[Session], *pks: str) -> list[tuple[str, Decimal]]:
    with unit_of_work(factory, write=False) as session:
        invoices = [session.get(Invoice, pk) for pk in pks]
        return [(i.status, i.paid_amount) for i in invoices if i is not None]


def test_an_account_pays_only_its_own_invoices(session_factory: sessionmaker[Session]) -> None:
    # Given two accounts of one organization, and an account of another organization, each with a DUE invoice
    org, other_org = new_org(session_factory), new_org(session_factory)
    acme = step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))
    globex = step(session_factory, org, lambda ctx: due_invoice(ctx, "globex", "40.00"))
    elsewhere = step(session_factory, other_org, lambda ctx: due_invoice(ctx, "acme", "30.00"))

    def pay(request: CreatePaymentRequest) -> object:
        return step(session_factory, org, lambda ctx: PaymentService(ctx).create(request))

    # When acme's payment names globex's invoice, or the other organization's: refused, naming the record
    with pytest.raises(
        BadRequest, match=rf"lineItemRecords \(order 0\)\.togaiId: account acme has no invoice {globex}"
    ):
        pay(payment("acme", "40.00", (globex, "40.00")))
    with pytest.raises(
        BadRequest, match=rf"lineItemRecords \(order 0\)\.togaiId: account acme has no invoice {elsewhere}"
    ):
        pay(payment("acme", "30.00", (elsewhere, "30.00")))
    # And a refused record among good ones pays nothing
    with pytest.raises(
        BadRequest, match=rf"lineItemRecords \(order 1\)\.togaiId: account acme has no invoice {globex}"
    ):
        pay(payment("acme", "90.00", (acme, "50.00"), (globex, "40.00")))
    assert paid(session_factory, acme, globex, elsewhere) == [("DUE", D(0))] * 3
    # Then acme's own invoice takes acme's payment, and the others stay unpaid
    pay(payment("acme", "50.00", (acme, "50.00")))
    assert paid(session_factory, acme, globex, elsewhere) == [("PAID", D("50.00")), ("DUE", D(0)), ("DUE", D(0))]


def test_the_records_add_up_to_the_total(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    invoice = step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))

    def pay(request: CreatePaymentRequest) -> object:
        return step(session_factory, org, lambda ctx: PaymentService(ctx).create(request))

    with pytest.raises(BadRequest, match="lineItemRecords: the amounts add up to 20.00, not totalAmount 50.00"):
        pay(payment("acme", "50.00", (invoice, "20.00")))
    with pytest.raises(BadRequest, match="lineItemRecords: the amounts add up to 50.00, not totalAmount 20.00"):
        pay(payment("acme", "20.00", (invoice, "50.00")))
    assert paid(session_factory, invoice) == [("DUE", D(0))]
    pay(payment("acme", "50.00", (invoice, "50.00")))
    assert paid(session_factory, invoice) == [("PAID", D("50.00"))]


def test_a_wallet_record_needs_a_positive_amount_in_minor_units(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))

    def pay_wallet(amount: Decimal | None, total: str = "5.00") -> object:
        body: dict[str, Any] = {
            "accountId": "acme",
            "currency": "USD",
            "totalAmount": D(total),
            "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "2"},
            "lineItemRecords": [{"type": "WALLET_CREDIT", "amount": amount, "order": 1}],
        }
        request = CreatePaymentRequest.model_validate(body)
        return step(session_factory, org, lambda ctx: PaymentService(ctx).create(request))

    for amount in (None, D(0), D(-5), D("5.001")):
        with pytest.raises(
            BadRequest,
            match=r"^lineItemRecords \(order 1\)\.amount: must be more than 0 and below 10\^15, "
            r"in whole USD minor units$",
        ):
            pay_wallet(amount)
    pay_wallet(D(5))


def test_an_invoice_takes_what_it_still_owes_while_it_is_open(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    invoice = step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))
    draft = step(
        session_factory,
        org,
        lambda ctx: (
            InvoiceService(ctx)
            .create_custom(
                "acme", t(4, 1), t(5, 1), "DRAFT", [{"description": "Later", "value": D(9)}], False, True, True, None
            )[0]
            .pk
        ),
    )

    def pay(request: CreatePaymentRequest) -> object:
        return step(session_factory, org, lambda ctx: PaymentService(ctx).create(request))

    without_amount = payment("acme", "50.00", (invoice, "50.00"))
    without_amount.line_item_records[0].amount = None
    with pytest.raises(BadRequest, match=r"^lineItemRecords \(order 0\): togaiId \(the invoice id\) and amount are"):
        pay(without_amount)
    with pytest.raises(
        BadRequest, match=rf"^lineItemRecords \(order 0\): invoice {draft} is DRAFT; only DUE, PARTIALLY"
    ):
        pay(payment("acme", "9.00", (draft, "9.00")))
    with pytest.raises(BadRequest, match=rf"\.amount: 50\.01 is more than the 50\.00 still owed on invoice {invoice}$"):
        pay(payment("acme", "50.01", (invoice, "50.01")))
    pay(payment("acme", "30.00", (invoice, "30.00")))
    assert paid(session_factory, invoice) == [("PARTIALLY_PAID", D("30.00"))]
    with pytest.raises(BadRequest, match=rf"\.amount: 20\.01 is more than the 20\.00 still owed on invoice {invoice}$"):
        pay(payment("acme", "20.01", (invoice, "20.01")))
    pay(payment("acme", "20.00", (invoice, "20.00")))
    assert paid(session_factory, invoice) == [("PAID", D("50.00"))]
    with pytest.raises(BadRequest, match=rf"invoice {invoice} is PAID; only DUE, PARTIALLY_PAID and UN_COLLECTIBLE"):
        pay(payment("acme", "1.00", (invoice, "1.00")))


def test_a_credit_record_grants_a_new_credit_and_names_none(session_factory: sessionmaker[Session]) -> None:
    """A CREDIT record grants a credit, whose id the payment answers in togaiId; one that names a togaiId is refused."""
    from meterline.credits.models import Credit

    org = new_org(session_factory)
    step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))

    def pay_credit(record: dict[str, Any]) -> list[Any]:
        body: dict[str, Any] = {
            "accountId": "acme",
            "currency": "USD",
            "totalAmount": D("7.00"),
            "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "3"},
            "lineItemRecords": [{"type": "CREDIT", "amount": D("7.00"), "order": 1, **record}],
        }
        request = CreatePaymentRequest.model_validate(body)
        return step(session_factory, org, lambda ctx: list(PaymentService(ctx).create(request).records))

    with pytest.raises(BadRequest, match=r"^lineItemRecords \(order 1\)\.togaiId: a CREDIT record grants a new credit"):
        pay_credit({"togaiId": "credit.mine"})
    [record] = pay_credit({})
    assert record["type"] == "CREDIT" and record["togaiId"].startswith("credit.")
    with unit_of_work(session_factory, write=False) as s:
        credit = s.get(Credit, record["togaiId"])
        assert credit is not None and credit.org_id == org.id and credit.amount == D("7.00")
