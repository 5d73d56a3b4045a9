"""Price plan schedules change only after what is invoiced, and the account's DRAFT invoices follow at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meterline.accounts.models import Account
from meterline.invoicing.service import InvoiceService, invoiced_until
from meterline.schedules import migration
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.schedules.service import ScheduleService, ScheduleView
from meterline.tenancy.context import Context


def edit_schedules(
    ctx: Context, account_id: str, edits: Sequence[UpdatePricingScheduleRequest], *, dry_run: bool = False
) -> tuple[Account, list[ScheduleView]]:
    """Apply the edits in order (all or none); refused before the end of the account's finalized invoices; the
    drafts are re-synced unless it is a dry run."""
    account, views = ScheduleService(ctx).edit(account_id, list(edits), invoiced_until=invoiced_until, dry_run=dry_run)
    if not dry_run:
        InvoiceService(ctx).sync(account, ctx.now)
    return account, views


def migrate_account_entry(ctx: Context, params: dict[str, Any], account_id: str) -> None:
    """A PRICE_PLAN job's entry: move one account (never over its finalized invoices), then re-sync its drafts."""
    account = migration.migrate_account(ctx, params, account_id, invoiced_until=invoiced_until)
    InvoiceService(ctx).sync(account, ctx.now)
