"""Alerts and incidents: the rules. Alerts are made and changed through the API or the console; incidents open and
resolve through `evaluate` (called by the worker, alerts/evaluator.py, with the figures usecases/alerts.py reads),
and close by hand through `close`. Every incident that opens writes `alert.triggered`, every one that resolves or
is closed `alert.resolved`, through the webhooks outbox in the same transaction (docs/alerts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterline.accounts.repository import AccountRepository
from meterline.alerts import evaluation
from meterline.alerts.evaluation import Crossing
from meterline.alerts.json_schema import errors as schema_errors
from meterline.alerts.models import Alert, Incident, dumps
from meterline.alerts.repository import AlertRepository
from meterline.alerts.schemas import incident_out
from meterline.alerts.statuses import AlertStatus, Basis, EntityType, IncidentStatus
from meterline.alerts.templates import TEMPLATES, Template, basis_of, levels_of
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.numbers import NumberError, bounded
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.customers.repository import CustomerRepository
from meterline.entitlements.service import FeatureCreditService
from meterline.metering.meter_service import UsageMeterService
from meterline.tenancy.context import Context
from meterline.webhooks import outbox

MAX_INTERVAL = 525_600  # a year of minutes
TRIGGERED, RESOLVED = "alert.triggered", "alert.resolved"


def template(template_id: str) -> Template:
    found = TEMPLATES.get(template_id)
    if found is None:
        raise NotFound(f"Alert template {template_id} not found")
    return found


def expires_at(alert: Alert) -> datetime | None:
    return None if alert.validity is None else alert.active_since + timedelta(minutes=alert.validity)


@dataclass(frozen=True)
class Changes:
    """What an update may change (None: unchanged)."""

    description: str | None = None
    status: str | None = None
    interval: int | None = None
    validity: int | None = None
    parameters: dict[str, dict[str, Any]] | None = None


def _check_minutes(value: int, field: str, low: int = 1) -> int:
    if isinstance(value, bool) or not low <= value <= MAX_INTERVAL:
        raise BadRequest(f"{field}: must be a whole number of minutes from {low} to {MAX_INTERVAL}")
    return value


class AlertService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = AlertRepository(ctx.session, ctx.org_id)

    # -- alerts ------------------------------------------------------------------------------------------------------
    def get(self, alert_id: str) -> Alert:
        alert = self.repo.alert(alert_id)
        if alert is None:
            raise NotFound(f"Alert {alert_id} not found")
        return alert

    def page(self, request: PageRequest) -> Page[Alert]:
        return self.repo.alerts(request)

    def listed(self, request: Slice) -> Counted[Alert]:
        return self.repo.alerts_listed(request)

    def create(
        self,
        template_id: str,
        *,
        interval: int,
        status: str,
        validity: int | None = None,
        description: str | None = None,
        entity_details: dict[str, dict[str, Any]] | None = None,
        owner_details: dict[str, dict[str, Any]] | None = None,
        parameters: dict[str, dict[str, Any]] | None = None,
    ) -> Alert:
        found = template(template_id)
        entity_details, owner_details, parameters = entity_details or {}, owner_details or {}, parameters or {}
        entity_type, entity_id = self._entity(found, entity_details)
        self._check(found, "ownerDetails", found.owner_schema, owner_details)
        self._check_parameters(found, parameters)
        now = self.ctx.now
        alert = Alert(
            pk=new_id("alert"),
            org_id=self.ctx.org_id,
            template_id=found.id,
            version=1,
            description=description,
            status=AlertStatus(status),
            interval=_check_minutes(interval, "interval"),
            validity=None if validity is None else _check_minutes(validity, "validity"),
            entity_type=entity_type,
            entity_id=entity_id,
            entity_details=dumps(entity_details),
            owner_details=dumps(owner_details),
            parameters=dumps(parameters),
            active_since=now,
            next_evaluation_at=now if status == AlertStatus.ACTIVE else None,
            failures=0,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(alert)
        return alert

    def update(self, alert_id: str, changes: Changes) -> Alert:
        """A new version of the alert. ACTIVE again after INACTIVE: its validity counts from now, and it is due."""
        alert = self.repo.locked_alert(alert_id)
        if alert is None:
            raise NotFound(f"Alert {alert_id} not found")
        found = template(alert.template_id)
        now = self.ctx.now
        if changes.parameters is not None:
            self._check_parameters(found, changes.parameters)
            alert.parameters = dumps(changes.parameters)
            if alert.status == AlertStatus.ACTIVE:
                alert.next_evaluation_at = now  # the new levels are checked at once
        if changes.description is not None:
            alert.description = changes.description
        if changes.interval is not None:
            alert.interval = _check_minutes(changes.interval, "interval")
        if changes.validity is not None:
            alert.validity = _check_minutes(changes.validity, "validity")
        if changes.status is not None and changes.status != alert.status:
            alert.status = AlertStatus(changes.status)
            if alert.status == AlertStatus.ACTIVE:
                alert.active_since, alert.next_evaluation_at = now, now
            else:
                alert.next_evaluation_at = None
        elif alert.status == AlertStatus.ACTIVE and changes.interval is not None and alert.last_evaluated_at:
            alert.next_evaluation_at = min(
                alert.next_evaluation_at or now, alert.last_evaluated_at + timedelta(minutes=alert.interval)
            )
        alert.version += 1
        alert.updated_at = now
        self.ctx.session.flush()
        return alert

    def _entity(self, found: Template, details: dict[str, dict[str, Any]]) -> tuple[EntityType, str | None]:
        self._check(found, "entityDetails", found.entity_schema, details)
        if "account" in details:
            account_id = str(details["account"]["id"])
            if AccountRepository(self.ctx.session, self.ctx.org_id).by_id(account_id) is None:
                raise NotFound(f"Account {account_id} not found")
            kind, entity_id = EntityType.ACCOUNT, account_id
        elif "customer" in details:
            customer_id = str(details["customer"]["id"])
            if CustomerRepository(self.ctx.session, self.ctx.org_id).by_id(customer_id) is None:
                raise NotFound(f"Customer {customer_id} not found")
            kind, entity_id = EntityType.CUSTOMER, customer_id
        else:
            kind, entity_id = EntityType.ORGANIZATION, None
        if kind not in found.entity_types:
            raise BadRequest(f"entityDetails: the template {found.id} watches the whole organization only (give {{}})")
        return kind, entity_id

    @staticmethod
    def _check(found: Template, field: str, schema: dict[str, Any], value: Any) -> None:
        problems = schema_errors(schema, value, field)
        if problems:
            raise BadRequest(f"{'; '.join(problems[:3])} (template {found.id}, GET /alert_templates/{found.id})")

    def _check_parameters(self, found: Template, parameters: dict[str, dict[str, Any]]) -> None:
        self._check(found, "parameters", found.parameters_schema, parameters)
        for i, level in enumerate(parameters.get("threshold", {}).get("levels", [])):
            try:
                bounded(Decimal(str(level)))
            except NumberError as exc:
                raise BadRequest(f"parameters.threshold.levels[{i}]: {exc}") from None
        basis = basis_of(parameters)
        if basis not in found.bases:
            raise BadRequest(f"parameters.threshold.basis: {basis} is not one of {', '.join(found.bases)}")
        if basis != Basis.ABSOLUTE and any(level > 1000 for level in levels_of(parameters)):
            raise BadRequest("parameters.threshold.levels: a percentage must be at most 1000")
        if "meter" in parameters:
            UsageMeterService(self.ctx).get(str(parameters["meter"]["id"]))  # 404 when unknown
        feature_id = parameters.get("threshold", {}).get("featureId")
        if basis == Basis.PERCENT_OF_ENTITLEMENT and not feature_id:
            raise BadRequest("parameters.threshold.featureId: is required with the basis PERCENT_OF_ENTITLEMENT")
        for feature in (feature_id, parameters.get("feature", {}).get("id")):
            if feature:
                FeatureCreditService(self.ctx).feature(str(feature))  # 404 when unknown

    # -- incidents ---------------------------------------------------------------------------------------------------
    def incident(self, incident_id: str) -> Incident:
        found = self.repo.incident(incident_id)
        if found is None:
            raise NotFound(f"Incident {incident_id} not found")
        return found

    def incidents(self, request: PageRequest, alert_id: str | None = None) -> Page[Incident]:
        if alert_id is not None:
            self.get(alert_id)
        return self.repo.incidents(request, alert_id)

    def incidents_listed(self, request: Slice, status: str | None = None) -> Counted[Incident]:
        return self.repo.incidents_listed(request, status)

    def close(self, incident_id: str) -> Incident:
        """CLOSED by hand: alert.resolved is sent. It keeps counting while its condition holds, so the level does
        not open again until the condition clears and crosses again. Closing a CLOSED incident changes nothing."""
        incident = self.repo.locked_incident(incident_id)
        if incident is None:
            raise NotFound(f"Incident {incident_id} not found")
        if incident.status == IncidentStatus.CLOSED:
            return incident
        if incident.status != IncidentStatus.OPEN:
            raise Conflict(f"Incident {incident_id} is {incident.status}: only an OPEN incident can be closed")
        incident.status = IncidentStatus.CLOSED
        incident.resolved_at = incident.updated_at = self.ctx.now
        self.ctx.session.flush()
        self._announce(incident, RESOLVED)
        return incident

    # -- evaluation --------------------------------------------------------------------------------------------------
    def evaluate(self, alert: Alert, crossings: list[Crossing] | None, now: datetime) -> tuple[int, int]:
        """Turn the crossings of `alert` (already locked by the caller) into incidents at `now`; returns (opened,
        resolved). An alert whose validity has ended becomes INACTIVE instead (crossings may then be None)."""
        ends = expires_at(alert)
        if ends is not None and now >= ends:
            alert.status, alert.next_evaluation_at, alert.updated_at = AlertStatus.INACTIVE, None, now
            self.ctx.session.flush()
            return (0, 0)
        opened = resolved = 0
        counting = {(i.subject_id, i.level): i for i in self.repo.counting(alert.pk)}
        seen = set()
        for crossing in crossings or []:
            key = crossing.key
            seen.add(key)
            incident = counting.get(key)
            if crossing.crossed and incident is None:
                self._open(alert, crossing, now)
                opened += 1
            elif crossing.crossed and incident is not None:
                incident.last_checked_at = now
                if incident.status == IncidentStatus.OPEN:
                    incident.report_data = dumps(crossing.report)
            elif incident is not None:
                resolved += self._release(incident, now)
        for key, incident in counting.items():
            if key not in seen:  # the subject is gone (an invoice paid, an account removed) or the level was dropped
                resolved += self._release(incident, now)
        alert.last_evaluated_at, alert.last_error, alert.failures = now, None, 0
        alert.next_evaluation_at = now + timedelta(minutes=alert.interval)
        self.ctx.session.flush()
        return opened, resolved

    def failed(self, alert: Alert, reason: str, now: datetime) -> None:
        """The evaluation failed (its own changes were rolled back): recorded, and tried again at the next interval."""
        alert.last_evaluated_at, alert.last_error, alert.failures = now, reason[:500], alert.failures + 1
        alert.next_evaluation_at = now + timedelta(minutes=alert.interval)
        self.ctx.session.flush()

    def _open(self, alert: Alert, crossing: Crossing, now: datetime) -> None:
        level = evaluation.level_text(crossing.level)
        incident = Incident(
            pk=new_id("incident"),
            org_id=self.ctx.org_id,
            alert_pk=alert.pk,
            alert_version=alert.version,
            template_id=alert.template_id,
            subject_type=crossing.subject_type,
            subject_id=crossing.subject_id,
            level=level,
            status=IncidentStatus.OPEN,
            active_key=f"{alert.pk}|{crossing.subject_id}|{level}",
            report_data=dumps(crossing.report),
            valid_until=expires_at(alert),
            last_checked_at=now,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(incident)
        self._announce(incident, TRIGGERED)

    def _release(self, incident: Incident, now: datetime) -> int:
        """The condition cleared: an OPEN incident is RESOLVED (alert.resolved); a CLOSED one stops counting."""
        incident.active_key, incident.last_checked_at = None, now
        if incident.status != IncidentStatus.OPEN:
            return 0
        incident.status, incident.resolved_at, incident.updated_at = IncidentStatus.RESOLVED, now, now
        self.ctx.session.flush()
        self._announce(incident, RESOLVED)
        return 1

    def _announce(self, incident: Incident, event_type: str) -> None:
        outbox.emit(self.ctx, event_type, lambda: incident_out(incident), object_id=incident.pk)
