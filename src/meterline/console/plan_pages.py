"""The console's price plan pages (issue 7): the list, the builder, activation, versions. Thin handlers over the
catalog's services (docs/pricing.md): no rule of what makes a plan valid lives here.

The builder works without JavaScript: the plan's page shows its components, and each component has a small form
(a usage rate card with N slab rows, "+ Add a slab" sends the form back with one more row). Every save sends the
plan's whole details to `PricePlanService.set_details`: a DRAFT plan changes in place, an ACTIVE one gets a new
version, as through the API. A mistake is shown in words, next to its field when the message names one.
Turning the forms' fields into plan details (and back) is console/plan_forms.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from meterline.api.deps import session_of
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_schemas as schemas
from meterline.catalog.addon_repository import AddOnRepository
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_service import ACTIVE, ARCHIVED, PlanView, PricePlanService
from meterline.catalog.statuses import AddOnStatus
from meterline.console import feedback, listing
from meterline.console.account_pages import _url
from meterline.console.pages import PAGE, User, _field_errors, check_csrf, confirm, context, render
from meterline.console.plan_forms import (
    ENTITLEMENT_TIMINGS,
    INTERVALS,
    KIND_NAMES,
    KINDS,
    MAX_SLABS,
    MODELS,
    PRICE_TYPES,
    TIMINGS,
    Catalog,
    Component,
    card_error,
    card_from_form,
    card_values,
    currency_choices,
    cycle_from_form,
    cycle_values,
    cycle_words,
    detail_error,
    duration_words,
    entitlement_timing_words,
    find_card,
    overage_period_words,
    put_card,
    pydantic_words,
    resize_rows,
    validity_words,
    words,
)
from meterline.core.errors import Conflict, MeterlineError, NotFound
from meterline.core.schemas import error_text
from meterline.core.text import ascii_digits
from meterline.entitlements.repository import FeatureRepository
from meterline.jobs.statuses import JobStatus
from meterline.metering.repository import MeteringRepository
from meterline.schedules.migration import affected_accounts
from meterline.tenancy.context import Context
from meterline.usecases.jobs import job_service, start_plan_migration
from meterline.usecases.plans import preview_plan_migration

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
MIGRATION_MODES = {
    "NEXT_CYCLE": "at the start of their next cycle",
    "IMMEDIATE": "now",
    "START_OF_CURRENT_CYCLE": "from the start of their current cycle",
}


async def _form(request: Request) -> FormData:
    return await request.form()


Fields = Annotated[FormData, Depends(_form)]


# -- loading ---------------------------------------------------------------------------------------------------
def _catalog(ctx: Context) -> Catalog:
    meters = {m.id: m for m in MeteringRepository(ctx.session, ctx.org_id).usable_meters()}
    addons = {a.id: a for a in AddOnRepository(ctx.session, ctx.org_id).all()}
    features = {f.pk: f.billable_name or f.name for f in FeatureRepository(ctx.session, ctx.org_id).all()}
    return Catalog(meters=meters, addons=addons, features=features)


def _editable(view: PlanView) -> None:
    if view.plan.status == ARCHIVED:
        raise Conflict(f"Price plan {view.plan.name} is archived; an archived plan cannot change")


def _save(ctx: Context, view: PlanView, details: dict[str, Any], description: str | None = None) -> PlanView:
    """Check the details as the API would (its request model), then hand them to the service."""
    try:
        body = schemas.CreatePricePlanDetails.model_validate(details)
    except ValidationError as exc:
        raise _Refused(pydantic_words(exc)) from None
    return PricePlanService(ctx).set_details(view.plan.id, body, description)


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _undo(request: Request) -> None:
    """Forget what a refused action changed before showing the page again (the request rolls back anyway)."""
    session_of(request).rollback()


# -- the list ----------------------------------------------------------------------------------------------------
PLANS = listing.Spec(
    path="/price-plans",
    columns={
        "name": listing.Column("Name"),
        "status": listing.Column("Status"),
        "updated": listing.Column("Updated", descending_first=True),
    },
    default="name",
    noun=("price plan", "price plans"),
    size=PAGE,
)


@router.get("/price-plans")
def plans_page(request: Request, user: User, q: str = "", sort: str = "", page: str = "") -> Response:
    """The plans, sorted and paged in SQL; a search looks for a part of the name or id."""
    found = listing.Listing.read(PLANS, sort=sort, page=page, filters={"q": q})
    rows: list[PlanView] = []
    if found.ok:
        result = PricePlanService(context(request, user)).listed(found.slice(), q)
        found.found(result)
        rows = result.items
    return render(
        request,
        "plans.html",
        user,
        status=200 if found.ok else 400,
        plans=rows,
        q=q,
        cycle_words=cycle_words,
        list=found,
    )


# -- a new plan, its details -------------------------------------------------------------------------------------
def _details_page(
    request: Request,
    user: Any,
    view: PlanView | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "plan_form.html",
        user,
        status=status,
        view=view,
        values=values,
        errors=errors,
        intervals=INTERVALS,
        currencies=currency_choices(values["currencies"]),
    )


@router.get("/price-plans/new")
def new_plan_page(request: Request, user: User) -> Response:
    values = {"name": "", "description": "", **cycle_values(None, user.org.base_currency)}
    return _details_page(request, user, None, values, {})


@router.post("/price-plans/new")
def new_plan(request: Request, user: User, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    values: dict[str, Any] = {"name": str(form.get("name", "")), "description": str(form.get("description", ""))}
    errors: dict[str, str] = {}
    details = cycle_from_form(form, values, errors)
    if not values["name"].strip():
        errors["name"] = "Give the plan a name (unique among your plans)"
    if errors:
        return _details_page(request, user, None, values, errors, 400)
    try:
        body = schemas.CreatePricePlanRequest.model_validate(
            {"name": values["name"], "description": values["description"].strip() or None, "pricePlanDetails": details}
        )
        view = PricePlanService(context(request, user)).create(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else ""
        if where in ("name", "description"):
            message = next(iter(_field_errors(exc).values()))
            errors[where] = message[:1].upper() + message[1:]
        else:
            detail_error(pydantic_words(exc), errors)
        return _details_page(request, user, None, values, errors, 400)
    except Conflict as exc:
        return _details_page(request, user, None, values, {"name": exc.message}, 400)
    except MeterlineError as exc:
        if exc.status_code >= 500:
            raise
        detail_error(exc.message, errors)
        return _details_page(request, user, None, values, errors, 400)
    return feedback.saved(
        request,
        _url("price-plans", view.plan.id),
        f"Draft plan {view.plan.name} created: add its rate cards, then activate it.",
    )


@router.get("/price-plans/{plan_id}/edit")
def edit_plan_page(request: Request, user: User, plan_id: str) -> Response:
    view = PricePlanService(context(request, user)).get(plan_id)
    _editable(view)
    values = {
        "name": view.plan.name,
        "description": view.plan.description or "",
        **cycle_values(view.latest.model, user.org.base_currency),
    }
    return _details_page(request, user, view, values, {})


@router.post("/price-plans/{plan_id}/edit")
def edit_plan(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    values: dict[str, Any] = {"name": view.plan.name, "description": str(form.get("description", ""))}
    errors: dict[str, str] = {}
    changes = cycle_from_form(form, values, errors)
    if len(values["description"]) > 255:
        errors["description"] = "At most 255 characters, please"
    if errors:
        return _details_page(request, user, view, values, errors, 400)
    try:
        saved = _save(ctx, view, {**deepcopy(view.latest.details), **changes}, values["description"].strip())
    except (_Refused, MeterlineError) as exc:
        if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
            raise
        _undo(request)
        detail_error(exc.message, errors)
        return _details_page(request, user, view, values, errors, 400)
    return feedback.saved(
        request, _url("price-plans", plan_id), f"Details of {view.plan.name} saved.{_versioned(saved)}"
    )


# -- the plan's page ---------------------------------------------------------------------------------------------
def _plan_page(
    request: Request, user: Any, plan_id: str, version: int | None = None, status: int = 200, **extra: Any
) -> Response:
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    latest = view.latest.version.version
    number = version if version is not None and 1 <= version <= latest else latest
    shown = view.versions[number - 1]
    accounts = {
        v.version.version: len(affected_accounts(ctx, view.plan.pk, [v.version.version])) for v in view.versions
    }
    ends = {
        v.version.version: (view.versions[i + 1].version.created_at if i + 1 < len(view.versions) else None)
        for i, v in enumerate(view.versions)
    }
    inactive = [c for c in view.latest.model.currencies if c not in view.latest.active_currencies]
    pending = PricePlanService(ctx).repo.draft(view.plan) if view.plan.status == ACTIVE else None  # a v2 draft
    return render(
        request,
        "plan.html",
        user,
        pending=pending,
        status=status,
        view=view,
        shown=shown,
        model=shown.model,
        is_latest=number == latest,
        editable=number == latest and view.plan.status != ARCHIVED,
        accounts=accounts,
        ends=ends,
        inactive=inactive,
        catalog=_catalog(ctx),
        cycle_words=cycle_words,
        validity_words=validity_words,
        entitlement_timing_words=entitlement_timing_words,
        overage_period_words=overage_period_words,
        duration_words=duration_words,
        price_types=PRICE_TYPES,
        timings=TIMINGS,
        modes=MIGRATION_MODES,
        **extra,
    )


@router.get("/price-plans/{plan_id}")
def plan_page(request: Request, user: User, plan_id: str, version: str = "") -> Response:
    return _plan_page(request, user, plan_id, int(version) if ascii_digits(version) else None)


def _refused(request: Request, user: Any, plan_id: str, exc: Exception, where: str | None = None) -> Response:
    """A refusal (of an action or of its confirmation page): the plan's page again, the message in words, in the
    form `where` names (activate, migrate) or above the page."""
    if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
        raise exc
    _undo(request)
    message = exc.message if isinstance(exc, (_Refused, MeterlineError)) else str(exc)
    return _plan_page(request, user, plan_id, status=400, error=words(message), error_in=where)


def _act(
    request: Request, user: Any, plan_id: str, action: Callable[[Context], str], where: str | None = None
) -> Response:
    """Run a confirmed action; its notice in words on the plan's page, or the refusal on that page."""
    try:
        notice = action(context(request, user))
    except (_Refused, MeterlineError) as exc:
        return _refused(request, user, plan_id, exc, where)
    return feedback.saved(request, _url("price-plans", plan_id), notice)


def _ask(
    request: Request, user: Any, plan_id: str, page: Callable[[Context], Response], where: str | None = None
) -> Response:
    """The confirmation page of an action (a GET); refused at once if the action would be."""
    try:
        return page(context(request, user))
    except (_Refused, MeterlineError) as exc:
        return _refused(request, user, plan_id, exc, where)


def _would(ctx: Context, change: Callable[[], object]) -> None:
    """Let the service refuse `change` now, before the person confirms it; nothing is kept (a savepoint)."""
    savepoint = ctx.session.begin_nested()
    try:
        change()
    finally:
        savepoint.rollback()
        ctx.session.expire_all()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _versioned(view: PlanView) -> str:
    """What a save of an ACTIVE plan made, in words (nothing for a DRAFT plan, changed in place)."""
    if view.replaced is None:
        return ""
    return (
        f" That made version {view.plan.latest_version}; the accounts on version {view.replaced} stay on it until "
        "you move them (Versions)."
    )


def _on_plan(ctx: Context, view: PlanView, versions: list[int] | None = None) -> int:
    """Accounts with a schedule on these versions (every version by default) that has not ended."""
    numbers = versions or [v.version.version for v in view.versions]
    return len(affected_accounts(ctx, view.plan.pk, numbers))


def _crumbs(view: PlanView) -> list[tuple[str, str]]:
    return [("/price-plans", "Price Plans"), (_url("price-plans", view.plan.id), view.plan.name)]


def _confirmation(view: PlanView, **fields: Any) -> feedback.Confirmation:
    return feedback.Confirmation(
        back=_url("price-plans", view.plan.id), section="plans", crumbs=_crumbs(view), **fields
    )


# -- activate ----------------------------------------------------------------------------------------------------
@router.get("/price-plans/{plan_id}/activate")
def activate_page(
    request: Request,
    user: User,
    plan_id: str,
    currencies: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Activating cannot be undone (a plan never goes back to DRAFT, an active currency stays): confirm first."""

    def page(ctx: Context) -> Response:
        view = PricePlanService(ctx).get(plan_id)
        _editable(view)
        if not currencies:
            raise _Refused("Tick the currencies to activate the plan in")
        ticked = sorted(set(currencies))
        _would(ctx, lambda: PricePlanService(ctx).activate(plan_id, ticked))
        codes = ", ".join(ticked)
        name = view.plan.name
        if view.plan.status == ACTIVE:
            title, button = f"Activate {name} in {codes}?", f"Activate {codes}"
            consequence = (
                f"Accounts in {codes} can then be put on {name}. This cannot be undone: an active currency stays "
                "active, and every later version of the plan must price it."
            )
        else:
            title, button = f"Activate {name}?", "Activate plan"
            consequence = (
                f"Once active, {name} can be put on accounts in {codes}. This cannot be undone: an active plan never "
                "goes back to draft, each change you save from then on makes a new version (accounts stay on the "
                "version they are on until you move them), and an active currency cannot be removed."
            )
        active = view.latest.active_currencies
        facts = [("Price plan", name), ("Version", str(view.plan.latest_version)), ("Activate in", codes)]
        if active:
            facts.append(("Active already", ", ".join(active)))
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=title,
                words=consequence,
                action=_url("price-plans", plan_id, "activate"),
                button=button,
                facts=facts,
                hidden=[("currencies", c) for c in ticked],
                danger=False,
            ),
        )

    return _ask(request, user, plan_id, page, "activate")


@router.post("/price-plans/{plan_id}/activate")
def activate_plan(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    """Activate the plan in the currencies ticked (every card must be priced in them, its meters ACTIVE)."""
    check_csrf(user, str(form.get("csrf", "")))
    currencies = [str(c) for c in form.getlist("currencies")]

    def action(ctx: Context) -> str:
        if not currencies:
            raise _Refused("Tick the currencies to activate the plan in")
        view = PricePlanService(ctx).activate(plan_id, currencies)
        return f"{view.plan.name} is active in {', '.join(view.latest.active_currencies)}: it can be put on accounts."

    return _act(request, user, plan_id, action, "activate")


# -- archive -----------------------------------------------------------------------------------------------------
@router.get("/price-plans/{plan_id}/archive")
def archive_page(request: Request, user: User, plan_id: str) -> Response:
    def page(ctx: Context) -> Response:
        view = PricePlanService(ctx).get(plan_id)
        _editable(view)
        name, count = view.plan.name, _on_plan(ctx, view)
        if count == 1:
            keep = (
                "The account on it keeps it: its schedule runs as it is and its invoices are billed as before, until "
                "the schedule ends or you attach another plan."
            )
        elif count:
            keep = (
                f"The {count} accounts on it keep it: their schedules run as they are and their invoices are billed "
                "as before, until the schedules end or you attach another plan."
            )
        else:
            keep = "No account is on it now."
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=f"Archive {name}?",
                words=(
                    f"No new account can be put on {name}, and it becomes read-only: no changes, no new version, no "
                    f"account moved to it. {keep} Its name becomes free for another plan. An archived plan cannot be "
                    "made active again."
                ),
                action=_url("price-plans", plan_id, "archive"),
                button="Archive plan",
                facts=[
                    ("Price plan", name),
                    ("Status", view.plan.status),
                    ("Newest version", str(view.plan.latest_version)),
                    ("Accounts on it", str(count)),
                ],
            ),
        )

    return _ask(request, user, plan_id, page)


@router.post("/price-plans/{plan_id}/archive")
def archive_plan(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> str:
        service = PricePlanService(ctx)
        view = service.get(plan_id)
        _editable(view)
        count = _on_plan(ctx, view)
        service.archive(plan_id)
        kept = {0: " no account was on it", 1: " the account on it keeps it"}.get(
            count, f" the {count} accounts on it keep it"
        )
        return f"{view.plan.name} archived: no new account can be put on it;{kept}."

    return _act(request, user, plan_id, action)


# -- move accounts to the newest version -------------------------------------------------------------------------
def _migration(view: PlanView, scope: str, mode: str) -> dict[str, Any]:
    """The migration "Move accounts to version N" asks for (what the preview and the action both run)."""
    if mode not in MIGRATION_MODES:
        raise _Refused("Choose when the accounts move")
    newest = view.plan.latest_version
    if newest < 2:
        raise _Refused("This plan has a single version: there is no older version to move accounts from")
    return {
        "source_id": view.plan.id,
        "source_versions": list(range(1, newest)) if scope == "all" else [newest - 1],
        "target_id": view.plan.id,
        "target_version": newest,
        "mode": mode,
        "retain_start_offsets": False,
    }


def _versions_words(versions: list[int]) -> str:
    return f"version {versions[0]}" if len(versions) == 1 else f"versions {versions[0]} to {versions[-1]}"


@router.get("/price-plans/{plan_id}/migrate")
def migrate_page(request: Request, user: User, plan_id: str, versions: str = "previous", mode: str = "") -> Response:
    """What moving the accounts does to their open DRAFT invoices, account by account, before it is done."""

    def page(ctx: Context) -> Response:
        view = PricePlanService(ctx).get(plan_id)
        migration = _migration(view, versions, mode)
        preview = preview_plan_migration(ctx, **migration)
        newest, sources = view.plan.latest_version, _versions_words(migration["source_versions"])
        if preview.total == 0:
            summary = f"No account is on {sources}: nothing moves."
        else:
            moving = preview.total - preview.failures
            verb = "moves" if moving == 1 else "move"
            summary = f"{_plural(moving, 'account')} {verb} to version {newest} {MIGRATION_MODES[mode]}."
            if preview.failures:
                summary += f" {preview.failures} cannot move: {preview.first_failure}."
            changed = preview.changed_drafts
            listed = f" of the {len(preview.accounts)} accounts listed" if preview.rest else ""
            if changed:
                summary += (
                    f" {_plural(changed, 'open draft invoice')}{listed} {'changes' if changed == 1 else 'change'} "
                    "(below: each total before and after); finalized invoices never change."
                )
            else:
                summary += f" No open draft invoice{listed} changes: the new prices apply from when each account moves."
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=f"Move the accounts on {sources} to version {newest}?",
                words=summary,
                action=_url("price-plans", plan_id, "migrate"),
                button="Move accounts",
                facts=[
                    ("Price plan", view.plan.name),
                    ("Accounts on", sources),
                    ("Move to", f"version {newest}"),
                    ("When", MIGRATION_MODES[mode]),
                ],
                hidden=[("versions", versions), ("mode", mode)],
                danger=preview.changed_drafts > 0,
            ),
            template="migration_confirm.html",
            preview=preview,
        )

    return _ask(request, user, plan_id, page, "migrate")


@router.post("/price-plans/{plan_id}/migrate")
def migrate_accounts(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    """Move the accounts on the previous version (or every older one) to the newest version, as the API's
    migration does (a PRICE_PLAN job, run at once)."""
    check_csrf(user, str(form.get("csrf", "")))
    mode = str(form.get("mode", ""))
    scope = str(form.get("versions", "previous"))

    def action(ctx: Context) -> str:
        view = PricePlanService(ctx).get(plan_id)
        job = start_plan_migration(ctx, **_migration(view, scope, mode), require_confirmation=False)
        entries = job_service(ctx).repo.entries(job)
        failed = [e for e in entries if e.status == JobStatus.FAILED]
        moved = len(entries) - len(failed)
        newest = view.plan.latest_version
        text = f"{_plural(moved, 'account')} moved to version {newest} ({MIGRATION_MODES[mode]})."
        if failed:
            reason = (failed[0].result or {}).get("reason", "")
            text += f" {len(failed)} could not move{': ' + reason if reason else ''}."
        return text

    return _act(request, user, plan_id, action, "migrate")


# -- components --------------------------------------------------------------------------------------------------
def _card_page(
    request: Request,
    user: Any,
    view: PlanView,
    kind: str,
    card: Component | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    ctx = context(request, user)
    catalog = _catalog(ctx)
    addon_type = {"license": "LICENSE", "fixed-fee": "FIXED_FEE"}.get(kind)
    addon_names = sorted(
        a.name for a in catalog.addons.values() if a.status == AddOnStatus.ACTIVE and a.type == addon_type
    )
    return render(
        request,
        "plan_card.html",
        user,
        status=status,
        view=view,
        kind=kind,
        kind_name=KIND_NAMES[kind],
        card=card,
        values=values,
        errors=errors,
        currencies=list(view.latest.model.currencies),
        meters=list(catalog.meters.values()),
        features=catalog.features,
        addon_names=addon_names,
        models=MODELS,
        price_types=PRICE_TYPES,
        timings=ENTITLEMENT_TIMINGS if kind == "entitlement" else TIMINGS,
        max_slabs=MAX_SLABS,
    )


def _editing(
    ctx: Context, plan_id: str, kind: str, name: str | None
) -> tuple[PlanView, str, Component | None, int | None]:
    """The editable plan, the kind of component, the component being edited (None for a new card) and its index
    among the cards of its kind."""
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    card: Component | None = None
    index = None
    if kind == "commitment":
        card = view.latest.model.minimum_commitment
    elif name is not None:
        kind, index, card = find_card(view.latest.model, name)
    return view, kind, card, index


def _card_form(request: Request, user: Any, plan_id: str, kind: str, name: str | None) -> Response:
    ctx = context(request, user)
    view, kind, card, _ = _editing(ctx, plan_id, kind, name)
    values = card_values(kind, card, list(view.latest.model.currencies), _catalog(ctx))
    return _card_page(request, user, view, kind, card if name or kind == "commitment" else None, values, {})


def _card_post(request: Request, user: Any, plan_id: str, kind: str, name: str | None, form: FormData) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view, kind, original, index = _editing(ctx, plan_id, kind, name)
    currencies = list(view.latest.model.currencies)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    action = str(form.get("action", "save"))
    shown = original if name or kind == "commitment" else None
    if action in ("add_slab", "remove_slab") or action.startswith("remove_slab_"):
        # no JavaScript: the form comes back with one slab row more (or less), as typed
        card_from_form(kind, form, original, currencies, values, {})
        resize_rows(values["rows"], action)
        return _card_page(request, user, view, kind, shown, values, {})
    card = card_from_form(kind, form, original, currencies, values, errors)
    if errors:
        return _card_page(request, user, view, kind, shown, values, errors, 400)
    try:
        if kind in ("license", "fixed-fee"):  # named by its add-on: the add-on of that name, made if new
            card["id"] = AddOnService(ctx).named(values["addon"], "LICENSE" if kind == "license" else "FIXED_FEE").id
        saved = _save(ctx, view, put_card(view.latest.details, kind, card, index))
    except ValidationError as exc:  # an add-on name the add-on service refuses
        errors["addon"] = error_text(exc.errors()[0])
    except _Refused as exc:
        card_error(exc.message, currencies, errors, _catalog(ctx).features)
    except MeterlineError as exc:
        if exc.status_code >= 500 or exc.status_code == 404:
            raise
        card_error(exc.message, currencies, errors, _catalog(ctx).features)
    if errors:
        _undo(request)
        return _card_page(request, user, view, kind, shown, values, errors, 400)
    catalog = _catalog(ctx)
    label = (
        values.get("display_name")
        or values.get("addon")
        or (catalog.feature_name(values["feature"]) if "feature" in values else None)
        or catalog.meter_name(values.get("meter", ""))
    )
    if kind == "commitment":
        done = f"Minimum commitment of {view.plan.name} saved."
    else:
        kind_name = KIND_NAMES[kind].lower()
        done = f'{"Saved" if name else "Added"} the {kind_name} "{label}" of {view.plan.name}.'
    return feedback.saved(request, _url("price-plans", plan_id), done + _versioned(saved))


@router.get("/price-plans/{plan_id}/cards/new")
def new_card_page(request: Request, user: User, plan_id: str, kind: str = "usage") -> Response:
    if kind not in KINDS:
        raise NotFound(f"No kind of rate card called {kind}")
    return _card_form(request, user, plan_id, kind, None)


@router.post("/price-plans/{plan_id}/cards/new")
def new_card(request: Request, user: User, plan_id: str, form: Fields, kind: str = "usage") -> Response:
    if kind not in KINDS:
        raise NotFound(f"No kind of rate card called {kind}")
    return _card_post(request, user, plan_id, kind, None, form)


@router.get("/price-plans/{plan_id}/commitment")
def commitment_page(request: Request, user: User, plan_id: str) -> Response:
    return _card_form(request, user, plan_id, "commitment", None)


@router.post("/price-plans/{plan_id}/commitment")
def set_commitment(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    return _card_post(request, user, plan_id, "commitment", None, form)


@router.get("/price-plans/{plan_id}/cards/{name}")
def card_page(request: Request, user: User, plan_id: str, name: str) -> Response:
    return _card_form(request, user, plan_id, "usage", name)


@router.post("/price-plans/{plan_id}/cards/{name}")
def edit_card(request: Request, user: User, plan_id: str, name: str, form: Fields) -> Response:
    return _card_post(request, user, plan_id, "usage", name, form)


# -- removing a component ----------------------------------------------------------------------------------------
def _without(ctx: Context, plan_id: str, name: str | None) -> tuple[PlanView, str, str, dict[str, Any]]:
    """The editable plan, the kind of component, what it is called (in words), and the plan's details without it
    (`name` None: the minimum commitment)."""
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    details = deepcopy(view.latest.details)
    if name is None:
        if view.latest.model.minimum_commitment is None:
            raise NotFound(f"Price plan {view.plan.name} has no minimum commitment")
        del details["minimumCommitment"]
        return view, "minimum commitment", "the minimum commitment", details
    kind, index, card = find_card(view.latest.model, name)
    del details[KINDS[kind]][index]
    if not details[KINDS[kind]]:
        del details[KINDS[kind]]  # as a plan that never had one
    kind_name = KIND_NAMES[kind].lower()
    return view, kind_name, f'the {kind_name} "{card.display_name or name}"', details


def _remove_page(request: Request, user: Any, plan_id: str, name: str | None) -> Response:
    def page(ctx: Context) -> Response:
        view, kind, what, details = _without(ctx, plan_id, name)
        _would(ctx, lambda: _save(ctx, view, details))
        plan, number = view.plan.name, view.plan.latest_version
        if view.plan.status == ACTIVE:
            count = _on_plan(ctx, view, [number])
            on = {0: f"No account is on version {number}", 1: f"The account on version {number} keeps"}.get(
                count, f"The {count} accounts on version {number} keep"
            )
            consequence = f"Removing {what} makes version {number + 1} of {plan}, without it. " + (
                f"{on}."
                if count == 0
                else f"{on} being billed for it until you move {'it' if count == 1 else 'them'} to version "
                f"{number + 1} (Versions, on the plan's page)."
            )
            consequence += f" Accounts you put on {plan} from now on get version {number + 1}."
        else:
            consequence = f"{what[:1].upper() + what[1:]} is taken off {plan}, a draft plan, on no account yet."
        if name is None:
            consequence += " Without a minimum commitment, no true-up is added when a cycle's charges come to less."
        action = (
            _url("price-plans", plan_id, "commitment", "remove")
            if name is None
            else _url("price-plans", plan_id, "cards", name, "remove")
        )
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=f"Remove {what} from {plan}?",
                words=consequence,
                action=action,
                button=f"Remove {kind}",
                facts=[("Price plan", f"{plan} ({view.plan.status}, version {number})"), ("Remove", what)],
            ),
        )

    return _ask(request, user, plan_id, page)


def _remove(request: Request, user: Any, plan_id: str, name: str | None, form: FormData) -> Response:
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> str:
        view, _kind, what, details = _without(ctx, plan_id, name)
        saved = _save(ctx, view, details)
        return f"Removed {what} from {view.plan.name}.{_versioned(saved)}"

    return _act(request, user, plan_id, action)


@router.get("/price-plans/{plan_id}/commitment/remove")
def remove_commitment_page(request: Request, user: User, plan_id: str) -> Response:
    return _remove_page(request, user, plan_id, None)


@router.post("/price-plans/{plan_id}/commitment/remove")
def remove_commitment(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    return _remove(request, user, plan_id, None, form)


@router.get("/price-plans/{plan_id}/cards/{name}/remove")
def remove_card_page(request: Request, user: User, plan_id: str, name: str) -> Response:
    return _remove_page(request, user, plan_id, name)


@router.post("/price-plans/{plan_id}/cards/{name}/remove")
def remove_card(request: Request, user: User, plan_id: str, name: str, form: Fields) -> Response:
    return _remove(request, user, plan_id, name, form)
