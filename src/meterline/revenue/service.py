"""The revenue calculator (PriceExperimentationApi): price hypothetical or real usage on any plan.

Each input comes inline (CUSTOM) or is looked up from an account:
- currency: given, or the account's invoice currency;
- plan: inline details, a price plan (newest version), or the plan of the account's schedule at `effectiveOn`
  (default: now) with the account's overrides;
- usage: a map meter id -> quantity, the account's usage over a range (whole 15-minute buckets), or over the
  cycle of its schedule at `cycleEffectiveOn` (default: now);
- licenses: inline entries, or the account's license updates over a range or its current cycle; per license the
  largest quantity in force over the period counts, and over a cycle a prorated license card prices each day's
  largest quantity for 1 / days of the cycle (D7);
- proration: inline cycle dates and the current date (fixed fees with `enableProration` are charged for the
  calendar days from the current date to the cycle's end), or the account's cycle at `cycleEffectiveOn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.catalog import plan_model, plan_rules
from meterline.catalog.plan_model import PlanModel
from meterline.catalog.plan_repository import PricePlanRepository, decode_details
from meterline.catalog.plan_service import PricePlanService
from meterline.core.errors import BadRequest, NotFound
from meterline.core.money import is_currency
from meterline.entitlements import plan_grants
from meterline.entitlements.repository import EntryRepository
from meterline.events.service import UsageService
from meterline.licenses.named import NamedSeats
from meterline.licenses.service import LicenseService
from meterline.rating import cycles, licenses as license_rules
from meterline.revenue import schemas
from meterline.revenue.compute import CardRevenue, LicenseDays, Proration, Ruled, plan_revenue, with_rules
from meterline.revenue.pricing_rules import account_facts, setting_keys
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import ScheduleService, ScheduleView
from meterline.settings.repository import SettingRepository
from meterline.tenancy.context import Context


@dataclass(frozen=True)
class Calculation:
    currency: str
    details: dict[str, Any]  # as the API answers them
    model: PlanModel
    active_currencies: list[str]
    plan_type: str
    plan_id: str  # the price plan's id, or "custom"
    reference: tuple[str, str]  # (reference id, reference type): the plan, the account, or custom
    account_id: str | None
    usage_range: tuple[datetime, datetime] | None
    cards: list[CardRevenue]  # after the plan's pricing rules
    ruled: Ruled | None = None  # what the rules did (docs/pricing.md, "Pricing rules")


class RevenueCalculator:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.plans = PricePlanRepository(ctx.session, ctx.org_id)
        self.schedules = ScheduleService(ctx)
        self.tz = ZoneInfo(ctx.org.timezone)

    def _account(self, account_id: str | None, where: str) -> Account:
        if account_id is None:
            raise BadRequest(f"{where}.accountId is required in this mode")
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    def _schedule(self, account: Account, at: datetime, where: str) -> ScheduleView:
        found = [
            v
            for v in self.schedules.views(ScheduleRepository(self.ctx.session, self.ctx.org_id).of_account(account.pk))
            if v.start <= at < v.end
        ]
        if not found:
            raise BadRequest(f"{where}: account {account.id} has no price plan on {at.isoformat()}")
        return found[0]

    def _cycle(self, account: Account, at: datetime, where: str) -> tuple[ScheduleView, cycles.Cycle]:
        view = self._schedule(account, at, where)
        if view.cycle is None:
            raise BadRequest(f"{where}: the plan of account {account.id} has no pricing cycle")
        return view, cycles.cycle_containing(view.cycle, at, self.tz)

    def calculate(self, request: schemas.CalculateRevenueRequest) -> Calculation:
        currency = self._currency(request.currency_config)
        details, model, active, plan_type, plan_id, reference, account_id = self._plan(
            request.price_plan_details_config
        )
        if currency not in model.currencies:
            raise BadRequest(
                f"currencyConfig: the plan does not support {currency} (it supports {', '.join(model.currencies)})"
            )
        usage, usage_range = self._usage(request.usage_config)
        licenses, license_days = self._licenses(request.license_entries_config)
        licenses, license_days = self._named(request.named_license_entries_config, licenses, license_days)
        proration = self._proration(request.proration_config)
        overage = self._overage(request.entitlement_overage_config)
        cards = plan_revenue(model, currency, usage, licenses, proration, license_days, overage=overage)
        facts = None
        if account_id is not None and model.pricing_rules:
            account = self._account(account_id, "pricePlanDetailsConfig")
            keys = setting_keys(model.pricing_rules)
            found: dict[str, Any] = {}
            if keys:  # the settings the rules name, nearest the account: docs/pricing.md, "Pricing rules"
                customer_id = self.accounts.ids_with_customer_ids({account.pk})[account.pk][1]
                levels = [("ACCOUNT", account.id), ("CUSTOMER", customer_id), ("ORGANIZATION", self.ctx.org_id)]
                found = SettingRepository(self.ctx.session, self.ctx.org_id).nearest(keys, levels)
            facts = account_facts(account, found)
        ruled = with_rules(model, cards, currency, facts)
        return Calculation(
            currency, details, model, active, plan_type, plan_id, reference, account_id, usage_range, ruled.cards, ruled
        )

    def _currency(self, config: schemas.CurrencyConfig) -> str:
        if config.mode == "ACCOUNT_INVOICE":
            return self._account(config.account_id, "currencyConfig").invoice_currency
        if config.currency is None or not is_currency(config.currency.upper()):
            raise BadRequest(f"currencyConfig.currency: {config.currency!r} is not an ISO 4217 currency code")
        return config.currency.upper()

    def _plan(
        self, config: schemas.PricePlanDetailsConfig
    ) -> tuple[dict[str, Any], PlanModel, list[str], str, str, tuple[str, str], str | None]:
        where = "pricePlanDetailsConfig"
        if config.mode == "CUSTOM":
            if config.price_plan_details is None:
                raise BadRequest(f"{where}.pricePlanDetails is required in CUSTOM mode")
            details = plan_rules.normalize(
                config.price_plan_details.model_dump(by_alias=True, exclude_none=True),
                "BILLING",
                PricePlanService(self.ctx).catalog(),
            )
            return details, plan_model.parse(details), [], "BILLING", "custom", ("custom", "CUSTOM"), None
        if config.mode == "PRICE_PLAN":
            if config.price_plan_id is None:
                raise BadRequest(f"{where}.pricePlanId is required in PRICE_PLAN mode")
            plan = self.plans.by_id(config.price_plan_id)
            if plan is None:
                raise NotFound(f"Price plan {config.price_plan_id} not found")
            version = self.plans.version(plan, plan.latest_version)
            active = [c for c in version.active_currencies.split(",") if c]  # type: ignore[union-attr]
            details, model = decode_details(version.details), plan_model.parse_stored(version.details)  # type: ignore[union-attr]
            return details, model, active, plan.type, plan.id, (plan.id, "PRICE_PLAN"), None
        account = self._account(config.account_id, where)
        view = self._schedule(account, config.effective_on or self.ctx.now, where)
        reference = (account.id, "ACCOUNT")
        return view.details, view.model, view.active_currencies, view.plan_type, view.plan_id, reference, account.id

    def _usage(self, config: schemas.UsageConfig) -> tuple[dict[str, Decimal], tuple[datetime, datetime] | None]:
        where = "usageConfig"
        if config.mode == "CUSTOM":
            usage = dict(config.usage_map or {})
            negative = sorted(m for m, q in usage.items() if q < 0)
            if negative:
                raise BadRequest(f"{where}.usageMap: the usage of {negative[0]} is negative")
            return usage, None
        if config.mode == "LOOKUP_RANGE":
            if config.lookup_range is None:
                raise BadRequest(f"{where}.lookupRange is required in LOOKUP_RANGE mode")
            lookup = _range(config.lookup_range, where)
            start, end = lookup.start, lookup.end
            account = self._account(lookup.account_id, f"{where}.lookupRange")
        else:
            if config.lookup_cycle is None:
                raise BadRequest(f"{where}.lookupCycle is required in LOOKUP_CYCLE mode")
            account = self._account(config.lookup_cycle.account_id, f"{where}.lookupCycle")
            at = config.lookup_cycle.cycle_effective_on or self.ctx.now
            view, cycle = self._cycle(account, at, f"{where}.lookupCycle")
            start, end = max(cycle.start, view.start), min(cycle.end, view.end)
        totals = UsageService(self.ctx).of_account(account.id, start, end)
        return {m.meter_id: m.usage for m in totals}, (start, end)

    def _licenses(self, config: schemas.LicenseEntriesConfig) -> tuple[dict[str, Decimal], LicenseDays | None]:
        """The largest quantity per license over the period; over an account's cycle, also each day's (for
        prorated license cards)."""
        where = "licenseEntriesConfig"
        if config.mode == "LOOKUP_RANGE":
            if config.lookup_range is None:
                raise BadRequest(f"{where}.lookupRange is required in LOOKUP_RANGE mode")
            lookup = _range(config.lookup_range, where)
            account = self._account(lookup.account_id, f"{where}.lookupRange")
            return LicenseService(self.ctx).largest_quantities(account, lookup.start, lookup.end), None
        if config.mode == "LOOKUP_CYCLE":
            if config.lookup_cycle is None:
                raise BadRequest(f"{where}.lookupCycle is required in LOOKUP_CYCLE mode")
            account = self._account(config.lookup_cycle.account_id, f"{where}.lookupCycle")
            view, cycle = self._cycle(
                account, config.lookup_cycle.cycle_effective_on or self.ctx.now, f"{where}.lookupCycle"
            )
            start, end = max(cycle.start, view.start), min(cycle.end, view.end)
            service = LicenseService(self.ctx)
            days = LicenseDays(
                service.daily_quantities(account, start, end, self.tz),
                cycles.calendar_days(cycle.start, cycle.end, self.tz),
            )
            return service.largest_quantities(account, start, end), days
        quantities: dict[str, Decimal] = {}
        for entry in config.custom or []:
            if entry.quantity < 0:
                raise BadRequest(f"licenseEntriesConfig.custom: the quantity of {entry.license_id} is negative")
            quantities[entry.license_id] = max(quantities.get(entry.license_id, Decimal(0)), Decimal(entry.quantity))
        return quantities, None

    def _named(
        self, config: schemas.NamedLicenseEntriesConfig | None, quantities: dict[str, Decimal], days: LicenseDays | None
    ) -> tuple[dict[str, Decimal], LicenseDays | None]:
        """Named licenses' quantities (the seats in force, the largest number at once), which replace what
        licenseEntriesConfig gave for those licenses: from the entries given (CUSTOM), or the account's seats
        (`togai-named-license` events) over the range or the cycle (with each day's, for prorated cards)."""
        where = "namedLicenseEntriesConfig"
        if config is None:
            return quantities, days
        if config.mode == "CUSTOM":
            deltas: dict[str, dict[datetime, int]] = {}
            for i, entry in enumerate(config.custom or []):
                if entry.effective_until is not None and entry.effective_until <= entry.effective_from:
                    raise BadRequest(f"{where}.custom[{i}]: effectiveUntil must be after effectiveFrom")
                changes = deltas.setdefault(entry.license_id, {})
                changes[entry.effective_from] = changes.get(entry.effective_from, 0) + 1
                if entry.effective_until is not None:
                    changes[entry.effective_until] = changes.get(entry.effective_until, 0) - 1
            named: dict[str, Decimal] = {}
            for license_id, changes in deltas.items():
                seats, most = 0, 0
                for at in sorted(changes):
                    seats += changes[at]
                    most = max(most, seats)
                named[license_id] = Decimal(most)
            return {**quantities, **named}, days
        store = NamedSeats(self.ctx.session, self.ctx.org_id)
        if config.mode == "LOOKUP_RANGE":
            if config.lookup_range is None:
                raise BadRequest(f"{where}.lookupRange is required in LOOKUP_RANGE mode")
            lookup = _range(config.lookup_range, where)
            account = self._account(lookup.account_id, f"{where}.lookupRange")
            steps = store.steps_of({account.pk})[account.pk]
            return {
                **quantities,
                **{lid: license_rules.largest(s, lookup.start, lookup.end) for lid, s in steps.items()},
            }, days
        if config.lookup_cycle is None:
            raise BadRequest(f"{where}.lookupCycle is required in LOOKUP_CYCLE mode")
        account = self._account(config.lookup_cycle.account_id, f"{where}.lookupCycle")
        view, cycle = self._cycle(
            account, config.lookup_cycle.cycle_effective_on or self.ctx.now, f"{where}.lookupCycle"
        )
        start, end = max(cycle.start, view.start), min(cycle.end, view.end)
        steps = store.steps_of({account.pk})[account.pk]
        if days is None:  # the other licenses' quantities (CUSTOM) hold every day of the cycle
            cycle_days = cycles.calendar_days(cycle.start, cycle.end, self.tz)
            daily_days = len(license_rules.daily_maximums([], start, end, self.tz))
            days = LicenseDays({lid: [q] * daily_days for lid, q in quantities.items()}, cycle_days)
        daily = {lid: [q for _, q in license_rules.daily_maximums(s, start, end, self.tz)] for lid, s in steps.items()}
        named = {lid: license_rules.largest(s, start, end) for lid, s in steps.items()}
        return {**quantities, **named}, LicenseDays({**days.daily, **daily}, days.cycle_days)

    def _overage(self, config: schemas.EntitlementOverageConfig | None) -> dict[str, Decimal]:
        """feature id -> overage units, for the entitlement overage cards: given (CUSTOM), or what the account used
        in the billing period of each card that ends with the cycle ending at billingCycleEndDate (LOOKUP_CYCLE)."""
        where = "entitlementOverageConfig"
        if config is None:
            return {}
        if config.mode == "CUSTOM":
            out: dict[str, Decimal] = {}
            for i, entry in enumerate(config.custom or []):
                if entry.quantity < 0:
                    raise BadRequest(f"{where}.custom[{i}].quantity: must be >= 0")
                out[entry.feature_id] = out.get(entry.feature_id, Decimal(0)) + entry.quantity
            return out
        lookup = config.lookup_cycle
        if lookup is None:
            raise BadRequest(f"{where}.lookupCycle is required in LOOKUP_CYCLE mode")
        account = self._account(lookup.account_id, f"{where}.lookupCycle")
        at = lookup.billing_cycle_end_date - timedelta(microseconds=1)
        view, _ = self._cycle(account, at, f"{where}.lookupCycle")
        config_ = cycles.effective_config(view.cycle, view.start, self.tz)  # type: ignore[arg-type]
        cycle = cycles.cycle_containing(config_, at, self.tz)
        index = len(cycles.cycles_overlapping(config_, view.start, cycle.start, self.tz))
        used = EntryRepository(self.ctx.session, self.ctx.org_id).overage_used(account.pk)
        found = {}
        for card in view.model.entitlement_overage_cards:
            entry_id, _, _ = plan_grants.overage_window(view, cycle, index, card, self.tz)
            found[card.feature_id] = used.get((card.feature_id, entry_id), Decimal(0))
        return found

    def _proration(self, config: schemas.ProrationConfig | None) -> Proration | None:
        if config is None:
            return None
        if config.mode == "CUSTOM":
            custom = config.custom_config
            if custom is None:
                raise BadRequest("prorationConfig.customConfig is required in CUSTOM mode")
            start, end, current = custom.cycle_start_date, custom.cycle_end_date, custom.current_date
        else:
            lookup = config.lookup_cycle_config
            if lookup is None:
                raise BadRequest("prorationConfig.lookupCycleConfig is required in LOOKUP_CYCLE mode")
            account = self._account(lookup.account_id, "prorationConfig.lookupCycleConfig")
            current = lookup.current_date_time or self.ctx.now
            _, cycle = self._cycle(account, lookup.cycle_effective_on or current, "prorationConfig.lookupCycleConfig")
            start, end = cycle.start, cycle.end
        if not start <= current < end:
            raise BadRequest("prorationConfig: currentDate must fall in [cycleStartDate, cycleEndDate)")
        return Proration(cycles.calendar_days(current, end, self.tz), cycles.calendar_days(start, end, self.tz))


def _range(lookup: schemas.LookupRange, where: str) -> schemas.LookupRange:
    """A lookupRange whose end is after its start (a reversed or empty one priced nothing, as a 200)."""
    if lookup.start >= lookup.end:
        raise BadRequest(f"{where}.lookupRange: start must be before end")
    return lookup
