"""The forms of the account's Entitlements tab (issue 21): grant feature credits, update an ACTIVE entry, void one.
Thin handlers over FeatureCreditService, the service behind the API's routes (`POST .../entries`, `PATCH
.../entries/{entryId}`, `POST .../entries/{entryId}/void`); they run through account_pages' `_submit` (a savepoint;
a refusal is the tab again, status 400, in words next to its field; a save is a 303 with a notice).

Updating and voiding ask first (`pages.confirm`), saying exactly what will happen. The update's confirmation runs the
update itself in a savepoint and rolls it back (as the schedule preview does), so what it says, and what it refuses,
is what the button will do. Entry ids hold `#` and `$` (`ps.…#20260101$PRICE_PLAN`): every URL names them
percent-encoded (entitlement_tab.entry_url)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from meterline.accounts.models import Account
from meterline.api.routing import UnitOfWorkRoute
from meterline.console import entitlement_forms as forms, feedback
from meterline.console.account_forms import Refused
from meterline.console.account_pages import _submit
from meterline.console.entitlement_tab import TAB, entry_url, tab_url
from meterline.console.pages import User, check_csrf, confirm, context, render
from meterline.core.errors import MeterlineError
from meterline.core.money import EXACT
from meterline.core.numbers import grouped
from meterline.entitlements.models import Feature, FeatureCreditEntry
from meterline.entitlements.service import ACTIVE, FeatureCreditService, entry_balance, entry_granted, entry_status
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
ENTRY = "/accounts/{account_id}/features/{feature_id}/entries/{entry_id}"


def _facts(entry: FeatureCreditEntry, now: datetime) -> forms.EntryFacts:
    return forms.EntryFacts(entry.entry_id, entry_granted(entry), entry.used, entry_balance(entry, now), entry.ends_at)


def _feature_words(feature: Feature) -> str:
    return f"{feature.name} ({feature.pk})"


def _entry_facts(account: Account, feature: Feature, entry: FeatureCreditEntry, now: datetime) -> list[tuple[str, str]]:
    return [
        ("Entry", entry.entry_id),
        ("Account", f"{account.name} ({account.id})"),
        ("Feature", _feature_words(feature)),
        ("Source", entry.source.replace("_", " ").title()),
        ("Status", str(entry_status(entry, now)).title()),
        ("From", forms.starts_words(entry.starts_at)),
        ("Until", forms.ends_words(entry.ends_at)),
        ("Granted", forms.units(entry_granted(entry))),
        ("Used", grouped(entry.used)),
        ("Left to use", forms.units(entry_balance(entry, now))),
    ]


# -- Grant credits -------------------------------------------------------------------------------------------------
@router.post("/accounts/{account_id}/features/{feature_id}/entries")
def grant_credits(
    request: Request,
    user: User,
    account_id: str,
    feature_id: str,
    csrf: Annotated[str, Form()] = "",
    granted: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    """An ENTITLEMENT entry of the feature for the account (FeatureCreditService.grant_entitlement, as `POST
    /api/accounts/{a}/features/{f}/entries`)."""
    check_csrf(user, csrf)
    FeatureCreditService(context(request, user)).feature(feature_id)  # a feature not found is a 404 page
    values = {"granted": granted, "start": start, "until": until}

    def action(ctx: Context, account: Account) -> str:
        service = FeatureCreditService(ctx)
        feature = service.feature(feature_id)
        entry = service.grant_entitlement(forms.grant_of(account.id, feature.pk, values, ctx.org.timezone))
        balance = service.credits(account.id, feature.pk).balance
        return (
            f"Granted {forms.units(entry_granted(entry))} of {feature.name} to {account.name}: entry {entry.entry_id}, "
            f"{forms.window_words(entry.starts_at, entry.ends_at)}; balance now {grouped(balance)}"
        )

    return _submit(
        request,
        user,
        account_id,
        TAB,
        "grant",
        values,
        action,
        lambda exc, _account: forms.grant_errors(exc, values),
        back=tab_url(account_id, feature_id),
        chosen={"feature": feature_id},
    )


# -- Update an entry -----------------------------------------------------------------------------------------------
def _update_form(
    request: Request,
    user: Any,
    ctx: Context,
    names: tuple[Account, Feature, FeatureCreditEntry],
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    account, feature, entry = names
    back = tab_url(account.id, feature.pk)
    return render(
        request,
        "entry_update.html",
        user,
        status=status,
        account=account,
        feature=feature,
        entry=entry,
        facts=_entry_facts(account, feature, entry, ctx.now),
        active=entry_status(entry, ctx.now) == ACTIVE,
        used=grouped(entry.used),
        until_now=forms.ends_words(entry.ends_at),
        action=entry_url(account.id, feature.pk, entry.entry_id, "update"),
        back=back,
        values=values,
        errors=errors,
    )


def _preview(
    ctx: Context, account: Account, feature: Feature, entry_id: str, change: forms.EntryChange
) -> forms.EntryFacts:
    """The entry as the update would leave it: the update itself, run in a savepoint that is rolled back (its
    refusal propagates; nothing is kept)."""
    session = ctx.session
    session.flush()
    savepoint = session.begin_nested()
    try:
        updated = FeatureCreditService(ctx).update(
            account.id, feature.pk, entry_id, effective_until=change.effective_until, granted=change.granted
        )
        after = _facts(updated, ctx.now)
    finally:
        savepoint.rollback()
        session.expire_all()
    return after


@router.get(ENTRY + "/update")
def update_entry_page(
    request: Request,
    user: User,
    account_id: str,
    feature_id: str,
    entry_id: str,
    granted: str | None = None,
    until: str | None = None,
) -> Response:
    """The update form (units granted, last day); sent (GET), the confirmation of what the update does."""
    ctx = context(request, user)
    service = FeatureCreditService(ctx)
    account, feature = service.account(account_id), service.feature(feature_id)
    entry = service.entry(account_id, feature_id, entry_id)
    names = (account, feature, entry)
    if granted is None and until is None:
        return _update_form(request, user, ctx, names, {}, {})
    values = {"granted": granted or "", "until": until or ""}
    before = _facts(entry, ctx.now)
    try:
        after = _preview(ctx, account, feature, entry_id, forms.entry_change_of(values, ctx.org.timezone))
    except (Refused, MeterlineError) as exc:
        if isinstance(exc, MeterlineError) and exc.status_code >= 500:
            raise
        errors = exc.errors if isinstance(exc, Refused) else forms.entry_errors(exc, values)
        return _update_form(request, user, ctx, names, values, errors, status=400)
    back = tab_url(account.id, feature.pk)
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Update entry {entry_id}?",
            words=forms.update_words(before, after),
            action=entry_url(account.id, feature.pk, entry_id, "update"),
            button="Update entry",
            back=back,
            section="customers",
            crumbs=[("/customers", "Customers"), (back, account.name)],
            facts=[
                *_entry_facts(account, feature, entry, ctx.now),  # as saved: the preview was rolled back
                ("Granted after", forms.units(after.granted)),
                ("Until after", forms.ends_words(after.ends_at)),
                ("Left to use after", forms.units(after.balance)),
            ],
            hidden=[("granted", values["granted"]), ("until", values["until"])],
            danger=False,
        ),
    )


@router.post(ENTRY + "/update")
def update_entry(
    request: Request,
    user: User,
    account_id: str,
    feature_id: str,
    entry_id: str,
    csrf: Annotated[str, Form()] = "",
    granted: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    """The confirmed update (FeatureCreditService.update, as `PATCH .../entries/{entryId}`)."""
    check_csrf(user, csrf)
    values = {"granted": granted, "until": until}

    def action(ctx: Context, account: Account) -> str:
        change = forms.entry_change_of(values, ctx.org.timezone)
        entry = FeatureCreditService(ctx).update(
            account.id, feature_id, entry_id, effective_until=change.effective_until, granted=change.granted
        )
        return (
            f"Entry {entry.entry_id} updated: it grants {forms.units(entry_granted(entry))} until "
            f"{forms.ends_words(entry.ends_at)}; left to use: {forms.units(entry_balance(entry, ctx.now))}"
        )

    return _submit(
        request,
        user,
        account_id,
        TAB,
        "update",
        values,
        action,
        lambda exc, _account: forms.entry_errors(exc, values),
        back=tab_url(account_id, feature_id),
        chosen={"feature": feature_id},
    )


# -- Void an entry -------------------------------------------------------------------------------------------------
@router.get(ENTRY + "/void")
def void_entry_page(request: Request, user: User, account_id: str, feature_id: str, entry_id: str) -> Response:
    """Void asks first: the entry, and what voiding does to what is left of it and to what it used."""
    ctx = context(request, user)
    service = FeatureCreditService(ctx)
    account, feature = service.account(account_id), service.feature(feature_id)
    entry = service.entry(account_id, feature_id, entry_id)
    status = entry_status(entry, ctx.now)
    back = tab_url(account.id, feature.pk)
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Void entry {entry_id}?",
            words=forms.void_words(_facts(entry, ctx.now)),
            action=entry_url(account.id, feature.pk, entry_id, "void"),
            button="Void entry",
            back=back,
            section="customers",
            crumbs=[("/customers", "Customers"), (back, account.name)],
            facts=_entry_facts(account, feature, entry, ctx.now),
        ),
        error=None if status == ACTIVE else f"This entry is {status.lower()}: only an active entry can be voided.",
    )


@router.post(ENTRY + "/void")
def void_entry(
    request: Request, user: User, account_id: str, feature_id: str, entry_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """The confirmed void (FeatureCreditService.void, as `POST .../entries/{entryId}/void`)."""
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        entry = FeatureCreditService(ctx).void(account.id, feature_id, entry_id)  # read again under its lock
        left = EXACT.subtract(entry_granted(entry), entry.used)  # what it had left: it was ACTIVE
        return (
            f"Entry {entry.entry_id} voided: its {forms.units(left)} left can no longer be used; "
            f"{grouped(entry.used)} used stay"
        )

    return _submit(
        request,
        user,
        account_id,
        TAB,
        "void",
        {},
        action,
        lambda exc, _account: forms.entry_errors(exc, {}),
        back=tab_url(account_id, feature_id),
        chosen={"feature": feature_id},
    )
