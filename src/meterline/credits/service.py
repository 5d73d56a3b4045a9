"""Credits (CreditsApi): grants, the ledger, voids, expiry and balances (billing-rules D9; docs/credits.md).

- A credit is in the account's invoice currency, effective from 00:00 of `effectiveFrom` to the end of
  `effectiveUntil` (inclusive; none: no expiry), organization time. It is never edited, only voided.
- Invoices apply credits (invoicing/credit_application.py); what a DRAFT invoice takes is a hold, computed when
  read (`Holds`, passed in by invoicing: credits do not import invoicing); what a finalized invoice took is a
  DEBITED transaction. `consumed_amount` = DEBITED - CREDITED back, kept on the row; the ledger is the truth.
- Balance: activeCredits = sum of ACTIVE grants; availableBalance = sum of (grant - consumed) over ACTIVE credits;
  runningBalance = availableBalance - holds; inapplicableCredits = the part of availableBalance not yet effective
  now, or scoped to nothing on the account's current plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.accounts.service import refuse_archived
from meterline.catalog.addon_repository import AddOnRepository
from meterline.core import numbers
from meterline.core.clock import END_OF_TIME, FIRST_DAY, LAST_DAY
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.core.money import EXACT, round_money
from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.credits.models import Credit, CreditTransaction
from meterline.credits.statuses import CreditStatus, CreditTransactionType
from meterline.customers.repository import CustomerRepository
from meterline.metering.repository import MeteringRepository
from meterline.rating import cycles
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.webhooks import outbox

ACTIVE, CONSUMED, EXPIRED, VOIDED = (
    CreditStatus.ACTIVE,
    CreditStatus.CONSUMED,
    CreditStatus.EXPIRED,
    CreditStatus.VOIDED,
)
CREDITED, DEBITED = CreditTransactionType.CREDITED, CreditTransactionType.DEBITED
SPECIAL = {"ALL_USAGE_METER_RATE_CARDS", "ALL_FIXED_FEE_RATE_CARDS"}
LIMIT = numbers.LIMIT  # the one number rule's bound (core/numbers.py)
# Priorities are small ranks (lower applies first); the bound keeps them within every database's integer column.
MAX_PRIORITY = 1_000_000

Holds = Callable[[Context, Account], dict[str, Decimal]]  # credit id -> held on the account's DRAFT invoices


@dataclass(frozen=True)
class Grant:
    account_id: str
    purpose: str
    amount: Decimal
    priority: int
    effective_from: date
    effective_until: date | None = None
    scope: tuple[str, ...] = ()
    grantor_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Balance:
    active: Decimal
    available: Decimal
    running: Decimal
    inapplicable: Decimal
    unit: str
    updated_at: datetime


class CreditRepository(OrgRepository):
    def by_pk(self, pk: str) -> Credit | None:
        return self.session.scalar(self.scoped(Credit).where(Credit.pk == pk))

    def by_idempotency_key(self, key: str) -> Credit | None:
        return self.session.scalar(self.scoped(Credit).where(Credit.idempotency_key == key))

    def page(self, request: PageRequest, *, status: str | None, account_pk: str | None, pk: str | None) -> Page[Credit]:
        stmt = self.scoped(Credit)
        if status is not None:
            stmt = stmt.where(Credit.status == status)
        if account_pk is not None:
            stmt = stmt.where(Credit.account_pk == account_pk)
        if pk is not None:
            stmt = stmt.where(Credit.pk == pk)
        return self.keyset_page(stmt, Credit.pk, request)

    def of_accounts(self, account_pks: set[str], *, lock: bool = False) -> dict[str, list[Credit]]:
        """The ACTIVE credits of these accounts; locked (PostgreSQL) in id order when finalizing."""
        found: dict[str, list[Credit]] = {pk: [] for pk in account_pks}
        if not account_pks:
            return found
        stmt = (
            self.scoped(Credit).where(Credit.account_pk.in_(account_pks), Credit.status == ACTIVE).order_by(Credit.pk)
        )
        if lock:
            stmt = stmt.with_for_update()
        for credit in self.session.scalars(stmt):
            found[credit.account_pk].append(credit)
        return found

    def of_account(self, account_pk: str) -> list[Credit]:
        return list(
            self.session.scalars(self.scoped(Credit).where(Credit.account_pk == account_pk).order_by(Credit.pk))
        )

    def lock(self, pks: set[str]) -> None:
        self.lock_rows(Credit, pks)

    def transactions(self, credit_pk: str) -> list[CreditTransaction]:
        stmt = select(CreditTransaction).where(
            CreditTransaction.org_id == self.org_id, CreditTransaction.credit_pk == credit_pk
        )
        return list(self.session.scalars(stmt.order_by(CreditTransaction.pk)))

    def debits_of_invoice(self, invoice_pk: str) -> list[CreditTransaction]:
        stmt = select(CreditTransaction).where(
            CreditTransaction.org_id == self.org_id, CreditTransaction.invoice_pk == invoice_pk
        )
        return list(self.session.scalars(stmt.order_by(CreditTransaction.pk)))

    def ended(self, as_of: datetime) -> list[Credit]:
        stmt = self.scoped(Credit).where(Credit.status == ACTIVE, Credit.ends_at <= as_of).order_by(Credit.pk)
        return list(self.session.scalars(stmt))


class CreditService:
    def __init__(self, ctx: Context, *, holds: Holds) -> None:
        """`holds` (required): what the account's DRAFT invoices hold of each credit; invoicing knows it, and
        usecases/balances.py passes it."""
        self.ctx = ctx
        self.repo = CreditRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.holds = holds
        self.tz = ZoneInfo(ctx.org.timezone)

    def _account(self, account_id: str) -> Account:
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    def get(self, credit_id: str) -> Credit:
        credit = self.repo.by_pk(credit_id)
        if credit is None:
            raise NotFound(f"Credit {credit_id} not found")
        return credit

    def page(
        self, request: PageRequest, *, status: str | None, account_id: str | None, credit_id: str | None
    ) -> Page[Credit]:
        account_pk = None
        if account_id is not None:
            account = self.accounts.by_id(account_id)
            if account is None:
                return Page(items=[], next_token=None, size=request.size)
            account_pk = account.pk
        return self.repo.page(request, status=status, account_pk=account_pk, pk=credit_id)

    def held(self, credits: list[Credit]) -> dict[str, Decimal]:
        """credit id -> what DRAFT invoices hold of it now."""
        out: dict[str, Decimal] = {}
        for account in self.accounts.by_pks({c.account_pk for c in credits if c.status == ACTIVE}).values():
            out.update(self.holds(self.ctx, account))
        return out

    # -- grants -------------------------------------------------------------------------------------------------
    def grant(self, grants: list[Grant]) -> list[Credit]:
        made = []
        for i, grant in enumerate(grants):
            where = f"creditRequests[{i}]" if len(grants) > 1 else "creditRequests[0]"
            made.append(self._grant(grant, where))
        return made

    def _grant(self, grant: Grant, where: str) -> Credit:
        if grant.idempotency_key is not None:
            self.repo.lock_key("credit-idempotency", grant.idempotency_key)  # a twin waits, then gets this one back
            found = self.repo.by_idempotency_key(grant.idempotency_key)
            if found is not None:
                return found
        account = self._account(grant.account_id)
        refuse_archived(account, "it takes no new credit")
        currency = account.invoice_currency
        if grant.amount <= 0 or grant.amount >= LIMIT or round_money(grant.amount, currency) != grant.amount:
            raise BadRequest(
                f"{where}.creditAmount: must be more than 0 and below 10^15, in whole {currency} minor "
                "units (a credit is in the account's invoice currency)"
            )
        if not 0 <= grant.priority <= MAX_PRIORITY:
            raise BadRequest(
                f"{where}.priority: must be a whole number from 0 to {MAX_PRIORITY} (lower numbers apply first)"
            )
        for name, day in (("effectiveFrom", grant.effective_from), ("effectiveUntil", grant.effective_until)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:  # the console's form gives any calendar day
                raise BadRequest(f"{where}.{name}: must be a day from {FIRST_DAY} to {LAST_DAY}")
        if grant.effective_until is not None and grant.effective_until < grant.effective_from:
            raise BadRequest(f"{where}.effectiveUntil must not be before effectiveFrom")
        self._check_scope(grant.scope, f"{where}.applicableEntityIds")
        starts = cycles.local_start_of_day(grant.effective_from, self.tz)
        ends = (
            END_OF_TIME
            if grant.effective_until is None
            else cycles.local_start_of_day(grant.effective_until + timedelta(days=1), self.tz)
        )
        credit = Credit(
            pk=new_id("credit"),
            org_id=self.ctx.org_id,
            account_pk=account.pk,
            purpose=grant.purpose,
            scope=list(grant.scope),
            effective_from=grant.effective_from,
            effective_until=grant.effective_until,
            starts_at=starts,
            ends_at=ends,
            amount=grant.amount,
            currency=currency,
            priority=grant.priority,
            grantor_id=grant.grantor_id,
            idempotency_key=grant.idempotency_key,
            status=ACTIVE,
            consumed_amount=Decimal(0),
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self.repo.add(credit)
        self._record(credit, CREDITED, grant.amount)
        self._announce(credit, account, "credit.granted")
        return credit

    def _announce(self, credit: Credit, account: Account, event_type: str) -> None:
        """The credit's webhook, written in this transaction: the credit as GET /credits/{id} answers it."""

        def data() -> dict[str, object]:
            from meterline.credits import schemas  # the presenter module imports this one

            customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_pks({account.customer_pk})
            hold = self.held([credit]).get(credit.pk, Decimal(0))
            out = schemas.credit_out(credit, account.id, customer[account.customer_pk].id, hold)
            return out.model_dump(mode="python", by_alias=True, exclude_none=True)

        outbox.emit(self.ctx, event_type, data, object_id=credit.pk)

    def _check_scope(self, scope: tuple[str, ...], where: str) -> None:
        named = set(scope) - SPECIAL
        if not named:
            return
        known = {m.id for m in MeteringRepository(self.ctx.session, self.ctx.org_id).usable_meters()}
        addons = AddOnRepository(self.ctx.session, self.ctx.org_id)
        unknown = sorted(n for n in named if n not in known and addons.by_id(n) is None)
        if unknown:
            raise BadRequest(
                f"{where}: {unknown[0]} is not a usage meter, an add-on, ALL_USAGE_METER_RATE_CARDS or "
                "ALL_FIXED_FEE_RATE_CARDS"
            )

    def _record(
        self, credit: Credit, kind: str, amount: Decimal, invoice_pk: str | None = None, entity_id: str | None = None
    ) -> None:
        self.ctx.session.add(
            CreditTransaction(
                pk=new_id("ctxn"),
                org_id=self.ctx.org_id,
                credit_pk=credit.pk,
                type=kind,
                invoice_pk=invoice_pk,
                entity_id=entity_id,
                amount=amount,
                created_at=self.ctx.now,
            )
        )
        credit.updated_at = self.ctx.now

    # -- changes ------------------------------------------------------------------------------------------------
    def void(self, credit_id: str) -> Credit:
        self.repo.lock({credit_id})
        credit = self.get(credit_id)
        self.ctx.session.refresh(credit)
        if credit.status != ACTIVE:
            raise BadRequest(f"Credit {credit.pk} is {credit.status}: only an ACTIVE credit can be voided")
        self._end(credit, VOIDED)
        return credit

    def _end(self, credit: Credit, status: str) -> None:
        self._record(credit, status, EXACT.subtract(credit.amount, credit.consumed_amount))
        credit.status = status

    def consume(self, credit: Credit, amount: Decimal, invoice_pk: str, line_id: str) -> None:
        """A finalized invoice took `amount` (the caller holds the credit's row lock)."""
        remaining = EXACT.subtract(credit.amount, credit.consumed_amount)
        if amount > remaining or credit.status != ACTIVE:
            raise RuntimeError(f"credit {credit.pk} cannot give {amount}: {credit.status}, {remaining} left")
        self._record(credit, DEBITED, amount, invoice_pk, line_id)
        credit.consumed_amount = EXACT.add(credit.consumed_amount, amount)
        if credit.consumed_amount == credit.amount:
            credit.status = CONSUMED

    def give_back(self, invoice_pk: str) -> None:
        """A finalized invoice was voided: what it consumed returns to its credits, unless they expired or were
        voided in the meantime (D9)."""
        debits = [t for t in self.repo.debits_of_invoice(invoice_pk) if t.type == DEBITED]
        self.repo.lock({t.credit_pk for t in debits})
        for debit in debits:
            credit = self.repo.by_pk(debit.credit_pk)
            if credit is None or credit.status in (EXPIRED, VOIDED):
                continue
            self.ctx.session.refresh(credit)
            self._record(credit, CREDITED, debit.amount, invoice_pk, debit.entity_id)
            credit.consumed_amount = EXACT.subtract(credit.consumed_amount, debit.amount)
            credit.status = ACTIVE

    def expire(self, still_billing: Callable[[Credit], bool]) -> int:
        """End the ACTIVE credits whose window is over, once no DRAFT invoice over their window remains; returns how
        many it ended."""
        ended = [c for c in self.repo.ended(self.ctx.now) if not still_billing(c)]
        self.repo.lock({c.pk for c in ended})
        count = 0
        for credit in ended:
            self.ctx.session.refresh(credit)  # (the lock read it again too): voided or consumed meanwhile, left alone
            if credit.status == ACTIVE:
                self._end(credit, EXPIRED)
                self._announce(credit, self.accounts.by_pks({credit.account_pk})[credit.account_pk], "credit.expired")
                count += 1
        return count

    # -- balance ------------------------------------------------------------------------------------------------
    def balance(self, account_id: str) -> Balance:
        account = self._account(account_id)
        credits = self.repo.of_account(account.pk)
        active = [c for c in credits if c.status == ACTIVE]
        holds = self.holds(self.ctx, account)
        left = {c.pk: EXACT.subtract(c.amount, c.consumed_amount) for c in active}
        available = sum(left.values(), Decimal(0))
        usable = self._usable_scope(account)
        inapplicable = sum(
            (left[c.pk] for c in active if c.starts_at > self.ctx.now or (c.scope and not set(c.scope) & usable)),
            Decimal(0),
        )
        zero = round_money(Decimal(0), account.invoice_currency)
        return Balance(
            active=sum((c.amount for c in active), zero),
            available=available + zero,
            running=available - sum(holds.values(), Decimal(0)) + zero,
            inapplicable=inapplicable + zero,
            unit=account.invoice_currency,
            updated_at=max((c.updated_at for c in credits), default=account.updated_at),
        )

    def _usable_scope(self, account: Account) -> set[str]:
        """What a scoped credit can apply to on the account's plan now: its meters, add-ons and the two specials."""
        schedules = ScheduleRepository(self.ctx.session, self.ctx.org_id).of_account(
            account.pk, self.ctx.now, self.ctx.now + timedelta(microseconds=1)
        )
        usable: set[str] = set()
        for view in ScheduleService(self.ctx).views(schedules):
            model = view.model
            usage = model.usage_meter_ids
            fees = [c.id for c in model.fixed_fee_cards]
            others = [c.id for c in model.license_cards] + [c.id for c in model.credit_grant_cards]
            usable.update(usage, fees, others)
            if usage:
                usable.add("ALL_USAGE_METER_RATE_CARDS")
            if fees:
                usable.add("ALL_FIXED_FEE_RATE_CARDS")
        return usable
