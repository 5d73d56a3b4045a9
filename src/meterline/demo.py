"""`meterline demo`: a new organization filled with a realistic company, so that a newcomer sees a living console.

"Northwind Analytics (demo)" sells an analytics API. It has two event schemas, three usage meters, three price
plans (Starter, Growth, Enterprise), ten customers with fourteen accounts (ten in USD, four in EUR), three months
of events and the current month up to now, invoices (paid, due, one partly paid), credits, seats and a wallet.

Everything goes through the services the API uses, each step one unit of work at a simulated instant, in time
order, as if the company had run on Meterline for three months:
- on setup day (three days before the first month): the catalog, the customers, their schedules (every account on
  a plan from the 1st of the month three months ago), two promotional credits, seats and a wallet top-up;
- then day after day: that day's events are ingested at 23:55 of the day (the current day: now), so that each
  event arrives while its cycle is open; on the 16th of the second month one account upgrades from Starter to
  Growth; when a month's grace period ends (the 4th of the next month, 01:00) a bill run finalizes its invoices,
  and the invoices of the month before are marked PAID (one is left DUE: it is overdue);
- at the end (now): a payment for half of one of the last finalized month's invoices (PARTIALLY_PAID).

It is deterministic for a seed and a given "now" (random.Random(seed)); `scale` multiplies the number of events
(1.0: about 25,000).
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.schemas import CreateAccountRequestWithoutCustomerId
from meterline.accounts.service import AccountService
from meterline.catalog.addon_schemas import AddOnType, CreateAddOnRequest
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_schemas import CreatePricePlanRequest
from meterline.catalog.plan_service import PricePlanService
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.errors import Conflict
from meterline.core.pagination import PageRequest
from meterline.core.schemas import Address
from meterline.credits.service import Grant
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.events.wire import Event, event_from
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import DUE, PAID, InvoiceService
from meterline.licenses.schemas import LicenseUpdateRequest
from meterline.licenses.service import LicenseService
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    DimensionsSchema,
    EventAttributeSchema,
    UsageMeterFilterEntry,
)
from meterline.payments.schemas import CreatePaymentRequest
from meterline.payments.service import PaymentService
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.tenancy.service import TenancyService
from meterline.usecases import balances, bill_runs
from meterline.usecases.events import ingestion
from meterline.usecases.schedules import edit_schedules

UTC = timezone.utc
D = Decimal
ORG_NAME = "Northwind Analytics (demo)"
EMAIL = "demo@northwind.example"
GRACE_DAYS = 3  # the plans' grace period: a month's invoices are final on the 4th of the next month
NET_TERMS = 15  # days from invoice date to due date
MONTHS = 3  # whole months of history before the current one
BATCH = 1000  # events per ingest call (the API's limit)
UNKNOWN_ACCOUNT = "nw-legacy-7731"  # a decommissioned integration that still sends events: they fail

Progress = Callable[[str, int, int], None]  # (phase, done, total)


# -- the company -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoAccount:
    id: str
    name: str
    currency: str
    plan: str  # Starter, Growth or Enterprise
    events_per_day: int  # api_call events on a weekday of the first month, at scale 1
    requests_per_event: int  # mean
    gigabytes_per_day: Decimal  # mean data stored a day
    growth: float  # month over month
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoCustomer:
    id: str
    name: str
    email: str
    address: dict[str, str]
    accounts: tuple[DemoAccount, ...]  # the first is the default account (USD, the customer's id)


def _a(line1: str, city: str, postal: str, country: str, state: str | None = None) -> dict[str, str]:
    address = {"line1": line1, "city": city, "postalCode": postal, "country": country}
    if state:
        address["state"] = state
    return address


CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        "acme-robotics",
        "Acme Robotics Inc.",
        "ap@acme-robotics.example",
        _a("500 Terry A Francois Blvd", "San Francisco", "94158", "US", "CA"),
        (
            DemoAccount(
                "acme-robotics",
                "Acme Robotics Inc.",
                "USD",
                "Enterprise",
                38,
                8200,
                D("42"),
                0.12,
                aliases=("acme-prod-cluster",),
            ),
        ),
    ),
    DemoCustomer(
        "bluefin-logistics",
        "Bluefin Logistics",
        "billing@bluefin.example",
        _a("1200 Harbor Way", "Seattle", "98101", "US", "WA"),
        (
            DemoAccount("bluefin-logistics", "Bluefin Logistics", "USD", "Growth", 24, 1900, D("14"), 0.08),
            DemoAccount("bluefin-eu", "Bluefin Logistics Europe", "EUR", "Growth", 16, 1500, D("9"), 0.10),
        ),
    ),
    DemoCustomer(
        "cedar-pine",
        "Cedar & Pine Studio",
        "hello@cedarpine.example",
        _a("88 Maple Street", "Portland", "97205", "US", "OR"),
        (DemoAccount("cedar-pine", "Cedar & Pine Studio", "USD", "Starter", 9, 480, D("1.5"), 0.15),),
    ),
    DemoCustomer(
        "driftwood-health",
        "Driftwood Health",
        "finance@driftwood.example",
        _a("42 Beacon Street", "Boston", "02108", "US", "MA"),
        (DemoAccount("driftwood-health", "Driftwood Health", "USD", "Growth", 14, 1100, D("6"), 0.05),),
    ),
    DemoCustomer(
        "evergreen-foods",
        "Evergreen Foods GmbH",
        "rechnung@evergreen-foods.example",
        _a("Friedrichstraße 68", "Berlin", "10117", "DE"),
        (
            DemoAccount("evergreen-foods", "Evergreen Foods (US)", "USD", "Starter", 7, 420, D("1"), 0.04),
            DemoAccount("evergreen-eu", "Evergreen Foods GmbH", "EUR", "Growth", 20, 1700, D("11"), 0.09),
        ),
    ),
    DemoCustomer(
        "fjord-analytics",
        "Fjord Analytics AS",
        "faktura@fjord.example",
        _a("Karl Johans gate 22", "Oslo", "0159", "NO"),
        (
            DemoAccount("fjord-analytics", "Fjord Analytics (US)", "USD", "Starter", 6, 390, D("0.8"), 0.06),
            DemoAccount("fjord-eu", "Fjord Analytics AS", "EUR", "Starter", 11, 520, D("1.2"), 0.10),
        ),
    ),
    DemoCustomer(
        "granite-payments",
        "Granite Payments",
        "accounts@granitepay.example",
        _a("350 Fifth Avenue", "New York", "10118", "US", "NY"),
        (
            DemoAccount(
                "granite-payments",
                "Granite Payments",
                "USD",
                "Enterprise",
                30,
                6900,
                D("35"),
                0.07,
                aliases=("granite-tenant-88",),
            ),
        ),
    ),
    DemoCustomer(
        "harbor-co",
        "Harbor & Co",
        "owner@harborco.example",
        _a("17 Wharf Road", "Charleston", "29401", "US", "SC"),
        (DemoAccount("harbor-co", "Harbor & Co", "USD", "Starter", 5, 350, D("0.5"), 0.03),),
    ),
    DemoCustomer(
        "ion-mobility",
        "Ion Mobility",
        "billing@ionmobility.example",
        _a("2100 Congress Avenue", "Austin", "78701", "US", "TX"),
        (DemoAccount("ion-mobility", "Ion Mobility", "USD", "Starter", 10, 700, D("3"), 0.35),),
    ),
    DemoCustomer(
        "juniper-learning",
        "Juniper Learning",
        "ops@juniperlearning.example",
        _a("901 Lakeshore Drive", "Chicago", "60611", "US", "IL"),
        (
            DemoAccount("juniper-learning", "Juniper Learning", "USD", "Starter", 8, 450, D("1"), 0.10),
            DemoAccount("juniper-eu", "Juniper Learning EU", "EUR", "Starter", 6, 400, D("0.7"), 0.12),
        ),
    ),
)
UPGRADE = "ion-mobility"  # Starter -> Growth on the 16th of the second month
CREDITS = (  # (account, purpose, amount, until the end of the first month?)
    ("cedar-pine", "Welcome credit", D("100.00"), True),
    ("evergreen-eu", "Migration credit", D("300.00"), False),
)
WALLET = ("harbor-co", D("250.00"))
SEATS = {"acme-robotics": (40, 50), "granite-payments": (25, 25)}  # seats from the start, from the 1st of month 3
OVERDUE = "driftwood-health"  # its invoice of the last paid month is left DUE
PARTLY_PAID = "granite-payments"  # half of its invoice of the last finalized month is paid at the end

REGIONS = (("us-east", 0.55), ("eu-west", 0.30), ("ap-south", 0.15))
EU_REGIONS = (("eu-west", 0.80), ("us-east", 0.15), ("ap-south", 0.05))
ENDPOINTS = (("/v1/query", 0.50), ("/v1/ingest", 0.25), ("/v1/reports", 0.15), ("/v1/export", 0.10))
WEEKDAY = (1.0, 1.06, 1.08, 1.04, 0.93, 0.42, 0.36)  # Monday first


# -- what the run made -------------------------------------------------------------------------------------------
@dataclass
class DemoResult:
    org_id: str = ""
    email: str = ""
    password: str = ""
    api_key: str = ""
    customers: int = 0
    accounts: dict[str, int] = field(default_factory=dict)  # currency -> accounts
    plans: list[str] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)  # status -> events
    invoices: Counter[str] = field(default_factory=Counter)  # status -> invoices (finalized and drafts)
    start: date | None = None  # the first day of history


# -- building ----------------------------------------------------------------------------------------------------
def _first_of_month(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


class Builder:
    def __init__(
        self, factory: sessionmaker[Session], *, seed: int, scale: float, now: datetime, progress: Progress | None
    ) -> None:
        self.factory, self.scale, self.now, self.progress = factory, scale, now, progress
        self.rng = random.Random(seed)  # nosec B311 - made-up demo data, reproducible by seed; nothing secret
        self.result = DemoResult()
        today = now.date()
        self.start = _first_of_month(today, MONTHS)
        self.months = [_first_of_month(today, back) for back in range(MONTHS, -1, -1)]  # the current one last
        self.result.start = self.start
        self.meters: dict[str, str] = {}
        self.addons: dict[str, str] = {}
        self.plans: dict[str, str] = {}
        self.finalized: list[date] = []  # months whose invoices are final
        self.last_final = max((m for m in self.months[:-1] if self._grace_run(m) <= now), default=None)

    @contextmanager
    def at(self, instant: datetime) -> Iterator[Context]:
        with unit_of_work(self.factory) as session:
            yield Context(session=session, org=session.get_one(Organization, self.result.org_id), now=instant)

    # -- setup day ---------------------------------------------------------------------------------------------
    def organization(self, instant: datetime) -> None:
        with unit_of_work(self.factory) as session:
            tenancy = TenancyService(session)
            org = tenancy.create_organization(
                name=ORG_NAME, base_currency="USD", timezone="UTC", net_term_days=NET_TERMS, now=instant
            )
            self.result.password = secrets.token_urlsafe(12)
            for n in range(1, 1000):  # emails are unique across organizations: a second demo takes demo+2@...
                email = EMAIL if n == 1 else EMAIL.replace("@", f"+{n}@")
                try:
                    tenancy.create_user(
                        org=org, email=email, password=self.result.password, now=instant, name="Demo Admin"
                    )
                except Conflict:
                    continue
                self.result.email = email
                break
            else:
                raise Conflict(f"{EMAIL} and its 998 variants are all taken: remove some demo users")
            self.result.api_key = tenancy.create_api_key(org=org, now=instant, name="demo").token
            self.result.org_id = org.id

    def catalog(self, ctx: Context) -> None:
        schemas = EventSchemaService(ctx)
        schemas.create(
            CreateEventSchemaRequest(
                name="api_call",
                description="A batch of API requests served to a customer's application",
                attributes=[EventAttributeSchema(name="requests")],
                dimensions=[DimensionsSchema(name="region"), DimensionsSchema(name="endpoint")],
            )
        )
        schemas.activate("api_call")
        schemas.create(
            CreateEventSchemaRequest(
                name="storage",
                description="Data written to a customer's warehouse",
                attributes=[EventAttributeSchema(name="gigabytes", default_unit="GB")],
                dimensions=[DimensionsSchema(name="region")],
            )
        )
        schemas.activate("storage")
        meters = UsageMeterService(ctx)
        for key, request in (
            (
                "requests",
                CreateUsageMeterRequest(
                    name="API requests",
                    billable_name="API requests",
                    description="Requests served, all regions",
                    type="COUNTER",
                    aggregation="SUM",
                    event_schema_name="api_call",
                    computations=[Computation(order=1, computation='{"var":"attribute.requests"}')],
                ),
            ),
            (
                "storage",
                CreateUsageMeterRequest(
                    name="Data stored",
                    billable_name="Data stored (GB)",
                    description="Gigabytes written",
                    type="COUNTER",
                    aggregation="SUM",
                    event_schema_name="storage",
                    computations=[Computation(order=1, computation='{"var":"attribute.gigabytes"}')],
                ),
            ),
            (
                "eu_calls",
                CreateUsageMeterRequest(
                    name="EU API calls",
                    description="API call events served from the EU region",
                    type="COUNTER",
                    aggregation="COUNT",
                    event_schema_name="api_call",
                    filters=[UsageMeterFilterEntry(field="region", value="eu-west")],
                ),
            ),
        ):
            meter = meters.create(request)
            meters.activate(meter.id)
            self.meters[key] = meter.id
        addons = AddOnService(ctx)
        kinds: tuple[tuple[str, str, AddOnType], ...] = (
            ("platform", "Platform fee", "FIXED_FEE"),
            ("support", "Premium support", "FIXED_FEE"),
            ("seats", "Seats", "LICENSE"),
        )
        for key, name, kind in kinds:
            self.addons[key] = addons.create(CreateAddOnRequest(name=name, type=kind)).id
        plans = PricePlanService(ctx)
        for name, description, currencies, details in self._plans():
            body = {
                "name": name,
                "description": description,
                "pricePlanDetails": {
                    "supportedCurrencies": list(currencies),
                    "pricingCycleConfig": {
                        "interval": "MONTHLY",
                        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                        "gracePeriod": GRACE_DAYS,
                    },
                    **details,
                },
            }
            plan = plans.create(CreatePricePlanRequest.model_validate(body))
            plans.activate(plan.plan.id, list(currencies))
            self.plans[name] = plan.plan.id
            self.result.plans.append(name)

    def _plans(self) -> list[tuple[str, str, tuple[str, ...], dict[str, Any]]]:
        requests, storage = self.meters["requests"], self.meters["storage"]

        def fee(key: str, **rates: str) -> dict[str, Any]:
            return {
                "id": self.addons[key],
                "enableProration": True,
                "rateValues": [{"currency": c, "rate": D(r)} for c, r in rates.items()],
            }

        def slabs(
            model: str, starts: list[tuple[int, str]], rates: dict[str, list[str]], config: dict[str, str] | None = None
        ) -> dict[str, Any]:
            extra = {"slabConfig": config} if config else {}
            plan = [
                {"order": i + 1, "startAfter": after, "priceType": kind, **extra}
                for i, (after, kind) in enumerate(starts)
            ]
            values = [
                {"currency": c, "slabRates": [{"order": i + 1, "rate": D(r)} for i, r in enumerate(by_slab)]}
                for c, by_slab in rates.items()
            ]
            return {"ratePlan": {"pricingModel": model, "slabs": plan}, "rateValues": values}

        starter = {
            "usageRateCards": [
                {
                    "displayName": "API requests",
                    "usageMeterId": requests,
                    **slabs(
                        "TIERED",
                        [(0, "PER_UNIT"), (50_000, "PER_UNIT"), (500_000, "PER_UNIT")],
                        {"USD": ["0", "0.0004", "0.0003"], "EUR": ["0", "0.00037", "0.00028"]},
                    ),
                }
            ],
            "fixedFeeRateCards": [fee("platform", USD="49", EUR="45")],
        }
        growth = {
            "usageRateCards": [
                {
                    "displayName": "API requests",
                    "usageMeterId": requests,
                    **slabs(
                        "VOLUME",
                        [(0, "PER_UNIT"), (1_000_000, "PER_UNIT")],
                        {"USD": ["0.0003", "0.00025"], "EUR": ["0.00028", "0.00023"]},
                    ),
                },
                {
                    "displayName": "Data stored",
                    "usageMeterId": storage,
                    **slabs("TIERED", [(0, "PER_UNIT")], {"USD": ["0.10"], "EUR": ["0.09"]}),
                },
            ],
            "fixedFeeRateCards": [fee("platform", USD="199", EUR="185")],
            "minimumCommitment": {
                "displayName": "Monthly minimum",
                "rateValues": [{"currency": "USD", "rate": D("500")}, {"currency": "EUR", "rate": D("460")}],
            },
        }
        enterprise = {
            "usageRateCards": [
                {
                    "displayName": "API requests (per 10,000)",
                    "usageMeterId": requests,
                    **slabs("VOLUME", [(0, "PACKAGE")], {"USD": ["1.50"]}, {"packageSize": "10000"}),
                },
                {
                    "displayName": "Data stored",
                    "usageMeterId": storage,
                    **slabs("TIERED", [(0, "PER_UNIT")], {"USD": ["0.08"]}),
                },
            ],
            "fixedFeeRateCards": [fee("platform", USD="1500"), fee("support", USD="400")],
            "licenseRateCards": [
                {
                    "id": self.addons["seats"],
                    "displayName": "Seats",
                    "enableProration": False,
                    **slabs("VOLUME", [(0, "PER_UNIT")], {"USD": ["25"]}),
                }
            ],
            "minimumCommitment": {
                "displayName": "Annual commitment, monthly",
                "rateValues": [{"currency": "USD", "rate": D("3000")}],
            },
        }
        return [
            ("Starter", "For small teams: 50,000 requests a month included", ("USD", "EUR"), starter),
            ("Growth", "Volume pricing, storage and a monthly minimum", ("USD", "EUR"), growth),
            (
                "Enterprise",
                "Packages of 10,000 requests, seats, premium support and a commitment",
                ("USD",),
                enterprise,
            ),
        ]

    def customers(self, ctx: Context) -> None:
        service = CustomerService(ctx)
        accounts = AccountService(ctx)
        for customer in CUSTOMERS:
            default, *others = customer.accounts
            service.create(
                CreateCustomerRequest.model_validate(
                    {
                        "id": customer.id,
                        "name": customer.name,
                        "primaryEmail": customer.email,
                        "address": customer.address,
                        "account": {
                            "id": default.id,
                            "name": default.name,
                            "invoiceCurrency": default.currency,
                            **({"aliases": list(default.aliases)} if default.aliases else {}),
                        },
                    }
                )
            )
            self.result.customers += 1
            for account in others:
                accounts.create_for(
                    service.get(customer.id),
                    CreateAccountRequestWithoutCustomerId.model_validate(
                        {
                            "id": account.id,
                            "name": account.name,
                            "invoiceCurrency": account.currency,
                            "primaryEmail": customer.email,
                            "address": Address.model_validate(customer.address).model_dump(
                                by_alias=True, exclude_none=True
                            ),
                            **({"aliases": list(account.aliases)} if account.aliases else {}),
                        }
                    ),
                )
            for account in customer.accounts:
                self.result.accounts[account.currency] = self.result.accounts.get(account.currency, 0) + 1

    def _schedule(self, ctx: Context, account_id: str, plan: str, start: date) -> None:
        edit = UpdatePricingScheduleRequest.model_validate(
            {"pricePlanId": self.plans[plan], "effectiveFrom": start.isoformat(), "effectiveUntil": "9999-01-01"}
        )
        edit_schedules(ctx, account_id, [edit])

    def setup(self) -> None:
        instant = _at(self.start - timedelta(days=3), 10)
        self.organization(instant)
        with self.at(instant) as ctx:
            self.catalog(ctx)
        with self.at(instant + timedelta(minutes=20)) as ctx:
            self.customers(ctx)
        with self.at(instant + timedelta(minutes=40)) as ctx:
            for account in self.accounts():
                self._schedule(ctx, account.id, account.plan, self.start)
            for account_id, (seats, _) in SEATS.items():
                LicenseService(ctx).update(
                    LicenseUpdateRequest.model_validate(
                        {
                            "licenseId": self.addons["seats"],
                            "accountId": account_id,
                            "updateType": "ABSOLUTE",
                            "quantity": seats,
                            "effectiveFrom": _at(self.start),
                        }
                    )
                )
            end_of_first = self.months[1] - timedelta(days=1)
            balances.credits(ctx).grant(
                [
                    Grant(
                        account_id=account_id,
                        purpose=purpose,
                        amount=amount,
                        priority=1,
                        effective_from=self.start,
                        effective_until=end_of_first if first_month_only else None,
                    )
                    for account_id, purpose, amount, first_month_only in CREDITS
                ]
            )
            balances.wallet(ctx).top_up(WALLET[0], WALLET[1], "Prepaid top-up")

    # -- history -----------------------------------------------------------------------------------------------
    @staticmethod
    def accounts() -> list[DemoAccount]:
        return [a for c in CUSTOMERS for a in c.accounts]

    def _events_of(self, day: date, until: datetime) -> list[Event]:
        """The day's events, in time order, from 00:00 to `until` (at most 23:50)."""
        rng = self.rng
        elapsed = (day - self.start).days / 30.4  # months since the start
        weekday = WEEKDAY[day.weekday()]
        seconds = int(min((until - _at(day)).total_seconds(), 23 * 3600 + 50 * 60))
        if seconds <= 0:
            return []
        share = seconds / 86_400  # the part of the day that has passed
        made: list[tuple[datetime, dict[str, Any]]] = []
        for account in self.accounts():
            trend = (1 + account.growth) ** elapsed
            expected = account.events_per_day * weekday * trend * self.scale * share * rng.uniform(0.8, 1.2)
            count = int(expected) + (rng.random() < expected - int(expected))
            regions = EU_REGIONS if account.currency == "EUR" else REGIONS
            for n in range(count):
                at = _at(day) + timedelta(seconds=rng.randrange(seconds))
                sender = account.aliases[0] if account.aliases and rng.random() < 0.3 else account.id
                requests = max(1, int(rng.lognormvariate(0, 0.45) * account.requests_per_event * trend**0.3))
                made.append(
                    (
                        at,
                        {
                            "schemaName": "api_call",
                            "id": f"{account.id}-{day:%Y%m%d}-{n:04d}",
                            "accountId": sender,
                            "attributes": [{"name": "requests", "value": str(requests)}],
                            "dimensions": {"region": _weighted(rng, regions), "endpoint": _weighted(rng, ENDPOINTS)},
                        },
                    )
                )
            if _at(day, 23, 30) < until:  # the nightly storage report
                factor = D(f"{rng.uniform(0.6, 1.4) * trend:.3f}")  # the noise and the trend, as an exact factor
                gigabytes = (account.gigabytes_per_day * factor).quantize(D("0.01"), ROUND_HALF_UP)
                made.append(
                    (
                        _at(day, 23, 30),
                        {
                            "schemaName": "storage",
                            "id": f"{account.id}-{day:%Y%m%d}-storage",
                            "accountId": account.id,
                            "attributes": [{"name": "gigabytes", "value": str(gigabytes)}],
                            "dimensions": {"region": regions[0][0]},
                        },
                    )
                )
        if rng.random() < 0.2:  # a decommissioned integration still sends a few events: they fail
            for n in range(rng.randint(1, 4)):
                made.append(
                    (
                        _at(day) + timedelta(seconds=rng.randrange(seconds)),
                        {
                            "schemaName": "api_call",
                            "id": f"legacy-{day:%Y%m%d}-{n}",
                            "accountId": UNKNOWN_ACCOUNT,
                            "attributes": [{"name": "requests", "value": "25"}],
                            "dimensions": {"region": "us-east", "endpoint": "/v1/query"},
                        },
                    )
                )
        made.sort(key=lambda item: item[0])
        return [event_from({**body, "timestamp": at.isoformat()}) for at, body in made]

    def ingest(self, day: date) -> None:
        last = day == self.now.date()
        instant = self.now if last else _at(day, 23, 55)
        events = self._events_of(day, instant - timedelta(minutes=5) if last else _at(day, 23, 50))
        for i in range(0, len(events), BATCH):
            with self.at(instant) as ctx:
                for result in ingestion(ctx).ingest(events[i : i + BATCH]):
                    self.result.events[result.status] += 1

    def upgrade(self, day: date) -> None:
        with self.at(_at(day, 9)) as ctx:
            self._schedule(ctx, UPGRADE, "Growth", day)

    def more_seats(self, day: date) -> None:
        with self.at(_at(day, 9, 30)) as ctx:
            for account_id, (before, after) in SEATS.items():
                if after != before:
                    LicenseService(ctx).update(
                        LicenseUpdateRequest.model_validate(
                            {
                                "licenseId": self.addons["seats"],
                                "accountId": account_id,
                                "updateType": "ABSOLUTE",
                                "quantity": after,
                                "effectiveFrom": _at(day),
                            }
                        )
                    )

    def _invoices_of(self, ctx: Context, month: date, status: str) -> list[Invoice]:
        end = _first_of_month(month, -1)
        service, found, after = InvoiceService(ctx), [], None
        while True:
            page = service.page(
                PageRequest(size=500, after=after),
                status=status,
                account_id=None,
                customer_id=None,
                start=_at(month),
                end=_at(end),
            )
            found += page.items
            if page.next_token is None:
                return found
            after = page.items[-1].pk

    def bill_run(self, month: date, as_of: datetime) -> None:
        """The run that finalizes `month`; then the customers pay the month before's invoices, except one, left
        overdue, when that month is the last one paid."""
        failures = bill_runs.run(self.factory, as_of, now=as_of, org_id=self.result.org_id).failures
        if failures:  # the demo's own data bills cleanly: a failure is a bug to see, not to skip
            raise RuntimeError(f"demo bill run failed: {failures[0]}")
        self.finalized.append(month)
        if len(self.finalized) < 2:
            return
        with self.at(min(as_of + timedelta(hours=8), self.now)) as ctx:
            service = InvoiceService(ctx)
            for invoice in self._invoices_of(ctx, self.finalized[-2], DUE):
                if month == self.last_final and service.account_of(invoice).id == OVERDUE:
                    continue
                service.update(invoice.pk, PAID, {})

    @staticmethod
    def _grace_run(month: date) -> datetime:
        """When the bill run that finalizes `month` happens: 01:00 the day its grace period ends."""
        return _at(_first_of_month(month, -1) + timedelta(days=GRACE_DAYS), 1)

    def partial_payment(self) -> None:
        if not self.finalized:
            return
        with self.at(self.now) as ctx:
            found = [
                i
                for i in self._invoices_of(ctx, self.finalized[-1], DUE)
                if InvoiceService(ctx).account_of(i).id == PARTLY_PAID and (i.total_amount or 0) > 0
            ]
            if not found:
                return
            invoice = found[0]
            half = ((invoice.total_amount or D(0)) / 2).quantize(D("0.01"), ROUND_HALF_UP)
            PaymentService(ctx).create(
                CreatePaymentRequest.model_validate(
                    {
                        "accountId": PARTLY_PAID,
                        "currency": invoice.currency,
                        "totalAmount": half,
                        "description": "First instalment",
                        "externalPaymentReference": {
                            "sourceName": "Bank of Northwind",
                            "sourceType": "BANK_TRANSFER",
                            "transactionNumber": f"TRX-{self.rng.randrange(10**8):08d}",
                        },
                        "lineItemRecords": [{"type": "INVOICE", "togaiId": invoice.pk, "amount": half, "order": 1}],
                    }
                )
            )

    def history(self) -> None:
        upgrade_day = self.months[1] + timedelta(days=15)
        seats_day = self.months[2]
        runs = {self._grace_run(m).date(): m for m in self.months[:-1]}
        days = (self.now.date() - self.start).days + 1
        for n in range(days):
            day = self.start + timedelta(days=n)
            if day in runs and self._grace_run(runs[day]) <= self.now:
                self.bill_run(runs[day], self._grace_run(runs[day]))
            if day == upgrade_day:
                self.upgrade(day)
            if day == seats_day:
                self.more_seats(day)
            self.ingest(day)
            if self.progress:
                self.progress("events", n + 1, days)
        self.partial_payment()

    def summary(self) -> None:
        with unit_of_work(self.factory, write=False) as session:
            ctx = Context(session=session, org=session.get_one(Organization, self.result.org_id), now=self.now)
            service, after = InvoiceService(ctx), None
            while True:
                page = service.page(
                    PageRequest(size=500, after=after),
                    status=None,
                    account_id=None,
                    customer_id=None,
                    start=None,
                    end=None,
                )
                for invoice in page.items:
                    self.result.invoices[invoice.status] += 1
                if page.next_token is None:
                    break
                after = page.items[-1].pk


def build(
    factory: sessionmaker[Session],
    *,
    seed: int = 7,
    scale: float = 1.0,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Create a new demo organization (never touching others) and return what was made."""
    builder = Builder(factory, seed=seed, scale=scale, now=now or utc_now(), progress=progress)
    builder.setup()
    builder.history()
    builder.summary()
    return builder.result


# -- the command's output ----------------------------------------------------------------------------------------
def build_with_progress(factory: sessionmaker[Session], console: Console, *, seed: int, scale: float) -> DemoResult:
    """`build` with a progress bar over the days of history on `console` (gone once done)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("days of history", total=None)
        return build(
            factory,
            seed=seed,
            scale=scale,
            progress=lambda _phase, done, total: bar.update(task, completed=done, total=total),
        )


def print_summary(made: DemoResult, console: Console, base_url: str) -> None:
    """What `meterline init` prints (plain lines, each copiable), then what the organization holds."""
    from rich.table import Table

    console.print(f"[bold green]Demo organization created:[/bold green] {ORG_NAME}")
    console.print(f"  organization   {made.org_id} (base currency USD, timezone UTC, history from {made.start})")
    console.print(f"  console user   {made.email}   password: {made.password}")
    console.print(f"  API key        {made.api_key}   (shown once)")
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 2))
    table.add_row("customers", str(made.customers))
    table.add_row(
        "accounts", ", ".join(f"{n} in {c}" for c, n in sorted(made.accounts.items(), key=lambda i: (-i[1], i[0])))
    )
    table.add_row("price plans", ", ".join(made.plans))
    failed = sum(n for status, n in made.events.items() if "FAILED" in status)
    table.add_row("events", f"{sum(made.events.values()):,} ({failed} failed)")
    table.add_row("invoices", ", ".join(f"{n} {status}" for status, n in sorted(made.invoices.items())))
    console.print(table)
    console.print(f"\nSign in at {base_url}/login (start the server with: meterline serve, or bash scripts/run.sh)\n")
