"""SettingsApi."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.core.schemas import PaginationOptions
from meterline.settings import schemas
from meterline.settings.models import EntitySetting
from meterline.settings.service import SettingsService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Settings"])


def setting_out(row: EntitySetting) -> schemas.Setting:
    return schemas.Setting(
        id=row.id,
        value=row.value,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        namespace=row.namespace,
        name=row.name,
        data_type=row.data_type,  # type: ignore[arg-type]
    )


@router.post("/settings", status_code=201, response_model=schemas.Setting, operation_id="insertSetting")
def insert_setting(body: schemas.SettingIn, ctx: Context = Depends(api_context)) -> Response:
    """Create a setting of the organization (entityId = its id), a customer or an account."""
    return respond(setting_out(SettingsService(ctx).insert(body)), 201)


@router.get("/settings", response_model=schemas.SettingPaginatedResponse, operation_id="listSetting")
def list_setting(
    entity_type: str | None = Query(None),
    entity_id: str | None = Query(None),
    setting_id: str | None = Query(None),
    namespace: str | None = Query(None),
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    result = SettingsService(ctx).page(
        page, entity_type=entity_type, entity_id=entity_id, setting_id=setting_id, namespace=namespace
    )
    return respond(
        schemas.SettingPaginatedResponse(
            data=[setting_out(r) for r in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/settings/{setting_id_str}", response_model=schemas.Setting, operation_id="getSetting")
def get_setting(setting_id_str: str, ctx: Context = Depends(api_context)) -> Response:
    """By full id `setting.<namespace>.<id>.<entityType>.<entityId>`, or by plain id while it is unique."""
    return respond(setting_out(SettingsService(ctx).get(setting_id_str)))


@router.patch(
    "/settings/{setting_id_str}", status_code=201, response_model=schemas.Setting, operation_id="updateSetting"
)
def update_setting(
    setting_id_str: str, body: schemas.UpdateSettingRequest, ctx: Context = Depends(api_context)
) -> Response:
    return respond(setting_out(SettingsService(ctx).update(setting_id_str, body)), 201)
