"""Payments: one payment from an account, spread over its finalized invoices in `order`.

Each INVOICE record adds its amount to the invoice's paidAmount: PAID when it reaches the total, else
PARTIALLY_PAID. A WALLET_CREDIT record tops up the account's wallet. A CREDIT record buys a credit: the credits
domain grants one of its amount (the account's invoice currency, effective from today in the organization's time
zone, no expiry, priority 1, purpose "Payment <id>", grantor the payment), in the same transaction, so it is in the
credits ledger as a CREDITED transaction; the record's togaiId in the answer is the granted credit's id. The records
must add up to the payment's total, in the account's currency, and an invoice cannot be paid past its total. The
invoices are locked before they are read, so simultaneous payments add up.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.accounts.repository import AccountRepository
from meterline.core import numbers
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.core.money import exact_sum, is_currency, round_money
from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.credits.service import CreditService, Grant
from meterline.invoicing.repository import InvoiceRepository
from meterline.invoicing.service import PAID, PARTIALLY_PAID, InvoiceService, credit_holds, wallet_holds
from meterline.invoicing.statuses import OPEN
from meterline.payments import schemas
from meterline.payments.models import Payment
from meterline.rating import cycles
from meterline.tenancy.context import Context
from meterline.wallet.service import WalletService
from meterline.webhooks import outbox

# A credit bought with a payment: applied after promotional credits of priority 0 (lower applies first).
CREDIT_PRIORITY = 1


class PaymentRepository(OrgRepository):
    def by_pk(self, pk: str) -> Payment | None:
        return self.session.scalar(self.scoped(Payment).where(Payment.pk == pk))

    def page(self, request: PageRequest) -> Page[Payment]:
        return self.keyset_page(self.scoped(Payment), Payment.pk, request)

    def any_of(self, account_pks: list[str]) -> bool:
        """Has any of the accounts paid anything (money received is history)?"""
        stmt = self.scoped(Payment).where(Payment.account_pk.in_(account_pks)).limit(1)
        return self.session.scalar(stmt) is not None


class PaymentService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = PaymentRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)

    def get(self, payment_id: str) -> Payment:
        payment = self.repo.by_pk(payment_id)
        if payment is None:
            raise NotFound(f"Payment {payment_id} not found")
        return payment

    def account_ids(self, payments: list[Payment]) -> dict[str, str]:
        return {pk: a.id for pk, a in self.accounts.by_pks({p.account_pk for p in payments}).items()}

    def page(self, request: PageRequest) -> Page[Payment]:
        return self.repo.page(request)

    def create(self, request: schemas.CreatePaymentRequest) -> Payment:
        account = self.accounts.by_id(request.account_id)
        if account is None:
            raise NotFound(f"Account {request.account_id} not found")
        currency = request.currency.upper()
        if not is_currency(currency) or currency != account.invoice_currency:
            raise BadRequest(
                f"currency: account {account.id} pays in {account.invoice_currency}, not {request.currency}"
            )
        total = request.total_amount
        if total <= 0 or round_money(total, currency) != total:
            raise BadRequest(f"totalAmount: must be more than 0, in whole {currency} minor units")
        records = sorted(request.line_item_records, key=lambda r: r.order)
        if len({r.order for r in records}) != len(records):
            raise BadRequest("lineItemRecords: each order must be different")
        invoices = InvoiceRepository(self.ctx.session, self.ctx.org_id)
        # paidAmount and status are read under the invoices' row locks, taken first, in pk order (docs/architecture.md,
        # "Locks"): simultaneous payments (and status changes) of one invoice take turns, each seeing what the one
        # before left. Only invoices that take payments are locked (finalizing locks DRAFT ones: no cycle).
        named = invoices.by_pks({r.togai_id for r in records if r.type == "INVOICE" and r.togai_id is not None})
        invoices.lock_many({pk for pk, i in named.items() if i.account_pk == account.pk and i.status in OPEN})
        payment_pk = new_id("pay")
        granted: dict[int, str] = {}  # a CREDIT record's order -> the credit it granted
        for record in records:
            where = f"lineItemRecords (order {record.order})"
            if record.type in ("CREDIT", "WALLET_CREDIT"):
                amount = record.amount
                if amount is None or not 0 < amount < numbers.LIMIT or round_money(amount, currency) != amount:
                    raise BadRequest(
                        f"{where}.amount: must be more than 0 and below 10^15, in whole {currency} minor units"
                    )
                if record.type == "WALLET_CREDIT":
                    WalletService(self.ctx, holds=wallet_holds).top_up(
                        account.id, amount, "Payment", entity_id=payment_pk
                    )
                elif record.togai_id is not None:
                    raise BadRequest(
                        f"{where}.togaiId: a CREDIT record grants a new credit, whose id the payment answers in "
                        "togaiId; send it without togaiId"
                    )
                else:
                    granted[record.order] = self._grant(account.id, amount, payment_pk)
                continue
            if record.togai_id is None or record.amount is None:
                raise BadRequest(f"{where}: togaiId (the invoice id) and amount are required")
            if record.amount <= 0 or round_money(record.amount, currency) != record.amount:
                raise BadRequest(f"{where}.amount: must be more than 0, in whole {currency} minor units")
            invoice = invoices.by_pk(record.togai_id)
            if invoice is None or invoice.account_pk != account.pk:
                raise BadRequest(f"{where}.togaiId: account {account.id} has no invoice {record.togai_id}")
            if invoice.status not in OPEN:
                raise BadRequest(
                    f"{where}: invoice {invoice.pk} is {invoice.status}; only DUE, PARTIALLY_PAID and "
                    "UN_COLLECTIBLE invoices take payments"
                )
            owed = (invoice.total_amount or Decimal(0)) - invoice.paid_amount
            if record.amount > owed:
                raise BadRequest(
                    f"{where}.amount: {record.amount} is more than the {owed} still owed on invoice {invoice.pk}"
                )
            invoice.paid_amount = invoice.paid_amount + record.amount
            invoice.status = PAID if invoice.paid_amount == invoice.total_amount else PARTIALLY_PAID
            invoice.updated_at = self.ctx.now
            if invoice.status == PAID:
                InvoiceService(self.ctx).grant_credits(invoice)  # PREPAID credit grants wait for this
                InvoiceService(self.ctx).announce(invoice, "invoice.paid")
        spread = exact_sum(r.amount for r in records if r.amount is not None)
        if spread != total:
            raise BadRequest(f"lineItemRecords: the amounts add up to {spread}, not totalAmount {total}")
        reference = request.external_payment_reference.model_dump(exclude_none=True)
        payment = Payment(
            pk=payment_pk,
            org_id=self.ctx.org_id,
            account_pk=account.pk,
            currency=currency,
            total_amount=total,
            description=request.description,
            notes=request.notes,
            reference={_camel(k): v for k, v in reference.items()},
            records=[
                {"type": r.type, "togaiId": granted.get(r.order, r.togai_id), "amount": str(r.amount), "order": r.order}
                for r in records
            ],
            version=1,
            created_by="API",
            created_at=self.ctx.now,
        )
        self.repo.add(payment)
        outbox.emit(self.ctx, "payment.created", lambda: schemas.payment_out(payment, account.id), object_id=payment.pk)
        return payment

    def _grant(self, account_id: str, amount: Decimal, payment_pk: str) -> str:
        """A CREDIT record: a credit of `amount` from today on, without expiry, in the credits ledger (its
        CREDITED transaction and credit.granted webhook), in this transaction; its id."""
        today = cycles.local_day(self.ctx.now, ZoneInfo(self.ctx.org.timezone))
        grant = Grant(
            account_id=account_id,
            purpose=f"Payment {payment_pk}",
            amount=amount,
            priority=CREDIT_PRIORITY,
            effective_from=today,
            grantor_id=payment_pk,
        )
        return CreditService(self.ctx, holds=credit_holds).grant([grant])[0].pk


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)
