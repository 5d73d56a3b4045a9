"""Every query of alerts and incidents. The worker's claim is the only query across organizations (`due_orgs`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterline.alerts.models import Alert, Incident
from meterline.alerts.statuses import AlertStatus, IncidentStatus
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.repository import OrgRepository, sort_column, sorted_by


class AlertRepository(OrgRepository):
    def alert(self, pk: str) -> Alert | None:
        return self.session.scalar(self.scoped(Alert).where(Alert.pk == pk))

    def locked_alert(self, pk: str) -> Alert | None:
        found = self.lock_rows(Alert, [pk])
        return found[0] if found else None

    def any_of_template(self, template_id: str) -> bool:
        stmt = select(Alert.pk).where(Alert.org_id == self.org_id, Alert.template_id == template_id).limit(1)
        return self.session.scalar(stmt) is not None

    def alerts(self, request: PageRequest) -> Page[Alert]:
        return self.keyset_page(self.scoped(Alert), Alert.pk, request)

    def alerts_listed(self, request: Slice) -> Counted[Alert]:
        """The console's list: sortable by creation (pk), template or status."""
        columns = {"created": Alert.pk, "template": Alert.template_id, "status": Alert.status}
        order = [
            *sorted_by(sort_column(columns, request), request.descending),
            *sorted_by(Alert.pk, request.descending),
        ]
        return self.counted_page(self.scoped(Alert), order, request)

    def claim_due(self, now: datetime, limit: int) -> list[Alert]:
        """ACTIVE alerts due by `now`, oldest due first, locked until the transaction ends. PostgreSQL: SKIP LOCKED,
        so another worker evaluating at the same time takes other alerts; SQLite's single writer does the same."""
        stmt = (
            self.scoped(Alert)
            .where(Alert.status == AlertStatus.ACTIVE, Alert.next_evaluation_at <= now)
            .order_by(Alert.next_evaluation_at, Alert.pk)
            .limit(limit)
        )
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    # -- incidents -------------------------------------------------------------------------------------------------
    def incident(self, pk: str) -> Incident | None:
        return self.session.scalar(self.scoped(Incident).where(Incident.pk == pk))

    def locked_incident(self, pk: str) -> Incident | None:
        found = self.lock_rows(Incident, [pk])
        return found[0] if found else None

    def incidents(self, request: PageRequest, alert_pk: str | None = None) -> Page[Incident]:
        """Newest first."""
        stmt = self.scoped(Incident)
        if alert_pk is not None:
            stmt = stmt.where(Incident.alert_pk == alert_pk)
        return self.keyset_page(stmt, Incident.pk, request, descending=True)

    def incidents_listed(self, request: Slice, status: str | None = None) -> Counted[Incident]:
        columns = {"created": Incident.pk, "status": Incident.status, "checked": Incident.last_checked_at}
        stmt = self.scoped(Incident)
        if status is not None:
            stmt = stmt.where(Incident.status == status)
        order = [
            *sorted_by(sort_column(columns, request), request.descending),
            *sorted_by(Incident.pk, request.descending),
        ]
        return self.counted_page(stmt, order, request)

    def counting(self, alert_pk: str) -> list[Incident]:
        """The alert's incidents that count (OPEN, or CLOSED while the condition holds): those with an active key,
        locked (a close by hand racing the evaluation waits, so an incident is resolved or closed once)."""
        stmt = select(Incident.pk).where(
            Incident.org_id == self.org_id, Incident.alert_pk == alert_pk, Incident.active_key.is_not(None)
        )
        found = self.lock_rows(Incident, list(self.session.scalars(stmt)))
        return [i for i in found if i.active_key is not None]

    def open_counts(self, alert_pks: list[str]) -> dict[str, int]:
        if not alert_pks:
            return {}
        stmt = (
            select(Incident.alert_pk, func.count())
            .where(
                Incident.org_id == self.org_id,
                Incident.alert_pk.in_(sorted(set(alert_pks))),
                Incident.status == IncidentStatus.OPEN,
            )
            .group_by(Incident.alert_pk)
        )
        return {pk: int(n) for pk, n in self.session.execute(stmt)}


def due_orgs(session: Session, now: datetime) -> list[str]:
    """The organizations with an ACTIVE alert due by `now` (the worker's first look, on the due index)."""
    stmt = (
        select(Alert.org_id)
        .where(Alert.status == AlertStatus.ACTIVE, Alert.next_evaluation_at <= now)
        .distinct()
        .order_by(Alert.org_id)
    )
    return list(session.scalars(stmt))
