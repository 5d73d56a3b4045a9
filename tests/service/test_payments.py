"""Payments' rules on both engines: a payment is in the account's currency, a payment record pays only the paying
account's invoices, and the records add up to the payment's total. Each refusal names its field and leaves every
invoice as it was. A payment is read back by its id, in its own organization only, as it was sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.repository import AccountRepository
from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest, NotFound
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, wallet_holds
from meterline.payments.models import Payment
from meterline.payments.schemas import CreatePaymentRequest, PaymentOut, payment_out
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.accounts import has_billing_history
from meterline.wallet.service import WalletService
from tests.conftest import new_org
from tests.service.billing_world import t

D = Decimal
T = TypeVar("T")


def step(factory: sessionmaker[Session], org: Organization, work: Callable[[Context], T]) -> T:
    """One unit of work of `org` (a refusal rolls it back, as a request's does)."""
    with unit_of_work(factory) as session:
        return work(Context(session=session, org=session.merge(org), now=t(5, 1)))


def customer(ctx: Context, customer_id: str) -> None:
    """A customer and its default account of the same id (paying in USD), with nothing billed."""
    CustomerService(ctx).create(
        CreateCustomerRequest(id=customer_id, name=customer_id, primary_email="a@x.test", address=Address())
    )


def due_invoice(ctx: Context, customer_id: str, total: str) -> str:
    """A customer (and its default account of the same id) with one DUE custom invoice of `total`: its id."""
    customer(ctx, customer_id)
    items = [{"description": "Work", "value": D(total)}]
    invoice, _ = InvoiceService(ctx).create_custom(customer_id, t(4, 1), t(5, 1), "DUE", items, False, True, True, None)
    return invoice.pk


def payment(account_id: str, total: str, *records: tuple[str, str], currency: str = "USD") -> CreatePaymentRequest:
    body: dict[str, Any] = {
        "accountId": account_id,
        "currency": currency,
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


def test_a_wallet_record_tops_up_the_wallet_by_a_positive_amount_in_minor_units(
    session_factory: sessionmaker[Session],
) -> None:
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
    balance = step(session_factory, org, lambda ctx: WalletService(ctx, holds=wallet_holds).view("acme").balance)
    assert balance == D("5.00")


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


def test_a_payment_is_in_the_accounts_invoice_currency(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    invoice = step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))

    def pay(request: CreatePaymentRequest) -> object:
        return step(session_factory, org, lambda ctx: PaymentService(ctx).create(request))

    # Another currency, or no currency at all, is refused and pays nothing
    for currency in ("EUR", "XYZ"):
        with pytest.raises(BadRequest, match=rf"^currency: account acme pays in USD, not {currency}$"):
            pay(payment("acme", "50.00", (invoice, "50.00"), currency=currency))
    assert paid(session_factory, invoice) == [("DUE", D(0))]
    # The account's currency, in any case, is taken
    pay(payment("acme", "50.00", (invoice, "50.00"), currency="usd"))
    assert paid(session_factory, invoice) == [("PAID", D("50.00"))]


def test_a_payment_is_read_by_its_id_in_its_own_organization(session_factory: sessionmaker[Session]) -> None:
    """A new payment is at version 1; it reads back by its id as it was answered; an id the organization has no
    payment of (another organization's payment's, or none's) is NotFound."""
    org, other_org = new_org(session_factory), new_org(session_factory)
    invoice = step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))

    def read(payment_id: str) -> PaymentOut:
        return step(session_factory, org, lambda ctx: payment_out(PaymentService(ctx).get(payment_id), "acme"))

    created = step(
        session_factory,
        org,
        lambda ctx: payment_out(PaymentService(ctx).create(payment("acme", "50.00", (invoice, "50.00"))), "acme"),
    )
    assert created.version == 1
    assert read(created.id) == created
    with pytest.raises(NotFound, match=rf"^Payment {created.id} not found$"):
        step(session_factory, other_org, lambda ctx: PaymentService(ctx).get(created.id))
    with pytest.raises(NotFound, match=r"^Payment pay\.missing not found$"):
        step(session_factory, org, lambda ctx: PaymentService(ctx).get("pay.missing"))


def test_a_payment_keeps_its_reference_as_sent(session_factory: sessionmaker[Session]) -> None:
    """The externalPaymentReference is stored with the fields sent, and only those: none is added as null."""
    org = new_org(session_factory)
    invoice = step(session_factory, org, lambda ctx: due_invoice(ctx, "acme", "50.00"))
    bare = payment("acme", "20.00", (invoice, "20.00"))
    full = payment("acme", "30.00", (invoice, "30.00"))
    full.external_payment_reference.description = "May"
    full.external_payment_reference.metadata = {"batch": 7}

    def stored(request: CreatePaymentRequest) -> dict[str, Any]:
        pk = step(session_factory, org, lambda ctx: PaymentService(ctx).create(request).pk)
        with unit_of_work(session_factory, write=False) as session:
            row = session.get(Payment, pk)
            assert row is not None
            return row.reference

    sent = {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "1"}
    assert stored(bare) == sent
    assert stored(full) == {**sent, "description": "May", "metadata": {"batch": 7}}


def test_a_payment_is_billing_history_of_the_account_that_paid_only(session_factory: sessionmaker[Session]) -> None:
    """An account that paid has billing history (it is archived, never erased), even with no invoice or wallet
    entry (a CREDIT record grants a credit); another account's payment is none of its history."""
    org = new_org(session_factory)
    step(session_factory, org, lambda ctx: customer(ctx, "acme"))
    step(session_factory, org, lambda ctx: customer(ctx, "globex"))

    def history(account_id: str) -> bool:
        def work(ctx: Context) -> bool:
            account = AccountRepository(ctx.session, ctx.org_id).by_id(account_id)
            assert account is not None
            return has_billing_history(ctx, account)

        return step(session_factory, org, work)

    assert (history("acme"), history("globex")) == (False, False)
    body: dict[str, Any] = {
        "accountId": "acme",
        "currency": "USD",
        "totalAmount": D("7.00"),
        "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "4"},
        "lineItemRecords": [{"type": "CREDIT", "amount": D("7.00"), "order": 1}],
    }
    step(session_factory, org, lambda ctx: PaymentService(ctx).create(CreatePaymentRequest.model_validate(body)))
    assert (history("acme"), history("globex")) == (True, False)
