"""No organization stops another's billing (issue 14, defect 3: a plan rate of 1e999999999999999999 made every bill
run fail at that organization, and no organization after it was ever finalized). On both engines, with the failure
written straight into the database as stored data can hold it: the other organizations, and the organization's
other invoices, are finalized and numbered; the failure is recorded with its attempts and backoff, logged, counted
in /metrics' registry, retried when due, and cleared once the data is fixed."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from meterline.catalog.plan_models import PricePlan, PricePlanVersion
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.failures import FINALIZE, SYNC
from meterline.invoicing.models import BillingFailure, Invoice, InvoiceSequence
from meterline.migrations import upgrade
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import bill_runs
from meterline.usecases.schedules import edit_schedules
from tests.conftest import PG_ADMIN_URL, _libpq, new_org
from tests.service.billing_world import fee, make_plan
from tests.service.test_ingestion import setup_catalog

UTC = timezone.utc
SET_UP = datetime(2024, 2, 20, tzinfo=UTC)
AS_OF = datetime(2024, 4, 1, tzinfo=UTC)  # March is over (grace 0): one invoice per account is due
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the wall clock of the runs (backoff is counted in it)
HUGE = "1e999999999999999999"  # a rate the API accepted before issue 14 bounded numbers


@pytest.fixture
def fresh_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the test's own (same engine as db_url): a bill run over *every* organization sees only the
    organizations this test made."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'meterline.db'}"
        upgrade(url)
        yield url
        return
    name = f"meterline_isolation_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh(fresh_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(fresh_url)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class Company:
    org_id: str
    plans: dict[str, str]  # customer id -> its plan's id


def company(
    factory: sessionmaker[Session], *customers: str, start: str = "2024-03-01", set_up: datetime = SET_UP
) -> Company:
    """A new organization whose customers (the first is acme) each have their own plan (a fixed fee of 10.00 a
    month, grace 0) from `start` (1 March 2024)."""
    org = new_org(factory)
    return Company(org.id, configure_company(factory, org.id, customers, start, set_up))


def configure_company(
    factory: sessionmaker[Session], org_id: str, customers: tuple[str, ...], start: str, set_up: datetime
) -> dict[str, str]:
    """The customers and plans of `company` in an existing organization; customer id -> its plan's id."""
    plans = {}
    with unit_of_work(factory) as session:
        ctx = Context(session=session, org=session.get(Organization, org_id), now=set_up)
        setup_catalog(ctx)  # customer acme
        for customer in customers:
            if customer != "acme":
                CustomerService(ctx).create(
                    CreateCustomerRequest(
                        id=customer, name=customer.title(), primary_email=f"{customer}@x.test", address=Address()
                    )
                )
            plans[customer] = make_plan(
                ctx, f"Plan {customer}", grace=0, fixedFeeRateCards=[fee(ctx, f"Fee {customer}", "10")]
            )
            edit_schedules(
                ctx,
                customer,
                [
                    UpdatePricingScheduleRequest.model_validate(
                        {"pricePlanId": plans[customer], "effectiveFrom": start, "effectiveUntil": "9999-01-01"}
                    )
                ],
            )
    return plans


def set_rate(factory: sessionmaker[Session], org_id: str, plan_id: str, rate: str) -> None:
    """Write the plan's fee rate straight into its stored details, as a row can hold it whatever the API checks."""
    with unit_of_work(factory) as session:
        plan_pk = session.scalar(select(PricePlan.pk).where(PricePlan.org_id == org_id, PricePlan.id == plan_id))
        version = session.scalar(select(PricePlanVersion).where(PricePlanVersion.plan_pk == plan_pk))
        assert version is not None
        details = json.loads(version.details)
        details["fixedFeeRateCards"][0]["rateValues"][0]["rate"] = "__RATE__"
        version.details = json.dumps(details).replace('"__RATE__"', rate)


def invoices(
    factory: sessionmaker[Session], org_id: str, before: datetime = AS_OF
) -> list[tuple[str, str, str | None, Decimal | None]]:
    """(customer account, status, number, total) of the organization's invoices that start before `before` (March)."""
    from meterline.accounts.models import Account

    with unit_of_work(factory, write=False) as session:
        rows = session.execute(
            select(Account.id, Invoice.status, Invoice.sequence_id, Invoice.total_amount)
            .join(Account, Account.pk == Invoice.account_pk)
            .where(Invoice.org_id == org_id, Invoice.start_at < before)
        ).all()
    return sorted(tuple(r) for r in rows)  # type: ignore[misc]


def failures(factory: sessionmaker[Session], org_id: str) -> list[BillingFailure]:
    with unit_of_work(factory, write=False) as session:
        rows = list(session.scalars(select(BillingFailure).where(BillingFailure.org_id == org_id)))
        session.expunge_all()
    return rows


def counted(stage: str) -> float:
    """meterline_billing_failures_total{stage} as /metrics exposes it (the process's registry)."""
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith(f'meterline_billing_failures_total{{stage="{stage}"}} '):
            return float(line.split()[-1])
    return 0.0


def test_a_failing_invoice_waits_alone_and_every_other_organization_is_billed(
    fresh: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    # Given three organizations in billing order; in the middle one, acme's plan rate is out of any range
    first, broken, last = company(fresh, "acme"), company(fresh, "acme", "zeta"), company(fresh, "acme")
    assert first.org_id < broken.org_id < last.org_id  # the run goes through them in this order
    set_rate(fresh, broken.org_id, broken.plans["acme"], HUGE)
    before = counted("finalize")

    # When the bill run passes the end of March
    with caplog.at_level(logging.INFO, logger="meterline.billing"):
        result = bill_runs.run(fresh, AS_OF, now=NOW)

    # Then the organizations before and after it are billed, and so is its other customer
    done = [("acme", "DUE", "INV-000001", Decimal("10.00"))]
    assert invoices(fresh, first.org_id) == done and invoices(fresh, last.org_id) == done
    assert invoices(fresh, broken.org_id) == [
        ("acme", "DRAFT", None, None),
        ("zeta", "DUE", "INV-000001", Decimal("10.00")),
    ]
    assert result.finalized == 3
    # And acme's invoice is recorded with one attempt and the next one a minute later, counted and logged once
    [failure] = failures(fresh, broken.org_id)
    assert (failure.stage, failure.attempts, failure.next_attempt_at) == (FINALIZE, 1, NOW + timedelta(minutes=1))
    assert failure.message.startswith("InvalidOperation: an amount out of the range")
    assert [(f.org_id, f.invoice_pk) for f in result.failures] == [(broken.org_id, failure.invoice_pk)]
    assert counted("finalize") == before + 1
    [logged] = [r for r in caplog.records if r.getMessage() == "billing failed"]
    fields = logged.fields  # type: ignore[attr-defined]
    assert (fields["org_id"], fields["invoice_id"], fields["attempts"]) == (broken.org_id, failure.invoice_pk, 1)
    assert logged.exc_info is not None  # the first failure carries its traceback, in its one JSON line

    # When the worker runs again before the next attempt is due: the invoice is left alone
    caplog.clear()
    again = bill_runs.run(fresh, AS_OF, now=NOW + timedelta(seconds=30))
    assert (again.finalized, again.failures) == (0, [])
    assert failures(fresh, broken.org_id)[0].attempts == 1

    # When it is due, it is tried again and fails again: the delay doubles, and no traceback is logged this time
    with caplog.at_level(logging.INFO, logger="meterline.billing"):
        retried = bill_runs.run(fresh, AS_OF, now=NOW + timedelta(minutes=1))
    [failure] = failures(fresh, broken.org_id)
    assert (failure.attempts, failure.next_attempt_at) == (2, NOW + timedelta(minutes=3))
    assert [f.attempts for f in retried.failures] == [2] and counted("finalize") == before + 2
    assert [r.exc_info for r in caplog.records if r.getMessage() == "billing failed"] == [None]

    # When the rate is fixed, the next due attempt finalizes the invoice, numbers it next, and clears the failure
    set_rate(fresh, broken.org_id, broken.plans["acme"], "12")
    fixed = bill_runs.run(fresh, AS_OF, now=NOW + timedelta(minutes=3))
    assert (fixed.finalized, fixed.failures) == (1, [])
    assert invoices(fresh, broken.org_id) == [
        ("acme", "DUE", "INV-000002", Decimal("12.00")),
        ("zeta", "DUE", "INV-000001", Decimal("10.00")),
    ]
    assert failures(fresh, broken.org_id) == []


def test_an_organization_whose_invoices_cannot_be_created_does_not_stop_the_others(
    fresh: sessionmaker[Session],
) -> None:
    # Given three organizations; the middle one's net terms are beyond any date (written straight into its row)
    first, broken, last = company(fresh, "acme"), company(fresh, "acme"), company(fresh, "acme")
    with unit_of_work(fresh) as session:
        session.execute(
            update(Organization).where(Organization.id == broken.org_id).values(net_term_days=2_000_000_000)
        )
    before = counted("sync")

    # When the bill run passes the end of March
    result = bill_runs.run(fresh, AS_OF, now=NOW)

    # Then the others are billed; the broken one's account is recorded as a failed sync, with its backoff
    assert result.finalized == 2 and [(f.org_id, f.stage) for f in result.failures] == [(broken.org_id, SYNC)]
    done = [("acme", "DUE", "INV-000001", Decimal("10.00"))]
    assert invoices(fresh, first.org_id) == done and invoices(fresh, last.org_id) == done
    assert invoices(fresh, broken.org_id) == []
    [failure] = failures(fresh, broken.org_id)
    assert (failure.stage, failure.attempts, failure.next_attempt_at) == (SYNC, 1, NOW + timedelta(minutes=1))
    assert failure.message.startswith("OverflowError")
    assert counted("sync") == before + 1

    # When the terms are fixed, the next due run creates and finalizes its invoice and clears the failure
    with unit_of_work(fresh) as session:
        session.execute(update(Organization).where(Organization.id == broken.org_id).values(net_term_days=30))
    fixed = bill_runs.run(fresh, AS_OF, now=NOW + timedelta(minutes=1))
    assert (fixed.finalized, fixed.failures) == (1, [])
    assert invoices(fresh, broken.org_id) == done and failures(fresh, broken.org_id) == []


def test_a_database_error_in_one_organization_rolls_back_only_its_invoices(fresh: sessionmaker[Session]) -> None:
    # Given three organizations billed for March; then the middle one's sequence row is set back (a restore gone
    # wrong), so its next numbers collide with issued ones: the database refuses them (a unique key)
    first, broken, last = company(fresh, "acme"), company(fresh, "acme", "zeta"), company(fresh, "acme")
    assert bill_runs.run(fresh, AS_OF, now=NOW).failures == []
    with unit_of_work(fresh) as session:
        session.execute(update(InvoiceSequence).where(InvoiceSequence.org_id == broken.org_id).values(last_number=0))

    # When the bill run passes the end of April
    april = datetime(2024, 5, 1, tzinfo=UTC)
    result = bill_runs.run(fresh, april, now=NOW)

    # Then the other organizations number April's invoices; the broken one's are rolled back and recorded
    for org in (first, last):
        assert invoices(fresh, org.org_id, april)[1] == ("acme", "DUE", "INV-000002", Decimal("10.00"))
    assert result.finalized == 2
    recorded = failures(fresh, broken.org_id)
    assert sorted((f.stage, f.attempts) for f in recorded) == [(FINALIZE, 1), (FINALIZE, 1)]
    assert all("sequence_number" in f.message and "INSERT" not in f.message for f in recorded)
    assert [r[:3] for r in invoices(fresh, broken.org_id, april)] == [
        ("acme", "DRAFT", None),
        ("acme", "DUE", "INV-000001"),
        ("zeta", "DRAFT", None),
        ("zeta", "DUE", "INV-000002"),
    ]

    # When the sequence is repaired, the next due attempt numbers them next and clears the failures
    with unit_of_work(fresh) as session:
        session.execute(update(InvoiceSequence).where(InvoiceSequence.org_id == broken.org_id).values(last_number=2))
    fixed = bill_runs.run(fresh, april, now=NOW + timedelta(minutes=1))
    assert (fixed.finalized, fixed.failures, failures(fresh, broken.org_id)) == (2, [], [])
    assert [r[:3] for r in invoices(fresh, broken.org_id, april)] == [
        ("acme", "DUE", "INV-000001"),
        ("acme", "DUE", "INV-000003"),
        ("zeta", "DUE", "INV-000002"),
        ("zeta", "DUE", "INV-000004"),
    ]


def test_meterline_bill_run_goes_on_past_a_failing_invoice_and_exits_non_zero(
    fresh: sessionmaker[Session], fresh_url: str
) -> None:
    # Given three organizations, the middle one with an invoice that cannot be computed
    first, broken, last = company(fresh, "acme"), company(fresh, "acme", "zeta"), company(fresh, "acme")
    set_rate(fresh, broken.org_id, broken.plans["acme"], HUGE)

    def bill_run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "meterline.cli",
                "bill-run",
                "--json",
                "--as-of",
                "2024-04-01T00:00:00Z",
                "--database-url",
                fresh_url,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "200"},
        )

    # When `meterline bill-run` runs
    done = bill_run()

    # Then it bills everything else, says what failed, and exits with 1
    assert done.returncode == 1, done.stderr
    [draft] = [pk for (pk,) in _drafts(fresh, broken.org_id)]
    summary = json.loads(done.stdout)
    assert (summary["asOf"], summary["syncedAccounts"], summary["finalized"]) == ("2024-04-01T00:00:00Z", 4, 3)
    [failed] = summary["failures"]
    assert (failed["organizationId"], failed["stage"], failed["invoiceId"], failed["attempts"]) == (
        broken.org_id,
        "FINALIZE",
        draft,
        1,
    )
    assert f"failed: organization {broken.org_id}, invoice {draft} (attempt 1" in done.stderr
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    [line] = [entry for entry in logged if entry["message"] == "billing failed"]  # one JSON line, nothing more
    assert (line["org_id"], line["invoice_id"], line["attempts"]) == (broken.org_id, draft, 1)
    assert not [text for text in done.stderr.splitlines() if text.startswith("Traceback")]
    for org in (first, last):
        assert invoices(fresh, org.org_id) == [("acme", "DUE", "INV-000001", Decimal("10.00"))]

    # When the data is fixed, running it again (by hand: at once, whatever the backoff) finalizes it and exits 0
    set_rate(fresh, broken.org_id, broken.plans["acme"], "10")
    again = bill_run()
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["finalized"], json.loads(again.stdout)["failures"]) == (1, [])
    assert failures(fresh, broken.org_id) == [] and _drafts(fresh, broken.org_id) == []


def _drafts(factory: sessionmaker[Session], org_id: str, before: datetime = AS_OF) -> list[tuple[str]]:
    with unit_of_work(factory, write=False) as session:
        return [
            tuple(r)
            for r in session.execute(
                select(Invoice.pk).where(  # type: ignore[misc]
                    Invoice.org_id == org_id, Invoice.status == "DRAFT", Invoice.start_at < before
                )
            )
        ]
