"""The console's account schedule drafts (issue 17): an account's price plan schedule edited as staged changes,
listed with what they would make, then discarded or finalized after a confirmation. Thin handlers over the same use
cases as SchedulesApi v2 (usecases/schedules.py: stage_schedule_edits, draft_schedules, schedule_errors,
finalize_schedules and its preview, discard_schedules).

A staged change is checked at once as finalize would apply it (a mistake is said next to its field, nothing is
staged); one that no longer applies (an invoice finalized since) is listed with the reason, and finalizing is then
refused in words until it is discarded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from meterline.accounts.service import AccountService
from meterline.api.deps import session_of
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_v2
from meterline.catalog.plan_repository import PricePlanRepository
from meterline.console import account_forms as forms, feedback
from meterline.console.account_forms import Refused
from meterline.console.account_pages import _url
from meterline.console.pages import User, check_csrf, confirm, context, local_day, local_last_day, render
from meterline.console.plan_draft_pages import KIND_OF, Refused as CardRefused, card_operation
from meterline.console.plan_forms import (
    ENTITLEMENT_TIMINGS,
    KIND_NAMES,
    MAX_SLABS,
    MODELS,
    PRICE_TYPES,
    TIMINGS,
    card_error,
    card_from_form,
    card_values,
    find_card,
    resize_rows,
    words,
)
from meterline.console.plan_pages import Fields, _catalog
from meterline.core.errors import BadRequest, MeterlineError, NotFound
from meterline.core.schemas import error_text
from meterline.schedules import v2
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import OPEN_END, ScheduleService
from meterline.tenancy.context import Context
from meterline.usecases.schedules import (
    account_schedule,
    discard_schedules,
    draft_schedules,
    finalize_schedules,
    preview_finalize_schedules,
    schedule_errors,
    schedule_view,
    stage_schedule_cards,
    stage_schedule_edits,
)

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


def _base(account_id: str) -> str:
    return _url("accounts", account_id, "schedule-draft")


def _undo(request: Request) -> None:
    """Forget what a refused action changed before showing the page again (the request rolls back anyway)."""
    session_of(request).rollback()


def _refusal(exc: Exception) -> str:
    if isinstance(exc, MeterlineError):
        if exc.status_code >= 500 or exc.status_code == 404:
            raise exc
        return words(exc.message)
    if isinstance(exc, ValidationError):
        return error_text(exc.errors()[0])
    return str(exc)


def _staged_words(ctx: Context, account_pk: str) -> list[tuple[str, str | None]]:
    """Each staged change in words, with what keeps it from finalizing (None: nothing)."""
    draft = ScheduleRepository(ctx.session, ctx.org_id).draft_of(account_pk)
    plans = PricePlanRepository(ctx.session, ctx.org_id)
    out: list[tuple[str, str | None]] = []
    for item in v2.staged(draft.edits if draft else None):
        if "schedule" in item:
            try:
                errors = schedule_errors(ctx, item["schedule"])
                problem = "; ".join(f"{e.entity_id}: {words(e.message)}" for e in errors) or None
            except MeterlineError as exc:
                problem = words(exc.message)
            out.append((f"Rate cards or pricing rules of {_schedule_words(ctx, item['schedule'])} changed", problem))
            continue
        edit = v2.edit_of(item)
        span = f"from {forms.day_words(edit.effective_from)}" + (
            ", with no end"
            if edit.effective_until >= OPEN_END
            else f" until {forms.day_words(edit.effective_until - timedelta(days=1))}"
        )
        if edit.mode == "DISASSOCIATE":
            out.append((f"End the price plan {span}", None))
            continue
        plan_id = edit.association_config.price_plan_id if edit.association_config else None
        plan = plans.by_id(plan_id) if plan_id else None
        out.append((f"Attach {_plan_words(plan, plan_id, edit._plan_version)} {span}{_merge_words(edit)}", None))
    return out


def _schedule_words(ctx: Context, schedule_pk: str) -> str:
    """A schedule in words: "Basic version 1 from Dec 1, 2026" (its id when it is gone)."""
    schedule = ScheduleRepository(ctx.session, ctx.org_id).by_pk(schedule_pk)
    if schedule is None:
        return f"schedule {schedule_pk}"
    plan = PricePlanRepository(ctx.session, ctx.org_id).by_pk(schedule.plan_pk)
    start = forms.day_words(local_day(schedule.start_at, ctx.org.timezone))
    return f"the schedule {plan.name} version {schedule.plan_version} from {start}"


def _schedule_cards(ctx: Context, account_id: str) -> list[dict[str, Any]]:
    """The account's schedules in force that have not ended, each with its cards as staged (the kind the builder's
    form edits, None: set through the API) and each card's errors in words."""
    _, views = ScheduleService(ctx).of_account(account_id)
    out = []
    for active in views:
        if active.end <= ctx.now or active.cycle is None:
            continue
        _, view = schedule_view(ctx, active.id, "DRAFT")
        by_card: dict[str, list[str]] = {}
        for e in schedule_errors(ctx, active.id):
            by_card.setdefault(e.entity_id, []).append(words(e.message))
        cards = [(c, KIND_OF.get(c.type), by_card.get(c.name, [])) for c in plan_v2.named_cards(view.model)]
        out.append({"view": view, "cards": cards, "words": _schedule_words(ctx, active.id)})
    return out


def _plan_words(plan: Any, plan_id: str | None, version: int | None) -> str:
    name = plan.name if plan else plan_id
    if version is not None:
        return f"{name} version {version}"
    return f"{name} (its newest version, {plan.latest_version})" if plan else f"{name} (its newest version)"


def _merge_words(edit: v2.UpdateAccountScheduleV2Request) -> str:
    return ", merged with a like schedule beside it" if edit.merge_schedules else ""


# What "merge or replace" does when attaching (docs/pricing.md, "Schedules v2": Replace or merge), in words
MERGE_CHOICES = {
    "replace": "Replace: the plan takes over those days; schedules before and after stay as they are, cut where "
    "they meet it (two schedules side by side even when they are alike).",
    "merge": "Replace, then merge: the same, and then schedules that touch and are alike (the same plan version, "
    "overrides and cycle) become one, the earlier one running on; a schedule already on finalized invoices is never "
    "merged away.",
}


def _page(
    request: Request,
    user: Any,
    account_id: str,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    ctx = context(request, user)
    account = AccountService(ctx).get(account_id)
    staged = _staged_words(ctx, account.pk)
    problem = None
    views: list[Any] = []
    try:
        _, views = draft_schedules(ctx, account_id)
    except MeterlineError as exc:  # staged changes that no longer apply: said, not a failed page
        problem = _refusal(exc)
        _undo(request)
        account = AccountService(ctx).get(account_id)
    today = local_day(ctx.now, ctx.org.timezone)
    plans = PricePlanRepository(ctx.session, ctx.org_id).all_active()
    try:
        in_force = _schedule_cards(ctx, account_id)
    except MeterlineError as exc:  # said with the staged changes, not a failed page
        problem = problem or _refusal(exc)
        _undo(request)
        in_force = []
    return render(
        request,
        "schedule_draft.html",
        user,
        status=status,
        account=account,
        staged=staged,
        views=views,
        problem=problem,
        plans=plans,
        in_force=in_force,
        kind_names=KIND_NAMES,
        max_version=max((p.latest_version for p in plans), default=1),
        merge_choices=MERGE_CHOICES,
        values=values or {"start": today.isoformat(), "merge": "replace"},
        errors=errors or {},
        error=error,
        base=_base(account_id),
        back=_url("accounts", account_id) + "?tab=schedule",
    )


@router.get("/accounts/{account_id}/schedule-draft")
def schedule_draft_page(request: Request, user: User, account_id: str) -> Response:
    return _page(request, user, account_id)


def _version_of(values: dict[str, str]) -> int | None:
    """The chosen plan version (None: the newest); Refused in words when it is not a whole number 1 to 9999."""
    text = values.get("version", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 9999:
        raise Refused({"version": "Version: pick a version of the plan, or “the newest”"})
    return int(text)


def _edit_of(values: dict[str, str], mode: str) -> v2.UpdateAccountScheduleV2Request:
    """The form's change (as the schedule tab reads it) as SchedulesApi v2's edit, pinned to the chosen version."""
    try:
        version = _version_of(values) if mode != "DISASSOCIATE" else None
        problem: dict[str, str] = {}
    except Refused as exc:
        version, problem = None, exc.errors
    if values.get("merge", "replace") not in MERGE_CHOICES:
        problem["merge"] = "Pick replace, or replace then merge"
    try:
        v1 = forms.schedule_of(values, mode)
    except Refused as exc:
        raise Refused({**exc.errors, **problem}) from None
    if problem:
        raise Refused(problem)
    edit = v2.UpdateAccountScheduleV2Request.model_validate(
        {
            "mode": v1.mode,
            "effectiveFrom": v1.effective_from.isoformat(),
            "effectiveUntil": v1.effective_until.isoformat(),
            "associationConfig": {"pricePlanId": v1.price_plan_id} if v1.mode == "ASSOCIATE" else None,
            "mergeSchedules": True if values.get("merge") == "merge" else None,
        }
    )
    edit._plan_version = version
    return edit


@router.post("/accounts/{account_id}/schedule-draft/edits")
def stage(
    request: Request,
    user: User,
    account_id: str,
    csrf: Annotated[str, Form()] = "",
    plan_id: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    merge: Annotated[str, Form()] = "replace",
    mode: Annotated[str, Form()] = "ASSOCIATE",
) -> Response:
    """Stage one change: attach a plan (the newest or a chosen version; replacing, or replacing then merging) from a
    day (until a last day, or open), or end the schedule from a day."""
    check_csrf(user, csrf)
    values = {"plan_id": plan_id, "start": start, "until": until, "version": version, "merge": merge}
    ctx = context(request, user)
    try:
        edit = _edit_of(values, mode)
        account, _ = stage_schedule_edits(ctx, account_id, [edit])
    except Refused as exc:
        return _page(request, user, account_id, 400, values, exc.errors)
    except (ValidationError, MeterlineError) as exc:
        message = _refusal(exc)
        _undo(request)
        currency = AccountService(context(request, user)).get(account_id).invoice_currency
        errors = forms.schedule_errors(exc, currency) if isinstance(exc, MeterlineError) else {}
        if "has no version" in message:
            errors = {"version": f"Version: {message.split(': ', 1)[-1]}"}
        return _page(request, user, account_id, 400, values, errors, None if errors else message)
    first = edit.effective_from
    if edit.mode == "DISASSOCIATE":
        text = f"Staged: end the price plan from {forms.day_words(first)}."
    else:
        plan = PricePlanRepository(ctx.session, ctx.org_id).by_id(plan_id)
        last = (
            "with no end"
            if edit.effective_until >= OPEN_END
            else f"until {forms.day_words(edit.effective_until - timedelta(days=1))}"
        )
        what = _plan_words(plan, plan_id, edit._plan_version)
        text = f"Staged: attach {what} from {forms.day_words(first)}, {last}{_merge_words(edit)}."
    return feedback.saved(request, _base(account.id), text)


def _confirmation(account: Any, **fields: Any) -> feedback.Confirmation:
    back = _url("accounts", account.id) + "?tab=schedule"
    return feedback.Confirmation(
        back=_base(account.id),
        section="customers",
        crumbs=[("/customers", "Customers"), (back, account.name), (_base(account.id), "Schedule draft")],
        **fields,
    )


def _ask(request: Request, user: Any, account_id: str, page: Callable[[Context], Response]) -> Response:
    try:
        return page(context(request, user))
    except (MeterlineError, ValidationError) as exc:
        message = _refusal(exc)
        _undo(request)
        return _page(request, user, account_id, 400, error=message)


def _act(request: Request, user: Any, account_id: str, action: Callable[[Context], tuple[str, str]]) -> Response:
    """Run a confirmed action: (where to go, its notice), or the refusal on the draft's page."""
    try:
        url, text = action(context(request, user))
    except (MeterlineError, ValidationError) as exc:
        message = _refusal(exc)
        _undo(request)
        return _page(request, user, account_id, 400, error=message)
    return feedback.saved(request, url, text)


@router.get("/accounts/{account_id}/schedule-draft/discard")
def discard_page(request: Request, user: User, account_id: str) -> Response:
    def page(ctx: Context) -> Response:
        account = AccountService(ctx).get(account_id)
        staged = _staged_words(ctx, account.pk)
        if not staged:
            raise BadRequest(f"{account.name} has no staged schedule changes to discard: stage one first")
        return confirm(
            request,
            user,
            _confirmation(
                account,
                title=f"Discard the staged schedule changes of {account.name}?",
                words=f"The {len(staged)} staged change{'s' if len(staged) != 1 else ''} are dropped; the schedule "
                "in force does not change. This cannot be undone.",
                action=_url("accounts", account_id, "schedule-draft", "discard"),
                button="Discard staged changes",
                facts=[("Account", f"{account.name} ({account.id})"), *(("Staged", s) for s, _ in staged)],
            ),
        )

    return _ask(request, user, account_id, page)


@router.post("/accounts/{account_id}/schedule-draft/discard")
def discard(request: Request, user: User, account_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)

    def action(ctx: Context) -> tuple[str, str]:
        account = AccountService(ctx).get(account_id)
        discard_schedules(ctx, account_id)
        return _base(account_id), f"Staged schedule changes of {account.name} discarded."

    return _act(request, user, account_id, action)


@router.get("/accounts/{account_id}/schedule-draft/finalize")
def finalize_page(request: Request, user: User, account_id: str) -> Response:
    """Before finalizing: each open draft invoice's total before and after, computed by finalizing in a savepoint
    that is rolled back (usecases.schedules.preview_finalize_schedules)."""

    def page(ctx: Context) -> Response:
        account = AccountService(ctx).get(account_id)
        staged = _staged_words(ctx, account.pk)
        if not staged:
            raise BadRequest(f"{account.name} has no staged schedule changes to finalize: stage one first")
        preview, views = preview_finalize_schedules(ctx, account_id, v2.FinalizeAccountSchedules())
        tz = ctx.org.timezone
        after = "; ".join(
            f"{v.plan_name} v{v.version} from {forms.day_words(local_day(v.start, tz))}"
            + ("" if v.end.year >= 9999 else f" until {forms.day_words(local_last_day(v.end, tz))}")
            for v in views
        )
        return confirm(
            request,
            user,
            _confirmation(
                account,
                title=f"Finalize the staged schedule changes of {account.name}?",
                words="The staged changes are applied together (all or none); the open draft invoices are re-priced "
                "at once (below, each total before and after). Finalized invoices never change.",
                action=_url("accounts", account_id, "schedule-draft", "finalize"),
                button="Finalize schedule",
                facts=[
                    ("Account", f"{account.name} ({account.id})"),
                    *(("Staged", s) for s, _ in staged),
                    ("Schedules after", after or "no price plan"),
                ],
                danger=bool(preview.changed),
            ),
            template="schedule_confirm.html",
            preview=preview,
        )

    return _ask(request, user, account_id, page)


@router.post("/accounts/{account_id}/schedule-draft/finalize")
def finalize(request: Request, user: User, account_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)

    def action(ctx: Context) -> tuple[str, str]:
        account = AccountService(ctx).get(account_id)
        finalize_schedules(ctx, account_id, v2.FinalizeAccountSchedules())
        return _url("accounts", account_id) + "?tab=schedule", f"Staged schedule changes of {account.name} finalized."

    return _act(request, user, account_id, action)


# -- a schedule's rate cards: an override of one card staged (SchedulesApi v2's UPDATE on the schedule's cards) -------
def _card_base(account_id: str, schedule_id: str) -> str:
    return _url("accounts", account_id, "schedule-draft", "schedules", schedule_id)


def _editing_card(ctx: Context, account_id: str, schedule_id: str, name: str) -> tuple[Any, Any, str, Any]:
    """The account, the schedule with its staged changes, the card's kind and the card (404: not the account's
    schedule, no such card, or a card the builder's form does not edit)."""
    account, _ = account_schedule(ctx, account_id, schedule_id)
    _, view = schedule_view(ctx, schedule_id, "DRAFT")
    kind, _, card = find_card(view.model, name)
    if kind == "commitment":  # the minimum commitment is overridden through the API (SchedulesApi v2)
        raise NotFound(f"The minimum commitment of schedule {schedule_id} is changed through the API")
    return account, view, kind, card


def _card_page(
    request: Request,
    user: Any,
    account: Any,
    view: Any,
    kind: str,
    card: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    catalog = _catalog(context(request, user))
    tz = context(request, user).org.timezone
    label = f"{account.name}: {view.plan_name} version {view.version} from {forms.day_words(local_day(view.start, tz))}"
    return render(
        request,
        "plan_card.html",
        user,
        status=status,
        # the builder's card form, posted here: its crumbs name the account's schedule
        view=SimpleNamespace(plan=SimpleNamespace(id=view.plan_id, name=label, status="SCHEDULE")),
        base=_card_base(account.id, view.id),
        kind=kind,
        kind_name=KIND_NAMES[kind],
        card=card,
        values=values,
        errors=errors,
        currencies=list(view.active_currencies),
        meters=list(catalog.meters.values()),
        features=catalog.features,
        addon_names=[],
        models=MODELS,
        price_types=PRICE_TYPES,
        timings=ENTITLEMENT_TIMINGS if kind == "entitlement" else TIMINGS,
        max_slabs=MAX_SLABS,
        schedule_override=True,
    )


@router.get("/accounts/{account_id}/schedule-draft/schedules/{schedule_id}")
def schedule_cards_page(request: Request, user: User, account_id: str, schedule_id: str) -> Response:
    """The card form's crumbs lead here: the schedule's cards are listed on the draft's page."""
    return RedirectResponse(_base(account_id), status_code=303)


@router.get("/accounts/{account_id}/schedule-draft/schedules/{schedule_id}/cards/{name}")
def schedule_card_page(request: Request, user: User, account_id: str, schedule_id: str, name: str) -> Response:
    ctx = context(request, user)
    account, view, kind, card = _editing_card(ctx, account_id, schedule_id, name)
    values = card_values(kind, card, list(view.active_currencies), _catalog(ctx))
    return _card_page(request, user, account, view, kind, card, values, {})


@router.post("/accounts/{account_id}/schedule-draft/schedules/{schedule_id}/cards/{name}")
def schedule_card(request: Request, user: User, account_id: str, schedule_id: str, name: str, form: Fields) -> Response:
    """Stage this account's override of one card of the schedule (`stage_schedule_cards`, one UPDATE operation):
    checked at once as finalize would apply it; a mistake next to its field and nothing staged."""
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    account, view, kind, original = _editing_card(ctx, account_id, schedule_id, name)
    currencies = list(view.active_currencies)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    action = str(form.get("action", "save"))
    if action in ("add_slab", "remove_slab") or action.startswith("remove_slab_"):
        card_from_form(kind, form, original, currencies, values, {})
        resize_rows(values["rows"], action)
        return _card_page(request, user, account, view, kind, original, values, {})
    card = card_from_form(kind, form, original, currencies, values, errors)
    if kind in ("license", "fixed-fee") and original is not None:
        card["id"] = original.id  # the schedule's card keeps its add-on
    if not errors:
        try:
            stage_schedule_cards(ctx, schedule_id, [card_operation(kind, card, original)])
        except CardRefused as exc:
            card_error(exc.message, currencies, errors, _catalog(ctx).features)
        except MeterlineError as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise
            card_error(exc.message, currencies, errors, _catalog(ctx).features)
    if errors:
        _undo(request)
        ctx = context(request, user)
        account, view, kind, original = _editing_card(ctx, account_id, schedule_id, name)
        return _card_page(request, user, account, view, kind, original, values, errors, 400)
    mine = [e for e in schedule_errors(ctx, schedule_id) if e.entity_id == name]
    shown = original.display_name or name
    text = f'Staged: "{shown}" overridden for {account.name} on {_schedule_words(ctx, schedule_id)}.'
    if mine:
        text += f" It has {len(mine)} error{'s' if len(mine) != 1 else ''} to fix before finalizing (listed below)."
    return feedback.saved(request, _base(account_id), text)
