"""No lost update (issue 14): 8 writers of one shared row at once, each in its own unit of work, released together by
a barrier. Each race here lost updates on PostgreSQL before the row was locked (SQLite's single writer was right);
on both engines the invariants must hold: accepted payments add up to paidAmount <= total, a VOID racing payments
ends consistent, RELATIVE license updates add up, the alias limit holds, one price plan per name."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.accounts.schemas import AddAccountAliasesRequest
from meterline.accounts.service import AccountService
from meterline.catalog.addon_schemas import CreateAddOnRequest
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_models import PricePlan
from meterline.catalog.plan_schemas import CreatePricePlanRequest
from meterline.catalog.plan_service import PricePlanService
from meterline.core.db import unit_of_work
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerContactRequest, CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.builder import Charge
from meterline.invoicing.models import Invoice, InvoiceSequence
from meterline.invoicing.service import InvoiceService, loads
from meterline.licenses.schemas import LicenseUpdateRequest
from meterline.licenses.service import LicenseService
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import CreateEventSchemaRequest, UpdateEventSchemaRequest
from meterline.payments.models import Payment
from meterline.payments.schemas import CreatePaymentRequest
from meterline.payments.service import PaymentService
from meterline.rating import licenses
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.accounts import delete_account
from meterline.usecases.jobs import BILL_RUN, job_service
from meterline.usecases.schedules import draft_schedules, edit_schedules, schedule_view
from tests.conftest import new_org
from tests.service.billing_world import associate, make_plan, make_world, t, tiered_card

D = Decimal
THREADS = 8
T = TypeVar("T")


class Race:
    """An organization, and a way to run writers at once, each in its own unit of work at one instant."""

    def __init__(self, factory: sessionmaker[Session], org: Organization | None = None) -> None:
        self.factory = factory
        self.org = org or new_org(factory)

    def ctx(self, session: Session) -> Context:
        return Context(session=session, org=session.get(Organization, self.org.id), now=t(5, 1))  # type: ignore[arg-type]

    def setup(self, step: Callable[[Context], T]) -> T:
        with unit_of_work(self.factory) as session:
            return step(self.ctx(session))

    def run(self, steps: list[Callable[[Context], object]]) -> list[BaseException | None]:
        """Run every step in its own thread and unit of work, all started together; what each raised (None: it
        committed)."""
        barrier = threading.Barrier(len(steps))
        outcomes: list[BaseException | None] = [None] * len(steps)

        def worker(n: int) -> None:
            try:
                barrier.wait()  # not inside the unit of work: on SQLite the first writer holds the only write lock
                with unit_of_work(self.factory) as session:
                    steps[n](self.ctx(session))
            except BaseException as exc:  # noqa: BLE001 - judged by the test
                outcomes[n] = exc

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(steps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes


def _customer(ctx: Context, customer_id: str) -> None:
    CustomerService(ctx).create(
        CreateCustomerRequest(id=customer_id, name=customer_id, primary_email="a@x.test", address=Address())
    )


def _due_invoice(ctx: Context, total: str) -> str:
    _customer(ctx, "acme")
    lines = [{"description": "Work", "value": D(total)}]
    invoice, _ = InvoiceService(ctx).create_custom("acme", t(4, 1), t(5, 1), "DUE", lines, False, True, True, None)
    return invoice.pk


def _pay(invoice_pk: str, amount: str) -> Callable[[Context], object]:
    request = CreatePaymentRequest.model_validate(
        {
            "accountId": "acme",
            "currency": "USD",
            "totalAmount": D(amount),
            "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "1"},
            "lineItemRecords": [{"type": "INVOICE", "togaiId": invoice_pk, "amount": D(amount), "order": 1}],
        }
    )
    return lambda ctx: PaymentService(ctx).create(request)


def _paid(race: Race, invoice_pk: str) -> tuple[Invoice, Decimal]:
    """The invoice, and what the payments stored for it add up to."""
    with unit_of_work(race.factory, write=False) as s:
        invoice = s.get(Invoice, invoice_pk)
        recorded = sum(
            (
                D(r["amount"])
                for p in s.scalars(select(Payment).where(Payment.org_id == race.org.id))
                for r in p.records
                if r["togaiId"] == invoice_pk
            ),
            D(0),
        )
        assert invoice is not None
        s.expunge(invoice)
        return invoice, recorded


def _refused(outcomes: list[BaseException | None], kind: type[BaseException]) -> int:
    unexpected = [o for o in outcomes if o is not None and not isinstance(o, kind)]
    assert not unexpected, unexpected
    return sum(1 for o in outcomes if o is not None)


def test_simultaneous_full_payments_of_one_invoice_accept_one(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)
    invoice_pk = race.setup(lambda ctx: _due_invoice(ctx, "50.00"))

    outcomes = race.run([_pay(invoice_pk, "50.00") for _ in range(THREADS)])

    assert _refused(outcomes, BadRequest) == THREADS - 1
    invoice, recorded = _paid(race, invoice_pk)
    assert (invoice.status, invoice.paid_amount, recorded) == ("PAID", D("50.00"), D("50.00"))


def test_simultaneous_partial_payments_add_up_to_the_total(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)
    invoice_pk = race.setup(lambda ctx: _due_invoice(ctx, "50.00"))

    outcomes = race.run([_pay(invoice_pk, "10.00") for _ in range(THREADS)])

    assert _refused(outcomes, BadRequest) == THREADS - 5  # 5 x 10.00 pay the 50.00; the others would overpay
    invoice, recorded = _paid(race, invoice_pk)
    assert (invoice.status, invoice.paid_amount, recorded) == ("PAID", D("50.00"), D("50.00"))


def test_a_void_racing_payments_ends_consistent(session_factory: sessionmaker[Session]) -> None:
    for seed in range(3):
        race = Race(session_factory)
        invoice_pk = race.setup(lambda ctx: _due_invoice(ctx, "50.00"))
        steps: list[tuple[str, Callable[[Context], object]]] = [
            ("pay", _pay(invoice_pk, "25.00")),
            ("pay", _pay(invoice_pk, "25.00")),
            ("void", lambda ctx, pk=invoice_pk: InvoiceService(ctx).update(pk, "VOID", {})),
        ]
        random.Random(seed).shuffle(steps)

        outcomes = race.run([step for _, step in steps])

        _refused(outcomes, BadRequest)
        invoice, recorded = _paid(race, invoice_pk)
        voided = outcomes[[name for name, _ in steps].index("void")] is None
        assert invoice.paid_amount == recorded  # every accepted payment is in paidAmount, no other
        if voided:  # the void held: no payment after it was taken
            assert invoice.status == "VOID"
        else:  # refused because the payments had made the invoice PAID, which is final
            assert (invoice.status, invoice.paid_amount) == ("PAID", D("50.00"))


def test_simultaneous_relative_license_updates_add_up(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)

    def setup(ctx: Context) -> str:
        _customer(ctx, "acme")
        return AddOnService(ctx).create(CreateAddOnRequest(name="Seats", type="LICENSE")).id

    seats = race.setup(setup)
    instants = [t(4, 1) + timedelta(hours=h) for h in range(3)]
    for n, at in enumerate(instants, start=1):
        request = LicenseUpdateRequest(
            license_id=seats, account_id="acme", update_type="RELATIVE", quantity=D(1), effective_from=at
        )

        outcomes = race.run([lambda ctx, r=request: LicenseService(ctx).update(r) for _ in range(THREADS)])

        assert outcomes == [None] * THREADS
        assert _quantity(race, seats, at) == THREADS * n  # 8, 16, 24: every +1 counted


def _quantity(race: Race, license_id: str, at: datetime) -> Decimal:
    with unit_of_work(race.factory, write=False) as s:
        service = LicenseService(race.ctx(s))
        steps = [
            (u.effective_from, u.quantity) for u in service.repo.history(service.accounts.get("acme").pk, license_id)
        ]
        return licenses.in_force(steps, at)


def test_simultaneous_alias_additions_keep_the_limit(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)

    def setup(ctx: Context) -> None:
        _customer(ctx, "acme")
        AccountService(ctx).add_aliases("acme", AddAccountAliasesRequest(aliases=[f"old-{n}" for n in range(9)]))

    race.setup(setup)

    outcomes = race.run(
        [
            lambda ctx, n=n: AccountService(ctx).add_aliases("acme", AddAccountAliasesRequest(aliases=[f"new-{n}"]))
            for n in range(THREADS)
        ]
    )

    assert _refused(outcomes, BadRequest) == THREADS - 1
    with unit_of_work(race.factory, write=False) as s:
        assert len(AccountService(race.ctx(s)).aliases("acme")) == 10


def test_simultaneous_price_plans_with_one_name_create_one(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)
    request = CreatePricePlanRequest.model_validate(
        {
            "name": "Pro",
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

    outcomes = race.run([lambda ctx: PricePlanService(ctx).create(request) for _ in range(THREADS)])

    assert _refused(outcomes, Conflict) == THREADS - 1
    with unit_of_work(race.factory, write=False) as s:
        names = list(s.scalars(select(PricePlan.name).where(PricePlan.org_id == race.org.id)))
        assert names == ["Pro"]


def test_simultaneous_schedule_edits_never_overlap(session_factory: sessionmaker[Session]) -> None:
    world = make_world(session_factory)
    race = Race(session_factory, world.org)
    plan_id = race.setup(lambda ctx: make_plan(ctx, "Scale", usageRateCards=[tiered_card(world.meter_id)]))
    edits = [
        UpdatePricingScheduleRequest.model_validate(
            {"pricePlanId": plan_id, "effectiveFrom": f"2024-0{n + 1}-01", "effectiveUntil": "9999-01-01"}
        )
        for n in range(THREADS)
    ]

    outcomes = race.run([lambda ctx, e=e: edit_schedules(ctx, "acme", [e]) for e in edits])

    assert outcomes == [None] * THREADS
    with unit_of_work(race.factory, write=False) as s:
        _, views = ScheduleService(race.ctx(s)).of_account("acme")
        spans = sorted((v.start, v.end) for v in views)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
        assert spans[0][0] == t(1, 1) and spans[-1][1].year == 9999  # the whole range, once


def test_reading_a_schedule_draft_waits_for_no_writer(session_factory: sessionmaker[Session]) -> None:
    """The v2 reads of an account's schedules (the draft with nothing staged, one schedule ACTIVE or DRAFT) take no
    row lock: while a writer holds the account's row, they answer at once instead of queueing behind it."""
    world = make_world(session_factory)
    race = Race(session_factory, world.org)
    plan_id = race.setup(lambda ctx: make_plan(ctx, "Scale", usageRateCards=[tiered_card(world.meter_id)]))
    race.setup(lambda ctx: associate(ctx, plan_id, "2024-01-01"))
    with unit_of_work(race.factory, write=False) as s:
        _, [view] = ScheduleService(race.ctx(s)).of_account("acme")

    with unit_of_work(race.factory) as writer:
        account = AccountRepository(writer, world.org.id).by_id("acme")
        assert account is not None and AccountRepository(writer, world.org.id).lock_account(account.pk) is not None
        with unit_of_work(race.factory, write=False) as reader:
            if reader.get_bind().dialect.name == "postgresql":
                reader.execute(text("SET LOCAL lock_timeout = '2s'"))  # a lock taken by a read would fail here
            ctx = race.ctx(reader)
            _, views = draft_schedules(ctx, "acme")
            assert [v.id for v in views] == [view.id]
            for mode in ("ACTIVE", "DRAFT"):
                _, got = schedule_view(ctx, view.id, mode)
                assert got.id == view.id


def test_simultaneous_custom_invoices_with_one_idempotency_key_make_one(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)
    race.setup(lambda ctx: _customer(ctx, "acme"))
    made: list[str] = []

    def create(ctx: Context) -> None:
        invoice, _ = InvoiceService(ctx).create_custom(
            "acme", t(4, 1), t(5, 1), "DUE", [{"value": D(5)}], False, True, True, "key-1"
        )
        made.append(invoice.pk)

    outcomes = race.run([create for _ in range(THREADS)])

    assert outcomes == [None] * THREADS and len(set(made)) == 1  # every caller got the first invoice back
    with unit_of_work(race.factory, write=False) as s:
        numbers = list(s.scalars(select(Invoice.sequence_number).where(Invoice.org_id == race.org.id)))
        assert numbers == [1]


def test_simultaneous_bill_runs_number_each_invoice_once(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)

    def setup(ctx: Context) -> list[str]:
        _customer(ctx, "acme")
        return [
            InvoiceService(ctx)
            .create_custom("acme", t(4, 1 + n), t(4, 20), "DRAFT", [{"value": D(5)}], True, True, True, None)[0]
            .pk
            for n in range(3)
        ]

    drafts = race.setup(setup)

    def bill_run(ctx: Context) -> None:
        ids = InvoiceService(ctx).prepare_bill_run(ctx.now)
        job_service(ctx).create(BILL_RUN, {}, ids, require_confirmation=False)

    outcomes = race.run([bill_run for _ in range(THREADS)])

    assert outcomes == [None] * THREADS
    with unit_of_work(race.factory, write=False) as s:
        rows = list(s.scalars(select(Invoice).where(Invoice.pk.in_(drafts))))
        assert sorted(r.sequence_number or 0 for r in rows) == [1, 2, 3]  # once each, no gap


def test_simultaneous_event_schema_edits_make_one_version_each(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)

    def setup(ctx: Context) -> None:
        EventSchemaService(ctx).create(CreateEventSchemaRequest(name="calls", attributes=[], dimensions=[]))
        EventSchemaService(ctx).activate("calls")

    race.setup(setup)

    outcomes = race.run(
        [
            lambda ctx, n=n: EventSchemaService(ctx).update("calls", UpdateEventSchemaRequest(description=f"Edit {n}"))
            for n in range(THREADS)
        ]
    )

    assert outcomes == [None] * THREADS
    with unit_of_work(race.factory, write=False) as s:
        versions = [v.version for v in EventSchemaService(race.ctx(s)).versions("calls")]
        assert sorted(versions) == list(range(1, THREADS + 2))


def test_simultaneous_contacts_with_one_email_make_one(session_factory: sessionmaker[Session]) -> None:
    race = Race(session_factory)
    race.setup(lambda ctx: _customer(ctx, "acme"))
    request = CreateCustomerContactRequest(name="Ann", email="ann@x.test")

    outcomes = race.run(
        [lambda ctx: CustomerService(ctx).create_contact("acme", request, created_by=None) for _ in range(THREADS)]
    )

    assert _refused(outcomes, Conflict) == THREADS - 1


def test_simultaneous_added_charges_are_all_kept(session_factory: sessionmaker[Session]) -> None:
    """The console's "+ Add Customer Charges" reads the ongoing invoice's charges and appends one."""
    world = make_world(session_factory)
    race = Race(session_factory, world.org)

    def setup(ctx: Context) -> None:
        associate(ctx, make_plan(ctx, "Scale", usageRateCards=[tiered_card(world.meter_id)]), "2024-01-01")

    race.setup(setup)

    outcomes = race.run(
        [
            lambda ctx, n=n: InvoiceService(ctx).add_account_charge(
                "acme", Charge(name=f"Charge {n}", value=str(n + 1))
            )
            for n in range(THREADS)
        ]
    )

    assert outcomes == [None] * THREADS
    with unit_of_work(race.factory) as s:
        invoice = InvoiceService(race.ctx(s))._ongoing_of("acme")
        names = sorted(c["name"] for c in loads(invoice.charges) or [])
        assert names == [f"Charge {n}" for n in range(THREADS)]


def test_a_removal_racing_new_invoices_never_erases_a_numbered_one(session_factory: sessionmaker[Session]) -> None:
    """DELETE of an account while invoices are finalized for it at the same instant: each numbered invoice
    survives (the account is archived) or was never made (it waited for the removal, then found no account).
    Before the account was locked for removal, PostgreSQL's cascade erased invoices numbered under the check."""
    for round_ in range(3):
        race = Race(session_factory)
        race.setup(lambda ctx: _customer(ctx, "acme"))

        def invoice(ctx: Context) -> None:
            InvoiceService(ctx).create_custom(
                "acme", t(4, 1), t(5, 1), "DUE", [{"value": D(5)}], False, True, True, None
            )

        outcomes = race.run([lambda ctx: delete_account(ctx, "acme")] + [invoice] * (THREADS - 1))
        assert all(o is None or isinstance(o, (NotFound, IntegrityError)) for o in outcomes), outcomes
        with unit_of_work(race.factory, write=False) as s:
            issued = list(s.scalars(select(Invoice.sequence_number).where(Invoice.org_id == race.org.id)))
            last = s.scalar(select(InvoiceSequence.last_number).where(InvoiceSequence.org_id == race.org.id)) or 0
            account = s.scalar(select(Account).where(Account.org_id == race.org.id, Account.id == "acme"))
        assert sorted(issued) == list(range(1, last + 1)), (round_, issued, last)  # no number lost
        assert (account is not None and account.status == "ARCHIVED") == bool(issued), (round_, issued)


def test_deleting_a_custom_draft_racing_its_finalization_keeps_the_numbered_invoice(
    session_factory: sessionmaker[Session],
) -> None:
    for _ in range(3):
        race = Race(session_factory)

        def setup(ctx: Context) -> str:
            _customer(ctx, "acme")
            made, _ = InvoiceService(ctx).create_custom(
                "acme", t(4, 1), t(5, 1), "DRAFT", [{"value": D(5)}], False, True, True, None
            )
            return made.pk

        pk = race.setup(setup)
        outcomes = race.run(
            [
                lambda ctx, pk=pk: InvoiceService(ctx).update(pk, "DUE", {}),
                lambda ctx, pk=pk: InvoiceService(ctx).delete_custom(pk),
            ]
        )
        with unit_of_work(race.factory, write=False) as s:
            left = s.get(Invoice, pk)
        if left is None:  # deleted first: the finalization found nothing
            assert isinstance(outcomes[0], NotFound) and outcomes[1] is None
        else:  # finalized first: the deletion was refused
            assert left.sequence_number == 1 and outcomes[0] is None and isinstance(outcomes[1], BadRequest)


def test_removing_a_registry_alias_racing_its_claim_leaves_no_orphan(session_factory: sessionmaker[Session]) -> None:
    """DELETE /aliases/{v} racing add_aliases [v]: either the alias stays registered and assigned (the removal was
    refused), or it was removed and then registered again by the claim; never assigned without its registry entry."""
    for n in range(4):
        race = Race(session_factory)

        def setup(ctx: Context) -> None:
            _customer(ctx, "acme")
            AccountService(ctx).register_aliases(["shared-v"])

        race.setup(setup)
        outcomes = race.run(
            [
                lambda ctx: AccountService(ctx).delete_registry_alias("shared-v"),
                lambda ctx: AccountService(ctx).add_aliases("acme", AddAccountAliasesRequest(aliases=["shared-v"])),
            ]
        )
        assert outcomes[1] is None and (outcomes[0] is None or isinstance(outcomes[0], BadRequest)), (n, outcomes)
        with unit_of_work(race.factory, write=False) as s:
            ctx = race.ctx(s)
            assigned = [a.value for a in AccountService(ctx).aliases("acme")]
            registered = AccountService(ctx).registry_alias("shared-v")
        assert assigned == ["shared-v"] and registered is not None, (n, outcomes)
