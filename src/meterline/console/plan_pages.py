"""The console's price plan pages (issue 7): the list, the builder, activation, versions. Thin handlers over the
catalog's services (docs/pricing.md): no rule of what makes a plan valid lives here.

The builder works without JavaScript: the plan's page shows its components, and each component has a small form
(a usage rate card with N slab rows, "+ Add a slab" sends the form back with one more row). Every save sends the
plan's whole details to `PricePlanService.set_details`: a DRAFT plan changes in place, an ACTIVE one gets a new
version, as through the API. A mistake is shown in words, next to its field when the message names one.
Turning the forms' fields into plan details (and back) is console/plan_forms.py's.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from meterline.api.deps import session_of
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_schemas as schemas
from meterline.catalog.addon_repository import AddOnRepository
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_service import ARCHIVED, PlanView, PricePlanService
from meterline.catalog.statuses import AddOnStatus
from meterline.console import listing
from meterline.console.account_pages import _url
from meterline.console.pages import PAGE, User, _field_errors, check_csrf, context, render
from meterline.console.plan_forms import (
    INTERVALS,
    KIND_NAMES,
    KINDS,
    MAX_SLABS,
    MODELS,
    PRICE_TYPES,
    TIMINGS,
    Catalog,
    card_error,
    card_from_form,
    card_values,
    currency_choices,
    cycle_from_form,
    cycle_values,
    cycle_words,
    detail_error,
    find_card,
    put_card,
    pydantic_words,
    resize_rows,
    words,
)
from meterline.core.errors import Conflict, MeterlineError, NotFound
from meterline.jobs.statuses import JobStatus
from meterline.metering.repository import MeteringRepository
from meterline.schedules.migration import affected_accounts
from meterline.tenancy.context import Context
from meterline.usecases.jobs import job_service, start_plan_migration

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
    return Catalog(meters=meters, addons=addons)


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
    return RedirectResponse(_url("price-plans", view.plan.id), status_code=303)


@router.get("/price-plans/{plan_id}/edit")
def edit_plan_page(request: Request, user: User, plan_id: str) -> Response:
    view = PricePlanService(context(request, user)).get(plan_id)
    _editable(view)
    values = {
        "name": view.plan.name,
        "description": view.plan.description or "",
        **cycle_values(view.latest.details, user.org.base_currency),
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
        _save(ctx, view, {**deepcopy(view.latest.details), **changes}, values["description"].strip())
    except (_Refused, MeterlineError) as exc:
        if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
            raise
        _undo(request)
        detail_error(exc.message, errors)
        return _details_page(request, user, view, values, errors, 400)
    return RedirectResponse(_url("price-plans", plan_id), status_code=303)


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
    inactive = [c for c in view.latest.details["supportedCurrencies"] if c not in view.latest.active_currencies]
    return render(
        request,
        "plan.html",
        user,
        status=status,
        view=view,
        shown=shown,
        details=shown.details,
        is_latest=number == latest,
        editable=number == latest and view.plan.status != ARCHIVED,
        accounts=accounts,
        ends=ends,
        inactive=inactive,
        catalog=_catalog(ctx),
        cycle_words=cycle_words,
        price_types=PRICE_TYPES,
        timings=TIMINGS,
        modes=MIGRATION_MODES,
        **extra,
    )


@router.get("/price-plans/{plan_id}")
def plan_page(request: Request, user: User, plan_id: str, version: str = "") -> Response:
    return _plan_page(request, user, plan_id, int(version) if version.isdigit() else None)


def _act(request: Request, user: Any, plan_id: str, action: Any) -> Response:
    """Run a button's action; a refusal shows the plan's page again with the message in words."""
    try:
        notice = action(context(request, user))
    except (_Refused, MeterlineError) as exc:
        if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
            raise
        _undo(request)
        return _plan_page(request, user, plan_id, status=400, error=words(exc.message))
    if notice:
        return _plan_page(request, user, plan_id, notice=notice)
    return RedirectResponse(_url("price-plans", plan_id), status_code=303)


@router.post("/price-plans/{plan_id}/activate")
def activate_plan(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    """Activate the plan in the currencies ticked (every card must be priced in them, its meters ACTIVE)."""
    check_csrf(user, str(form.get("csrf", "")))
    currencies = [str(c) for c in form.getlist("currencies")]

    def action(ctx: Context) -> None:
        if not currencies:
            raise _Refused("Tick the currencies to activate the plan in")
        PricePlanService(ctx).activate(plan_id, currencies)

    return _act(request, user, plan_id, action)


@router.post("/price-plans/{plan_id}/archive")
def archive_plan(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    return _act(request, user, plan_id, lambda ctx: PricePlanService(ctx).archive(plan_id))


@router.post("/price-plans/{plan_id}/migrate")
def migrate_accounts(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    """Move the accounts on the previous version (or every older one) to the newest version, as the API's
    migration does (a PRICE_PLAN job, run at once)."""
    check_csrf(user, str(form.get("csrf", "")))
    mode = str(form.get("mode", ""))
    scope = str(form.get("versions", "previous"))

    def action(ctx: Context) -> str:
        view = PricePlanService(ctx).get(plan_id)
        if mode not in MIGRATION_MODES:
            raise _Refused("Choose when the accounts move")
        newest = view.plan.latest_version
        if newest < 2:
            raise _Refused("This plan has a single version: there is no older version to move accounts from")
        sources = list(range(1, newest)) if scope == "all" else [newest - 1]
        job = start_plan_migration(
            ctx,
            source_id=plan_id,
            source_versions=sources,
            target_id=plan_id,
            target_version=newest,
            mode=mode,
            retain_start_offsets=False,
            require_confirmation=False,
        )
        entries = job_service(ctx).repo.entries(job)
        failed = [e for e in entries if e.status == JobStatus.FAILED]
        moved = len(entries) - len(failed)
        text = f"{moved} account{'s' if moved != 1 else ''} moved to version {newest} ({MIGRATION_MODES[mode]})."
        if failed:
            reason = (failed[0].result or {}).get("reason", "")
            text += f" {len(failed)} could not move{': ' + reason if reason else ''}."
        return text

    return _act(request, user, plan_id, action)


# -- components --------------------------------------------------------------------------------------------------
def _card_page(
    request: Request,
    user: Any,
    view: PlanView,
    kind: str,
    card: dict[str, Any] | None,
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
        currencies=view.latest.details["supportedCurrencies"],
        meters=list(catalog.meters.values()),
        addon_names=addon_names,
        models=MODELS,
        price_types=PRICE_TYPES,
        timings=TIMINGS,
        max_slabs=MAX_SLABS,
    )


def _editing(ctx: Context, plan_id: str, kind: str, name: str | None) -> tuple[PlanView, str, dict[str, Any] | None]:
    """The editable plan, the kind of component and the component being edited (None for a new card)."""
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    card = None
    if kind == "commitment":
        card = view.latest.details.get("minimumCommitment")
    elif name is not None:
        kind, _, card = find_card(view.latest.details, name)
    return view, kind, card


def _card_form(request: Request, user: Any, plan_id: str, kind: str, name: str | None) -> Response:
    ctx = context(request, user)
    view, kind, card = _editing(ctx, plan_id, kind, name)
    values = card_values(kind, card, view.latest.details["supportedCurrencies"], _catalog(ctx))
    return _card_page(request, user, view, kind, card if name or kind == "commitment" else None, values, {})


def _card_post(request: Request, user: Any, plan_id: str, kind: str, name: str | None, form: FormData) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view, kind, original = _editing(ctx, plan_id, kind, name)
    currencies = view.latest.details["supportedCurrencies"]
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
        _save(ctx, view, put_card(view.latest.details, kind, card, name))
    except ValidationError as exc:  # an add-on name the add-on service refuses
        errors["addon"] = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    except _Refused as exc:
        card_error(exc.message, currencies, errors)
    except MeterlineError as exc:
        if exc.status_code >= 500 or exc.status_code == 404:
            raise
        card_error(exc.message, currencies, errors)
    if errors:
        _undo(request)
        return _card_page(request, user, view, kind, shown, values, errors, 400)
    return RedirectResponse(_url("price-plans", plan_id), status_code=303)


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


@router.post("/price-plans/{plan_id}/commitment/remove")
def remove_commitment(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> None:
        view = PricePlanService(ctx).get(plan_id)
        _editable(view)
        details = deepcopy(view.latest.details)
        details.pop("minimumCommitment", None)
        _save(ctx, view, details)

    return _act(request, user, plan_id, action)


@router.get("/price-plans/{plan_id}/cards/{name}")
def card_page(request: Request, user: User, plan_id: str, name: str) -> Response:
    return _card_form(request, user, plan_id, "usage", name)


@router.post("/price-plans/{plan_id}/cards/{name}")
def edit_card(request: Request, user: User, plan_id: str, name: str, form: Fields) -> Response:
    return _card_post(request, user, plan_id, "usage", name, form)


@router.post("/price-plans/{plan_id}/cards/{name}/remove")
def remove_card(request: Request, user: User, plan_id: str, name: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> None:
        view = PricePlanService(ctx).get(plan_id)
        _editable(view)
        kind, index, _ = find_card(view.latest.details, name)
        details = deepcopy(view.latest.details)
        del details[KINDS[kind]][index]
        if not details[KINDS[kind]]:
            del details[KINDS[kind]]  # as a plan that never had one
        _save(ctx, view, details)

    return _act(request, user, plan_id, action)
