"""AlertsApi: alert templates (shipped, read only), alerts, incidents. Thin routes over AlertService."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.alerts import schemas
from meterline.alerts.service import AlertService, Changes, template
from meterline.alerts.templates import TEMPLATES
from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Alerts"])


@router.get(
    "/alert_templates", response_model=schemas.AlertTemplatesPaginatedResponse, operation_id="getAlertTemplates"
)
def get_alert_templates(ctx: Context = Depends(api_context)) -> Response:
    """Every template Meterline ships (docs/alerts.md), with its JSON schemas as strings."""
    return respond(schemas.AlertTemplatesPaginatedResponse(data=[schemas.template_out(t) for t in TEMPLATES.values()]))


@router.get(
    "/alert_templates/{alert_template_id}", response_model=schemas.AlertTemplateOut, operation_id="getAlertTemplate"
)
def get_alert_template(alert_template_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.template_out(template(alert_template_id)))


@router.post("/alerts", response_model=schemas.AlertOut, operation_id="createAlert")
def create_alert(body: schemas.CreateAlertRequest, ctx: Context = Depends(api_context)) -> Response:
    """An alert from a template, for an account, a customer or (no entityDetails) the organization; 200 (Togai's)."""
    alert = AlertService(ctx).create(
        body.alert_template_id,
        interval=body.interval,
        status=body.status,
        validity=body.validity,
        description=body.description,
        entity_details=body.entity_details,
        owner_details=body.owner_details,
        parameters=body.parameters,
    )
    return respond(schemas.alert_out(alert))


@router.get("/alerts", response_model=schemas.AlertsPaginatedResponse, operation_id="listAlerts")
def list_alerts(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    """Oldest first; the SDK reads the first page (50), `nextToken` and `pageSize` page on over plain HTTP."""
    result = AlertService(ctx).page(page)
    return respond(
        schemas.AlertsPaginatedResponse(data=[schemas.alert_out(a) for a in result.items], next_token=result.next_token)
    )


@router.patch("/alerts/{alert_id}", response_model=schemas.AlertOut, operation_id="updateAlert")
def update_alert(alert_id: str, body: schemas.UpdateAlertRequest, ctx: Context = Depends(api_context)) -> Response:
    """A new version: description, status, interval, validity, parameters."""
    changes = Changes(
        description=body.description,
        status=body.status,
        interval=body.interval,
        validity=body.validity,
        parameters=body.parameters,
    )
    return respond(schemas.alert_out(AlertService(ctx).update(alert_id, changes)))


@router.get("/incidents", response_model=schemas.IncidentsPaginatedResponse, operation_id="getIncidents")
def get_incidents(
    alert_id: str | None = None, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    """Newest first (`alert_id` narrows to one alert's); the SDK reads the first page."""
    result = AlertService(ctx).incidents(page, alert_id)
    return respond(
        schemas.IncidentsPaginatedResponse(
            data=[schemas.incident_out(i) for i in result.items], next_token=result.next_token
        )
    )


@router.get("/incidents/{incident_id}", response_model=schemas.IncidentOut, operation_id="getIncident")
def get_incident(incident_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.incident_out(AlertService(ctx).incident(incident_id)))


@router.put("/incidents/{incident_id}/status", response_model=schemas.IncidentOut, operation_id="updateIncidentStatus")
def update_incident_status(
    incident_id: str, body: schemas.UpdateIncidentStatusRequest, ctx: Context = Depends(api_context)
) -> Response:
    """CLOSED is the only status a caller sets: the incident ends, alert.resolved is sent."""
    return respond(schemas.incident_out(AlertService(ctx).close(incident_id)))
