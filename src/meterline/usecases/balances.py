"""The credit and wallet services as every entry point needs them: with what DRAFT invoices hold of them."""

from __future__ import annotations

from meterline.credits.service import CreditService
from meterline.invoicing.service import credit_holds, wallet_holds
from meterline.tenancy.context import Context
from meterline.wallet.service import WalletService


def credits(ctx: Context) -> CreditService:
    return CreditService(ctx, holds=credit_holds)


def wallet(ctx: Context) -> WalletService:
    return WalletService(ctx, holds=wallet_holds)
