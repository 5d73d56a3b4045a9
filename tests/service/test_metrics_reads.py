"""What one POST /metrics reads, on both engines, counted in SQL statements (a SQLAlchemy event listener), never
timed: the invoices a request reads one by one are read once whatever the number of queries, and count against one
budget per request; CUSTOMER_ID is one statement whatever the number of customers; NAMED_LICENSE_USAGE reads per
(account, license) only the update in force at the start and those inside the range, and sweeps them once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.repository import AccountRepository
from meterline.catalog.addon_schemas import CreateAddOnRequest
from meterline.catalog.addon_service import AddOnService
from meterline.core.db import unit_of_work
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.events.store import EventStore
from meterline.events.usage_store import clickhouse_of
from meterline.invoicing import reports
from meterline.invoicing.service import InvoiceService
from meterline.licenses.repository import LicenseRepository
from meterline.licenses.schemas import LicenseUpdateRequest
from meterline.licenses.service import LicenseService
from meterline.metrics.repository import MetricsRepository
from meterline.metrics.schemas import GetMetricsRequest
from meterline.metrics.service import MetricsService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests.conftest import new_org

UTC = timezone.utc
MARCH, APRIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
INVOICES = {"acme": 2, "globex": 5, "hooli": 1}


class Org:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory, self.org = factory, new_org(factory)

    @contextmanager
    def ctx(self, now: datetime, write: bool = False) -> Iterator[Context]:
        with unit_of_work(self.factory, write=write) as session:
            yield Context(session=session, org=session.get(Organization, self.org.id), now=now)  # type: ignore[arg-type]

    def metrics(self, *queries: dict[str, Any]) -> tuple[list[Any], int]:
        """The results of one request, and how many SQL statements it took."""
        request = GetMetricsRequest.model_validate(
            {
                "startTime": MARCH,
                "endTime": APRIL,
                "metricQueries": [{"aggregationPeriod": "MONTH", **q} for q in queries],
            }
        )
        with self.ctx(APRIL) as ctx, counted(ctx.session) as statements:
            results = MetricsService(ctx).get(request)
        return results, len(statements)


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    engine = session.get_bind()
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def org(session_factory: sessionmaker[Session]) -> Org:
    """Customers acme, globex and hooli (each an account of its id) with 2, 5 and 1 custom invoices (DUE) in March
    2026, of 10.00, 11.00... each."""
    org = Org(session_factory)
    with org.ctx(MARCH, write=True) as ctx:
        for customer in INVOICES:
            CustomerService(ctx).create(
                CreateCustomerRequest(id=customer, name=customer, primary_email=f"{customer}@x.test", address=Address())
            )
    for customer, n in INVOICES.items():
        for i in range(n):
            with org.ctx(MARCH + timedelta(days=1 + i), write=True) as ctx:
                lines = [{"description": "Work", "value": D(10 + i)}]
                InvoiceService(ctx).create_custom(customer, MARCH, APRIL, "DUE", lines, False, False, False, None)
    return org


def split(account: str, query_id: str = "q") -> dict[str, Any]:
    """REVENUE split per billable: every invoice is read one by one."""
    return {
        "id": query_id,
        "name": "REVENUE",
        "groupBy": "BILLABLE_ID",
        "configs": {"CURRENCY": "INVOICE"},
        "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": [account]}],
    }


def test_a_request_reads_each_invoice_once_whatever_its_queries(org: Org) -> None:
    request = GetMetricsRequest.model_validate(
        {
            "startTime": MARCH,
            "endTime": APRIL,
            "metricQueries": [{"aggregationPeriod": "MONTH", **split("globex", str(i))} for i in range(4)]
            + [{"aggregationPeriod": "WEEK", **split("acme", "a")}],
        }
    )
    with org.ctx(APRIL) as ctx:
        service = MetricsService(ctx)
        results = service.get(request)
        assert service.invoice_reads().views == 7  # the 5 of globex once for four queries, the 2 of acme
    assert [r.series[0].values for r in results[:4]] == [[D("60.00")]] * 4  # 10 + 11 + 12 + 13 + 14


def test_the_invoice_budget_is_the_requests(org: Org) -> None:
    """reports.InvoiceReads: what a request's queries read one by one counts once against one budget."""
    with org.ctx(APRIL) as ctx:
        pks = AccountRepository(ctx.session, ctx.org_id).pks_by_ids(set(INVOICES))

        def read(reads: reports.InvoiceReads, *accounts: str) -> list[reports.InvoiceRevenue]:
            return reports.invoice_revenue(
                ctx,
                MARCH,
                APRIL,
                reports.BY_INVOICE_DATE,
                account_pks={pks[a] for a in accounts},
                finalized=True,
                drafts=False,
                split=True,
                reads=reads,
            )

        reads = reports.InvoiceReads(ctx, 7)
        assert len(read(reads, "acme")) == 2
        assert len(read(reads, "acme")) == 2  # read again: nothing more spent
        assert len(read(reads, "globex")) == 5  # 7 in all: the budget, exactly
        assert len(read(reads, "acme", "globex")) == 7
        with pytest.raises(reports.TooManyInvoices, match="more than 7 invoices"):
            read(reads, "hooli")  # the 8th
        with pytest.raises(reports.TooManyInvoices, match="more than 6 invoices"):
            read(reports.InvoiceReads(ctx, 6), "acme", "globex")  # refused before any is read


def test_customer_filter_is_one_statement(org: Org) -> None:
    def events(customers: list[str]) -> int:
        query = {"id": "e", "name": "REVENUE", "filters": [{"fieldName": "CUSTOMER_ID", "fieldValues": customers}]}
        return org.metrics({**query, "configs": {"CURRENCY": "INVOICE"}})[1]

    assert events(["acme"]) == events(["acme", "globex", "hooli", "nobody"])
    results, _ = org.metrics(
        {
            "id": "r",
            "name": "REVENUE",
            "configs": {"CURRENCY": "INVOICE"},
            "filters": [{"fieldName": "CUSTOMER_ID", "fieldValues": ["acme", "hooli", "nobody"]}],
        }
    )
    assert results[0].series[0].values == [D("31.00")]  # 10 + 11, and 10


def test_license_reads_only_what_the_range_needs(org: Org) -> None:
    with org.ctx(MARCH, write=True) as ctx:
        seats = AddOnService(ctx).create(CreateAddOnRequest(name="Seats", type="LICENSE")).id
    before = MARCH - timedelta(days=30)
    steps = [(before + timedelta(days=i), i + 1) for i in range(20)]  # 20 updates before March: 1..20 seats
    steps += [(MARCH + timedelta(days=3), 50), (MARCH + timedelta(days=20), 7), (APRIL + timedelta(days=1), 99)]
    for when, quantity in steps:
        with org.ctx(when, write=True) as ctx:
            LicenseService(ctx).update(
                LicenseUpdateRequest(
                    license_id=seats,
                    account_id="acme",
                    update_type="ABSOLUTE",
                    quantity=D(quantity),
                    effective_from=when,
                )
            )
    with org.ctx(APRIL) as ctx:
        found = LicenseRepository(ctx.session, ctx.org_id).steps_for(
            MARCH, APRIL, account_pks=None, license_ids=None, limit=3
        )
        # the one in force at the start (20 seats), and the two inside; not the 19 before it nor the one after
        assert found is not None and [u.quantity for u in found] == [20, 50, 7]
        assert (
            LicenseRepository(ctx.session, ctx.org_id).steps_for(
                MARCH, APRIL, account_pks=None, license_ids=None, limit=2
            )
            is None
        )
    weeks = {"id": "l", "name": "NAMED_LICENSE_USAGE", "aggregationPeriod": "WEEK"}
    results, _ = org.metrics(weeks)
    # weeks from Monday: Feb 23 (from March 1st: 20), Mar 2 (50 from the 4th), 9, 16 (7 from the 21st), 23, 30
    assert results[0].series[0].values == [20, 50, 50, 50, 7, 7]


def test_revenue_groups_are_counted_in_sql_up_to_the_limit(org: Org) -> None:
    """Grouped by account or customer, REVENUE's series are counted in SQL before any is built, and the count stops
    one past the limit."""
    with org.ctx(APRIL) as ctx, counted(ctx.session) as statements:

        def groups(limit: int, by_customer: bool = False, accounts: set[str] | None = None) -> int:
            return reports.revenue_groups(
                ctx,
                MARCH,
                APRIL,
                reports.BY_INVOICE_DATE,
                accounts,
                drafts=False,
                by_customer=by_customer,
                limit=limit,
            )

        assert groups(100) == 3 and groups(100, by_customer=True) == 3
        assert groups(1) == 2  # stopped at limit + 1
        assert groups(100, accounts=set()) == 0
        assert len(statements) == 3  # one each (none for an empty filter)


def test_usage_groups_are_counted_in_sql_up_to_the_limit(org: Org) -> None:
    """USAGE's series (per account, customer or meter) are counted in SQL before any is built; the count stops one
    past the limit. Usage written as ingestion writes it (rollups, or the outbox and ClickHouse): acme and globex on
    two meters, hooli on one."""
    with org.ctx(MARCH, write=True) as ctx:
        pks = AccountRepository(ctx.session, ctx.org_id).pks_by_ids(set(INVOICES))
        rows = [("acme", "meter.a"), ("acme", "meter.b"), ("globex", "meter.a"), ("globex", "meter.b")]
        usage = {(pks[account], meter, MARCH + timedelta(days=2)): (D(1), 1) for account, meter in rows}
        usage[(pks["hooli"], "meter.a", MARCH + timedelta(days=2))] = (D(1), 1)
        EventStore(ctx.session, ctx.org_id).add_usage(usage, timezone.utc, MARCH)  # wherever usage is kept
    with org.ctx(APRIL) as ctx:
        in_database = clickhouse_of(ctx.session) is None  # the transaction reads where usage is kept once, here
        repo = MetricsRepository(ctx.session, ctx.org_id)

        def groups(group: Any, limit: int = 100, **filters: Any) -> int:
            return repo.usage_groups(False, MARCH, APRIL, group=group, limit=limit, **filters)

        with counted(ctx.session) as statements:
            assert (groups("account"), groups("customer"), groups("meter")) == (3, 3, 2)
            assert groups("account", limit=1) == 2  # stopped at limit + 1
            assert groups("meter", meter_ids={"meter.b"}) == 1
            assert groups("account", account_pks={pks["hooli"]}) == 1
        if in_database:
            assert len(statements) == 6  # one count each (ClickHouse: its query plus the outbox's)
    for group_by, expected in (("ACCOUNT_ID", 3), ("CUSTOMER_ID", 3), ("USAGE_METER_ID", 2)):
        results, _ = org.metrics({"id": "u", "name": "USAGE", "groupBy": group_by})
        assert len(results[0].series) == expected
