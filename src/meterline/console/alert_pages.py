"""The console's Alerts section: the alerts and the templates they are made from, a new alert from a template (its
form generated from the template's parameter schema, console/alert_forms.py), the incidents, and closing one
through a confirmation page. Thin handlers over AlertService, as the AlertsApi's routes are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from meterline.alerts.models import Alert, Incident, loads
from meterline.alerts.service import AlertService, template
from meterline.alerts.statuses import IncidentStatus
from meterline.alerts.templates import TEMPLATES, Template
from meterline.api.routing import UnitOfWorkRoute
from meterline.console import alert_forms, feedback, listing
from meterline.console.pages import PAGE, User, check_csrf, confirm, context, render
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.numbers import plain
from meterline.core.pagination import PageRequest
from meterline.entitlements.feature_service import FeatureService
from meterline.metering.meter_service import UsageMeterService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

ALERTS = listing.Spec(
    path="/alerts",
    columns={
        "created": listing.Column("Created", descending_first=True),
        "template": listing.Column("Template"),
        "status": listing.Column("Status"),
    },
    default="-created",
    noun=("alert", "alerts"),
    size=PAGE,
)
INCIDENTS = listing.Spec(
    path="/incidents",
    columns={
        "created": listing.Column("Opened", descending_first=True),
        "status": listing.Column("Status"),
        "checked": listing.Column("Last checked", descending_first=True),
    },
    default="-created",
    noun=("incident", "incidents"),
    size=PAGE,
)
STATUS_WORDS = {s.value: s.value.title() for s in IncidentStatus}


def summary(alert: Alert) -> str:
    """What an alert watches and its levels, in a line."""
    parameters = loads(alert.parameters)
    watched = {"ACCOUNT": f"account {alert.entity_id}", "CUSTOMER": f"customer {alert.entity_id}"}.get(
        alert.entity_type, "the whole organization"
    )
    threshold = parameters.get("threshold", {})
    levels = ", ".join(plain(v) for v in threshold.get("levels", []))
    basis = threshold.get("basis", "ABSOLUTE")
    unit = "%" if basis != "ABSOLUTE" else ""
    what = f"levels {levels}{unit}" if levels else ""
    if "meter" in parameters:
        what = f"meter {parameters['meter']['id']}, {what}"
    if "feature" in parameters:
        what = f"feature {parameters['feature']['id']}, {what}"
    if "overdue" in parameters:
        what = f"more than {parameters['overdue'].get('days', 0)} days late"
    return f"{watched}{': ' + what if what else ''}"


def incident_words(incident: Incident) -> dict[str, Any]:
    """An incident's report in words for the list: what, which level, the figure."""
    data = loads(incident.report_data)
    figures, threshold = data.get("figures", {}), data.get("threshold", {})
    value = figures.get("value")
    unit = figures.get("unit", "")
    figure = "—" if value is None else f"{plain(value)} {unit}".strip()
    if "percent" in figures:
        figure += f" ({plain(figures['percent'])}%)"
    basis = threshold.get("basis", "ABSOLUTE")
    level = plain(threshold["level"]) + ("%" if basis != "ABSOLUTE" else "") if "level" in threshold else ""
    subject = data.get("subject", {})
    return {
        "subject": f"{subject.get('type', '').lower().replace('_', ' ')} {subject.get('id', '')}",
        "level": level,
        "figure": figure,
    }


@router.get("/alerts")
def alerts_page(request: Request, user: User, sort: str = "", page: str = "") -> Response:
    service = AlertService(context(request, user))
    found = listing.Listing.read(ALERTS, sort=sort, page=page)
    rows: list[Alert] = []
    if found.ok:
        result = service.listed(found.slice())
        found.found(result)
        rows = result.items
    return render(
        request,
        "alerts.html",
        user,
        status=200 if found.ok else 400,
        alerts=rows,
        open_counts=service.repo.open_counts([a.pk for a in rows]),
        templates_=TEMPLATES,
        summary=summary,
        list=found,
    )


def _choices(ctx: Context) -> dict[str, list[tuple[str, str]]]:
    meters = UsageMeterService(ctx).page(PageRequest(size=50)).items
    features, _ = FeatureService(ctx).page(PageRequest(size=50))
    feature_choices = [(f.pk, f.name) for f in features.items]
    return {
        "meter.id": [(m.id, m.name) for m in meters],
        "feature.id": feature_choices,
        "threshold.featureId": [("", "—"), *feature_choices],
    }


def _form(
    request: Request,
    user: Any,
    found: Template,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    fields = alert_forms.fill(alert_forms.fields_of(found.parameters_schema, _choices(context(request, user))), form)
    for f in fields:
        f.error = errors.get(f.name, "")
    entity_types = {k: v for k, v in alert_forms.ENTITY_TYPES.items() if k in found.entity_types}
    return render(
        request,
        "alert_form.html",
        user,
        status=status,
        template_=found,
        fields=fields,
        form=form,
        errors=errors,
        entity_types=entity_types,
    )


@router.get("/alerts/new")
def new_alert_page(request: Request, user: User, template_id: str = "") -> Response:
    found = template(template_id or "usage_threshold")
    form = {
        "entity_type": "ACCOUNT" if "ACCOUNT" in found.entity_types else "ORGANIZATION",
        "interval": str(found.interval),
    }
    return _form(request, user, found, form, {})


async def _typed(request: Request) -> dict[str, str]:
    """The posted form's text fields (the parameters' names come from the template, so they are read as a map)."""
    raw = await request.form()
    return {key: value for key, value in raw.items() if isinstance(value, str)}


@router.post("/alerts/new")
def new_alert(request: Request, user: User, form: Annotated[dict[str, str], Depends(_typed)]) -> Response:
    check_csrf(user, form.get("csrf"))
    found = template(form.get("template_id", ""))
    return _create(request, user, found, form)


def _create(request: Request, user: Any, found: Template, form: dict[str, str]) -> Response:
    fields = alert_forms.fill(alert_forms.fields_of(found.parameters_schema), form)
    parameters, errors = alert_forms.body(fields)
    entity, problem = alert_forms.entity_details(form.get("entity_type", ""), form.get("entity_id", ""))
    if problem:
        errors["entity"] = problem
    interval, problem = alert_forms.minutes(form.get("interval", ""), optional=False)
    if problem:
        errors["interval"] = problem
    validity, problem = alert_forms.minutes(form.get("validity", ""), optional=True)
    if problem:
        errors["validity"] = problem
    email = form.get("owner_email", "").strip()
    if errors:
        return _form(request, user, found, form, errors, status=400)
    try:
        made = AlertService(context(request, user)).create(
            found.id,
            interval=interval or 0,
            status="ACTIVE",
            validity=validity,
            description=form.get("description", "").strip() or None,
            entity_details=entity,
            owner_details={"user": {"email": email}} if email else {},
            parameters=parameters,
        )
    except MeterlineError as exc:
        return _form(request, user, found, form, alert_forms.field_errors(exc.message, fields), status=400)
    return feedback.saved(request, "/alerts", f"The alert {found.name} is created and ACTIVE ({made.pk}).")


@router.get("/incidents")
def incidents_page(request: Request, user: User, status: str = "", sort: str = "", page: str = "") -> Response:
    service = AlertService(context(request, user))
    found = listing.Listing.read(INCIDENTS, sort=sort, page=page, filters={"status": status})
    status_error = "Pick a status from the list" if status and status not in STATUS_WORDS else None
    rows: list[Incident] = []
    if found.ok and status_error is None:
        result = service.incidents_listed(found.slice(), status or None)
        found.found(result)
        rows = result.items
    return render(
        request,
        "incidents.html",
        user,
        status=400 if status_error or not found.ok else 200,
        incidents=rows,
        words=incident_words,
        names={t.id: t.name for t in TEMPLATES.values()},
        statuses=STATUS_WORDS,
        status_filter=status if status_error is None else "",
        status_error=status_error,
        list=found,
    )


@router.get("/incidents/{incident_id}/close")
def close_incident_page(request: Request, user: User, incident_id: str) -> Response:
    return _close_confirmation(request, user, incident_id)


def _close_confirmation(
    request: Request, user: Any, incident_id: str, status: int = 200, error: str | None = None
) -> Response:
    incident = AlertService(context(request, user)).incident(incident_id)
    said = incident_words(incident)
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title="Close this incident?",
            words="It is CLOSED and alert.resolved is sent. While the condition still holds the same level does not "
            "open again; once it clears, a new crossing opens a new incident.",
            action=f"/incidents/{incident.pk}/close",
            button="Close incident",
            back="/incidents",
            section="alerts",
            crumbs=[("/alerts", "Alerts"), ("/incidents", "Incidents")],
            facts=[
                (
                    "Alert",
                    TEMPLATES[incident.template_id].name if incident.template_id in TEMPLATES else incident.template_id,
                ),
                ("About", said["subject"]),
                ("Level", said["level"] or "—"),
                ("Figure", said["figure"]),
                ("Status", STATUS_WORDS.get(incident.status, incident.status)),
            ],
        ),
        status=status,
        error=error,
    )


@router.post("/incidents/{incident_id}/close")
def close_incident(request: Request, user: User, incident_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    service = AlertService(context(request, user))
    try:
        service.close(incident_id)
    except MeterlineError as exc:
        if isinstance(exc, NotFound):
            raise
        return _close_confirmation(request, user, incident_id, status=exc.status_code, error=exc.message)
    return feedback.saved(request, "/incidents", "The incident is closed.")
