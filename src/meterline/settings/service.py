"""Settings: named, typed values attached to the organization, a customer or an account.

A setting is identified by (namespace, id, entityType, entityId); its full id, the one `/settings/{id}` takes, is
`setting.<namespace>.<id>.<entityType>.<entityId>` (Togai's form). The plain id is accepted too while it is unique
in the organization.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from meterline.accounts.repository import AccountRepository
from meterline.core import numbers, text
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Page, PageRequest
from meterline.core.schemas import CreateEntitySetting
from meterline.customers.repository import CustomerRepository
from meterline.settings.models import EntitySetting
from meterline.settings.repository import SettingRepository
from meterline.settings.schemas import SettingIn, UpdateSettingRequest
from meterline.tenancy.context import Context

ENTITY_TYPES = ("ORGANIZATION", "CUSTOMER", "ACCOUNT")


def full_setting_id(namespace: str, setting_id: str, entity_type: str, entity_id: str) -> str:
    return f"setting.{namespace}.{setting_id}.{entity_type}.{entity_id}"


def check_value(data_type: str, value: str, *, label: str) -> None:
    """A NUMERIC value is a decimal number, and a JSON one valid JSON (no NaN or Infinity); every number in either
    follows the one number rule (core/numbers.py)."""
    if data_type == "NUMERIC":
        try:
            number = Decimal(value) if numbers.is_decimal_text(value) else None
        except InvalidOperation:
            number = None
        if number is None:
            raise BadRequest(f"Setting {label}: a NUMERIC value must be a decimal number, got {value[:40]!r}")
        _bounded(number, label)
    elif data_type in ("JSON", "JSON_LOGIC"):
        try:
            parsed = text.parse_json(value, where=f"Setting {label}: value")
        except ValueError:
            raise BadRequest(f"Setting {label}: a {data_type} value must be valid JSON") from None
        stack = [parsed]
        while stack:  # iterative: the depth is already bounded, but no recursion is needed
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, (int, Decimal)) and not isinstance(item, bool):
                _bounded(item, label)


def _bounded(number: Decimal | int, label: str) -> None:
    try:
        numbers.bounded(number)
    except numbers.NumberError as exc:
        raise BadRequest(f"Setting {label}: a number in the value {exc}") from None


class SettingsWriter:
    """Stores settings for an entity; used by the customer and account services for their embedded `settings`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = SettingRepository(ctx.session, ctx.org_id)

    def put(self, *, entity_type: str, entity_id: str, item: CreateEntitySetting | SettingIn) -> EntitySetting:
        check_value(item.data_type, item.value, label=item.id)
        full_id = full_setting_id(item.namespace, item.id, entity_type, entity_id)
        if self.repo.by_full_id(full_id) is not None:
            raise Conflict(f"Setting {full_id} already exists")
        row = EntitySetting(
            pk=new_id("setting"),
            org_id=self.ctx.org_id,
            full_id=full_id,
            id=item.id,
            entity_type=entity_type,
            entity_id=entity_id,
            namespace=item.namespace,
            name=item.name,
            value=item.value,
            data_type=item.data_type,
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self.repo.add(row)
        return row

    def put_for_entity(self, entity_type: str, entity_id: str, items: list[CreateEntitySetting]) -> None:
        for item in items:
            self.put(entity_type=entity_type, entity_id=entity_id, item=item)

    def for_entity(self, entity_type: str, entity_id: str) -> list[EntitySetting]:
        return self.repo.of_entity(entity_type, entity_id)

    def for_entities(self, entity_type: str, entity_ids: list[str]) -> dict[str, list[EntitySetting]]:
        return self.repo.of_entities(entity_type, entity_ids)

    def delete_for_entity(self, entity_type: str, entity_id: str) -> None:
        self.repo.delete_of_entity(entity_type, entity_id)


class SettingsService(SettingsWriter):
    """SettingsApi: every setting of the organization, with the entity it names checked to exist."""

    def insert(self, item: SettingIn) -> EntitySetting:
        entity_type = item.entity_type.upper()
        self._check_entity(entity_type, item.entity_id)
        return self.put(entity_type=entity_type, entity_id=item.entity_id, item=item)

    def get(self, setting_id: str) -> EntitySetting:
        row = self.repo.by_full_id(setting_id)
        if row is not None:
            return row
        rows = self.repo.by_plain_id(setting_id)
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise BadRequest(
                f"Several settings have id {setting_id}: use the full id "
                "setting.<namespace>.<id>.<entityType>.<entityId>"
            )
        raise NotFound(f"Setting {setting_id} not found")

    def page(
        self,
        request: PageRequest,
        *,
        entity_type: str | None,
        entity_id: str | None,
        setting_id: str | None,
        namespace: str | None,
    ) -> Page[EntitySetting]:
        if entity_type and entity_type.upper() not in ENTITY_TYPES:
            raise BadRequest(f"entity_type must be one of {', '.join(ENTITY_TYPES)}, got {entity_type[:40]!r}")
        return self.repo.page(
            request,
            entity_type=entity_type.upper() if entity_type else None,
            entity_id=entity_id,
            setting_id=setting_id,
            namespace=namespace,
        )

    def update(self, setting_id: str, request: UpdateSettingRequest) -> EntitySetting:
        row = self.get(setting_id)
        data_type = request.data_type or row.data_type
        value = request.value if request.value is not None else row.value
        check_value(data_type, value, label=row.id)
        row.data_type = data_type
        row.value = value
        if request.name is not None:
            row.name = request.name
        row.updated_at = self.ctx.now
        return row

    def _check_entity(self, entity_type: str, entity_id: str) -> None:
        if entity_type not in ENTITY_TYPES:
            raise BadRequest(f"entityType must be one of {', '.join(ENTITY_TYPES)}, got {entity_type!r}")
        if entity_type == "ORGANIZATION" and entity_id != self.ctx.org_id:
            raise BadRequest(f"entityId of an ORGANIZATION setting must be this organization's id, {self.ctx.org_id}")
        if entity_type == "CUSTOMER" and CustomerRepository(self.ctx.session, self.ctx.org_id).by_id(entity_id) is None:
            raise NotFound(f"Customer {entity_id} not found")
        if entity_type == "ACCOUNT" and AccountRepository(self.ctx.session, self.ctx.org_id).by_id(entity_id) is None:
            raise NotFound(f"Account {entity_id} not found")
