"""Bill runs as users run them (`meterline bill-run --as-of`), on both engines: idempotent, and a run killed with
kill -9 mid-way then run again gives the invoices and numbers of an uninterrupted run (issue 8, D12)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.events.wire import event_from
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import invoiced_until
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import ingestion
from tests.conftest import new_org
from tests.service.billing_world import fee, make_plan, tiered_card
from tests.service.test_ingestion import setup_catalog

UTC = timezone.utc
START = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF = "2024-07-01T00:00:00Z"  # six monthly cycles, January to June


def company(factory: sessionmaker[Session], accounts: int) -> Organization:
    """An organization with `accounts` customers (c0000...) on one plan from 1 January 2024, each with one event a
    month of (index + month) calls: every invoice differs."""
    org = new_org(factory)
    with unit_of_work(factory) as session:
        ctx = Context(session=session, org=session.get(Organization, org.id), now=START)
        meter_id = setup_catalog(ctx)
        plan = make_plan(
            ctx, "Scale", grace=0, usageRateCards=[tiered_card(meter_id)], fixedFeeRateCards=[fee(ctx, "Base", "9.99")]
        )
        customers, schedules = CustomerService(ctx), ScheduleService(ctx)
        for n in range(accounts):
            customers.create(
                CreateCustomerRequest(
                    id=f"c{n:04d}", name=f"Customer {n}", primary_email=f"c{n}@x.test", address=Address()
                )
            )
            schedules.edit(
                f"c{n:04d}",
                [
                    UpdatePricingScheduleRequest.model_validate(
                        {"pricePlanId": plan, "effectiveFrom": "2024-01-01", "effectiveUntil": "9999-01-01"}
                    )
                ],
                invoiced_until=invoiced_until,
            )
    events = [
        event_from(
            {
                "schemaName": "api_calls",
                "id": f"e{n}-{m}",
                "accountId": f"c{n:04d}",
                "timestamp": f"2024-{m:02d}-15T00:00:00Z",
                "dimensions": {"region": "us"},
                "attributes": [{"name": "calls", "value": str(n + m)}],
            }
        )
        for n in range(accounts)
        for m in range(1, 7)
    ]
    for i in range(0, len(events), 1000):
        with unit_of_work(factory) as session:
            ctx = Context(session=session, org=session.get(Organization, org.id), now=datetime(2024, 6, 20, tzinfo=UTC))
            ingestion(ctx).ingest(events[i : i + 1000])
    return org


def bill_run(db_url: str, org: Organization) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterline.cli",
            "bill-run",
            "--json",
            "--as-of",
            AS_OF,
            "--org-id",
            org.id,
            "--database-url",
            db_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )


def finalized(factory: sessionmaker[Session], org: Organization) -> int:
    with unit_of_work(factory, write=False) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.org_id == org.id, Invoice.status != "DRAFT")
            )
            or 0
        )


def invoices(factory: sessionmaker[Session], org: Organization) -> list[tuple[Any, ...]]:
    """What a customer sees, by account and period (ids and instants of the run aside)."""
    from meterline.accounts.models import Account

    with unit_of_work(factory, write=False) as session:
        rows = session.execute(
            select(
                Account.id,
                Invoice.start_at,
                Invoice.invoice_type,
                Invoice.status,
                Invoice.sequence_id,
                Invoice.total_amount,
                Invoice.lines,
                Invoice.usage,
                Invoice.invoice_date,
                Invoice.due_date,
            )
            .join(Account, Account.pk == Invoice.account_pk)
            .where(Invoice.org_id == org.id)
        ).all()
    return sorted((*r[:6], _shape(r[6]), _shape(r[7]), *r[8:]) for r in rows)


def _shape(tree: Any) -> Any:
    """A line tree without ids and names (each organization has its own meter and add-on ids)."""
    if tree is None or isinstance(tree, str):
        return None if tree is None else _shape(json.loads(tree))
    if isinstance(tree, list):
        return [_shape(t) for t in tree]
    return (tree["type"], tree["value"], tree.get("quantity"), _shape(tree["lineItems"]))


def test_a_bill_run_killed_mid_way_then_run_again_equals_an_uninterrupted_one(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    # Given two identical companies of 400 accounts: 2,400 invoices each to finalize
    interrupted, clean = company(session_factory, 400), company(session_factory, 400)

    # When the first one's bill run is killed (-9) once some invoices are final
    process = bill_run(db_url, interrupted)
    deadline = time.monotonic() + 120
    while finalized(session_factory, interrupted) == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = finalized(session_factory, interrupted)
    assert 0 < partial < 2400, f"the kill came at {partial} invoices: the test proves nothing"
    assert partial % 200 == 0  # whole chunks only

    # And it is run again, while the other company's run is never interrupted
    for org in (interrupted, clean):
        done = bill_run(db_url, org)
        out, err = done.communicate(timeout=300)
        assert done.returncode == 0, err
    # Then both have the same invoices, numbered 1 to 2,400 without a gap
    got = invoices(session_factory, interrupted)
    assert got == invoices(session_factory, clean)
    final = [r for r in got if r[3] != "DRAFT"]
    assert sorted(int(r[4].split("-")[1]) for r in final) == list(range(1, 2401))
    assert {r[3] for r in final} == {"DUE"} and len(got) == 2800  # and July's 400 drafts, begun at as-of
    c0001_june = next(r for r in got if r[0] == "c0001" and r[1] == datetime(2024, 6, 1, tzinfo=UTC))
    assert c0001_june[5] == Decimal("16.99")  # 7 calls x 1.00 + the 9.99 fee

    # And a further run finalizes nothing and changes nothing
    again = bill_run(db_url, interrupted)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0 and json.loads(out) == {
        "asOf": AS_OF,
        "syncedAccounts": 400,
        "finalized": 0,
        "failures": [],
        "composites": [],  # no invoice group here
    }
    assert invoices(session_factory, interrupted) == got


def test_two_bill_runs_at_once_share_the_work(db_url: str, session_factory: sessionmaker[Session]) -> None:
    """Several workers may run together (on PostgreSQL they split the chunks; on SQLite they take turns): every
    invoice is finalized once and the numbers have no gap and no repeat."""
    org = company(session_factory, 200)
    runs = [bill_run(db_url, org) for _ in range(2)]
    counts = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        counts.append(json.loads(out)["finalized"])
    assert sum(counts) == 1200
    numbers = sorted(int(r[4].split("-")[1]) for r in invoices(session_factory, org) if r[3] != "DRAFT")
    assert numbers == list(range(1, 1201))
