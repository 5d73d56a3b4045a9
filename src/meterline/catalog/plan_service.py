"""Price plans v1 (docs/pricing.md).

- Created DRAFT, version 1. `dry_run` validates without saving.
- A DRAFT plan is edited in place. An edit of an ACTIVE plan makes a new version (the details given replace the
  previous version's); schedules keep the version they were made with, unless a migrationMode moves them
  (schedules/migration.py).
- Activation takes currencies, a subset of supportedCurrencies; every card must be priced in each of them. The
  plan becomes ACTIVE; activating more currencies later adds them to the newest version.
- DELETE archives. An archived plan is read-only and frees its name.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from meterline.catalog import plan_model, plan_rules, plan_schemas as schemas
from meterline.catalog.addon_repository import AddOnRepository
from meterline.catalog.plan_model import PlanModel
from meterline.catalog.plan_models import PricePlan, PricePlanVersion
from meterline.catalog.plan_repository import PricePlanRepository, decode_details, encode_details
from meterline.catalog.statuses import PricePlanStatus
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.entitlements.repository import FeatureRepository
from meterline.metering.repository import MeteringRepository
from meterline.tenancy.context import Context

DRAFT, ACTIVE, ARCHIVED = PricePlanStatus.DRAFT, PricePlanStatus.ACTIVE, PricePlanStatus.ARCHIVED


@dataclass(frozen=True)
class PlanVersion:
    version: PricePlanVersion
    details: dict[str, Any]

    @property
    def active_currencies(self) -> list[str]:
        return [c for c in self.version.active_currencies.split(",") if c]

    @property
    def model(self) -> PlanModel:
        """The details as typed values (parsed once per stored text)."""
        return plan_model.parse_stored(self.version.details)


@dataclass(frozen=True)
class PlanView:
    plan: PricePlan
    versions: list[PlanVersion]  # oldest first
    only: int | None = None  # the version asked for, when one was
    replaced: int | None = None  # after an update that made a new version: the version it follows

    @property
    def latest(self) -> PlanVersion:
        return self.versions[-1]


def _view_version(version: PricePlanVersion) -> PlanVersion:
    return PlanVersion(version, decode_details(version.details))


class PricePlanService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = PricePlanRepository(ctx.session, ctx.org_id)
        self.metering = MeteringRepository(ctx.session, ctx.org_id)
        self.addons = AddOnRepository(ctx.session, ctx.org_id)

    # -- reads ---------------------------------------------------------------------------------------------------
    def _plan(self, plan_id: str) -> PricePlan:
        plan = self.repo.by_id(plan_id)
        if plan is None:
            raise NotFound(f"Price plan {plan_id} not found")
        return plan

    def get(self, plan_id: str, version: int | None = None) -> PlanView:
        plan = self._plan(plan_id)
        versions = [_view_version(v) for v in self.repo.versions(plan)]
        if version is not None and not 1 <= version <= plan.latest_version:
            raise NotFound(f"Price plan {plan_id} has no version {version} (versions 1 to {plan.latest_version})")
        return PlanView(plan, versions, only=version)

    def page(self, request: PageRequest) -> Page[PlanView]:
        page = self.repo.page(request)
        latest = self.repo.latest_versions(page.items)
        return Page(
            items=[PlanView(p, [_view_version(latest[p.pk])]) for p in page.items],
            next_token=page.next_token,
            size=page.size,
        )

    def listed(self, request: Slice, search: str = "") -> Counted[PlanView]:
        """The console's list: a sorted slice of the plans (each with its newest version) and their count."""
        found = self.repo.listed(request, search.strip())
        latest = self.repo.latest_versions(found.items)
        return Counted(items=[PlanView(p, [_view_version(latest[p.pk])]) for p in found.items], total=found.total)

    def pricing_rules(
        self, plan_id: str, schedule_id: str, invoice_timing: str | None = None
    ) -> list[schemas.PricingRuleOut]:
        """The pricing rules of one of the plan's versions (a `pricingSchedule` id), of one invoice timing if given."""
        plan = self._plan(plan_id)
        version = next((v for v in self.repo.versions(plan) if v.pk == schedule_id), None)
        if version is None:
            raise NotFound(f"Price plan {plan_id} has no pricing schedule {schedule_id}")
        model = _view_version(version).model
        rules = plan_model.rules_of(model, invoice_timing) if invoice_timing else model.pricing_rules
        return schemas.rules_out(rules, version.version)

    # -- writes --------------------------------------------------------------------------------------------------
    def catalog(self) -> plan_rules.CatalogView:
        meters = {m.id: (m.name, m.status) for m in self.metering.usable_meters()}
        addons = {a.id: (a.type, a.billable_name or a.name, a.status) for a in self.addons.all()}
        features = {f.pk: f.billable_name or f.name for f in FeatureRepository(self.ctx.session, self.ctx.org_id).all()}
        return plan_rules.CatalogView(meters=meters, addons=addons, features=features)

    @staticmethod
    def _with_rules(
        details: schemas.CreatePricePlanDetails, rules: list[schemas.CreatePricingRule] | None
    ) -> dict[str, Any]:
        """The details (as JSON) with the request's `pricingRules` (the SDK sends them beside the details; they are
        stored in them). Given in both places: refused."""
        given = details.model_dump(by_alias=True, exclude_none=True)
        if rules is None:
            return given
        if details.pricing_rules is not None:
            raise BadRequest("pricingRules: give the pricing rules once, beside pricePlanDetails or in it")
        return {**given, "pricingRules": [r.model_dump(by_alias=True, exclude_none=True) for r in rules]}

    def create(self, request: schemas.CreatePricePlanRequest, *, dry_run: bool = False) -> PlanView:
        plan_type = request.type or "BILLING"
        given = self._with_rules(request.price_plan_details, request.pricing_rules)
        details = plan_rules.normalize(given, plan_type, self.catalog())
        self.repo.lock_key("price-plan-name", request.name)  # held to the end: two creators cannot both see it free
        if self.repo.by_name(request.name) is not None:
            raise Conflict(f"A price plan named {request.name!r} already exists")
        now = self.ctx.now
        plan_id = new_id("pp")
        plan = PricePlan(
            pk=plan_id,
            org_id=self.ctx.org_id,
            id=plan_id,
            name=request.name,
            description=request.description,
            type=plan_type,
            status=DRAFT,
            latest_version=1,
            created_at=now,
            updated_at=now,
        )
        version = self._version(plan, 1, details, [])
        if not dry_run:
            self.repo.add(plan)
            self.repo.add(version)
        return PlanView(plan, [PlanVersion(version, details)])

    def _version(self, plan: PricePlan, number: int, details: dict[str, Any], active: list[str]) -> PricePlanVersion:
        return PricePlanVersion(
            pk=new_id("ppv"),
            org_id=self.ctx.org_id,
            plan_pk=plan.pk,
            version=number,
            details=encode_details(details),
            active_currencies=",".join(active),
            created_at=self.ctx.now,
        )

    def _locked(self, plan_id: str) -> PricePlan:
        plan = self.repo.lock(plan_id)
        if plan is None:
            raise NotFound(f"Price plan {plan_id} not found")
        if plan.status == ARCHIVED:
            raise BadRequest(f"Price plan {plan_id} is archived; an archived plan cannot change")
        return plan

    def update(self, plan_id: str, request: schemas.UpdatePricePlanRequest) -> PlanView:
        plan = self._locked(plan_id)
        latest = _view_version(self.repo.version(plan, plan.latest_version))  # type: ignore[arg-type]
        if request.description is not None:
            plan.description = request.description
        plan.updated_at = self.ctx.now
        if request.price_plan_details is None and request.pricing_rules is None:
            self.ctx.session.flush()
            return self.get(plan_id)
        changes: dict[str, Any] = {}
        if request.price_plan_details is not None:
            changes = request.price_plan_details.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
        if request.pricing_rules is not None:  # the rules given replace the version's (an empty list: none)
            changes["pricingRules"] = [r.model_dump(by_alias=True, exclude_none=True) for r in request.pricing_rules]
        return self._save(plan, latest, {**latest.details, **changes})

    def set_details(
        self, plan_id: str, details: schemas.CreatePricePlanDetails, description: str | None = None
    ) -> PlanView:
        """Replace the plan's details whole (the console's builder): a DRAFT plan changes in place, an ACTIVE one
        gets a new version, as with `update`; unlike `update`, what `details` leaves out is gone (a minimum
        commitment, say)."""
        plan = self._locked(plan_id)
        latest = _view_version(self.repo.version(plan, plan.latest_version))  # type: ignore[arg-type]
        if description is not None:
            plan.description = description
        plan.updated_at = self.ctx.now
        given = details.model_dump(by_alias=True, exclude_none=True)
        if details.pricing_rules is None and latest.model.pricing_rules:  # the builder's cards keep the version's rules
            given["pricingRules"] = [r.model_dump(by_alias=True, exclude_none=True) for r in latest.model.pricing_rules]
        return self._save(plan, latest, given, same_is_no_change=True)

    def _save(
        self, plan: PricePlan, latest: PlanVersion, given: dict[str, Any], *, same_is_no_change: bool = False
    ) -> PlanView:
        details = plan_rules.normalize(given, plan.type, self.catalog())
        if same_is_no_change and details == latest.details:  # nothing changed: no new version
            self.ctx.session.flush()
            return self.get(plan.id)
        if plan.status == DRAFT:
            latest.version.details = encode_details(details)
        else:
            if self.repo.draft(plan) is not None:
                raise BadRequest(
                    f"Price plan {plan.id} has a v2 draft (version {plan.latest_version + 1}): finalize or discard it "
                    "(/v2/price_plans) before a v1 edit makes a version"
                )
            active = latest.active_currencies
            model = plan_model.parse(details)
            missing = sorted(set(active) - set(model.currencies))
            if missing:
                raise BadRequest(f"pricePlanDetails.supportedCurrencies: {', '.join(missing)} is active and must stay")
            plan_rules.check_activation(model, active)
            plan.latest_version += 1
            self.repo.add(self._version(plan, plan.latest_version, details, active))
            self.ctx.session.flush()
            return replace(self.get(plan.id), replaced=plan.latest_version - 1)
        self.ctx.session.flush()
        return self.get(plan.id)

    def activate(self, plan_id: str, currencies: list[str]) -> PlanView:
        plan = self._locked(plan_id)
        latest = _view_version(self.repo.version(plan, plan.latest_version))  # type: ignore[arg-type]
        if plan.status == DRAFT:  # a v2 draft keeps cards plan_rules refuses (GET /v2/price_plans/{id}/errors)
            plan_rules.normalize(copy.deepcopy(latest.details), plan.type, self.catalog())
        codes = plan_rules.check_activation(latest.model, currencies)
        meters = {m.id: m.status for m in self.metering.usable_meters()}
        for meter_id in latest.model.usage_meter_ids:
            if meters.get(meter_id) != ACTIVE:
                raise BadRequest(f"Usage meter {meter_id} is not ACTIVE: activate it before the plan that prices it")
        latest.version.active_currencies = ",".join(sorted(set(latest.active_currencies) | set(codes)))
        plan.status = ACTIVE
        plan.updated_at = self.ctx.now
        self.ctx.session.flush()
        return self.get(plan_id)

    def archive(self, plan_id: str) -> None:
        plan = self.repo.lock(plan_id)  # after an edit that holds the plan, not in the middle of it
        if plan is None:
            raise NotFound(f"Price plan {plan_id} not found")
        if plan.status != ARCHIVED:
            plan.status = ARCHIVED
            plan.updated_at = self.ctx.now
            self.ctx.session.flush()
