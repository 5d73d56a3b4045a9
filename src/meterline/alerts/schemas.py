"""The AlertsApi's request and response models (Togai's shapes, docs/api.md) and their presenters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictInt

from meterline.alerts.models import Alert, Incident, loads
from meterline.alerts.templates import SHIPPED_AT, Template
from meterline.core.schemas import RequestModel, ResponseModel

Details = dict[str, dict[str, Any]]


class CreateAlertRequest(RequestModel):
    alert_template_id: str = Field(min_length=1, max_length=64)
    interval: StrictInt = Field(description="minutes between evaluations (1 to 525600)")
    validity: StrictInt | None = Field(None, description="minutes the alert stays ACTIVE; none: forever")
    description: str | None = Field(None, max_length=500)
    entity_details: Details | None = None
    owner_details: Details | None = None
    parameters: Details | None = None
    status: Literal["ACTIVE", "INACTIVE"]


class UpdateAlertRequest(RequestModel):
    description: str | None = Field(None, max_length=500)
    status: Literal["ACTIVE", "INACTIVE"] | None = None
    interval: StrictInt | None = None
    validity: StrictInt | None = None
    parameters: Details | None = None


class UpdateIncidentStatusRequest(RequestModel):
    status: Literal["CLOSED"]


class AlertOut(ResponseModel):
    id: str
    version: int
    description: str | None = None
    status: Literal["ACTIVE", "INACTIVE"]
    validity: int | None = None
    alert_template_id: str
    interval: int
    entity_details: Details | None = None
    owner_details: Details | None = None
    parameters: Details | None = None
    created_at: datetime
    updated_at: datetime | None = None
    # Meterline's additions (the SDK ignores them): when it is checked next, when last, and the last failure.
    next_evaluation_at: datetime | None = None
    last_evaluated_at: datetime | None = None
    last_error: str | None = None


class AlertsPaginatedResponse(ResponseModel):
    data: list[AlertOut]
    next_token: str | None = None


class AlertTemplateOut(ResponseModel):
    id: str
    name: str
    description: str | None = None
    interval: int
    entity_schema: str | None = None
    entity_type: str | None = None
    owner_schema: str | None = None
    owner_type: str | None = None
    parameters_schema: str | None = None
    created_at: datetime
    updated_at: datetime | None = None


class AlertTemplatesPaginatedResponse(ResponseModel):
    data: list[AlertTemplateOut]
    next_token: str | None = None


class IncidentOut(ResponseModel):
    id: str
    alert_id: str
    alert_version: int
    alert_template_id: str
    valid_until: datetime | None = None
    report_data: Details | None = None
    status: str
    last_checked_at: datetime | None = None
    created_at: datetime
    updated_at: datetime | None = None


class IncidentsPaginatedResponse(ResponseModel):
    data: list[IncidentOut]
    next_token: str | None = None


def alert_out(a: Alert) -> AlertOut:
    return AlertOut(
        id=a.pk,
        version=a.version,
        description=a.description,
        status=a.status,  # type: ignore[arg-type]  # an AlertStatus member is its text
        validity=a.validity,
        alert_template_id=a.template_id,
        interval=a.interval,
        entity_details=loads(a.entity_details),
        owner_details=loads(a.owner_details),
        parameters=loads(a.parameters),
        created_at=a.created_at,
        updated_at=a.updated_at,
        next_evaluation_at=a.next_evaluation_at,
        last_evaluated_at=a.last_evaluated_at,
        last_error=a.last_error,
    )


def template_out(t: Template) -> AlertTemplateOut:
    return AlertTemplateOut(
        id=t.id,
        name=t.name,
        description=t.description,
        interval=t.interval,
        entity_schema=t.schema_text("entity"),
        entity_type=t.subject,
        owner_schema=t.schema_text("owner"),
        owner_type=t.owner_type,
        parameters_schema=t.schema_text("parameters"),
        created_at=SHIPPED_AT,
        updated_at=SHIPPED_AT,
    )


def incident_out(i: Incident) -> IncidentOut:
    return IncidentOut(
        id=i.pk,
        alert_id=i.alert_pk,
        alert_version=i.alert_version,
        alert_template_id=i.template_id,
        valid_until=i.valid_until,
        report_data=loads(i.report_data),
        status=i.status,
        last_checked_at=i.last_checked_at,
        created_at=i.created_at,
        updated_at=i.updated_at,
    )
