from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, bindparam, delete, literal, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute

from meterline.core.pagination import Page, PageRequest
from meterline.core.prepared import Prepared, columns, from_json, json_rows, load
from meterline.core.repository import OrgRepository
from meterline.settings.models import EntitySetting

# Built once: the account read asks for its settings every time, and building a statement costs more than running
# it on SQLite.
_OF_ENTITIES = (
    select(EntitySetting)
    .where(
        EntitySetting.org_id == bindparam("org_id"),
        EntitySetting.entity_type == bindparam("entity_type"),
        EntitySetting.entity_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(EntitySetting.pk)
)
_OF_ENTITY = Prepared(
    select(*columns(EntitySetting))
    .where(
        EntitySetting.org_id == bindparam("org_id"),
        EntitySetting.entity_type == bindparam("entity_type"),
        EntitySetting.entity_id == bindparam("entity_id"),
    )
    .order_by(EntitySetting.pk)
)


# Entitlement values (entitlements/values.py) look a setting up at three levels at once: the account's, its
# customer's, the organization's.
_LEVELS = 3
_BY_FULL_IDS = Prepared(
    select(*columns(EntitySetting)).where(
        EntitySetting.org_id == bindparam("org_id"),
        EntitySetting.full_id.in_([bindparam(f"full_id_{n}") for n in range(_LEVELS)]),
    )
)
_OF_ENTITIES_IN = Prepared(
    select(*columns(EntitySetting))
    .where(
        EntitySetting.org_id == bindparam("org_id"),
        EntitySetting.namespace == bindparam("namespace"),
        or_(
            *(
                and_(
                    EntitySetting.entity_type == bindparam(f"entity_type_{n}"),
                    EntitySetting.entity_id == bindparam(f"entity_id_{n}"),
                )
                for n in range(_LEVELS)
            )
        ),
    )
    .order_by(EntitySetting.pk)
)


def of_entity_json(
    org_id: ColumnElement[str] | InstrumentedAttribute[str],
    entity_type: str,
    entity_id: ColumnElement[str] | InstrumentedAttribute[str],
) -> ScalarSelect[Any]:
    """PostgreSQL: the settings of an entity named by the enclosing statement's columns, in pk order, as one JSON
    value (core/prepared.py `json_rows`), for a read that gets them with its row (the account read); `settings_of_json`
    loads them."""
    return json_rows(
        EntitySetting,
        EntitySetting.org_id == org_id,
        EntitySetting.entity_type == literal(entity_type),
        EntitySetting.entity_id == entity_id,
        order_by=[EntitySetting.pk],
    )


def settings_of_json(value: Any) -> list[EntitySetting]:
    return from_json(EntitySetting, value)


class SettingRepository(OrgRepository):
    def by_full_id(self, full_id: str) -> EntitySetting | None:
        return self.session.scalar(self.scoped(EntitySetting).where(EntitySetting.full_id == full_id))

    def first_of(self, full_ids: list[str]) -> EntitySetting | None:
        """The first of these settings (by full id, at most three: levels, nearest first) that exists."""
        if len(full_ids) > _LEVELS:
            raise ValueError(f"at most {_LEVELS} full ids")
        padded = full_ids + full_ids[-1:] * (_LEVELS - len(full_ids))
        params = {"org_id": self.org_id, **{f"full_id_{n}": full_id for n, full_id in enumerate(padded)}}
        found = {row.full_id: row for row in (load(EntitySetting, r) for r in _BY_FULL_IDS.all(self.session, params))}
        return next((found[full_id] for full_id in full_ids if full_id in found), None)

    def values_by_full_ids(self, full_ids: set[str]) -> dict[str, tuple[str, str]]:
        """Full id -> (value, data type) of the settings with these full ids that exist: ingestion's enrichment
        dependencies, up to three levels per event of a 1,000-event batch. The ids travel as one parameter (an array,
        JSON on SQLite): an expanding IN of thousands of parameters cost more than the lookup."""
        if not full_ids:
            return {}
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        wanted = (
            # (PostgreSQL: an array; a set-returning function in a subquery is a nested loop over the rows)
            "= ANY(CAST(:ids AS text[]))" if postgresql else "IN (SELECT value FROM json_each(:ids))"
        )
        sql = f"SELECT full_id, value, data_type FROM entity_settings WHERE org_id = :org AND full_id {wanted}"  # noqa: S608  # nosec B608 - constant text
        ordered = sorted(full_ids)
        rows = self.session.execute(
            text(sql), {"org": self.org_id, "ids": ordered if postgresql else json.dumps(ordered)}
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def nearest(self, keys: Iterable[str], levels: list[tuple[str, str]]) -> dict[str, Any]:
        """`<namespace>.<id>` -> the value (as enrichments read it: metering/enrichments.py `dependency_value`) of the
        setting nearest in `levels` ((entity type, entity id), nearest first) that sets it; one query. Pricing rules'
        `account.settings.*` (revenue/pricing_rules.py `setting_keys`, which bounds the keys)."""
        from meterline.metering.enrichments import dependency_value

        wanted = list(keys)
        found = self.values_by_full_ids({f"setting.{key}.{t}.{i}" for key in wanted for t, i in levels})
        out: dict[str, Any] = {}
        for key in wanted:
            hit = next((found[f] for f in (f"setting.{key}.{t}.{i}" for t, i in levels) if f in found), None)
            if hit is not None:
                out[key] = dependency_value(hit[1], hit[0])
        return out

    def in_namespace_of(self, namespace: str, entities: list[tuple[str, str]]) -> list[EntitySetting]:
        """The settings of `namespace` of these entities ((entity type, entity id), at most three), in pk order."""
        if not entities:
            return []
        if len(entities) > _LEVELS:
            raise ValueError(f"at most {_LEVELS} entities")
        padded = entities + entities[-1:] * (_LEVELS - len(entities))
        params: dict[str, str] = {"org_id": self.org_id, "namespace": namespace}
        for n, (entity_type, entity_id) in enumerate(padded):
            params[f"entity_type_{n}"], params[f"entity_id_{n}"] = entity_type, entity_id
        return [load(EntitySetting, row) for row in _OF_ENTITIES_IN.all(self.session, params)]

    def by_plain_id(self, setting_id: str) -> list[EntitySetting]:
        stmt = self.scoped(EntitySetting).where(EntitySetting.id == setting_id).limit(2)
        return list(self.session.scalars(stmt))

    def of_entity(self, entity_type: str, entity_id: str) -> list[EntitySetting]:
        params = {"org_id": self.org_id, "entity_type": entity_type, "entity_id": entity_id}
        return [load(EntitySetting, row) for row in _OF_ENTITY.all(self.session, params)]

    def of_entities(self, entity_type: str, entity_ids: list[str]) -> dict[str, list[EntitySetting]]:
        result: dict[str, list[EntitySetting]] = {entity_id: [] for entity_id in entity_ids}
        if not entity_ids:
            return result
        if len(entity_ids) == 1:  # an account's read
            [entity_id] = entity_ids
            result[entity_id] = self.of_entity(entity_type, entity_id)
            return result
        params = {"org_id": self.org_id, "entity_type": entity_type, "ids": entity_ids}
        for row in self.session.scalars(_OF_ENTITIES, params):
            result[row.entity_id].append(row)
        return result

    def delete_of_entity(self, entity_type: str, entity_id: str) -> None:
        self.session.execute(
            delete(EntitySetting).where(
                EntitySetting.org_id == self.org_id,
                EntitySetting.entity_type == entity_type,
                EntitySetting.entity_id == entity_id,
            )
        )

    def page(
        self,
        request: PageRequest,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        setting_id: str | None = None,
        namespace: str | None = None,
    ) -> Page[EntitySetting]:
        stmt = self.scoped(EntitySetting)
        for column, value in (
            (EntitySetting.entity_type, entity_type),
            (EntitySetting.entity_id, entity_id),
            (EntitySetting.id, setting_id),
            (EntitySetting.namespace, namespace),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        return self.keyset_page(stmt, EntitySetting.pk, request)
