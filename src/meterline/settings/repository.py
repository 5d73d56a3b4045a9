from __future__ import annotations

from sqlalchemy import bindparam, delete, select

from meterline.core.pagination import Page, PageRequest
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


class SettingRepository(OrgRepository):
    def by_full_id(self, full_id: str) -> EntitySetting | None:
        return self.session.scalar(self.scoped(EntitySetting).where(EntitySetting.full_id == full_id))

    def by_plain_id(self, setting_id: str) -> list[EntitySetting]:
        stmt = self.scoped(EntitySetting).where(EntitySetting.id == setting_id).limit(2)
        return list(self.session.scalars(stmt))

    def of_entity(self, entity_type: str, entity_id: str) -> list[EntitySetting]:
        stmt = self.scoped(EntitySetting).where(
            EntitySetting.entity_type == entity_type, EntitySetting.entity_id == entity_id
        )
        return list(self.session.scalars(stmt.order_by(EntitySetting.pk)))

    def of_entities(self, entity_type: str, entity_ids: list[str]) -> dict[str, list[EntitySetting]]:
        result: dict[str, list[EntitySetting]] = {entity_id: [] for entity_id in entity_ids}
        if not entity_ids:
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
