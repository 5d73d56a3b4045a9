"""What the console says of failed bill run steps (invoicing/failures.py): a notice per failure on the dashboard,
and on the page of the invoice that could not be finalized. Pure wording over the repository's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from meterline.accounts.repository import AccountRepository
from meterline.invoicing.failures import EXPIRE, FINALIZE, SYNC, BillingFailureRepository
from meterline.invoicing.models import BillingFailure, Invoice
from meterline.invoicing.service import InvoiceService, UncomputableDraft
from meterline.tenancy.context import Context

SHOWN = 20  # failures listed on the dashboard; the notice says how many more there are


@dataclass(frozen=True)
class Notice:
    text: str
    href: str | None


def _when(instant: datetime, timezone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} ({timezone})"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def describe_failure(failure: BillingFailure, what: str, timezone: str) -> str:
    """ "Billing of draft invoice X failed 3 times: <message>; next attempt at 2026-12-02 00:04 (UTC).\""""
    return (
        f"{what} failed {_times(failure.attempts)}: {failure.message}; next attempt at "
        f"{_when(failure.next_attempt_at, timezone)}."
    )


def dashboard_notices(ctx: Context) -> tuple[list[Notice], int]:
    """The organization's failures (those retried soonest first, at most SHOWN) and how many there are."""
    rows, total = BillingFailureRepository(ctx.session, ctx.org_id).listed(SHOWN)
    accounts = AccountRepository(ctx.session, ctx.org_id).by_pks(
        {f.subject for f, _ in rows if f.stage == SYNC} | {i.account_pk for _, i in rows if i is not None}
    )
    notices = []
    for failure, invoice in rows:
        if failure.stage == FINALIZE and invoice is not None:
            account = accounts.get(invoice.account_pk)
            owner = f" (account {account.id})" if account is not None else ""
            what = f"Billing of draft invoice {invoice.pk}{owner}"
            href: str | None = f"/invoices/{quote(invoice.pk, safe='')}"
        elif failure.stage == SYNC:
            account = accounts.get(failure.subject)
            what = f"Creating the invoices of account {account.id if account is not None else failure.subject}"
            href = f"/accounts/{quote(account.id, safe='')}" if account is not None else None
        elif failure.stage == EXPIRE:
            what, href = "Expiring ended credits", None
        else:
            what, href = "The bill run of this organization", None
        notices.append(Notice(describe_failure(failure, what, ctx.org.timezone), href))
    return notices, total


def invoice_notice(ctx: Context, invoice_pk: str) -> str | None:
    failure = BillingFailureRepository(ctx.session, ctx.org_id).of_invoice(invoice_pk)
    if failure is None:
        return None
    return describe_failure(failure, f"Billing of draft invoice {invoice_pk}", ctx.org.timezone)


def listed_total(service: InvoiceService, invoice: Invoice) -> Decimal | None:
    """An invoice's total for the console's lists; None for a draft whose data breaks computing it (its page says
    why), so that one broken draft never takes the list of every other invoice down."""
    try:
        return service.readable_view(invoice)[3]
    except UncomputableDraft:
        return None
