"""The feature credits a purchase of a PURCHASE plan grants (docs/invoicing.md, "Purchases and proposals"):
an ENTITLEMENT_GRANT purchase's at once, a PREPAID purchase's once its ORDER invoice is PAID.

Each billing entitlement card of the plan version bought grants its `featureCreditLimit` x `quantity` (default 1)
credits of its feature: an ENTITLEMENT entry `<purchaseId>#<card index>$PURCHASE`. The grant is idempotent (the
entry id is claimed under an advisory lock on PostgreSQL, and an existing entry is returned as it is), so a PREPAID
purchase's credits are granted exactly once however often, or however concurrently, its invoice is paid.

Invoicing calls `grant_paid` when an ORDER invoice becomes PAID (InvoiceService.grant_credits): purchases sits
below invoicing (it imports accounts, catalog and entitlements, never invoicing; usecases/purchases.py makes the
invoice)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from meterline.catalog.plan_model import PlanModel
from meterline.catalog.plan_service import PlanVersion, PricePlanService
from meterline.core.errors import BadRequest
from meterline.entitlements.plan_grants import shifted
from meterline.entitlements.service import ENTITLEMENT, FeatureCreditService, Grant
from meterline.purchases.models import Purchase
from meterline.tenancy.context import Context

CREDIT_TYPES = ("ENTITLEMENT_GRANT", "PREPAID")  # the purchase types that buy a PURCHASE plan's feature credits


def plan_bought(ctx: Context, purchase: Purchase) -> PlanVersion:
    """The version of the PURCHASE plan a purchase buys: the plan's latest version active in the account's currency
    (400 for a BILLING plan, one not active in the currency, or one with credit grant cards; 404 for an unknown
    plan); once the purchase has a `plan_version`, that version."""
    plan_id = purchase.plan_id or ""
    service = PricePlanService(ctx)
    if purchase.plan_version is not None:
        view = service.get(plan_id, purchase.plan_version)
        return next(v for v in view.versions if v.version.version == purchase.plan_version)
    view = service.get(plan_id)  # 404 for an unknown plan
    if view.plan.type != "PURCHASE":
        raise BadRequest(
            f"pricePlanId: price plan {plan_id} is a {view.plan.type} plan; a purchase needs a PURCHASE plan"
        )
    currency = purchase.currency
    active = [v for v in view.versions if currency in v.active_currencies]
    if not active:
        raise BadRequest(f"pricePlanId: price plan {plan_id} is not active in {currency}, the account's currency")
    chosen = active[-1]
    if chosen.model.credit_grant_cards:
        raise BadRequest(f"pricePlanId: price plan {plan_id} has credit grant cards, which purchases do not grant yet")
    return chosen


def grant_plan_credits(ctx: Context, purchase: Purchase, account_id: str, model: PlanModel, now: datetime) -> None:
    """The plan's billing entitlement cards' credits for the purchase, from its `effectiveFrom` (default `now`: the
    purchase, or the payment of a PREPAID one) until its `effectiveUntil` (default: the card's `effectiveUntil`
    duration after the start, else no end). Idempotent."""
    quantity = Decimal(purchase.quantity or 1)
    tz = ZoneInfo(ctx.org.timezone)
    credits = FeatureCreditService(ctx)
    for i, entitlement in enumerate(model.billing_entitlement_cards):
        config = entitlement.feature_configs[0]
        units = config.feature_credit_limit * quantity
        if units <= 0:
            continue
        starts = purchase.effective_from or now
        ends = purchase.effective_until or (
            shifted(starts, config.effective_until, tz) if config.effective_until else None
        )
        credits.grant(
            Grant(
                account_id,
                entitlement.feature_id,
                units,
                effective_from=starts,
                effective_until=ends,
                source=ENTITLEMENT,
                entry_id=f"{purchase.pk}#{i}$PURCHASE",
            )
        )


def grant_paid(ctx: Context, invoice_pk: str, account_id: str) -> None:
    """The ORDER invoice `invoice_pk` is PAID: the credits of the PREPAID purchase it bills, if any, granted now
    (once: the grant is idempotent); none when it is paid at or after the purchase's `effectiveUntil` (the credits
    would have ended before they began). The caller holds the invoice's row lock (a payment or a status change)."""
    purchase = ctx.session.scalar(
        select(Purchase).where(
            Purchase.org_id == ctx.org_id,
            Purchase.invoice_pk == invoice_pk,
            Purchase.type == "PREPAID",
            Purchase.payment_mode.is_(None),  # the purchase, not the approved proposal naming the same invoice
        )
    )
    if purchase is None:
        return
    if purchase.effective_until is not None and purchase.effective_until <= (purchase.effective_from or ctx.now):
        return  # paid after the credits' window ended: the payment stands, there is nothing left to grant
    grant_plan_credits(ctx, purchase, account_id, plan_bought(ctx, purchase).model, ctx.now)
