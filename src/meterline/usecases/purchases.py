"""A purchase spans purchases, the wallet and invoicing (docs/invoicing.md, "Purchases and proposals"): the
purchases domain keeps the row and its rules; what the purchase does is done here, in the request's one transaction,
under the account's row lock that PurchaseService.begin takes (the lock order: account, then its wallet, invoices).

- WALLET_TOPUP: the wallet is credited `topupAmount` now (a CREDITED entry naming the purchase), and the ORDER
  invoice bills `purchaseAmount` (default: `topupAmount`).
- ENTITLEMENT_GRANT: `pricePlanId` names an ACTIVE plan of type PURCHASE priced in the account's currency (its
  latest version active in it). Each billing entitlement card grants its `featureCreditLimit` x `quantity` (default
  1) credits of its feature now: an ENTITLEMENT entry `<purchaseId>#<card index>$PURCHASE`, from `effectiveFrom`
  (default now) to `effectiveUntil` (default: the card's `effectiveUntil` duration after the start, else no end).
  The ORDER invoice has one line per priced card: the card's price for one purchase (the plan's revenue as the
  revenue calculator prices it) x `quantity`. Credit grant cards: 400 (not yet).
- PREPAID: a PURCHASE plan billed as ENTITLEMENT_GRANT is, its credits granted only once the ORDER invoice is PAID
  (purchases/grants.grant_paid, which InvoiceService.grant_credits calls; at once here if the invoice is 0).
- ASSOCIATION: `pricePlanId` is associated with the account from `effectiveFrom` (default: today, UTC) until
  `effectiveUntil` (default: open) through usecases/schedules.edit_schedules, with its guard (never over the
  account's finalized invoices) and its drafts re-synced. The plan's charges are billed by that schedule's own
  invoices, so the ORDER invoice has one line of 0 (recording the purchase; nothing billed twice).
- The ORDER invoice: a CUSTOM invoice of class ORDER made by InvoiceService.create_custom, finalized at once (DUE),
  dated now, one line per thing bought, credits and wallet not applied to it; the purchase's `price` is its total.
- An approved proposal makes its purchase exactly as `initiate` would (a purchase of its own, named on the proposal
  with its invoice and price).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from meterline.catalog.plan_service import PlanVersion
from meterline.core import numbers
from meterline.core.clock import LAST_DAY
from meterline.core.errors import BadRequest
from meterline.invoicing.service import InvoiceService
from meterline.invoicing.statuses import InvoiceStatus
from meterline.purchases import grants
from meterline.purchases.models import Purchase
from meterline.purchases.schemas import CreatePurchaseRequest
from meterline.purchases.service import PurchaseService
from meterline.revenue.compute import plan_revenue
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.tenancy.context import Context
from meterline.usecases import balances, schedules

ORDER = "ORDER"
PAID = InvoiceStatus.PAID


def initiate(ctx: Context, account_id: str, body: CreatePurchaseRequest) -> Purchase:
    """The purchase, made and billed now; a repeated idempotencyKey gives back the first one, unchanged."""
    service = PurchaseService(ctx)
    purchase, created = service.begin(account_id, body)
    if created:
        _perform(ctx, service, purchase, account_id)
    return purchase


def _perform(ctx: Context, service: PurchaseService, purchase: Purchase, account_id: str) -> None:
    lines: list[dict[str, Any]] = []
    version: int | None = None
    if purchase.type == "WALLET_TOPUP":
        if purchase.topup_amount is None or purchase.purchase_amount is None:  # PurchaseService._row sets both
            raise AssertionError(purchase.pk)
        balances.wallet(ctx).top_up(
            account_id, purchase.topup_amount, f"Wallet top-up purchase {purchase.pk}", entity_id=purchase.pk
        )
        lines.append(
            {
                "description": f"Wallet top-up of {purchase.topup_amount} {purchase.currency}",
                "value": purchase.purchase_amount,
            }
        )
    elif purchase.type == "ASSOCIATION":
        until = purchase.effective_until.date() if purchase.effective_until else LAST_DAY
        edit = UpdatePricingScheduleRequest.model_validate(
            {
                "mode": "ASSOCIATE",
                "pricePlanId": purchase.plan_id,
                "effectiveFrom": (purchase.effective_from or ctx.now).date().isoformat(),
                "effectiveUntil": until.isoformat(),
            }
        )
        schedules.edit_schedules(ctx, account_id, [edit])
        lines.append({"description": f"Association of price plan {purchase.plan_id}", "value": Decimal(0)})
    elif purchase.type in grants.CREDIT_TYPES:
        chosen = _price(ctx, purchase, lines)
        version = chosen.version.version
        if purchase.type == "ENTITLEMENT_GRANT":  # PREPAID: once the ORDER invoice is PAID (purchases/grants.py)
            grants.grant_plan_credits(ctx, purchase, account_id, chosen.model, ctx.now)
    else:  # PurchaseService._row refuses the types not performed yet
        raise AssertionError(purchase.type)
    invoice, _ = InvoiceService(ctx).create_custom(
        account_id,
        ctx.now,
        ctx.now + timedelta(microseconds=1),
        "DUE",
        lines,
        auto_advance=False,
        apply_credits=False,
        apply_wallet=False,
        idempotency_key=None,
        invoice_class=ORDER,
    )
    price = sum((Decimal(line["value"]) for line in lines), Decimal(0))
    service.made(purchase, invoice.pk, price, version)
    if purchase.type == "PREPAID" and invoice.status == PAID:  # nothing to pay (a free plan): paid at finalization
        grants.grant_paid(ctx, invoice.pk, account_id)


def _price(ctx: Context, purchase: Purchase, lines: list[dict[str, Any]]) -> PlanVersion:
    """ENTITLEMENT_GRANT and PREPAID: the PURCHASE plan version bought, its priced cards added to `lines`."""
    chosen = grants.plan_bought(ctx, purchase)
    quantity = Decimal(purchase.quantity or 1)
    model = chosen.model
    amounts = [card.revenue for card in plan_revenue(model, purchase.currency, {}, {})]
    amounts += [e.feature_configs[0].feature_credit_limit for e in model.billing_entitlement_cards]
    if any(abs(amount) * quantity >= numbers.LIMIT for amount in amounts):  # the request's field, not a line's
        raise BadRequest(
            f"quantity: {quantity} purchases of price plan {purchase.plan_id} would grant or bill 10^15 or more "
            "(at most 10^15 - 1 of anything)"
        )
    for card in plan_revenue(model, purchase.currency, {}, {}):
        if card.revenue:
            name = getattr(card.card, "name", None) or card.billable_id
            lines.append(
                {
                    "description": name,
                    "quantity": quantity,
                    "value_per_quantity": card.revenue,
                    "value": card.revenue * quantity,
                }
            )
    return chosen


def decide(ctx: Context, proposal_id: str, approve: bool) -> Purchase:
    """APPROVE: the proposal's purchase is made now; DECLINE: nothing else happens."""
    service = PurchaseService(ctx)
    proposal = service.decide(proposal_id, approve)
    if approve:
        account_id = service.account_id_of(proposal)
        purchase, _ = service.begin(account_id, service.purchase_of(proposal))
        _perform(ctx, service, purchase, account_id)
        service.billed_proposal(proposal, purchase)
    return proposal
