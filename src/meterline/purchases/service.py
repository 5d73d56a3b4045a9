"""Purchases and proposals: their rules (docs/invoicing.md, "Purchases and proposals"). What a purchase does in other
domains (a wallet top-up, feature credits, the ORDER invoice) is done by usecases/purchases.py; this service checks a
request, keeps its row and its status.

- A purchase or a proposal is taken under its account's row lock; an `idempotencyKey` is unique in the organization
  (purchases and proposals together): a repeated key gives back the first one, whatever the new body says, unless it
  names the other kind (a proposal's key sent to create a purchase): 409.
- A proposal is PROPOSAL_ACTIVE until approved (PROPOSAL_APPROVED: the purchase is made then), declined
  (PROPOSAL_DECLINED) or its `expiryDate` passes (PROPOSAL_EXPIRED: shown so when read; deciding on it is then
  refused, 409).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from decimal import Decimal

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.accounts.service import refuse_archived
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.money import round_money
from meterline.core.pagination import Page, PageRequest
from meterline.purchases.models import Purchase
from meterline.purchases.repository import PurchaseRepository
from meterline.purchases.schemas import CreateProposalRequest, CreatePurchaseRequest
from meterline.tenancy.context import Context

SUPPORTED = (
    "WALLET_TOPUP",
    "ENTITLEMENT_GRANT",
    "ASSOCIATION",
    "PREPAID",
)  # the types Meterline performs (the others: 400 saying so)
ACTIVE, APPROVED, DECLINED, EXPIRED = "PROPOSAL_ACTIVE", "PROPOSAL_APPROVED", "PROPOSAL_DECLINED", "PROPOSAL_EXPIRED"
IN_PROGRESS, SUCCESS = "IN_PROGRESS", "SUCCESS"


def _midnight(value: date | None) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(value, time(0), tzinfo=timezone.utc)


class PurchaseService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = PurchaseRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)

    def account(self, account_id: str) -> Account:
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    # -- creating ------------------------------------------------------------------------------------------------
    def begin(self, account_id: str, body: CreatePurchaseRequest) -> tuple[Purchase, bool]:
        """(the row, created). A purchase is IN_PROGRESS until usecases/purchases.py has performed it; a proposal
        (a CreateProposalRequest) is PROPOSAL_ACTIVE."""
        proposal = isinstance(body, CreateProposalRequest)
        account = self.account(account_id)
        if body.idempotency_key is not None:
            self.repo.lock_key("purchase-idempotency", body.idempotency_key)  # a twin waits, then finds this one
            found = self.repo.by_idempotency_key(body.idempotency_key)
            if found is not None:
                if (found.payment_mode is not None) != proposal:
                    kind = "proposal" if found.payment_mode is not None else "purchase"
                    raise Conflict(f"idempotencyKey {body.idempotency_key} was already used by {kind} {found.pk}")
                if found.account_pk != account.pk:
                    raise Conflict(
                        f"idempotencyKey {body.idempotency_key} was already used by {found.pk} of another account"
                    )
                return found, False
        locked = self.accounts.lock_account(account.pk)  # purchases of one account take turns
        if locked is None:
            raise NotFound(f"Account {account_id} not found")
        refuse_archived(locked, "it takes no purchase")
        row = self._row(locked, body, proposal)
        self.repo.add(row)
        return row, True

    def _row(self, account: Account, body: CreatePurchaseRequest, proposal: bool) -> Purchase:
        kind = body.type or ("WALLET_TOPUP" if body.wallet_topup_details is not None else "ENTITLEMENT_GRANT")
        if kind not in SUPPORTED:
            raise BadRequest(f"type {kind}: Meterline performs only {', '.join(SUPPORTED)} purchases yet")
        for name, value in (
            ("purchasePlanOverride", body.purchase_plan_override),
            ("associationOverride", body.association_override),
            ("rateCardQuantities", body.rate_card_quantities),
        ):
            if value is not None:
                raise BadRequest(f"{name}: not supported by Meterline (docs/invoicing.md, Purchases and proposals)")
        topup = purchase_amount = None
        currency = account.invoice_currency
        if kind == "WALLET_TOPUP":
            details = body.wallet_topup_details
            if details is None:
                raise BadRequest("walletTopupDetails is required for a WALLET_TOPUP purchase")
            if body.price_plan_id is not None or body.quantity is not None:
                raise BadRequest("pricePlanId and quantity: not for a WALLET_TOPUP purchase")
            topup = details.topup_amount
            purchase_amount = details.purchase_amount if details.purchase_amount is not None else topup
            if topup <= 0 or round_money(topup, currency) != topup:
                raise BadRequest(
                    f"walletTopupDetails.topupAmount: must be more than 0, in whole {currency} minor units"
                )
            if purchase_amount < 0 or round_money(purchase_amount, currency) != purchase_amount:
                raise BadRequest(
                    f"walletTopupDetails.purchaseAmount: must be 0 or more, in whole {currency} minor units"
                )
        else:
            if body.price_plan_id is None:
                raise BadRequest(f"pricePlanId is required for a {kind} purchase")
            if body.wallet_topup_details is not None:
                raise BadRequest(f"walletTopupDetails: only for a WALLET_TOPUP purchase, not {kind}")
            if kind == "ASSOCIATION" and body.quantity is not None:
                raise BadRequest("quantity: not for an ASSOCIATION purchase (the plan is associated once)")
        start, until = _midnight(body.effective_from), _midnight(body.effective_until)
        if start is not None and until is not None and until <= start:
            raise BadRequest("effectiveUntil must be after effectiveFrom")
        if proposal and body.expiry_date is not None and body.expiry_date <= self.ctx.now:
            raise BadRequest("expiryDate must be in the future")
        payment_mode = body.payment_mode if isinstance(body, CreateProposalRequest) else None
        return Purchase(
            pk=new_id("proposal" if proposal else "purchase"),
            org_id=self.ctx.org_id,
            account_pk=account.pk,
            type=kind,
            status=ACTIVE if proposal else IN_PROGRESS,
            payment_mode=payment_mode,
            plan_id=body.price_plan_id,
            plan_version=None,
            quantity=body.quantity,
            idempotency_key=body.idempotency_key,
            topup_amount=topup,
            purchase_amount=purchase_amount,
            price=None,
            currency=currency,
            invoice_pk=None,
            effective_from=start,
            effective_until=until,
            expiry_date=body.expiry_date,
            response_at=None,
            request=json.dumps(body.model_dump(mode="json", by_alias=True, exclude_none=True)),
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )

    def made(self, purchase: Purchase, invoice_pk: str, price: Decimal, plan_version: int | None) -> None:
        """The purchase was performed and billed on its ORDER invoice."""
        purchase.status, purchase.invoice_pk, purchase.price = SUCCESS, invoice_pk, price
        purchase.plan_version = plan_version
        purchase.updated_at = self.ctx.now
        self.ctx.session.flush()

    # -- reading -------------------------------------------------------------------------------------------------
    def get(self, purchase_id: str, *, proposal: bool) -> Purchase:
        found = self.repo.by_id(purchase_id)
        if found is None or (found.payment_mode is not None) != proposal:
            raise NotFound(f"{'Proposal' if proposal else 'Purchase'} {purchase_id} not found")
        return found

    def account_id_of(self, purchase: Purchase) -> str:
        account = self.accounts.read_by_pk(purchase.account_pk)
        return account.id if account is not None else ""

    def page(self, account_id: str, request: PageRequest, *, proposals: bool) -> Page[Purchase]:
        return self.repo.page(self.account(account_id).pk, request, proposals=proposals)

    def shown_status(self, proposal: Purchase) -> str:
        """A proposal past its expiryDate is PROPOSAL_EXPIRED, stored or not yet."""
        if proposal.status == ACTIVE and proposal.expiry_date is not None and proposal.expiry_date <= self.ctx.now:
            return EXPIRED
        return proposal.status

    # -- deciding ------------------------------------------------------------------------------------------------
    def decide(self, proposal_id: str, approve: bool) -> Purchase:
        """The proposal, locked, moved to APPROVED or DECLINED (the caller makes the purchase of an approved one)."""
        self.get(proposal_id, proposal=True)  # 404 first
        self.accounts.lock_account(self.repo.by_id(proposal_id).account_pk)  # type: ignore[union-attr]
        proposal = self.repo.locked(proposal_id)
        if proposal is None:
            raise NotFound(f"Proposal {proposal_id} not found")
        status = self.shown_status(proposal)
        if status != ACTIVE:
            raise Conflict(f"Proposal {proposal_id} is {status}: only a PROPOSAL_ACTIVE proposal can be decided")
        proposal.status = APPROVED if approve else DECLINED
        proposal.response_at = proposal.updated_at = self.ctx.now
        self.ctx.session.flush()
        return proposal

    def purchase_of(self, proposal: Purchase) -> CreatePurchaseRequest:
        """The purchase an approved proposal makes: its request, without its idempotencyKey (the proposal's)."""
        data = json.loads(proposal.request)
        for name in ("paymentMode", "idempotencyKey", "expiryDate"):
            data.pop(name, None)
        details = data.get("walletTopupDetails")
        if details:  # stored as text (exact): numbers again
            data["walletTopupDetails"] = {k: Decimal(v) for k, v in details.items()}
        return CreatePurchaseRequest.model_validate(data)

    def billed_proposal(self, proposal: Purchase, purchase: Purchase) -> None:
        proposal.invoice_pk, proposal.price, proposal.updated_at = purchase.invoice_pk, purchase.price, self.ctx.now
        self.ctx.session.flush()
