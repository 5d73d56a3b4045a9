"""The console's price plan drafts (issue 17): a plan edited as a DRAFT version of named rate cards, its `errors`
listed card by card, then discarded or finalized with a migration mode. Thin handlers over the same services as
PricePlanV2Api (catalog/plan_v2_service.py, usecases.plans.finalize_price_plan_v2 and its preview).

The card forms are the builder's (console/plan_forms.py, template plan_card.html): a saved form becomes one v2
rate-card operation (CREATE, UPDATE or DELETE) on the draft, as POST /v2/price_plans/{id}/rate_cards makes it. What
the plan's rules refuse is kept on the draft and listed as its errors (fix the card, then finalize); only what the
API itself would refuse (a malformed card) is shown on the form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_v2
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_schemas import MinimumCommitment
from meterline.catalog.plan_service import ACTIVE, DRAFT
from meterline.catalog.plan_v2_schemas import UpdatePricePlanV2Request
from meterline.catalog.plan_v2_service import PricePlanV2Service, V2View
from meterline.catalog.statuses import AddOnStatus
from meterline.console import feedback
from meterline.console.account_pages import _url
from meterline.console.pages import User, check_csrf, confirm, context, render
from meterline.console.plan_forms import (
    ENTITLEMENT_TIMINGS,
    INTERVALS,
    KIND_NAMES,
    KINDS,
    MAX_SLABS,
    MODELS,
    PRICE_TYPES,
    TIMINGS,
    Component,
    card_error,
    card_from_form,
    card_values,
    currency_choices,
    cycle_from_form,
    cycle_values,
    detail_error,
    find_card,
    pydantic_words,
    resize_rows,
    words,
)
from meterline.console.plan_pages import Fields, _catalog, _plural, _undo
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.schemas import error_text
from meterline.jobs.statuses import JobStatus
from meterline.schedules.migration import affected_accounts
from meterline.tenancy.context import Context
from meterline.usecases.jobs import job_service
from meterline.usecases.plans import finalize_price_plan_v2, preview_finalize_price_plan_v2

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

# the builder's kinds of component -> v2's rate card types
V2_TYPES: dict[str, plan_v2.RateCardType] = {
    "usage": "USAGE",
    "license": "LICENSE",
    "fixed-fee": "FIXED_FEE",
    "entitlement": "BILLING_ENTITLEMENT",
    "overage": "ENTITLEMENT_OVERAGE",
    "commitment": "MINIMUM_COMMITMENT",
}
KIND_OF: dict[str, str] = {v: k for k, v in V2_TYPES.items()}  # CREDIT_GRANT: none (made through the API)
# v2 finalize's migration modes, in words (what happens to the accounts on the versions migrated)
FINALIZE_MODES = {
    "NONE": "no account moves (each stays on its version until you move it)",
    "NEXT_CYCLE": "they move at the start of their next cycle",
    "NEXT_CYCLE_IGNORE_OVERRIDE": "they move at the start of their next cycle, leaving their overrides behind",
    "IMMEDIATE": "they move now",
    "IMMEDIATE_IGNORE_OVERRIDE": "they move now, leaving their overrides behind",
    "START_OF_CURRENT_CYCLE": "they move from the start of their current cycle (the current cycle is re-priced)",
}
VERSIONS = {
    "LATEST_VERSION": "the accounts on the version in force",
    "ALL_VERSION": "the accounts on every earlier version",
}


class Refused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _base(plan_id: str) -> str:
    return _url("price-plans", plan_id, "draft")


# -- the draft's page --------------------------------------------------------------------------------------------
def _draft_page(request: Request, user: Any, plan_id: str, status: int = 200, **extra: Any) -> Response:
    ctx = context(request, user)
    service = PricePlanV2Service(ctx)
    view, errors = service.errors(plan_id)
    by_card: dict[str, list[str]] = {}
    others: list[plan_v2.CardError] = []
    names = {c.name for c in view.cards()}
    for e in errors:
        if e.entity_type == "RATE_CARD" and e.entity_id in names:
            by_card.setdefault(e.entity_id, []).append(words(e.message))
        else:
            others.append(e)
    plan = view.plan
    every = list(range(1, plan.latest_version + 1))
    accounts = len(affected_accounts(ctx, plan.pk, every)) if plan.status == ACTIVE else 0
    return render(
        request,
        "plan_draft.html",
        user,
        status=status,
        view=view,
        plan=plan,
        model=view.model,
        cards=[(c, KIND_OF.get(c.type), by_card.get(c.name, [])) for c in view.cards()],
        other_errors=[(e.entity_type, e.entity_id, words(e.message)) for e in others],
        error_count=len(errors) if view.draft else 0,
        accounts=accounts,
        modes=FINALIZE_MODES,
        versions=VERSIONS,
        kind_names=KIND_NAMES,
        catalog=_catalog(ctx),
        base=_base(plan_id),
        **extra,
    )


@router.get("/price-plans/{plan_id}/draft")
def draft_page(request: Request, user: User, plan_id: str) -> Response:
    return _draft_page(request, user, plan_id)


def _refused(request: Request, user: Any, plan_id: str, exc: Exception) -> Response:
    """A refusal: the draft's page again, status 400, the message in words (a 404 or a 500 is not a refusal)."""
    if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
        raise exc
    _undo(request)
    message = exc.message if isinstance(exc, (Refused, MeterlineError)) else str(exc)
    return _draft_page(request, user, plan_id, status=400, error=words(message))


def _act(request: Request, user: Any, plan_id: str, action: Callable[[Context], tuple[str, str]]) -> Response:
    """Run a confirmed action: (where to go, its notice in words), or the refusal on the draft's page."""
    try:
        url, notice = action(context(request, user))
    except (Refused, MeterlineError) as exc:
        return _refused(request, user, plan_id, exc)
    return feedback.saved(request, url, notice)


def _ask(request: Request, user: Any, plan_id: str, page: Callable[[Context], Response]) -> Response:
    try:
        return page(context(request, user))
    except (Refused, MeterlineError) as exc:
        return _refused(request, user, plan_id, exc)


def _confirmation(view: V2View, **fields: Any) -> feedback.Confirmation:
    crumbs = [
        ("/price-plans", "Price Plans"),
        (_url("price-plans", view.plan.id), view.plan.name),
        (_base(view.plan.id), "Draft"),
    ]
    return feedback.Confirmation(back=_base(view.plan.id), section="plans", crumbs=crumbs, **fields)


# -- the draft's details ----------------------------------------------------------------------------------------
def _details_page(
    request: Request, user: Any, view: V2View, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    return render(
        request,
        "plan_form.html",
        user,
        status=status,
        view=view,
        base=_base(view.plan.id),
        values=values,
        errors=errors,
        intervals=INTERVALS,
        currencies=currency_choices(values["currencies"]),
    )


@router.get("/price-plans/{plan_id}/draft/edit")
def draft_details_page(request: Request, user: User, plan_id: str) -> Response:
    view = PricePlanV2Service(context(request, user)).get(plan_id)
    values = {
        "name": view.plan.name,
        "description": view.plan.description or "",
        **cycle_values(view.model, user.org.base_currency),
    }
    return _details_page(request, user, view, values, {})


@router.post("/price-plans/{plan_id}/draft/edit")
def draft_details(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    """The description (the plan's), the cycle and the currencies (the draft's), as PATCH /v2/price_plans/{id}."""
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view = PricePlanV2Service(ctx).get(plan_id)
    values: dict[str, Any] = {"name": view.plan.name, "description": str(form.get("description", ""))}
    errors: dict[str, str] = {}
    changes = cycle_from_form(form, values, errors)
    if len(values["description"]) > 255:
        errors["description"] = "At most 255 characters, please"
    if errors:
        return _details_page(request, user, view, values, errors, 400)
    try:
        body = UpdatePricePlanV2Request.model_validate({"description": values["description"].strip(), **changes})
        PricePlanV2Service(ctx).update(plan_id, body)
    except ValidationError as exc:
        detail_error(pydantic_words(exc), errors)
    except MeterlineError as exc:
        if exc.status_code >= 500 or exc.status_code == 404:
            raise
        detail_error(exc.message, errors)
    if errors:
        _undo(request)
        return _details_page(request, user, view, values, errors, 400)
    _, found = PricePlanV2Service(ctx).errors(plan_id)
    done = "Details of the draft saved."
    if found:
        done += f" The draft has {_plural(len(found), 'error')} to fix before finalizing (listed below)."
    return feedback.saved(request, _base(plan_id), done)


# -- a card of the draft -----------------------------------------------------------------------------------------
def _editing(ctx: Context, plan_id: str, kind: str, name: str | None) -> tuple[V2View, str, Component | None]:
    """The plan's draft (or its latest version, which the first save copies into a draft), the kind of component
    and the card being edited (None: a new one)."""
    view = PricePlanV2Service(ctx).get(plan_id)
    if kind == "commitment":
        return view, kind, view.model.minimum_commitment
    if name is None:
        return view, kind, None
    kind, _, card = find_card(view.model, name)
    return view, kind, card


def _card_page(
    request: Request,
    user: Any,
    view: V2View,
    kind: str,
    card: Component | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    catalog = _catalog(context(request, user))
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
        base=_base(view.plan.id),
        kind=kind,
        kind_name=KIND_NAMES[kind],
        card=card,
        values=values,
        errors=errors,
        currencies=list(view.model.currencies),
        meters=list(catalog.meters.values()),
        features=catalog.features,
        addon_names=addon_names,
        models=MODELS,
        price_types=PRICE_TYPES,
        timings=ENTITLEMENT_TIMINGS if kind == "entitlement" else TIMINGS,
        max_slabs=MAX_SLABS,
    )


def _card_form(request: Request, user: Any, plan_id: str, kind: str, name: str | None) -> Response:
    ctx = context(request, user)
    view, kind, card = _editing(ctx, plan_id, kind, name)
    values = card_values(kind, card, list(view.model.currencies), _catalog(ctx))
    return _card_page(request, user, view, kind, card, values, {})


def _new_name(view: V2View, v2_type: str, billable: str) -> str:
    """A name for a new card, unique among the draft's cards (v2 names every card)."""
    taken = {c.name for c in view.cards()}
    if v2_type == "MINIMUM_COMMITMENT":
        return plan_v2.COMMITMENT_NAME
    base = f"{v2_type.lower()}_{billable}"[:45]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def card_operation(kind: str, card: dict[str, Any], existing: Component) -> plan_v2.Operation:
    """The v2 UPDATE of `existing` a saved form stands for (a plan draft's card, or a schedule's: the console's
    schedule drafts); Refused when the card is not one the API takes."""
    return _operation(None, kind, card, existing)


def _operation(view: V2View | None, kind: str, card: dict[str, Any], existing: Component | None) -> plan_v2.Operation:
    """The v2 rate-card operation a saved form stands for; Refused when the card is not one the API takes."""
    v2_type = V2_TYPES[kind]
    _, field, model = plan_v2.KINDS[v2_type]
    try:
        typed = model.model_validate(card)
    except ValidationError as exc:
        raise Refused(pydantic_words(exc)) from None
    named = plan_v2.NamedCard(v2_type, typed)
    given = plan_v2.CardInput(
        type=v2_type,
        billable_id="" if isinstance(typed, MinimumCommitment) else named.billable_id,
        display_name=typed.display_name or None,
        invoice_timing=named.invoice_timing,
        tag=named.tag,
        details={field: typed},
    )
    if existing is not None:
        name = plan_v2.NamedCard(v2_type, existing).name
        return plan_v2.Operation("UPDATE", name, given)
    if view is None:  # pragma: no cover - card_operation always edits an existing card
        raise Refused("Pick the rate card to change")
    name = _new_name(view, v2_type, named.billable_id)
    if isinstance(typed, MinimumCommitment):
        given = plan_v2.CardInput(v2_type, name, given.display_name, "IN_ARREARS", None, given.details)
    return plan_v2.Operation("CREATE", name, given)


def _card_post(request: Request, user: Any, plan_id: str, kind: str, name: str | None, form: FormData) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view, kind, original = _editing(ctx, plan_id, kind, name)
    currencies = list(view.model.currencies)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    action = str(form.get("action", "save"))
    if action in ("add_slab", "remove_slab") or action.startswith("remove_slab_"):
        card_from_form(kind, form, original, currencies, values, {})
        resize_rows(values["rows"], action)
        return _card_page(request, user, view, kind, original, values, {})
    card = card_from_form(kind, form, original, currencies, values, errors)
    if errors:
        return _card_page(request, user, view, kind, original, values, errors, 400)
    try:
        if kind in ("license", "fixed-fee"):  # named by its add-on: the add-on of that name, made if new
            card["id"] = AddOnService(ctx).named(values["addon"], "LICENSE" if kind == "license" else "FIXED_FEE").id
        operation = _operation(view, kind, card, original)
        saved, _ = PricePlanV2Service(ctx).bulk(plan_id, [operation])
    except ValidationError as exc:  # an add-on name the add-on service refuses
        errors["addon"] = error_text(exc.errors()[0])
    except Refused as exc:
        card_error(exc.message, currencies, errors, _catalog(ctx).features)
    except MeterlineError as exc:
        if exc.status_code >= 500 or exc.status_code == 404:
            raise
        card_error(exc.message, currencies, errors, _catalog(ctx).features)
    if errors:
        _undo(request)
        return _card_page(request, user, view, kind, original, values, errors, 400)
    _, found = PricePlanV2Service(ctx).errors(plan_id)
    mine = [e for e in found if e.entity_id == operation.name]
    done = f'{"Saved" if original is not None else "Added"} {KIND_NAMES[kind].lower()} "{operation.name}" in the draft.'
    if mine:
        done += f" It has {_plural(len(mine), 'error')} to fix before finalizing (listed below)."
    return feedback.saved(request, _base(saved.plan.id), done)


@router.get("/price-plans/{plan_id}/draft/cards/new")
def new_draft_card_page(request: Request, user: User, plan_id: str, kind: str = "usage") -> Response:
    if kind not in KINDS:
        raise NotFound(f"No kind of rate card called {kind}")
    return _card_form(request, user, plan_id, kind, None)


@router.post("/price-plans/{plan_id}/draft/cards/new")
def new_draft_card(request: Request, user: User, plan_id: str, form: Fields, kind: str = "usage") -> Response:
    if kind not in KINDS:
        raise NotFound(f"No kind of rate card called {kind}")
    return _card_post(request, user, plan_id, kind, None, form)


@router.get("/price-plans/{plan_id}/draft/commitment")
def draft_commitment_page(request: Request, user: User, plan_id: str) -> Response:
    return _card_form(request, user, plan_id, "commitment", None)


@router.post("/price-plans/{plan_id}/draft/commitment")
def draft_commitment(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    return _card_post(request, user, plan_id, "commitment", None, form)


@router.get("/price-plans/{plan_id}/draft/cards/{name}")
def draft_card_page(request: Request, user: User, plan_id: str, name: str) -> Response:
    return _card_form(request, user, plan_id, "usage", name)


@router.post("/price-plans/{plan_id}/draft/cards/{name}")
def draft_card(request: Request, user: User, plan_id: str, name: str, form: Fields) -> Response:
    return _card_post(request, user, plan_id, "usage", name, form)


# -- removing a card ---------------------------------------------------------------------------------------------
def _named(view: V2View, name: str) -> plan_v2.NamedCard:
    card = next((c for c in view.cards() if c.name == name), None)
    if card is None:
        raise NotFound(f"Price plan {view.plan.name} has no rate card {name}")
    return card


@router.get("/price-plans/{plan_id}/draft/cards/{name}/remove")
def remove_draft_card_page(request: Request, user: User, plan_id: str, name: str) -> Response:
    def page(ctx: Context) -> Response:
        view = PricePlanV2Service(ctx).get(plan_id)
        card = _named(view, name)
        kind = KIND_OF.get(card.type)
        what = f'the {KIND_NAMES[kind].lower() if kind else "credit grant"} "{card.display_name}"'
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=f"Remove {what} from the draft of {view.plan.name}?",
                words="It is taken off the draft only: accounts are billed by the version in force until you "
                "finalize the draft.",
                action=_url("price-plans", plan_id, "draft", "cards", name, "remove"),
                button="Remove from draft",
                facts=[("Price plan", view.plan.name), ("Rate card", f"{card.display_name} ({card.name})")],
            ),
        )

    return _ask(request, user, plan_id, page)


@router.post("/price-plans/{plan_id}/draft/cards/{name}/remove")
def remove_draft_card(request: Request, user: User, plan_id: str, name: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> tuple[str, str]:
        service = PricePlanV2Service(ctx)
        card = _named(service.get(plan_id), name)
        service.bulk(plan_id, [plan_v2.Operation("DELETE", name, None)])
        return _base(plan_id), f'Removed "{card.display_name}" from the draft.'

    return _act(request, user, plan_id, action)


# -- discard -----------------------------------------------------------------------------------------------------
@router.get("/price-plans/{plan_id}/draft/discard")
def discard_page(request: Request, user: User, plan_id: str) -> Response:
    def page(ctx: Context) -> Response:
        view = PricePlanV2Service(ctx).get(plan_id)
        if view.plan.status == DRAFT:
            consequence = (
                f"{view.plan.name} was never finalized: discarding its draft archives the plan (its name becomes "
                "free again). This cannot be undone."
            )
        elif not view.draft:
            raise Refused(f"Price plan {view.plan.name} has no draft to discard")
        else:
            consequence = (
                f"Every change made in the draft (version {view.version.version}) is dropped; version "
                f"{view.plan.latest_version} stays in force. This cannot be undone."
            )
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=f"Discard the draft of {view.plan.name}?",
                words=consequence,
                action=_url("price-plans", plan_id, "draft", "discard"),
                button="Discard draft",
                facts=[("Price plan", view.plan.name), ("Draft", f"version {view.version.version}")],
            ),
        )

    return _ask(request, user, plan_id, page)


@router.post("/price-plans/{plan_id}/draft/discard")
def discard(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> tuple[str, str]:
        service = PricePlanV2Service(ctx)
        plan = service.get(plan_id).plan
        never = plan.status == DRAFT
        service.discard(plan_id)
        if never:
            return "/price-plans", f"Draft plan {plan.name} discarded (archived)."
        return _url("price-plans", plan_id), f"Draft of {plan.name} discarded; version {plan.latest_version} stays."

    return _act(request, user, plan_id, action)


# -- finalize ----------------------------------------------------------------------------------------------------
def _choice(mode: str, versions: str) -> tuple[str, str]:
    if mode not in FINALIZE_MODES:
        raise Refused("Choose what happens to the accounts on the plan (a migration mode)")
    if versions not in VERSIONS:
        raise Refused("Choose which accounts move: those on the version in force, or on every earlier version")
    return mode, versions


def _migrated(view: V2View, mode: str, versions: str) -> str:
    latest = view.plan.latest_version
    if view.plan.status == DRAFT:
        return "no account (the plan was never finalized: no account is on it)"
    if mode == "NONE":
        return "no account"
    return f"accounts on version {latest}" if versions == "LATEST_VERSION" else f"accounts on versions 1 to {latest}"


@router.get("/price-plans/{plan_id}/draft/finalize")
def finalize_page(
    request: Request, user: User, plan_id: str, mode: str = "NONE", versions: str = "LATEST_VERSION"
) -> Response:
    """Before finalizing: the errors refuse it at once; else which accounts move and each open draft invoice's total
    before and after (usecases.plans.preview_finalize_price_plan_v2: the finalize itself in a savepoint)."""

    def page(ctx: Context) -> Response:
        chosen_mode, chosen_versions = _choice(mode, versions)
        view = PricePlanV2Service(ctx).get(plan_id)
        if not view.draft:
            raise Refused(f"Price plan {view.plan.name} has no draft to finalize: change a rate card first")
        preview = preview_finalize_price_plan_v2(ctx, plan_id, chosen_mode, chosen_versions)
        number = view.version.version
        if view.plan.status == DRAFT:
            summary = f"{view.plan.name} becomes ACTIVE (version {number}), in every supported currency."
        else:
            summary = f"Version {number} of {view.plan.name} comes into force now, in every supported currency."
        if preview.total:
            moving = preview.total - preview.failures
            summary += (
                f" {_plural(moving, 'account')} {'moves' if moving == 1 else 'move'} to version {number}: "
                f"{FINALIZE_MODES[chosen_mode]}."
            )
            if preview.failures:
                summary += f" {preview.failures} cannot move: {preview.first_failure}."
            changed = preview.changed_drafts
            summary += (
                f" {_plural(changed, 'open draft invoice')} {'changes' if changed == 1 else 'change'} (below: each "
                "total before and after); finalized invoices never change."
                if changed
                else " No open draft invoice changes."
            )
        elif view.plan.status == ACTIVE:
            summary += " No account moves: accounts stay on their versions until you move them."
        return confirm(
            request,
            user,
            _confirmation(
                view,
                title=f"Finalize the draft of {view.plan.name}?",
                words=summary,
                action=_url("price-plans", plan_id, "draft", "finalize"),
                button="Finalize draft",
                facts=[
                    ("Price plan", view.plan.name),
                    ("New version", str(number)),
                    ("Accounts moved", _migrated(view, chosen_mode, chosen_versions)),
                    ("Migration mode", f"{chosen_mode}: {FINALIZE_MODES[chosen_mode]}"),
                ],
                hidden=[("mode", chosen_mode), ("versions", chosen_versions)],
                danger=preview.changed_drafts > 0,
            ),
            template="migration_confirm.html",
            preview=preview,
        )

    return _ask(request, user, plan_id, page)


@router.post("/price-plans/{plan_id}/draft/finalize")
def finalize(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    """Finalize as POST /v2/price_plans/{id}/finalize does (the migration a PRICE_PLAN job, run at once)."""
    check_csrf(user, str(form.get("csrf", "")))

    def action(ctx: Context) -> tuple[str, str]:
        mode, versions = _choice(str(form.get("mode", "")), str(form.get("versions", "")))
        view, job = finalize_price_plan_v2(ctx, plan_id, mode, versions)
        text = f"Version {view.version.version} of {view.plan.name} is in force."
        if job is not None:
            entries = job_service(ctx).repo.entries(job)
            failed = [e for e in entries if e.status == JobStatus.FAILED]
            text += f" {_plural(len(entries) - len(failed), 'account')} moved ({FINALIZE_MODES[mode]})."
            if failed:
                reason = (failed[0].result or {}).get("reason", "")
                text += f" {len(failed)} could not move{': ' + reason if reason else ''}."
        return _url("price-plans", plan_id), text

    return _act(request, user, plan_id, action)
