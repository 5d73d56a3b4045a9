"""A billing world for service tests: an organization with the metering catalog of test_ingestion, whose clock the
test moves (each step one unit of work at an instant), and helpers to make plans, fees and schedules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.catalog.addon_schemas import CreateAddOnRequest
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_schemas import CreatePricePlanRequest
from meterline.catalog.plan_service import PricePlanService
from meterline.core.db import unit_of_work
from meterline.invoicing.builder import Line
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import bill_runs
from meterline.usecases.events import ingestion
from meterline.usecases.schedules import edit_schedules
from tests.conftest import new_org
from tests.service.test_ingestion import event, setup_catalog

UTC = timezone.utc
D = Decimal


def t(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


class World:
    """An organization whose clock the test moves: each step is one unit of work at an instant."""

    def __init__(self, factory: sessionmaker[Session], org: Organization, meter_id: str) -> None:
        self.factory, self.org, self.meter_id = factory, org, meter_id

    @contextmanager
    def at(self, now: datetime) -> Iterator[Context]:
        with unit_of_work(self.factory) as session:
            yield Context(session=session, org=session.get(Organization, self.org.id), now=now)

    def bill_run(self, as_of: datetime) -> int:
        result = bill_runs.run(self.factory, as_of, now=as_of, org_id=self.org.id)
        assert not result.failures, result.failures
        return result.finalized

    def ingest(self, now: datetime, *events: tuple[str, datetime, str]) -> list[str]:
        with self.at(now) as ctx:
            return [r.status for r in ingestion(ctx).ingest([event(i, at, calls) for i, at, calls in events])]

    def invoices(self) -> list[dict[str, Any]]:
        """Every invoice as plain values, in number order (drafts last), with its lines computed as a reader sees."""
        with self.at(t(1, 1)) as ctx:
            service = InvoiceService(ctx)
            rows = list(ctx.session.scalars(select(Invoice).where(Invoice.org_id == self.org.id)))
            out = []
            for row in sorted(
                rows, key=lambda i: (i.sequence_number is None, i.sequence_number or 0, i.start_at, i.invoice_type)
            ):
                revenue, usage, _details, total = service.view(row)
                out.append(
                    {
                        "id": row.pk,
                        "type": row.invoice_type,
                        "status": row.status,
                        "number": row.sequence_id,
                        "start": row.start_at,
                        "end": row.end_at,
                        "total": total,
                        "revenue": revenue,
                        "usage": usage,
                        "due": row.due_date,
                        "date": row.invoice_date,
                    }
                )
            return out


def make_world(session_factory: sessionmaker[Session]) -> World:
    org = new_org(session_factory)
    with unit_of_work(session_factory) as session:
        meter_id = setup_catalog(Context(session=session, org=session.get(Organization, org.id), now=t(1, 1)))
    return World(session_factory, org, meter_id)


def lines(root: Line) -> dict[str, Decimal]:
    """type -> value for the aggregates, id -> value for the rest (cards, slabs, charges)."""
    out = {}
    for line in root.walk():
        out[line.type if line.id == line.type or line.type in ("TRUE_UP_AMOUNT",) else line.id] = line.value
    return out


def tiered_card(meter_id: str) -> dict[str, Any]:
    """billing-rules D4's worked example: 1.00 up to 100, 0.50 up to 1000, then a FLAT 200."""
    return {
        "displayName": "API calls",
        "usageMeterId": meter_id,
        "ratePlan": {
            "pricingModel": "TIERED",
            "slabs": [
                {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
                {"order": 2, "startAfter": 100, "priceType": "PER_UNIT"},
                {"order": 3, "startAfter": 1000, "priceType": "FLAT"},
            ],
        },
        "rateValues": [
            {
                "currency": "USD",
                "slabRates": [
                    {"order": 1, "rate": D("1.00")},
                    {"order": 2, "rate": D("0.50")},
                    {"order": 3, "rate": D("200")},
                ],
            }
        ],
    }


def make_plan(ctx: Context, name: str, **details: Any) -> str:
    body = {
        "name": name,
        "pricePlanDetails": {
            "supportedCurrencies": ["USD"],
            "pricingCycleConfig": {
                "interval": "MONTHLY",
                "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                "gracePeriod": details.pop("grace", 5),
            },
            **details,
        },
    }
    service = PricePlanService(ctx)
    plan = service.create(CreatePricePlanRequest.model_validate(body))
    service.activate(plan.plan.id, ["USD"])
    return plan.plan.id


def fee(ctx: Context, name: str, rate: str, **card: Any) -> dict[str, Any]:
    addon = AddOnService(ctx).create(CreateAddOnRequest(name=name, type="FIXED_FEE"))
    return {"id": addon.id, "rateValues": [{"currency": "USD", "rate": D(rate)}], "enableProration": False, **card}


def associate(ctx: Context, plan_id: str, start: str, until: str = "9999-01-01") -> None:
    edit_schedules(
        ctx,
        "acme",
        [
            UpdatePricingScheduleRequest.model_validate(
                {"pricePlanId": plan_id, "effectiveFrom": start, "effectiveUntil": until}
            )
        ],
    )
