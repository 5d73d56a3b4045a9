"""Price plans v2: the same plans and versions as v1, edited as a draft of named rate cards (docs/pricing.md,
"Price plans v2").

- A DRAFT plan's draft is its version 1 (as v1 edits it). An ACTIVE plan's draft is a version numbered after its
  `latest_version`, made by the first v2 edit from the latest version, read by v2 only; finalizing makes it the
  latest version (in force from then, every supported currency active), discarding deletes it.
- Edits store every card that has the SDK's shape; catalog/plan_rules.py runs on each card (plan_v2.settle), and
  what it refuses is listed by `errors` and blocks `finalize`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterline.catalog import plan_model, plan_rules, plan_v2, plan_v2_schemas as schemas
from meterline.catalog.plan_model import PlanModel
from meterline.catalog.plan_models import PricePlan, PricePlanVersion
from meterline.catalog.plan_repository import decode_details, encode_details
from meterline.catalog.plan_schemas import CreatePricePlanDetails, CreatePricePlanRequest, CreatePricingRule
from meterline.catalog.plan_service import ACTIVE, ARCHIVED, DRAFT, PricePlanService
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Page, PageRequest, encode_token
from meterline.tenancy.context import Context


@dataclass(frozen=True)
class V2View:
    """One version of a plan as v2 answers it."""

    plan: PricePlan
    version: PricePlanVersion
    draft: bool

    @property
    def status(self) -> str:
        return DRAFT if self.draft else ACTIVE

    @property
    def model(self) -> PlanModel:
        return plan_model.parse_stored(self.version.details)

    def cards(self) -> list[plan_v2.NamedCard]:
        return plan_v2.named_cards(self.model)


@dataclass(frozen=True)
class Finalized:
    view: V2View
    previous: int | None  # the version it follows (None: the plan's first activation)


class PricePlanV2Service:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.v1 = PricePlanService(ctx)
        self.repo = self.v1.repo

    # -- reads ---------------------------------------------------------------------------------------------------
    def _plan(self, plan_id: str) -> PricePlan:
        plan = self.repo.by_id(plan_id)
        if plan is None or plan.status == ARCHIVED:
            raise NotFound(f"Price plan {plan_id} not found" + (" (it is archived)" if plan is not None else ""))
        return plan

    def _view(self, plan: PricePlan, version: PricePlanVersion) -> V2View:
        return V2View(plan, version, draft=plan.status == DRAFT or version.version > plan.latest_version)

    def _latest(self, plan: PricePlan) -> V2View:
        """The draft if there is one, else the latest version."""
        row = self.repo.draft(plan) if plan.status == ACTIVE else None
        return self._view(plan, row or self._row(plan, plan.latest_version))

    def _row(self, plan: PricePlan, number: int) -> PricePlanVersion:
        row = self.repo.version(plan, number)
        if row is None:
            raise NotFound(f"Price plan {plan.id} has no version {number}")
        return row

    def get(self, plan_id: str, version: str | None = None) -> V2View:
        """`version`: LATEST (default: the draft if any), ACTIVE (the version in force) or a number."""
        plan = self._plan(plan_id)
        wanted = (version or "LATEST").strip().upper()
        if wanted == "LATEST":
            return self._latest(plan)
        if wanted == "ACTIVE":
            if plan.status != ACTIVE:
                raise NotFound(f"Price plan {plan_id} has no ACTIVE version yet (finalize it)")
            return self._view(plan, self._row(plan, plan.latest_version))
        if not _digits(wanted):
            raise BadRequest(f"version: {version!r} is not LATEST, ACTIVE or a version number")
        return self._view(plan, self._row(plan, int(wanted)))

    def page(self, request: PageRequest) -> Page[V2View]:
        found = self.repo.page_unarchived(request)
        return Page([self._latest(p) for p in found.items], found.next_token, found.size)

    def versions(self, plan_id: str, request: PageRequest) -> Page[V2View]:
        plan = self._plan(plan_id)
        after = _number(request.after) if request.after is not None else 0
        rows = [v for v in self.repo.versions(plan, with_draft=True) if v.version > after]
        shown = rows[: request.size]
        token = encode_token(str(shown[-1].version)) if len(rows) > request.size else None
        return Page([self._view(plan, v) for v in shown], token, request.size)

    def rate_cards(self, plan_id: str, request: PageRequest) -> tuple[V2View, Page[plan_v2.NamedCard]]:
        """The cards of the plan's latest version (its draft if it has one), in invoice order."""
        view = self._latest(self._plan(plan_id))
        cards = view.cards()
        start = _number(request.after) if request.after is not None else 0
        shown = cards[start : start + request.size]
        token = encode_token(str(start + request.size)) if start + request.size < len(cards) else None
        return view, Page(shown, token, request.size)

    def pricing_rules(self, plan_id: str, version: str | None) -> V2View:
        return self.get(plan_id, version)

    def errors(self, plan_id: str) -> tuple[V2View, list[plan_v2.CardError]]:
        """What blocks finalizing the plan's latest version (its draft): every rule, card by card."""
        plan = self._plan(plan_id)
        view = self._latest(plan)
        return view, self._errors(plan, view)

    def _errors(self, plan: PricePlan, view: V2View) -> list[plan_v2.CardError]:
        settled = plan_v2.settle(decode_details(view.version.details), plan.type, self.v1.catalog(), plan.id)
        if settled.errors:
            return settled.errors
        before = [] if plan.status == DRAFT else self._row(plan, plan.latest_version).active_currencies.split(",")
        meters = {m.id: m.status for m in self.v1.metering.usable_meters()}
        return plan_v2.activation_errors(plan_model.parse(settled.details), [c for c in before if c], meters, plan.id)

    # -- writes --------------------------------------------------------------------------------------------------
    def create(self, request: schemas.CreatePricePlanV2Request) -> V2View:
        details = CreatePricePlanDetails(
            pricing_cycle_config=request.pricing_cycle_config,
            supported_currencies=request.supported_currencies,
            deferred_revenue=request.deferred_revenue,
            allow_ongoing_cycle_updates=request.allow_ongoing_cycle_updates,
        )
        try:
            view = self.v1.create(
                CreatePricePlanRequest(
                    name=request.name, description=request.description, type=request.type, price_plan_details=details
                )
            )
        except BadRequest as exc:  # v1's details are v2's top level: name the field as v2's request has it
            raise BadRequest(exc.message.replace("pricePlanDetails.", "")) from None
        return self._view(view.plan, view.latest.version)

    def _locked(self, plan_id: str) -> PricePlan:
        plan = self.repo.lock(plan_id)
        if plan is None or plan.status == ARCHIVED:
            raise NotFound(f"Price plan {plan_id} not found" + (" (it is archived)" if plan is not None else ""))
        return plan

    def _draft(self, plan: PricePlan) -> PricePlanVersion:
        """The plan's draft, made from its latest version when it has none (the plan is locked)."""
        if plan.status == DRAFT:
            return self._row(plan, plan.latest_version)
        row = self.repo.draft(plan)
        if row is None:
            latest = self._row(plan, plan.latest_version)
            row = PricePlanVersion(
                pk=new_id("ppv"),
                org_id=self.ctx.org_id,
                plan_pk=plan.pk,
                version=plan.latest_version + 1,
                details=latest.details,
                active_currencies="",
                created_at=self.ctx.now,
            )
            self.repo.add(row)
        return row

    def _store(self, plan: PricePlan, row: PricePlanVersion, details: dict[str, Any]) -> V2View:
        settled = plan_v2.settle(details, plan.type, self.v1.catalog(), plan.id)
        row.details = encode_details(settled.details)
        plan.updated_at = self.ctx.now
        self.ctx.session.flush()
        return self._view(plan, row)

    def update(self, plan_id: str, request: schemas.UpdatePricePlanV2Request) -> V2View:
        """The description now; the cycle and currencies on the draft (plan-level rules refused with 400)."""
        plan = self._locked(plan_id)
        if request.description is not None:
            plan.description = request.description
            plan.updated_at = self.ctx.now
        if request.pricing_cycle_config is None and request.supported_currencies is None:
            self.ctx.session.flush()
            return self._latest(plan)
        row = self._draft(plan)
        changes: dict[str, Any] = {}
        if request.pricing_cycle_config is not None:
            changes["pricingCycleConfig"] = request.pricing_cycle_config.model_dump(by_alias=True, exclude_none=True)
        if request.supported_currencies is not None:
            changes["supportedCurrencies"] = request.supported_currencies
        model = plan_model.parse_stored(row.details)
        details = plan_v2.details_with(model, plan_v2.named_cards(model), **changes)
        self._check_plan_fields(plan, details)
        return self._store(plan, row, details)

    def _check_plan_fields(self, plan: PricePlan, details: dict[str, Any]) -> None:
        """The plan's own fields (cycle, currencies) must be valid: they are refused, not listed as errors."""
        errors = plan_v2.settle(details, plan.type, self.v1.catalog(), plan.id).errors
        own = next((e for e in errors if e.entity_type == "PRICE_PLAN"), None)
        if own is not None:
            raise BadRequest(own.message)

    def bulk(self, plan_id: str, operations: list[plan_v2.Operation]) -> tuple[V2View, list[plan_v2.NamedCard]]:
        plan = self._locked(plan_id)
        row = self._draft(plan)
        model = plan_model.parse_stored(row.details)
        cards, touched = plan_v2.apply(plan_v2.named_cards(model), operations)
        view = self._store(plan, row, plan_v2.details_with(model, cards))
        by_name = {c.name: c for c in view.cards()}
        return view, [by_name[name] for name in touched if name in by_name]

    def set_pricing_rules(self, plan_id: str, rules: list[CreatePricingRule]) -> V2View:
        """Replace the draft's rules whole, checked against its valid cards as v1 checks them (400 naming the
        field); a later card change that breaks a rule is listed by `errors`."""
        plan = self._locked(plan_id)
        row = self._draft(plan)
        model = plan_model.parse_stored(row.details)
        dumped = [r.model_dump(by_alias=True, exclude_none=True) for r in rules]
        settled = plan_v2.settle(decode_details(row.details), plan.type, self.v1.catalog(), plan.id)
        valid = plan_model.parse(settled.details).cards()
        plan_rules.check_pricing_rules(dumped, valid)
        details = plan_v2.details_with(model, plan_v2.named_cards(model), pricingRules=dumped or None)
        return self._store(plan, row, details)

    def discard(self, plan_id: str) -> None:
        """Drop the draft: an ACTIVE plan's pending version is deleted; a plan never finalized is archived (as v1's
        DELETE does: it frees its name)."""
        plan = self._locked(plan_id)
        if plan.status == DRAFT:
            plan.status = ARCHIVED
            plan.updated_at = self.ctx.now
            self.ctx.session.flush()
            return
        row = self.repo.draft(plan)
        if row is None:
            raise BadRequest(f"Price plan {plan_id} has no draft to discard")
        self.repo.delete(row)

    def finalize(self, plan_id: str) -> Finalized:
        """Make the draft the plan's version in force, every supported currency active; refused while `errors`
        lists anything."""
        plan = self._locked(plan_id)
        if plan.status == ACTIVE and self.repo.draft(plan) is None:
            raise BadRequest(f"Price plan {plan_id} has no draft to finalize (edit it first)")
        row = self._draft(plan)
        view = self._view(plan, row)
        errors = self._errors(plan, view)
        if errors:
            first = errors[0]
            raise BadRequest(
                f"Price plan {plan_id} cannot be finalized: {len(errors)} error(s) (GET /v2/price_plans/{plan_id}"
                f"/errors); {first.entity_id}: {first.message}"
            )
        settled = plan_v2.settle(decode_details(row.details), plan.type, self.v1.catalog(), plan.id)
        row.details = encode_details(settled.details)
        row.active_currencies = ",".join(plan_model.parse(settled.details).currencies)
        row.created_at = self.ctx.now  # in force from now (v1's startDate)
        previous = None if plan.status == DRAFT else plan.latest_version
        plan.status = ACTIVE
        plan.latest_version = row.version
        plan.updated_at = self.ctx.now
        self.ctx.session.flush()
        return Finalized(self._view(plan, row), previous)


def _number(token: str) -> int:
    if not _digits(token):
        raise BadRequest("nextToken is not valid: pass the nextToken of a previous page unchanged")
    return int(token)


def _digits(text: str) -> bool:
    """1 to 9 ASCII digits (`str.isdigit` alone also takes "¹" and "٣", which are no version or page)."""
    return text.isascii() and text.isdigit() and len(text) <= 9
