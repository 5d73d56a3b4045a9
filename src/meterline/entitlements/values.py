"""Entitlement values per account and feature (`GET /accounts/{id}/entitlements[/{featureId}]`) and their check
(`POST /accounts/{id}/entitlements/{featureId}`). Togai's contract does not say where a value comes from; Meterline
decides (docs/entitlements.md):

- a metered feature (one that reads event schemas) is worth the account's balance of it now, as a decimal text
  ("10", "2.5");
- a configuration feature (no schema) is worth the setting of namespace `entitlements` whose id is the feature id:
  the account's, else its customer's, else the organization's (SettingsApi). Without any, the account has no value
  for it: the list leaves it out, a read of it is 404, and a check of it fails.

A check (`validate`) answers whether `value` is within the account's entitlement:
- metered: `value` is a number of units (the number rule), and the check passes when the balance and the overage
  left (overage cards) cover it, as `/entitled` would;
- STRING setting: equal text; NUMERIC setting: a limit, `value` (a number) at most the setting;
- JSON setting: a list passes any of its elements, anything else itself (text equal to a string, a number equal in
  value, `true` / `false` / `null` as written); an object matches nothing;
- JSON_LOGIC setting: the logic over `{"value": value}` is truthy (jsonLogic's truthiness).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core import numbers, text
from meterline.core.errors import BadRequest, NotFound
from meterline.customers.models import Customer
from meterline.entitlements.models import Feature
from meterline.entitlements.repository import FeatureRepository
from meterline.entitlements.service import FeatureCreditService
from meterline.metering.jsonlogic import EvaluationError, JsonLogicError, compile_logic, truthy
from meterline.settings.models import EntitySetting
from meterline.settings.repository import SettingRepository
from meterline.settings.service import full_setting_id
from meterline.tenancy.context import Context

NAMESPACE = "entitlements"
# Where a configuration value is looked for, first to last.
LEVELS = ("ACCOUNT", "CUSTOMER", "ORGANIZATION")


def _number(value: str, what: str) -> Decimal:
    try:
        if not numbers.is_decimal_text(value):
            raise InvalidOperation
        return numbers.bounded(Decimal(value))
    except (InvalidOperation, numbers.NumberError):
        raise BadRequest(
            f"value: {what} is a number that is {numbers.RULE.removeprefix('must be ')}, got {value[:40]!r}"
        ) from None


def _same(element: Any, value: str) -> bool:
    if isinstance(element, bool):
        return value == ("true" if element else "false")
    if element is None:
        return value == "null"
    if isinstance(element, str):
        return element == value
    if isinstance(element, (int, Decimal)):
        try:
            return numbers.is_decimal_text(value) and Decimal(value) == element
        except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
            return False
    return False  # an object (or a list inside the list) matches no text


def matches(setting: EntitySetting, value: str) -> bool:
    """Is `value` within a configuration entitlement? (the rules in this module's docstring)"""
    kind = setting.data_type
    if kind == "NUMERIC":
        return _number(value, "the feature's setting is NUMERIC (a limit): the value") <= Decimal(setting.value)
    if kind == "JSON":
        stored = text.parse_json(setting.value, where="setting")
        return any(_same(e, value) for e in (stored if isinstance(stored, list) else [stored]))
    if kind == "JSON_LOGIC":
        try:
            return truthy(compile_logic(setting.value)({"value": value}))
        except (JsonLogicError, EvaluationError) as exc:
            raise BadRequest(
                f"the feature's JSON_LOGIC setting {setting.full_id} cannot check the value: {exc}"
            ) from None
    return setting.value == value


class EntitlementValues:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.features = FeatureRepository(ctx.session, ctx.org_id)
        self.settings = SettingRepository(ctx.session, ctx.org_id)
        self.credits = FeatureCreditService(ctx)

    def _account(self, account_id: str) -> tuple[Account, Customer]:
        found = AccountRepository(self.ctx.session, self.ctx.org_id).with_customer(account_id)
        if found is None:
            raise NotFound(f"Account {account_id} not found")
        return found

    def _feature(self, feature_id: str) -> tuple[Feature, bool]:
        """The feature, and whether it is metered (reads an event schema)."""
        found = self.features.metered_one(feature_id)
        if found is None:
            raise NotFound(f"Feature {feature_id} not found")
        return found

    def _entities(self, account: Account, customer: Customer) -> list[tuple[str, str]]:
        return [("ACCOUNT", account.id), ("CUSTOMER", customer.id), ("ORGANIZATION", self.ctx.org_id)]

    def _setting(self, account: Account, customer: Customer, feature_id: str) -> EntitySetting | None:
        """The nearest level's setting (one query for the three levels)."""
        return self.settings.first_of(
            [full_setting_id(NAMESPACE, feature_id, t, i) for t, i in self._entities(account, customer)]
        )

    def all(self, account_id: str) -> list[tuple[str, str]]:
        """(feature id, value) of every feature the account has a value of, in the features' creation order."""
        account, customer = self._account(account_id)
        features = self.features.metered()
        balances = self.credits.credits_of(account, None)
        entities = self._entities(account, customer)
        rank = {entity: n for n, entity in enumerate(entities)}  # 0: the nearest level
        settings: dict[str, EntitySetting] = {}
        for row in self.settings.in_namespace_of(NAMESPACE, entities):
            held = settings.get(row.id)
            if held is None or rank[(row.entity_type, row.entity_id)] < rank[(held.entity_type, held.entity_id)]:
                settings[row.id] = row  # the nearest level wins
        out = []
        for feature, metered in features:
            if metered:
                credits = balances.get(feature.pk)
                out.append((feature.pk, numbers.plain(credits.balance if credits else Decimal(0))))
            elif feature.pk in settings:
                out.append((feature.pk, settings[feature.pk].value))
        return out

    def one(self, account_id: str, feature_id: str) -> str:
        account, customer = self._account(account_id)
        feature, metered = self._feature(feature_id)
        if metered:
            return numbers.plain(self.credits.credits_of(account, {feature.pk})[feature.pk].balance)
        setting = self._setting(account, customer, feature.pk)
        if setting is None:
            raise NotFound(
                f"Account {account_id} has no value for feature {feature_id}: it reads no event schema, and no "
                f"setting {NAMESPACE}/{feature_id} is on the account, its customer or the organization"
            )
        return setting.value

    def validate(self, account_id: str, feature_id: str, value: str) -> bool:
        account, customer = self._account(account_id)
        feature, metered = self._feature(feature_id)
        if metered:
            wanted = _number(value, "a metered feature's value is a number of units: the value")
            if wanted < 0:
                raise BadRequest(f"value: a number of units cannot be negative, got {value[:40]!r}")
            return self.credits.credits_of(account, {feature.pk})[feature.pk].room >= wanted
        setting = self._setting(account, customer, feature.pk)
        return setting is not None and matches(setting, value)
