"""Add-ons (docs/api.md "Add-ons").

- Ids are Meterline's (`addon.` + a time-ordered id); rate cards name add-ons by id.
- Names are unique among ACTIVE add-ons of an organization (409): the console and people pick add-ons by name.
- DELETE archives: the add-on stays readable (plans that priced it still name it), frees its name, and can no
  longer be put on a new rate card or edited.
"""

from __future__ import annotations

from meterline.catalog import addon_schemas as schemas
from meterline.catalog.addon_repository import AddOnRepository
from meterline.catalog.models import AddOn
from meterline.catalog.statuses import AddOnStatus
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Page, PageRequest
from meterline.tenancy.context import Context

ACTIVE, ARCHIVED = AddOnStatus.ACTIVE, AddOnStatus.ARCHIVED


class AddOnService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = AddOnRepository(ctx.session, ctx.org_id)

    def get(self, addon_id: str) -> AddOn:
        addon = self.repo.by_id(addon_id)
        if addon is None:
            raise NotFound(f"Add-on {addon_id} not found")
        return addon

    def page(self, request: PageRequest, status: str | None) -> Page[AddOn]:
        return self.repo.page(request, status=status)

    def _name_free(self, name: str, addon: AddOn | None = None) -> None:
        self.repo.lock_name(name)  # held to the end of the unit of work, so two writers cannot both see it free
        holder = self.repo.active_named(name)
        if holder is not None and holder is not addon:
            raise Conflict(f"An active add-on is already named {name!r} ({holder.id})")

    def create(self, request: schemas.CreateAddOnRequest) -> AddOn:
        self._name_free(request.name)
        now = self.ctx.now
        addon_id = new_id("addon")
        addon = AddOn(
            pk=addon_id,
            org_id=self.ctx.org_id,
            id=addon_id,
            name=request.name,
            billable_name=request.billable_name,
            type=request.type,
            status=ACTIVE,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(addon)
        return addon

    def named(self, name: str, addon_type: str) -> AddOn:
        """The ACTIVE add-on called `name`, made with `addon_type` when there is none (the console names a fixed fee
        or a license by its add-on). One of another type is returned as it is: the rate card that names it says no."""
        found = self.repo.active_named(name.strip())
        if found is not None:
            return found
        return self.create(schemas.CreateAddOnRequest(name=name, type=addon_type))  # type: ignore[arg-type]

    def update(self, addon_id: str, request: schemas.UpdateAddOnRequest) -> AddOn:
        addon = self.get(addon_id)
        if addon.status == ARCHIVED:
            raise BadRequest(f"Add-on {addon_id} is archived; an archived add-on cannot change")
        if request.name is not None:
            self._name_free(request.name, addon)
            addon.name = request.name
        if request.billable_name is not None:
            addon.billable_name = request.billable_name
        addon.updated_at = self.ctx.now
        self.ctx.session.flush()
        return addon

    def archive(self, addon_id: str) -> None:
        addon = self.get(addon_id)
        if addon.status != ARCHIVED:
            addon.status = ARCHIVED
            addon.updated_at = self.ctx.now
            self.ctx.session.flush()
