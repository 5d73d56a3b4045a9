"""The console's pricing rules editor on a plan (issue 17): the latest version's ordered rules (name, condition,
computation, action ADD or UPDATE, invoice timing), saved as the API's `update_price_plan` saves them, and a
preview on sample usage. Thin: what makes a rule valid is catalog/plan_rules.py's `check_pricing_rules` (its
message is shown next to the field it names), and the preview prices the sample usage with the invoices' own code
(revenue/compute.py `plan_revenue` and `with_rules`, over revenue/pricing_rules.py): nothing is computed here.

Works without JavaScript, as the plan builder: "+ Add a rule" sends the form back with one more rule, "Remove" with
one less, "Preview" shows what the rules as typed would do, "Save rules" saves them. docs/console.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from meterline.accounts.repository import AccountRepository
from meterline.api.deps import session_of
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_model, plan_rules, plan_schemas as schemas
from meterline.catalog.plan_model import PlanModel
from meterline.catalog.plan_schemas import MAX_PRICING_RULES, CreatePricingRule, PricingRule
from meterline.catalog.plan_service import ACTIVE, ARCHIVED, PlanView, PricePlanService
from meterline.catalog.plan_v2_service import PricePlanV2Service, V2View
from meterline.console import feedback
from meterline.console.account_pages import _url
from meterline.console.pages import User, check_csrf, context, render
from meterline.core import numbers
from meterline.core.errors import BadRequest
from meterline.core.schemas import error_text
from meterline.core.text import ascii_digits
from meterline.revenue import pricing_rules
from meterline.revenue.compute import CardRevenue, plan_revenue, with_rules
from meterline.schedules.service import ScheduleView
from meterline.settings.repository import SettingRepository
from meterline.tenancy.context import Context
from meterline.usecases.schedules import account_schedule, schedule_view, set_schedule_rules, stage_schedule_rules

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
FIELDS = ("name", "order", "timing", "condition", "computation", "type", "target", "description")
TIMINGS = {"IN_ARREARS": "In arrears (end of cycle)", "IN_ADVANCE": "In advance (start of cycle)"}
ACTIONS = {"ADD": "Add a line", "UPDATE": "Update a card"}
OUTCOMES = {
    pricing_rules.CONDITION_TRUE: "applied",
    pricing_rules.CONDITION_FALSE: "condition false: nothing changed",
    pricing_rules.CONDITION_ERROR: "failed (condition): nothing changed",
    pricing_rules.COMPUTATION_ERROR: "failed (computation): nothing changed",
}
LINE_TYPES = {
    pricing_rules.ADDITION: "added line",
    pricing_rules.USAGE_UPDATE: "usage update",
    pricing_rules.REVENUE_UPDATE: "revenue update",
}
# check_pricing_rules names a field as `pricingRules[i].<path>`: the form's field it is
_WHERE = re.compile(r"^pricingRules\[(\d+)\](?:\.([A-Za-z.]+))?: ?(.*)$", re.S)
_PATHS = {
    "name": "name",
    "order": "order",
    "invoiceTiming": "timing",
    "condition": "condition",
    "computation": "computation",
    "action": "type",
    "action.type": "type",
    "action.target": "target",
    "action.description": "description",
}
_PYDANTIC = {
    "name": "name",
    "order": "order",
    "invoice_timing": "timing",
    "condition": "condition",
    "computation": "computation",
    "type": "type",
    "target": "target",
    "description": "description",
}


async def _form(request: Request) -> FormData:
    return await request.form()


Fields = Annotated[FormData, Depends(_form)]


# -- form <-> rules ----------------------------------------------------------------------------------------------
def _row(rule: PricingRule) -> dict[str, str]:
    return {
        "id": rule.id or "",
        "name": rule.name,
        "order": str(rule.order),
        "timing": rule.invoice_timing or "IN_ARREARS",
        "condition": rule.condition or "",
        "computation": rule.computation,
        "type": rule.action.type,
        "target": rule.action.target or "",
        "description": rule.action.description or "",
    }


def _rows_of(form: FormData) -> list[dict[str, str]]:
    try:
        count = min(int(str(form.get("rules", "0"))), MAX_PRICING_RULES)
    except ValueError:
        count = 0
    return [{f: str(form.get(f"r{i}_{f}", "")).strip() for f in ("id", *FIELDS)} for i in range(max(count, 0))]


def _resize(rows: list[dict[str, str]], action: str) -> None:
    if action == "add_rule" and len(rows) < MAX_PRICING_RULES:
        order = max((int(r["order"]) for r in rows if ascii_digits(r["order"])), default=0) + 1
        rows.append(
            {"id": "", "name": "", "order": str(min(order, 1000)), "timing": "IN_ARREARS", "condition": ""}
            | {"computation": "", "type": "ADD", "target": "", "description": ""}
        )
    elif action.startswith("remove_rule_") and ascii_digits(action.removeprefix("remove_rule_")):
        index = int(action.removeprefix("remove_rule_"))
        if 0 <= index < len(rows):
            del rows[index]


def _rules_of(rows: list[dict[str, str]], original: tuple[PricingRule, ...], errors: dict[str, str]) -> list[Any]:
    """The rows as the API's rules (`pricingRules` items), each checked by the API's request model; errors per
    field (`r<i>_<field>`). A rule keeps its id and its action's id and metadata (the console does not edit them)."""
    kept = {r.id: r for r in original if r.id}
    out: list[Any] = []
    for i, row in enumerate(rows):
        before = kept.get(row["id"])
        action: dict[str, Any] = {"type": row["type"]}
        if row["target"] and row["type"] == "UPDATE":
            action["target"] = row["target"]
        if row["description"]:
            action["description"] = row["description"]
        if before is not None and before.action.id:
            action["id"] = before.action.id
        if before is not None and before.action.metadata:
            action["metadata"] = dict(before.action.metadata)
        raw: dict[str, Any] = {"name": row["name"], "computation": row["computation"], "action": action}
        raw["order"] = int(row["order"]) if ascii_digits(row["order"]) else row["order"]
        raw["invoiceTiming"] = row["timing"]
        if row["condition"]:
            raw["condition"] = row["condition"]
        try:
            CreatePricingRule.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [str(p) for p in error["loc"] if isinstance(p, str)]
                field = next((_PYDANTIC[p] for p in reversed(loc) if p in _PYDANTIC), "name")
                errors.setdefault(f"r{i}_{field}", _words(error))
            continue
        if before is not None:
            raw["id"] = before.id
        out.append(raw)
    return out


def _words(error: Any) -> str:
    if error["type"] == "int_parsing" or error["type"] == "int_type":
        return "Give a whole number from 1 to 1000"
    if error["type"] == "missing" or error["type"] == "string_too_short":
        return "Required"
    return error_text(error)


def _refusal(message: str, errors: dict[str, str]) -> None:
    """check_pricing_rules' message next to the field it names (else above the form)."""
    found = _WHERE.match(message)
    if found is None:
        errors["form"] = message
        return
    index, path, words = found.groups()
    errors[f"r{index}_{_PATHS.get(path or '', 'name')}"] = words or message


def _checked(model: PlanModel, rows: list[dict[str, str]], errors: dict[str, str]) -> list[dict[str, Any]] | None:
    """The rows as rules valid for the plan's cards (check_pricing_rules, as a save through the API), or None."""
    rules = _rules_of(rows, model.pricing_rules, errors)
    if errors:
        return None
    try:
        return plan_rules.check_pricing_rules(rules, model.cards())
    except BadRequest as exc:
        _refusal(exc.message, errors)
        return None


# -- the preview ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreviewCard:
    label: str
    usage: Decimal | None
    rated: Decimal
    after: Decimal


@dataclass(frozen=True)
class Preview:
    currency: str
    account: str | None
    cards: list[PreviewCard]
    log: list[pricing_rules.LogEntry]
    total_before: Decimal
    total_after: Decimal


def _sample(model: PlanModel, form: FormData, values: dict[str, str], errors: dict[str, str]) -> dict[str, Decimal]:
    """The sample usage per usage card's meter (empty: 0), each a number under the one number rule."""
    usage: dict[str, Decimal] = {}
    for card in model.usage_cards:
        text = str(form.get(f"usage_{card.usage_meter_id}", "")).strip()
        values[f"usage_{card.usage_meter_id}"] = text
        try:
            value = numbers.parse(text) if text else Decimal(0)
        except numbers.NumberError as exc:
            errors[f"usage_{card.usage_meter_id}"] = str(exc).capitalize()
            continue
        if value < 0:
            errors[f"usage_{card.usage_meter_id}"] = "Usage cannot be negative"
            continue
        usage[card.usage_meter_id] = value
    return usage


def _facts(ctx: Context, account_id: str, rules: tuple[PricingRule, ...], errors: dict[str, str]) -> Any:
    """An account's facts for the preview (as its invoices read them), or none."""
    if not account_id:
        return None
    account = AccountRepository(ctx.session, ctx.org_id).by_id(account_id)
    if account is None:
        errors["account"] = f"No account {account_id}"
        return None
    keys = pricing_rules.setting_keys(rules)
    found: dict[str, Any] = {}
    if keys:
        customer_id = AccountRepository(ctx.session, ctx.org_id).ids_with_customer_ids({account.pk})[account.pk][1]
        levels = [("ACCOUNT", account.id), ("CUSTOMER", customer_id), ("ORGANIZATION", ctx.org_id)]
        found = SettingRepository(ctx.session, ctx.org_id).nearest(keys, levels)
    return pricing_rules.account_facts(account, found)


def _preview(
    ctx: Context,
    model: PlanModel,
    rules: list[dict[str, Any]],
    form: FormData,
    values: dict[str, str],
    errors: dict[str, str],
) -> Preview | None:
    currency = str(form.get("currency", "")) or model.currencies[0]
    values["currency"] = currency
    if currency not in model.currencies:
        errors["currency"] = f"The plan does not support {currency}"
    usage = _sample(model, form, values, errors)
    account_id = str(form.get("account", "")).strip()
    values["account"] = account_id
    typed = tuple(sorted((PricingRule.model_validate(r) for r in rules), key=lambda r: r.order))
    facts = _facts(ctx, account_id, typed, errors)
    if errors:
        return None
    ruled_model = replace(model, pricing_rules=typed)
    cards: list[CardRevenue] = plan_revenue(ruled_model, currency, usage, {})
    ruled = with_rules(ruled_model, cards, currency, facts)
    shown = [
        PreviewCard(
            plan_model.label(b.card),
            b.quantity if isinstance(b.card, schemas.UsageRateCard) else None,
            b.revenue,
            a.revenue,
        )
        for b, a in zip(ruled.before, ruled.cards, strict=True)
    ]
    before = sum((c.revenue for c in ruled.before), Decimal(0))
    after = sum((c.revenue for c in ruled.cards), Decimal(0)) + sum(
        (c.amount for c in ruled.changes if c.card_id is None), Decimal(0)
    )
    return Preview(currency, account_id or None, shown, ruled.log, before, after)


# -- pages -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subject:
    """What the rules belong to: a plan's newest version, or an account's schedule (its own rules)."""

    title: str
    crumbs: list[tuple[str, str]]
    url: str  # the page's own
    back: str  # Cancel
    model: PlanModel
    notice: str | None  # said above the form (what a save does)
    editable: bool
    account: str = ""  # the preview's account, filled in
    keeps_ids: bool = True  # a plan's rules keep their ids; an account's own rules are numbered by order


def _plan_subject(view: PlanView) -> Subject:
    purl = _url("price-plans", view.plan.id)
    notice = None
    if view.plan.status == ACTIVE:
        notice = f"This plan is ACTIVE: saving makes version {view.plan.latest_version + 1}."
    elif view.plan.status == ARCHIVED:
        notice = "This plan is archived: its rules cannot change."
    return Subject(
        title=f"Pricing rules of {view.plan.name}",
        crumbs=[("Price Plans", "/price-plans"), (view.plan.name, purl)],
        url=purl + "/pricing-rules",
        back=purl,
        model=view.latest.model,
        notice=notice,
        editable=view.plan.status != ARCHIVED,
    )


def _schedule_subject(ctx: Context, account_id: str, schedule_id: str) -> tuple[Subject, ScheduleView]:
    account, view = account_schedule(ctx, account_id, schedule_id)
    aurl = _url("accounts", account.id)
    return (
        Subject(
            title=f"Pricing rules of {account.name} on {view.plan_name} (version {view.version})",
            crumbs=[("Accounts", "/accounts"), (account.name, aurl + "?tab=schedule")],
            url=aurl + "/schedules/" + quote(view.id, safe="") + "/pricing-rules",
            back=aurl + "?tab=schedule",
            model=view.model,
            notice=(
                "These rules are this account's own on this schedule: they replace the plan's (no rule: none). "
                "Saving changes the schedule from the end of its finalized invoices (the invoiced part keeps its "
                "pricing), and the account's draft invoices follow."
            ),
            editable=True,
            account=account.id,
            keeps_ids=False,
        ),
        view,
    )


def _page(
    request: Request,
    user: Any,
    subject: Subject,
    rows: list[dict[str, str]],
    values: dict[str, str],
    errors: dict[str, str],
    preview: Preview | None = None,
    status: int = 200,
) -> Response:
    model = subject.model
    targets = [
        (
            f"{what}.{plan_model.rule_keys(card)[0]}",
            f"{'Usage' if what == 'usage' else 'Revenue'} of {plan_model.label(card)}",
        )
        for card in model.cards()
        for what in (("usage", "revenue") if isinstance(card, plan_model.SLAB_CARDS) else ("revenue",))
    ]
    return render(
        request,
        "pricing_rules.html",
        user,
        status=status,
        subject=subject,
        model=model,
        rows=rows,
        values=values,
        errors=errors,
        preview=preview,
        targets=targets,
        timings=TIMINGS,
        actions=ACTIONS,
        outcomes=OUTCOMES,
        line_types=LINE_TYPES,
        max_rules=MAX_PRICING_RULES,
        editable=subject.editable,
    )


def _first_page(request: Request, user: Any, subject: Subject) -> Response:
    rows = [_row(r) for r in subject.model.pricing_rules]
    return _page(
        request, user, subject, rows, {"currency": subject.model.currencies[0], "account": subject.account}, {}
    )


def _post(
    request: Request,
    user: Any,
    subject: Subject,
    form: FormData,
    save: Callable[[list[dict[str, Any]]], tuple[str, str]],
) -> Response:
    """The form sent back: rows added or removed, a preview, or a save (`save` answers the notice and the page to
    show it on)."""
    ctx = context(request, user)
    model = subject.model
    rows = _rows_of(form)
    action = str(form.get("action", "save"))
    values: dict[str, str] = {"currency": str(form.get("currency", "")), "account": str(form.get("account", ""))}
    for card in model.usage_cards:
        values[f"usage_{card.usage_meter_id}"] = str(form.get(f"usage_{card.usage_meter_id}", ""))
    if action == "add_rule" or action.startswith("remove_rule_"):
        _resize(rows, action)
        return _page(request, user, subject, rows, values, {})
    errors: dict[str, str] = {}
    rules = _checked(model, rows, errors)
    if rules is None:
        return _page(request, user, subject, rows, values, errors, status=400)
    if action == "preview":
        preview = _preview(ctx, model, rules, form, values, errors)
        return _page(request, user, subject, rows, values, errors, preview, 400 if errors else 200)
    if not subject.editable:
        errors["form"] = subject.notice or "These rules cannot change"
        return _page(request, user, subject, rows, values, errors, status=400)
    try:
        done, where = save(rules)
    except BadRequest as exc:
        session_of(request).rollback()
        _refusal(exc.message, errors)
        return _page(request, user, subject, rows, values, errors, status=400)
    return feedback.saved(request, where, done)


def _pending(ctx: Context, view: PlanView) -> Subject | None:
    """With a v2 draft pending, a plan's rules change in the draft (v1 refuses a new version meanwhile): the page
    says so and links there."""
    service = PricePlanService(ctx)
    draft = service.repo.draft(view.plan) if view.plan.status == ACTIVE else None
    if draft is None:
        return None
    subject = _plan_subject(view)
    return replace(
        subject,
        notice=f"A draft of this plan (version {draft.version}) is pending: edit the draft's rules instead "
        f"({subject.url.removesuffix('/pricing-rules')}/draft/pricing-rules).",
        editable=False,
    )


@router.get("/price-plans/{plan_id}/pricing-rules")
def rules_page(request: Request, user: User, plan_id: str) -> Response:
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    return _first_page(request, user, _pending(ctx, view) or _plan_subject(view))


def _draft_subject(view: V2View) -> Subject:
    purl = _url("price-plans", view.plan.id)
    durl = purl + "/draft"
    if view.draft:
        notice = f"Saved into the draft (version {view.version.version}): they take effect when the draft is finalized."
    else:
        notice = (
            f"Saving starts a draft (version {view.plan.latest_version + 1}) from version "
            f"{view.plan.latest_version}; nothing changes for accounts until it is finalized."
        )
    return Subject(
        title=f"Pricing rules of the draft of {view.plan.name}",
        crumbs=[("Price Plans", "/price-plans"), (view.plan.name, purl), ("Draft", durl)],
        url=durl + "/pricing-rules",
        back=durl,
        model=view.model,
        notice=notice,
        editable=True,
    )


@router.get("/price-plans/{plan_id}/draft/pricing-rules")
def draft_rules_page(request: Request, user: User, plan_id: str) -> Response:
    view = PricePlanV2Service(context(request, user)).get(plan_id)
    return _first_page(request, user, _draft_subject(view))


@router.post("/price-plans/{plan_id}/draft/pricing-rules")
def save_draft_rules(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    service = PricePlanV2Service(ctx)
    subject = _draft_subject(service.get(plan_id))

    def save(rules: list[dict[str, Any]]) -> tuple[str, str]:
        # v2 replaces the draft's rules whole; a rule is written as a client writes it (v2 gives it its id)
        written = [
            CreatePricingRule.model_validate({k: v for k, v in r.items() if k not in ("id", "version")}) for r in rules
        ]
        saved = service.set_pricing_rules(plan_id, written)
        return f"Pricing rules of the draft (version {saved.version.version}) saved.", subject.back

    return _post(request, user, subject, form, save)


@router.post("/price-plans/{plan_id}/pricing-rules")
def save_rules(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    subject = _plan_subject(view)

    def save(rules: list[dict[str, Any]]) -> tuple[str, str]:
        # the version's details with these rules, as the builder saves a card (an ACTIVE plan: a new version)
        details = schemas.CreatePricePlanDetails.model_validate({**view.latest.details, "pricingRules": rules})
        version = PricePlanService(ctx).set_details(plan_id, details).latest.version.version
        words = f" (version {version})" if version != view.latest.version.version else ""
        return f"Pricing rules of {view.plan.name} saved{words}.", subject.url

    return _post(request, user, subject, form, save)


@router.get("/accounts/{account_id}/schedules/{schedule_id}/pricing-rules")
def schedule_rules_page(request: Request, user: User, account_id: str, schedule_id: str) -> Response:
    subject, _ = _schedule_subject(context(request, user), account_id, schedule_id)
    return _first_page(request, user, subject)


@router.post("/accounts/{account_id}/schedules/{schedule_id}/pricing-rules")
def save_schedule_rules(request: Request, user: User, account_id: str, schedule_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    subject, view = _schedule_subject(ctx, account_id, schedule_id)

    def save(rules: list[dict[str, Any]]) -> tuple[str, str]:
        made = set_schedule_rules(ctx, account_id, schedule_id, rules)  # the schedule's new id: its page is there
        where = _url("accounts", account_id, "schedules", made.id, "pricing-rules")
        return f"Pricing rules of {view.plan_name} for this account saved.", where

    return _post(request, user, subject, form, save)


# -- an account's schedule draft: the schedule's own rules staged (SchedulesApi v2's update_pricing_rules) ----------
def _staged_subject(ctx: Context, account_id: str, schedule_id: str) -> Subject:
    """The schedule's rules as staged in the account's schedule draft (404: not the account's schedule)."""
    account, _ = account_schedule(ctx, account_id, schedule_id)
    _, view = schedule_view(ctx, schedule_id, "DRAFT")
    aurl = _url("accounts", account.id)
    durl = aurl + "/schedule-draft"
    return Subject(
        title=f"Pricing rules of {account.name} on {view.plan_name} version {view.version}",
        crumbs=[("Accounts", "/accounts"), (account.name, aurl + "?tab=schedule"), ("Schedule draft", durl)],
        url=durl + "/schedules/" + quote(view.id, safe="") + "/pricing-rules",
        back=durl,
        model=view.model,
        notice=(
            "These rules are this account's own on this schedule: they replace the plan's (no rule: none). Saving "
            "stages them in the account's schedule draft; nothing changes until the draft is finalized (then from "
            "the end of the finalized invoices, together with the other staged changes)."
        ),
        editable=True,
        account=account.id,
        keeps_ids=False,
    )


@router.get("/accounts/{account_id}/schedule-draft/schedules/{schedule_id}/pricing-rules")
def staged_rules_page(request: Request, user: User, account_id: str, schedule_id: str) -> Response:
    return _first_page(request, user, _staged_subject(context(request, user), account_id, schedule_id))


@router.post("/accounts/{account_id}/schedule-draft/schedules/{schedule_id}/pricing-rules")
def stage_rules(request: Request, user: User, account_id: str, schedule_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    subject = _staged_subject(ctx, account_id, schedule_id)

    def save(rules: list[dict[str, Any]]) -> tuple[str, str]:
        written = [
            CreatePricingRule.model_validate({k: v for k, v in r.items() if k not in ("id", "version")}) for r in rules
        ]
        stage_schedule_rules(ctx, schedule_id, written)
        count = f"{len(written)} pricing rule{'s' if len(written) != 1 else ''}"
        return f"Staged: {count} of {subject.title.removeprefix('Pricing rules of ')}.", subject.back

    return _post(request, user, subject, form, save)
