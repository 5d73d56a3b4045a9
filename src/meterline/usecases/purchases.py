"""A purchase spans purchases, the wallet and invoicing (docs/invoicing.md, "Purchases and proposals"): the
purchases domain keeps the row and its rules; what the purchase does is done here, in the request's one transaction,
under the account's row lock that PurchaseService.begin takes (the lock order: account, then its wallet, invoices).

- WALLET_TOPUP: the wallet is credited `topupAmount` now (a CREDITED entry naming the purchase), and the ORDER
  invoice bills `purchaseAmount` (default: `topupAmount`).
- The ORDER invoice: a CUSTOM invoice of class ORDER made by InvoiceService.create_custom, finalized at once (DUE),
  dated now, one line per thing bought, credits and wallet not applied to it; the purchase's `price` is its total.
- An approved proposal makes its purchase exactly as `initiate` would (a purchase of its own, named on the proposal
  with its invoice and price).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from meterline.invoicing.service import InvoiceService
from meterline.purchases.models import Purchase
from meterline.purchases.schemas import CreatePurchaseRequest
from meterline.purchases.service import PurchaseService
from meterline.tenancy.context import Context
from meterline.usecases import balances

ORDER = "ORDER"


def initiate(ctx: Context, account_id: str, body: CreatePurchaseRequest) -> Purchase:
    """The purchase, made and billed now; a repeated idempotencyKey gives back the first one, unchanged."""
    service = PurchaseService(ctx)
    purchase, created = service.begin(account_id, body)
    if created:
        _perform(ctx, service, purchase, account_id)
    return purchase


def _perform(ctx: Context, service: PurchaseService, purchase: Purchase, account_id: str) -> None:
    lines: list[dict[str, Any]] = []
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
    service.made(purchase, invoice.pk, price)


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
