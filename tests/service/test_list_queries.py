"""The console's list queries (console/listing.py over `*.listed`): sorted in SQL, offset pages with their count,
org-scoped, on both engines. Invoices: drafts after the finalized ones when sorted by number or total, totals
compared within a currency, the overdue filter at a given `now` (an invoice due 12 days ago is overdue 12 days)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from meterline.accounts.schemas import CreateAccountRequestWithoutCustomerId
from meterline.catalog import plan_schemas
from meterline.catalog.plan_service import PricePlanService
from meterline.console import words
from meterline.core.errors import BadRequest
from meterline.core.pagination import Slice
from meterline.core.schemas import Address
from meterline.customers.models import Customer
from meterline.customers.repository import CustomerRepository
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, Owed
from meterline.invoicing.statuses import InvoiceStatus
from meterline.payments.schemas import CreatePaymentRequest
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests.conftest import org_in

UTC = timezone.utc
T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
FINALIZED = frozenset(s for s in InvoiceStatus if s != InvoiceStatus.DRAFT)


def at(session: Session, org: Organization, now: datetime) -> Context:
    return Context(session=session, org=org, now=now)


def customer(ctx: Context, cid: str, name: str, currency: str = "USD", email: str | None = None) -> None:
    CustomerService(ctx).create(
        CreateCustomerRequest(
            id=cid,
            name=name,
            primary_email=email or f"billing@{cid}.test",
            address=Address(),
            account=CreateAccountRequestWithoutCustomerId(id=cid, name=name, invoice_currency=currency),
        )
    )


def invoice(ctx: Context, account: str, status: str, value: str, month: int = 1) -> Invoice:
    start = datetime(2025, month, 1, tzinfo=UTC)
    lines = [{"description": "Work", "value": Decimal(value)}]
    made, _ = InvoiceService(ctx).create_custom(
        account, start, start + timedelta(days=28), status, lines, False, True, True, None
    )
    return made


def names(found: list[Customer]) -> list[str]:
    return [c.name for c in found]


def test_customers_sort_by_name_id_and_created_each_way_with_counts(session: Session) -> None:
    org = org_in(session)
    for i, (cid, name) in enumerate([("c-b", "beta"), ("c-a", "Alpha"), ("c-d", "delta"), ("c-c", "Charlie")]):
        customer(at(session, org, T0 + timedelta(minutes=i)), cid, name)
    customer(at(session, org_in(session), T0), "c-z", "Another org's")  # never listed
    service = CustomerService(at(session, org, T0))

    found = service.listed(Slice(0, 3, "name"))
    assert (names(found.items), found.total, found.more) == (["Alpha", "beta", "Charlie"], 4, False)  # any case
    assert names(service.listed(Slice(3, 3, "name")).items) == ["delta"]
    assert names(service.listed(Slice(0, 4, "name", descending=True)).items) == ["delta", "Charlie", "beta", "Alpha"]
    assert [c.id for c in service.listed(Slice(0, 4, "id")).items] == ["c-a", "c-b", "c-c", "c-d"]
    assert names(service.listed(Slice(0, 4, "created", descending=True)).items) == ["Charlie", "delta", "Alpha", "beta"]
    with pytest.raises(BadRequest, match="'email' is not one of name, id, created"):
        service.listed(Slice(0, 4, "email"))


def test_customer_search_is_any_case_and_takes_wildcards_literally(session: Session) -> None:
    org = org_in(session)
    ctx = at(session, org, T0)
    customer(ctx, "acme", "Acme Robotics", email="ops@acme.test")
    customer(ctx, "fifty", "50% Off Ltd")
    customer(ctx, "under_score", "Underscore")
    customer(ctx, "plain", "Plain", email="billing@plain.example")
    service = CustomerService(ctx)
    assert names(service.listed(Slice(0, 10, "name"), "ROBOT").items) == ["Acme Robotics"]
    assert names(service.listed(Slice(0, 10, "name"), "%").items) == ["50% Off Ltd"]  # not "anything"
    assert names(service.listed(Slice(0, 10, "name"), "_").items) == ["Underscore"]  # in its id only
    assert names(service.listed(Slice(0, 10, "name"), "PLAIN.EXAMPLE").items) == ["Plain"]  # by email
    assert service.listed(Slice(0, 10, "name"), "nobody").total == 0


def test_a_count_can_stop_at_a_cap(session: Session) -> None:
    org = org_in(session)
    for i in range(5):
        customer(at(session, org, T0), f"c{i}", f"Customer {i}")
    repo = CustomerRepository(session, org.id)
    stmt = repo.scoped(Customer)
    capped = repo.counted_page(stmt, [Customer.id.asc()], Slice(0, 2, "id"), cap=3)
    assert ([c.id for c in capped.items], capped.total, capped.more) == (["c0", "c1"], 3, True)
    exact = repo.counted_page(stmt, [Customer.id.asc()], Slice(4, 2, "id"), cap=5)
    assert ([c.id for c in exact.items], exact.total, exact.more) == (["c4"], 5, False)


def test_a_count_is_of_the_organization_s_rows_only(session: Session) -> None:
    # Given two organizations made here: three customers in one, two in the other
    org, other = org_in(session), org_in(session)
    for i in range(3):
        customer(at(session, org, T0), f"c{i}", f"Customer {i}")
    for i in range(2):
        customer(at(session, other, T0), f"c{i}", f"Other {i}")
    # Then each counts its own, whatever else the database holds
    assert CustomerRepository(session, org.id).count(Customer) == 3
    assert CustomerRepository(session, other.id).count(Customer) == 2
    assert CustomerRepository(session, org_in(session).id).count(Customer) == 0


def test_invoices_sort_in_sql_drafts_last_totals_within_a_currency(session: Session) -> None:
    org = org_in(session)
    ctx = at(session, org, T0)
    customer(ctx, "us", "Us Co")
    customer(ctx, "jp", "Japan Co", currency="JPY")
    made = {}
    for i, (account, status, value) in enumerate(
        [
            ("us", "DUE", "100"),
            ("us", "PAID", "20.50"),
            ("jp", "DUE", "1234"),
            ("us", "DRAFT", "999"),
            ("us", "DUE", "9.99"),
            ("jp", "DRAFT", "5"),
            ("jp", "PAID", "30"),
        ]
    ):
        made[f"{account}-{value}"] = invoice(at(session, org, T0 + timedelta(hours=i)), account, status, value, i + 1)
    service = InvoiceService(at(session, org, T0 + timedelta(days=1)))

    def keys(sort: str, descending: bool, statuses: frozenset[str] | None = None) -> list[str]:
        found = service.listed(Slice(0, 10, sort, descending), statuses=statuses)
        by_pk = {v.pk: k for k, v in made.items()}
        return [by_pk[i.pk] for i in found.items]

    # by total: per currency (A to Z), the amounts as numbers (9.99 < 20.50 < 100 on SQLite's text too), drafts last
    assert keys("total", False) == ["jp-30", "jp-1234", "us-9.99", "us-20.50", "us-100", "jp-5", "us-999"]
    assert keys("total", True) == ["jp-1234", "jp-30", "us-100", "us-20.50", "us-9.99", "jp-5", "us-999"]
    # by number: finalized in numbering order, drafts (no number) last either way
    assert keys("number", False) == ["us-100", "us-20.50", "jp-1234", "us-9.99", "jp-30", "us-999", "jp-5"]
    assert keys("number", True)[:5] == ["jp-30", "us-9.99", "jp-1234", "us-20.50", "us-100"]
    # by invoice date (finalized: when finalized; drafts: their period's end), newest first
    assert keys("date", True, FINALIZED) == ["jp-30", "us-9.99", "jp-1234", "us-20.50", "us-100"]
    assert keys("due", False, FINALIZED) == ["us-100", "us-20.50", "jp-1234", "us-9.99", "jp-30"]
    # a slice and its count, with a filter
    page = service.listed(Slice(1, 2, "date", True), statuses=FINALIZED)
    assert (len(page.items), page.total) == (2, 5)
    drafts = service.listed(Slice(0, 0, "date", True), statuses=frozenset({InvoiceStatus.DRAFT}))
    assert (drafts.items, drafts.total) == ([], 2)
    by_customer = service.listed(Slice(0, 10, "date", True), statuses=None, customer_id="jp")
    assert by_customer.total == 3 and {i.currency for i in by_customer.items} == {"JPY"}
    assert service.listed(Slice(0, 10, "date"), statuses=None, customer_id="nobody").total == 0
    # another organization sees none of them
    other = InvoiceService(at(session, org_in(session), T0))
    assert other.listed(Slice(0, 10, "date"), statuses=None).total == 0


def test_an_invoice_due_12_days_ago_is_overdue_12_days_and_what_is_owed(session: Session) -> None:
    org = org_in(session)
    customer(at(session, org, T0), "acme", "Acme")
    due = invoice(at(session, org, T0), "acme", "DUE", "100")  # net terms 0: due at T0
    part = invoice(at(session, org, T0), "acme", "DUE", "50")
    later = invoice(at(session, org, T0 + timedelta(days=20)), "acme", "DUE", "7.25")  # due after "now"
    invoice(at(session, org, T0), "acme", "PAID", "10")
    invoice(at(session, org, T0), "acme", "DRAFT", "10")
    payment = {
        "accountId": "acme",
        "currency": "USD",
        "totalAmount": Decimal(20),
        "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "1"},
        "lineItemRecords": [{"type": "INVOICE", "togaiId": part.pk, "amount": Decimal(20), "order": 1}],
    }
    PaymentService(at(session, org, T0 + timedelta(days=1))).create(CreatePaymentRequest.model_validate(payment))
    assert part.status == InvoiceStatus.PARTIALLY_PAID
    now = T0 + timedelta(days=12, hours=3)
    service = InvoiceService(at(session, org, now))

    overdue = service.listed(Slice(0, 10, "due"), statuses=FINALIZED, overdue=True)
    assert ([i.pk for i in overdue.items], overdue.total) == ([due.pk, part.pk], 2)  # same due date: by id
    assert later.due_date is not None and later.due_date > now  # still owed, not yet due
    assert words.invoice_status(due, now).label == "Overdue · 12 days"
    assert words.invoice_status(part, now).label == "Partially paid · Overdue · 12 days"
    assert service.listed(Slice(0, 10, "due"), statuses=FINALIZED, overdue=True, account_id="acme").total == 2

    account_pk = overdue.items[0].account_pk
    assert service.owed({account_pk}) == [Owed("USD", Decimal("137.25"), 3, Decimal("130.00"), 2)]
    assert service.owed(set()) == []


def test_plans_listed_with_search_and_sorts(session: Session) -> None:
    org = org_in(session)
    service = PricePlanService(at(session, org, T0))
    for i, name in enumerate(["Growth", "basic", "Enterprise"]):
        request = plan_schemas.CreatePricePlanRequest.model_validate(
            {
                "name": name,
                "pricePlanDetails": {
                    "supportedCurrencies": ["USD"],
                    "pricingCycleConfig": {
                        "interval": "MONTHLY",
                        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                        "gracePeriod": 0,
                    },
                },
            }
        )
        PricePlanService(at(session, org, T0 + timedelta(minutes=i))).create(request)
    found = service.listed(Slice(0, 2, "name"))
    assert ([v.plan.name for v in found.items], found.total) == (["basic", "Enterprise"], 3)
    assert [v.latest.version.version for v in found.items] == [1, 1]
    assert [v.plan.name for v in service.listed(Slice(0, 5, "name", True), "prISE").items] == ["Enterprise"]
    growth = service.listed(Slice(0, 5, "name", True), "grow").items[0].plan
    assert [v.plan.name for v in service.listed(Slice(0, 5, "name"), growth.id.upper()).items] == ["Growth"]
    assert [v.plan.name for v in service.listed(Slice(0, 5, "updated", True)).items] == [
        "Enterprise",
        "basic",
        "Growth",
    ]
