"""The dashboard's figures of invoices (invoicing/reports.py), on both engines, against figures computed by hand:
invoiced per period and currency, invoiced in a range, top customers, what is owed and overdue, and the counts of
customers and accounts the lists show. Every invoice is dated where the test says (a custom invoice finalized at
the unit of work's instant is dated then), some on the periods' edges; another organization's invoices and
voided, draft ones never count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.schemas import CreateAccountRequest
from meterline.accounts.service import AccountService
from meterline.core.db import unit_of_work
from meterline.core.pagination import PageRequest
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing import reports
from meterline.invoicing.service import InvoiceService
from meterline.payments.schemas import CreatePaymentRequest
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.accounts import delete_customer
from tests.conftest import new_org

UTC = timezone.utc
D = Decimal
NAMES = {
    "acme": "Acme",
    "globex": "Globex",
    "hooli": "Hooli",
    "initech": "Initech",
    "soylent": "Soylent",
    "stark": "Stark",
    "umbrella": "Umbrella",
}


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, 0, micro, tzinfo=UTC)


class Books:
    def __init__(self, factory: sessionmaker[Session], org: Organization) -> None:
        self.factory, self.org = factory, org

    @contextmanager
    def reading(self, now: datetime) -> Iterator[Context]:
        with unit_of_work(self.factory, write=False) as session:
            yield Context(session=session, org=session.get(Organization, self.org.id), now=now)

    def do(self, now: datetime, step: object) -> object:
        with unit_of_work(self.factory) as session:
            return step(Context(session=session, org=session.get(Organization, self.org.id), now=now))  # type: ignore[operator]

    def invoice(self, account: str, when: datetime, amount: str, status: str = "DUE") -> str:
        """A custom invoice of one line, finalized (or left DRAFT) at `when`: dated `when`."""

        def make(ctx: Context) -> str:
            lines = [{"description": "Work", "value": D(amount)}]
            invoice, _ = InvoiceService(ctx).create_custom(
                account, at(1, month=1), at(2, month=1), status, lines, False, False, False, None
            )
            return invoice.pk

        return str(self.do(when, make))

    def status(self, when: datetime, invoice_pk: str, status: str) -> None:
        self.do(when, lambda ctx: InvoiceService(ctx).update(invoice_pk, status, {}))

    def pay(self, when: datetime, account: str, invoice_pk: str, amount: str, currency: str = "USD") -> None:
        request = CreatePaymentRequest.model_validate(
            {
                "accountId": account,
                "currency": currency,
                "totalAmount": D(amount),
                "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "7"},
                "lineItemRecords": [{"type": "INVOICE", "togaiId": invoice_pk, "amount": D(amount), "order": 1}],
            }
        )
        self.do(when, lambda ctx: PaymentService(ctx).create(request))


def customers(books: Books, ids: list[str]) -> None:
    def make(ctx: Context) -> None:
        for customer_id in ids:
            CustomerService(ctx).create(
                CreateCustomerRequest(
                    id=customer_id, name=NAMES[customer_id], primary_email=f"{customer_id}@x.test", address=Address()
                )
            )

    books.do(at(1, month=1), make)


@pytest.fixture
def books(session_factory: sessionmaker[Session]) -> Books:
    """The organization of the figures below (net terms 10 days), and another one whose invoices must not count."""
    other = Books(session_factory, new_org(session_factory, net_term_days=10))
    customers(other, ["acme"])
    other.invoice("acme", at(10), "5000.00")

    books = Books(session_factory, new_org(session_factory, net_term_days=10))
    customers(books, list(NAMES))
    books.do(
        at(1, month=1),
        lambda ctx: AccountService(ctx).create(
            CreateAccountRequest(id="acme-eu", name="Acme EU", customer_id="acme", invoice_currency="EUR")
        ),
    )
    books.invoice("stark", at(28, 23, month=2), "7.00")  # before the range
    books.invoice("acme", at(1), "100.00")  # the range's first instant
    books.invoice("soylent", at(2), "5.00")
    paid = books.invoice("acme", at(7, 23, 59, micro=999999), "50.25")  # the first week's last instant
    books.status(at(7, 23, 59, micro=999999), paid, "PAID")
    books.invoice("acme-eu", at(8), "80.00")  # the second week's first instant
    partly = books.invoice("globex", at(10), "300.00")
    books.pay(at(11), "globex", partly, "120.00")  # PARTIALLY_PAID: 180.00 owed
    void = books.invoice("globex", at(12), "999.99")
    books.status(at(12, 1), void, "VOID")
    lost = books.invoice("initech", at(14), "150.25")
    books.status(at(14, 1), lost, "UN_COLLECTIBLE")  # invoiced, no longer owed
    books.invoice("umbrella", at(15), "150.25")
    books.invoice("hooli", at(21, 23), "10.00")
    books.invoice("stark", at(22), "1.00")  # the range's end: outside
    books.invoice("acme", at(9), "1000.00", status="DRAFT")  # not finalized
    return books


STARTS = [at(1), at(8), at(15)]  # three weeks; the last one ends at END
END = at(22)


def test_invoiced_per_period_and_currency(books: Books) -> None:
    with books.reading(at(20, 12)) as ctx:
        by_period = reports.invoiced_by_period(ctx, STARTS, END)
    # USD: 100.00 + 5.00 + 50.25 | 300.00 + 150.25 (the void one left out) | 150.25 + 10.00
    assert by_period == {"EUR": [D(0), D("80.00"), D(0)], "USD": [D("155.25"), D("450.25"), D("160.25")]}
    with books.reading(at(20, 12)) as ctx:
        assert reports.invoiced_by_period(ctx, [at(1)], at(2)) == {"USD": [D("100.00")]}
        assert reports.invoiced_by_period(ctx, [at(22)], at(23)) == {"USD": [D("1.00")]}
        assert reports.invoiced_by_period(ctx, [at(23)], at(24)) == {}
        assert reports.invoiced_by_period(ctx, [], at(24)) == {}
        assert reports.invoiced_between(ctx, at(1), END) == {"EUR": D("80.00"), "USD": D("765.75")}
        assert reports.invoiced_between(ctx, at(1, month=2), at(1)) == {"USD": D("7.00")}


def test_top_customers_per_currency(books: Books) -> None:
    with books.reading(at(20, 12)) as ctx:
        top = reports.top_customers(ctx, at(1), END)
        # Acme's two USD invoices add up (100.00 + 50.25); three customers tie at 150.25: by name. Soylent (5.00)
        # is sixth; Globex's void invoice and Acme's draft do not count, nor Stark's invoices outside the range.
        assert {c: [(t.customer_id, t.name, t.amount, t.invoices) for t in rows] for c, rows in top.items()} == {
            "EUR": [("acme", "Acme", D("80.00"), 1)],
            "USD": [
                ("globex", "Globex", D("300.00"), 1),
                ("acme", "Acme", D("150.25"), 2),
                ("initech", "Initech", D("150.25"), 1),
                ("umbrella", "Umbrella", D("150.25"), 1),
                ("hooli", "Hooli", D("10.00"), 1),
            ],
        }
        week = reports.top_customers(ctx, at(15), END, limit=1)
        assert [(t.customer_id, t.amount) for t in week["USD"]] == [("umbrella", D("150.25"))]
        assert reports.top_customers(ctx, at(23), at(24)) == {}


def test_what_is_owed_and_overdue(books: Books) -> None:
    with books.reading(at(20, 12)) as ctx:
        owed = reports.owed_in_detail(ctx)
    # DUE and PARTIALLY_PAID: 7.00 + 100.00 + 5.00 + 180.00 + 150.25 + 10.00 + 1.00; due 10 days after their date,
    # so those dated before 10 Mar 12:00 are overdue on 20 Mar 12:00 (Globex's, dated 10 Mar 00:00, included)
    assert owed == {
        "EUR": reports.Owed(amount=D("80.00"), overdue=D("80.00"), invoices=1),
        "USD": reports.Owed(amount=D("453.25"), overdue=D("292.00"), invoices=7),
    }
    with books.reading(at(20, 12)) as ctx:
        assert reports.owed(ctx) == {"EUR": D("80.00"), "USD": D("453.25")}


def test_counts_are_those_the_lists_show(books: Books) -> None:
    with books.reading(at(20, 12)) as ctx:
        assert reports.live_counts(ctx) == (7, 8)
    books.do(at(20, 12), lambda ctx: delete_customer(ctx, "stark"))  # it has invoices: archived, not erased
    with books.reading(at(20, 12)) as ctx:
        listed = CustomerService(ctx).page(PageRequest(size=50)).items
        accounts = AccountService(ctx).page(PageRequest(size=50)).items
        assert reports.live_counts(ctx) == (len(listed), len(accounts)) == (6, 7)
        # Stark's invoices still count in what was invoiced and what is owed
        assert reports.invoiced_between(ctx, at(22), at(23)) == {"USD": D("1.00")}
