"""The console's price plan pages (issue 7): the list, the builder, activation, versions. Thin handlers over the
catalog's services (docs/pricing.md): no rule of what makes a plan valid lives here.

The builder works without JavaScript: the plan's page shows its components, and each component has a small form
(a usage rate card with N slab rows, "+ Add a slab" sends the form back with one more row). Every save sends the
plan's whole details to `PricePlanService.set_details`: a DRAFT plan changes in place, an ACTIVE one gets a new
version, as through the API. A mistake is shown in words, next to its field when the message names one.
"""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

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
from meterline.console.account_pages import CURRENCIES
from meterline.console.pages import PAGE, User, _field_errors, check_csrf, context, render
from meterline.core.errors import Conflict, MeterlineError, NotFound
from meterline.core.pagination import PageRequest, encode_token, page_request
from meterline.jobs.service import JobService
from meterline.metering.repository import MeteringRepository
from meterline.schedules.migration import affected_accounts, start_migration
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

INTERVALS = {"WEEKLY": "Weekly", "MONTHLY": "Monthly", "QUARTERLY": "Quarterly", "HALF_YEARLY": "Half-yearly",
             "ANNUALLY": "Annually"}
MODELS = {"TIERED": "Tiered: each slab prices its own band of the usage",
          "VOLUME": "Volume: all the usage at the rate of the slab it reaches"}
PRICE_TYPES = {"PER_UNIT": "Per unit", "FLAT": "Flat fee", "PACKAGE": "Package"}
TIMINGS = {"IN_ARREARS": "In arrears (at the end of the cycle)", "IN_ADVANCE": "In advance (at its start)"}
MIGRATION_MODES = {"NEXT_CYCLE": "at the start of their next cycle", "IMMEDIATE": "now",
                   "START_OF_CURRENT_CYCLE": "from the start of their current cycle"}
WEEKDAYS = {"1": "Monday", "2": "Tuesday", "3": "Wednesday", "4": "Thursday", "5": "Friday", "6": "Saturday",
            "7": "Sunday", "LAST": "Sunday"}
KINDS = {"usage": "usageRateCards", "license": "licenseRateCards", "fixed-fee": "fixedFeeRateCards"}
KIND_NAMES = {"usage": "Usage rate card", "license": "License", "fixed-fee": "Fixed fee", "commitment": "Minimum commitment"}
MAX_SLABS = 10  # the SDK's ratePlan.slabs maxLength


async def _form(request: Request) -> FormData:
    return await request.form()


Fields = Annotated[FormData, Depends(_form)]


def _url(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _text(value: Any) -> str:
    """A stored number as a person typed it (no exponent)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else str(value)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# -- messages in words -------------------------------------------------------------------------------------------
_PHRASES = [
    (re.compile(r"pricePlanDetails\.?"), ""),
    (re.compile(r"pricingCycleConfig\.startOffset\.dayOffset"), "Start day"),
    (re.compile(r"pricingCycleConfig\.startOffset\.monthOffset"), "Start month"),
    (re.compile(r"pricingCycleConfig\.gracePeriod"), "Grace period"),
    (re.compile(r"pricingCycleConfig\.?"), "Pricing cycle"),
    (re.compile(r"supportedCurrencies"), "Currencies"),
    (re.compile(r"minimumCommitment"), "Minimum commitment"),
    (re.compile(r"usageRateCards\[(\d+)\]"), lambda m: f"Usage rate card {int(m[1]) + 1}"),
    (re.compile(r"licenseRateCards\[(\d+)\]"), lambda m: f"License {int(m[1]) + 1}"),
    (re.compile(r"fixedFeeRateCards\[(\d+)\]"), lambda m: f"Fixed fee {int(m[1]) + 1}"),
    (re.compile(r"ratePlan\.slabs\[(\d+)\]"), lambda m: f"slab {int(m[1]) + 1}"),
    (re.compile(r"\.slabConfig\.packageSize"), " package size"),
    (re.compile(r"\.startAfter"), " start"),
    (re.compile(r"\.usageMeterId"), " meter"),
    (re.compile(r"\.invoiceTiming"), " billing time"),
    (re.compile(r"rateValues"), "rates"),
    (re.compile(r"\bsend NIL\b"), 'leave "Start month" empty'),
    (re.compile(r"; send "), "; choose "),
    (re.compile(r"\bFIRST or LAST\b"), "First or Last"),
    (re.compile(r"\b(\d+) or LAST\b"), r"\1 or Last day"),
]


def words(message: str) -> str:
    """A service's message with the API's field paths spelled as the console names them."""
    for pattern, replacement in _PHRASES:
        message = pattern.sub(replacement, message)  # type: ignore[arg-type]
    return message.strip()


def _pydantic_words(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error["loc"]).replace(".[", "[")
    return words(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")


# -- the pricing cycle and currencies (new plan, edit details) ---------------------------------------------------
def cycle_words(config: dict[str, Any] | None) -> str:
    if not config:
        return "no pricing cycle"
    interval = INTERVALS.get(config["interval"], config["interval"])
    offset = config.get("startOffset")
    if offset is None or config.get("anniversaryCycle"):
        start = "from the day the plan starts on an account (anniversary)"
    else:
        day, month = offset["dayOffset"], offset["monthOffset"]
        if config["interval"] == "WEEKLY":
            start = "from " + WEEKDAYS.get(day, f"day {day}")
        else:
            start = "from the last day" if day == "LAST" else f"from day {day}"
            start += {"NIL": "", "FIRST": " of the period's first month", "LAST": " of the period's last month"}.get(
                month, f" of month {month} of the period")
    grace = config.get("gracePeriod") or 0
    return f"{interval}, {start}" + (f"; {grace} day{'s' if grace != 1 else ''} of grace" if grace else "")


def _cycle_values(details: dict[str, Any] | None, base_currency: str) -> dict[str, Any]:
    config = (details or {}).get("pricingCycleConfig") or {}
    offset = config.get("startOffset") or {}
    return {"interval": config.get("interval", "MONTHLY"), "day_offset": offset.get("dayOffset", "1"),
            "month_offset": offset.get("monthOffset", "NIL"), "grace": str(config.get("gracePeriod", 0)),
            "anniversary": bool(config.get("anniversaryCycle")),
            "currencies": (details or {}).get("supportedCurrencies", [base_currency]), "other": ""}


def _cycle_from_form(form: FormData, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """(pricingCycleConfig, supportedCurrencies) from the form; what cannot be read goes into `errors`."""
    interval = str(form.get("interval", ""))
    if interval not in INTERVALS:
        errors["interval"] = "Choose how often the plan bills"
    grace_text = str(form.get("grace", "0")).strip() or "0"
    grace = int(grace_text) if grace_text.isdigit() else None
    if grace is None:
        errors["grace"] = "A whole number of days, 0 or more"
    anniversary = form.get("anniversary") == "on"
    # the start month applies to quarterly, half-yearly and annual cycles only
    month = "NIL" if interval in ("WEEKLY", "MONTHLY") else str(form.get("month_offset", "NIL"))
    config: dict[str, Any] = {"interval": interval, "gracePeriod": grace or 0}
    if anniversary:
        config["anniversaryCycle"] = True
    else:
        config["startOffset"] = {"dayOffset": str(form.get("day_offset", "1")), "monthOffset": month}
    codes: list[str] = []
    for code in [str(c) for c in form.getlist("currencies")] + re.split(r"[\s,;]+", str(form.get("other", ""))):
        code = code.strip().upper()
        if code and code not in codes:
            codes.append(code)
    if not codes:
        errors["currencies"] = "Pick at least one currency the plan is priced in"
    values.update(interval=interval, day_offset=str(form.get("day_offset", "1")), month_offset=month,
                  grace=grace_text, anniversary=anniversary, currencies=codes, other=str(form.get("other", "")))
    return {"pricingCycleConfig": config, "supportedCurrencies": codes}


_DETAIL_FIELDS = (("Start day", "day_offset"), ("Start month", "month_offset"), ("Grace period", "grace"),
                  ("Pricing cycle", "interval"), ("Currencies", "currencies"))


def _detail_error(message: str, errors: dict[str, str]) -> None:
    text = words(message)
    for prefix, name in _DETAIL_FIELDS:
        if text.startswith(prefix):
            text = text.removeprefix(prefix).strip(" :") if name != "interval" else text
            errors[name] = text[:1].upper() + text[1:]
            return
    errors["form"] = text


def _currency_choices(selected: list[str]) -> list[str]:
    return list(CURRENCIES) + [c for c in selected if c not in CURRENCIES]


# -- slab rows (usage and license cards) -------------------------------------------------------------------------
@dataclass
class SlabRow:
    start: str = ""
    end: str = ""
    price_type: str = "PER_UNIT"
    package: str = ""
    rates: dict[str, str] = field(default_factory=dict)


def _rows_of_card(card: dict[str, Any] | None, currencies: list[str]) -> list[SlabRow]:
    if card is None:
        return [SlabRow(start="0")]
    slabs = card["ratePlan"]["slabs"]
    rows = []
    for i, slab in enumerate(slabs):
        rates = {}
        for value in card["rateValues"]:
            rate = next((r["rate"] for r in value["slabRates"] if r["order"] == slab["order"]), None)
            rates[value["currency"]] = _text(rate)
        rows.append(SlabRow(start=_text(slab["startAfter"]), end=_text(slabs[i + 1]["startAfter"]) if i + 1 < len(slabs) else "",
                            price_type=slab["priceType"], package=(slab.get("slabConfig") or {}).get("packageSize", ""),
                            rates=rates))
    return rows


def _rows_of_form(form: FormData, currencies: list[str]) -> list[SlabRow]:
    count = str(form.get("rows", "1"))
    n = min(max(int(count), 1), MAX_SLABS) if count.isdigit() else 1
    return [SlabRow(start=str(form.get(f"from_{i}", "")), end=str(form.get(f"to_{i}", "")),
                    price_type=str(form.get(f"type_{i}", "PER_UNIT")), package=str(form.get(f"package_{i}", "")),
                    rates={c: str(form.get(f"rate_{i}_{c}", "")) for c in currencies}) for i in range(n)]


def _slab_plan(rows: list[SlabRow], model: str, currencies: list[str], original: dict[str, Any] | None,
               errors: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ratePlan, rateValues) of the rows. The form's "To" is the next slab's start: a "To" that is not where the
    next slab starts, or a "To" on the last slab (which prices all usage above its start), is a mistake here."""
    if model not in MODELS:
        errors["model"] = "Choose a pricing model"
    starts: list[Decimal | None] = []
    for i, row in enumerate(rows):
        text = row.start.strip() or (rows[i - 1].end.strip() if i else "")
        value = _number(text) if text else None
        if not text:
            errors[f"from_{i}"] = "Where does this slab start? (0 for the first)" if i == 0 else \
                "Where does this slab start? (where the previous one ends)"
        elif value is None:
            errors[f"from_{i}"] = "Enter a number, such as 0 or 1000"
        starts.append(value)
    for i, row in enumerate(rows):
        end = row.end.strip()
        if not end:
            continue
        value = _number(end)
        if value is None:
            errors[f"to_{i}"] = "Enter a number, such as 1000, or leave it empty"
        elif i == len(rows) - 1:
            errors[f"to_{i}"] = "The last slab has no end: leave To empty (it prices all usage above its start)"
        elif starts[i + 1] is not None and value != starts[i + 1]:
            errors[f"to_{i}"] = (f"Slabs must be contiguous: this slab ends at {end} but slab {i + 2} starts after "
                                 f"{_text(starts[i + 1])}")
    old_rates = {v["currency"]: {r["order"]: r for r in v["slabRates"]} for v in (original or {}).get("rateValues", [])}
    old_slabs = {s["order"]: s for s in (original or {}).get("ratePlan", {}).get("slabs", [])}
    slabs, values = [], {c: [] for c in currencies}
    for i, row in enumerate(rows):
        if row.price_type not in PRICE_TYPES:
            errors[f"type_{i}"] = "Choose a price type"
        slab: dict[str, Any] = {"order": i + 1, "startAfter": starts[i], "priceType": row.price_type}
        config = dict(old_slabs.get(i + 1, {}).get("slabConfig") or {})
        config.pop("packageSize", None)
        if row.package.strip():
            config["packageSize"] = row.package.strip()
        if config:
            slab["slabConfig"] = config
        slabs.append(slab)
        for currency in currencies:
            text = row.rates.get(currency, "").strip()
            rate = _number(text) if text else None
            if not text:
                errors[f"rate_{i}_{currency}"] = "Enter a rate (0 if this slab is free)"
            elif rate is None:
                errors[f"rate_{i}_{currency}"] = "Enter a number, such as 0.05 or 12"
            slab_rate: dict[str, Any] = {"order": i + 1, "rate": rate}
            kept = old_rates.get(currency, {}).get(i + 1, {}).get("slabRateConfig")
            if kept:
                slab_rate["slabRateConfig"] = kept
            values[currency].append(slab_rate)
    rate_values = []
    for currency in currencies:
        value: dict[str, Any] = {"currency": currency, "slabRates": values[currency]}
        kept = next((v.get("rateConfig") for v in (original or {}).get("rateValues", []) if v["currency"] == currency),
                    None)
        if kept:
            value["rateConfig"] = kept
        rate_values.append(value)
    return {"pricingModel": model, "slabs": slabs}, rate_values


def _bounds(form: FormData, rate_values: list[dict[str, Any]], errors: dict[str, str]) -> None:
    """The optional minimum and maximum per cycle, per currency (rateConfig)."""
    for value in rate_values:
        config = {k: v for k, v in (value.get("rateConfig") or {}).items() if k not in ("minimumRate", "maximumRate")}
        for key, name in (("minimumRate", "min"), ("maximumRate", "max")):
            text = str(form.get(f"{name}_{value['currency']}", "")).strip()
            if not text:
                continue
            if _number(text) is None:
                errors[f"{name}_{value['currency']}"] = "Enter a number, or leave it empty"
            config[key] = text
        value.pop("rateConfig", None)
        if config:
            value["rateConfig"] = config


_SLAB_FIELD = re.compile(r"\((?P<cur>[A-Z]{3})\): ratePlan\.slabs\[(?P<i>\d+)\](?P<f>\.startAfter|\.priceType|"
                         r"\.slabConfig\.packageSize|\.order)?: (?P<msg>.*)$")
_PACKAGE_FIELD = re.compile(r"ratePlan\.slabs\[(?P<i>\d+)\]\.slabConfig(\.packageSize)?: (?P<msg>.*)$")
_BOUND_FIELD = re.compile(r"(rateValues )?\((?P<cur>[A-Z]{3})\)(\.|: )rateConfig(\.(?P<k>minimumRate|maximumRate))?: "
                          r"(?P<msg>.*)$")
_AMOUNT_FIELD = re.compile(r"rateValues\[(?P<v>\d+)\]\.rate: (?P<msg>.*)$")
_CARD_FIELD = re.compile(r"\]\.(?P<f>usageMeterId|id|invoiceTiming|displayName): (?P<msg>.*)$")


def _card_error(message: str, currencies: list[str], errors: dict[str, str]) -> None:
    """A service's refusal next to the field it names, else above the form."""
    def put(name: str, text: str) -> None:
        text = words(text)
        errors[name] = text[:1].upper() + text[1:]

    if found := _SLAB_FIELD.search(message):
        i, suffix = int(found["i"]), found["f"] or ""
        put({".startAfter": f"from_{i}", ".priceType": f"type_{i}", ".slabConfig.packageSize": f"package_{i}",
             ".order": f"from_{i}"}.get(suffix, f"rate_{i}_{found['cur']}"), found["msg"])
    elif found := _PACKAGE_FIELD.search(message):
        put(f"package_{found['i']}", found["msg"])
    elif found := _BOUND_FIELD.search(message):
        put(f"{'max' if found['k'] == 'maximumRate' else 'min'}_{found['cur']}", found["msg"])
    elif (found := _AMOUNT_FIELD.search(message)) and int(found["v"]) < len(currencies):
        put(f"amount_{currencies[int(found['v'])]}", found["msg"])
    elif found := _CARD_FIELD.search(message):
        put({"usageMeterId": "meter", "id": "addon", "invoiceTiming": "timing", "displayName": "display_name"}[found["f"]],
            found["msg"])
    else:
        errors["form"] = words(message)


# -- loading ---------------------------------------------------------------------------------------------------
@dataclass
class Catalog:
    meters: dict[str, Any]  # id -> UsageMeter (not archived)
    addons: dict[str, Any]  # id -> AddOn

    def meter_name(self, meter_id: str) -> str:
        meter = self.meters.get(meter_id)
        return meter.name if meter else meter_id

    def addon_name(self, addon_id: str) -> str:
        addon = self.addons.get(addon_id)
        return addon.name if addon else addon_id


def _catalog(ctx: Context) -> Catalog:
    meters = {m.id: m for m in MeteringRepository(ctx.session, ctx.org_id).usable_meters()}
    addons = {a.id: a for a in AddOnRepository(ctx.session, ctx.org_id).all()}
    return Catalog(meters=meters, addons=addons)


def _find_card(details: dict[str, Any], name: str) -> tuple[str, int, dict[str, Any]]:
    for kind, key in KINDS.items():
        for i, card in enumerate(details.get(key, [])):
            if card["name"] == name:
                return kind, i, card
    raise NotFound(f"This plan has no rate card named {name}")


def _editable(view: PlanView) -> None:
    if view.plan.status == ARCHIVED:
        raise Conflict(f"Price plan {view.plan.name} is archived; an archived plan cannot change")


def _save(ctx: Context, view: PlanView, details: dict[str, Any], description: str | None = None) -> PlanView:
    """Check the details as the API would (its request model), then hand them to the service."""
    try:
        body = schemas.CreatePricePlanDetails.model_validate(details)
    except ValidationError as exc:
        raise _Refused(_pydantic_words(exc)) from None
    return PricePlanService(ctx).set_details(view.plan.id, body, description)


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _undo(request: Request) -> None:
    """Forget what a refused action changed before showing the page again (the request rolls back anyway)."""
    session_of(request).rollback()


# -- the list ----------------------------------------------------------------------------------------------------
@router.get("/price-plans")
def plans_page(request: Request, user: User, q: str = "", after: str | None = None) -> Response:
    service = PricePlanService(context(request, user))
    rows: list[PlanView] = []
    cursor: PageRequest = page_request(after or None, PAGE)
    needle = q.strip().lower()
    while True:  # a search filters pages of plans until a page is full or none are left
        page = service.page(cursor)
        rows += [v for v in page.items if not needle or needle in v.plan.name.lower() or needle in v.plan.id.lower()]
        token = page.next_token
        if len(rows) >= PAGE or token is None:
            break
        cursor = page_request(token, PAGE)
    if len(rows) > PAGE:  # the next page starts after the last plan shown
        token = encode_token(rows[PAGE - 1].plan.id)
    return render(request, "plans.html", user, plans=rows[:PAGE], q=q, cycle_words=cycle_words,
                  next_url=f"/price-plans?q={quote(q)}&after={quote(token)}" if token else None)


# -- a new plan, its details -------------------------------------------------------------------------------------
def _details_page(request: Request, user: Any, view: PlanView | None, values: dict[str, Any],
                  errors: dict[str, str], status: int = 200) -> Response:
    return render(request, "plan_form.html", user, status=status, view=view, values=values, errors=errors,
                  intervals=INTERVALS, currencies=_currency_choices(values["currencies"]))


@router.get("/price-plans/new")
def new_plan_page(request: Request, user: User) -> Response:
    values = {"name": "", "description": "", **_cycle_values(None, user.org.base_currency)}
    return _details_page(request, user, None, values, {})


@router.post("/price-plans/new")
def new_plan(request: Request, user: User, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    values: dict[str, Any] = {"name": str(form.get("name", "")), "description": str(form.get("description", ""))}
    errors: dict[str, str] = {}
    details = _cycle_from_form(form, values, errors)
    if not values["name"].strip():
        errors["name"] = "Give the plan a name (unique among your plans)"
    if errors:
        return _details_page(request, user, None, values, errors, 400)
    try:
        body = schemas.CreatePricePlanRequest.model_validate(
            {"name": values["name"], "description": values["description"].strip() or None,
             "pricePlanDetails": details})
        view = PricePlanService(context(request, user)).create(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else ""
        if where in ("name", "description"):
            message = next(iter(_field_errors(exc).values()))
            errors[where] = message[:1].upper() + message[1:]
        else:
            _detail_error(_pydantic_words(exc), errors)
        return _details_page(request, user, None, values, errors, 400)
    except Conflict as exc:
        return _details_page(request, user, None, values, {"name": exc.message}, 400)
    except MeterlineError as exc:
        if exc.status_code >= 500:
            raise
        _detail_error(exc.message, errors)
        return _details_page(request, user, None, values, errors, 400)
    return RedirectResponse(_url("price-plans", view.plan.id), status_code=303)


@router.get("/price-plans/{plan_id}/edit")
def edit_plan_page(request: Request, user: User, plan_id: str) -> Response:
    view = PricePlanService(context(request, user)).get(plan_id)
    _editable(view)
    values = {"name": view.plan.name, "description": view.plan.description or "",
              **_cycle_values(view.latest.details, user.org.base_currency)}
    return _details_page(request, user, view, values, {})


@router.post("/price-plans/{plan_id}/edit")
def edit_plan(request: Request, user: User, plan_id: str, form: Fields) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    values: dict[str, Any] = {"name": view.plan.name, "description": str(form.get("description", ""))}
    errors: dict[str, str] = {}
    changes = _cycle_from_form(form, values, errors)
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
        _detail_error(exc.message, errors)
        return _details_page(request, user, view, values, errors, 400)
    return RedirectResponse(_url("price-plans", plan_id), status_code=303)


# -- the plan's page ---------------------------------------------------------------------------------------------
def _plan_page(request: Request, user: Any, plan_id: str, version: int | None = None, status: int = 200,
               **extra: Any) -> Response:
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    latest = view.latest.version.version
    number = version if version is not None and 1 <= version <= latest else latest
    shown = view.versions[number - 1]
    accounts = {v.version.version: len(affected_accounts(ctx, view.plan.pk, [v.version.version]))
                for v in view.versions}
    ends = {v.version.version: (view.versions[i + 1].version.created_at if i + 1 < len(view.versions) else None)
            for i, v in enumerate(view.versions)}
    inactive = [c for c in view.latest.details["supportedCurrencies"] if c not in view.latest.active_currencies]
    return render(request, "plan.html", user, status=status, view=view, shown=shown, details=shown.details,
                  is_latest=number == latest, editable=number == latest and view.plan.status != ARCHIVED,
                  accounts=accounts, ends=ends, inactive=inactive, catalog=_catalog(ctx), cycle_words=cycle_words,
                  price_types=PRICE_TYPES, timings=TIMINGS, modes=MIGRATION_MODES, **extra)


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
        job = start_migration(ctx, source_id=plan_id, source_versions=sources, target_id=plan_id,
                              target_version=newest, mode=mode, retain_start_offsets=False, require_confirmation=False)
        entries = JobService(ctx).repo.entries(job)
        failed = [e for e in entries if e.status == "FAILED"]
        moved = len(entries) - len(failed)
        text = f"{moved} account{'s' if moved != 1 else ''} moved to version {newest} ({MIGRATION_MODES[mode]})."
        if failed:
            reason = (failed[0].result or {}).get("reason", "")
            text += f" {len(failed)} could not move{': ' + reason if reason else ''}."
        return text

    return _act(request, user, plan_id, action)


# -- components --------------------------------------------------------------------------------------------------
def _card_page(request: Request, user: Any, view: PlanView, kind: str, card: dict[str, Any] | None,
               values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response:
    ctx = context(request, user)
    catalog = _catalog(ctx)
    addon_type = {"license": "LICENSE", "fixed-fee": "FIXED_FEE"}.get(kind)
    addon_names = sorted(a.name for a in catalog.addons.values() if a.status == "ACTIVE" and a.type == addon_type)
    return render(request, "plan_card.html", user, status=status, view=view, kind=kind, kind_name=KIND_NAMES[kind],
                  card=card, values=values, errors=errors, currencies=view.latest.details["supportedCurrencies"],
                  meters=list(catalog.meters.values()), addon_names=addon_names, models=MODELS,
                  price_types=PRICE_TYPES, timings=TIMINGS, max_slabs=MAX_SLABS)


def _card_values(kind: str, card: dict[str, Any] | None, currencies: list[str], catalog: Catalog) -> dict[str, Any]:
    """The form's values of a saved card (or a new one)."""
    card = card or {}
    values: dict[str, Any] = {"display_name": card.get("displayName", ""), "model": "TIERED", "rows": []}
    if kind in ("usage", "license"):
        values["meter"] = card.get("usageMeterId", "")
        values["model"] = card.get("ratePlan", {}).get("pricingModel", "TIERED")
        values["rows"] = _rows_of_card(card or None, currencies)
        for value in card.get("rateValues", []):
            config = value.get("rateConfig") or {}
            values[f"min_{value['currency']}"] = config.get("minimumRate", "")
            values[f"max_{value['currency']}"] = config.get("maximumRate", "")
    if kind in ("license", "fixed-fee"):
        values["addon"] = catalog.addon_name(card["id"]) if "id" in card else ""
        values["timing"] = card.get("invoiceTiming", "IN_ARREARS")  # the API's default
        values["proration"] = bool(card.get("enableProration"))
    if kind == "fixed-fee":
        values["recurring"] = card.get("type", "RECURRING") == "RECURRING"
        for value in card.get("rateValues", []):
            values[f"amount_{value['currency']}"] = _text(value["rate"])
    if kind == "commitment":
        values["display_name"] = card.get("displayName", "Minimum commitment")
        for value in card.get("rateValues", []):
            values[f"amount_{value['currency']}"] = _text(value["rate"])
    return values


def _amounts(form: FormData, currencies: list[str], values: dict[str, Any], errors: dict[str, str]
             ) -> list[dict[str, Any]]:
    out = []
    for currency in currencies:
        text = str(form.get(f"amount_{currency}", "")).strip()
        values[f"amount_{currency}"] = text
        amount = _number(text) if text else None
        if not text:
            errors[f"amount_{currency}"] = f"Enter the amount in {currency}"
        elif amount is None:
            errors[f"amount_{currency}"] = "Enter a number, such as 49 or 49.90"
        out.append({"currency": currency, "rate": amount})
    return out


def _card_from_form(kind: str, form: FormData, original: dict[str, Any] | None,
                    currencies: list[str], values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The card the form describes, with what the form does not show kept from the card it edits."""
    card = {k: v for k, v in (original or {}).items()
            if k in ("name", "tag", "config", "usageCycle", "proratedRefundMode", "recurrenceConfig")}
    display_name = str(form.get("display_name", "")).strip()
    values["display_name"] = display_name
    if display_name:
        card["displayName"] = display_name
    if kind in ("usage", "license"):
        values["model"] = str(form.get("model", "TIERED"))
        values["rows"] = _rows_of_form(form, currencies)
        card["ratePlan"], card["rateValues"] = _slab_plan(values["rows"], values["model"], currencies, original,
                                                         errors)
        for currency in currencies:
            values[f"min_{currency}"] = str(form.get(f"min_{currency}", ""))
            values[f"max_{currency}"] = str(form.get(f"max_{currency}", ""))
        _bounds(form, card["rateValues"], errors)
    if kind == "usage":
        values["meter"] = str(form.get("meter", ""))
        if not values["meter"]:
            errors["meter"] = "Choose the usage meter this card prices"
        if original is not None and original["usageMeterId"] != values["meter"]:
            card.pop("name", None)  # a new meter, a new automatic name
        card["usageMeterId"] = values["meter"]
    if kind in ("license", "fixed-fee"):
        values["addon"] = str(form.get("addon", "")).strip()
        values["timing"] = str(form.get("timing", "IN_ARREARS"))
        values["proration"] = form.get("proration") == "on"
        card["invoiceTiming"] = values["timing"]
        card["enableProration"] = values["proration"]
        if not values["addon"]:
            errors["addon"] = "Give it a name, as invoices will show it"
        elif len(values["addon"]) > 255:
            errors["addon"] = "At most 255 characters, please"
    if kind == "fixed-fee":
        values["recurring"] = form.get("recurring") != "ONE_TIME"
        card["type"] = "RECURRING" if values["recurring"] else "ONE_TIME"
        if not values["recurring"]:
            card.pop("recurrenceConfig", None)
        card["rateValues"] = _amounts(form, currencies, values, errors)
    if kind == "commitment":
        card = {"displayName": display_name or "Minimum commitment",
                "rateValues": _amounts(form, currencies, values, errors)}
    return card


def _put_card(details: dict[str, Any], kind: str, card: dict[str, Any], name: str | None) -> dict[str, Any]:
    details = deepcopy(details)
    if kind == "commitment":
        details["minimumCommitment"] = card
        return details
    cards = details.setdefault(KINDS[kind], [])
    index = next((i for i, c in enumerate(cards) if c["name"] == name), None)
    if index is None:
        cards.append(card)
    else:
        cards[index] = card
    return details


def _card_form(request: Request, user: Any, plan_id: str, kind: str, name: str | None) -> Response:
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    card = None
    if kind == "commitment":
        card = view.latest.details.get("minimumCommitment")
    elif name is not None:
        kind, _, card = _find_card(view.latest.details, name)
    values = _card_values(kind, card, view.latest.details["supportedCurrencies"], _catalog(ctx))
    return _card_page(request, user, view, kind, card if name or kind == "commitment" else None, values, {})


def _card_post(request: Request, user: Any, plan_id: str, kind: str, name: str | None, form: FormData) -> Response:
    check_csrf(user, str(form.get("csrf", "")))
    ctx = context(request, user)
    view = PricePlanService(ctx).get(plan_id)
    _editable(view)
    original = None
    if kind == "commitment":
        original = view.latest.details.get("minimumCommitment")
    elif name is not None:
        kind, _, original = _find_card(view.latest.details, name)
    currencies = view.latest.details["supportedCurrencies"]
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    action = str(form.get("action", "save"))
    shown = original if name or kind == "commitment" else None
    if action in ("add_slab", "remove_slab") or action.startswith("remove_slab_"):
        # no JavaScript: the form comes back with one slab row more (or less), as typed
        _card_from_form(kind, form, original, currencies, values, {})
        rows = values["rows"]
        if action == "add_slab" and len(rows) < MAX_SLABS:
            rows.append(SlabRow(start=rows[-1].end, price_type=rows[-1].price_type))
        elif action.startswith("remove_slab_") and len(rows) > 1:
            index = action.removeprefix("remove_slab_")
            if index.isdigit() and int(index) < len(rows):
                i = int(index)
                rows.pop(i)
                if i == 0:
                    rows[0].start = "0"  # the first slab starts after 0
                elif i < len(rows):
                    rows[i - 1].end = rows[i].start  # the previous slab now reaches the next one
                rows[-1].end = ""  # the last slab prices all usage above its start
        return _card_page(request, user, view, kind, shown, values, {})
    card = _card_from_form(kind, form, original, currencies, values, errors)
    if errors:
        return _card_page(request, user, view, kind, shown, values, errors, 400)
    try:
        if kind in ("license", "fixed-fee"):  # named by its add-on: the add-on of that name, made if new
            card["id"] = AddOnService(ctx).named(values["addon"], "LICENSE" if kind == "license" else "FIXED_FEE").id
        _save(ctx, view, _put_card(view.latest.details, kind, card, name))
    except ValidationError as exc:  # an add-on name the add-on service refuses
        errors["addon"] = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    except _Refused as exc:
        _card_error(exc.message, currencies, errors)
    except MeterlineError as exc:
        if exc.status_code >= 500 or exc.status_code == 404:
            raise
        _card_error(exc.message, currencies, errors)
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
        kind, index, _ = _find_card(view.latest.details, name)
        details = deepcopy(view.latest.details)
        del details[KINDS[kind]][index]
        if not details[KINDS[kind]]:
            del details[KINDS[kind]]  # as a plan that never had one
        _save(ctx, view, details)

    return _act(request, user, plan_id, action)
