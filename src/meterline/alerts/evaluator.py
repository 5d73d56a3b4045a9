"""The evaluation run: every ACTIVE alert due by `now` is evaluated, in short transactions per organization.

1. One query on the due index (status, next_evaluation_at) finds the organizations with due alerts.
2. Per organization, BATCH due alerts at a time are claimed and locked (PostgreSQL: FOR UPDATE SKIP LOCKED, so
   several workers share the alerts and never evaluate one twice at once; SQLite: the single writer) and evaluated
   in one transaction, each inside a SAVEPOINT: a failing alert (its figures cannot be read, say) is rolled back
   alone, its failure recorded on it (lastError) and it is tried again at its next interval; the others commit.
3. An organization whose run fails as a whole is logged, and the next one goes on.

`read` (usecases/alerts.py) turns an alert into its figures; it is a required argument because the figures come
from domains this one does not import. Evaluation takes `now` as an argument: tests drive it with instants.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from meterline.alerts import evaluation
from meterline.alerts.evaluation import Reading
from meterline.alerts.models import Alert, loads
from meterline.alerts.repository import due_orgs
from meterline.alerts.service import AlertService, expires_at, template
from meterline.core.background import BackgroundLoop
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.observability import describe
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization

BATCH = 20  # alerts per transaction
Read = Callable[[Context, Alert], list[Reading]]

log = logging.getLogger("meterline.alerts")


@dataclass
class RunResult:
    evaluated: int = 0
    opened: int = 0
    resolved: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (org_id, alert id or "", reason)


def run(
    factory: sessionmaker[Session], now: datetime, *, read: Read, org_id: str | None = None, batch: int = BATCH
) -> RunResult:
    result = RunResult()
    with unit_of_work(factory, write=False) as session:
        orgs = [o for o in due_orgs(session, now) if org_id is None or o == org_id]
    for org in orgs:
        try:
            _evaluate_org(factory, org, now, read, batch, result)
        except Exception as exc:  # the organization as a whole (its row is gone, the database refused): the next one
            reason = describe(exc)
            result.failures.append((org, "", reason))
            log.warning("alert evaluation failed", extra={"fields": {"org_id": org, "reason": reason}})
    return result


def _evaluate_org(
    factory: sessionmaker[Session], org_id: str, now: datetime, read: Read, batch: int, result: RunResult
) -> None:
    while True:
        with unit_of_work(factory) as session:
            org = session.get(Organization, org_id)
            if org is None:
                return
            ctx = Context(session, org, now)
            service = AlertService(ctx)
            claimed = service.repo.claim_due(now, batch)
            for alert in claimed:
                savepoint = session.begin_nested()
                try:
                    crossings = None
                    ends = expires_at(alert)
                    if ends is None or now < ends:
                        found = template(alert.template_id)
                        crossings = evaluation.crossings(found, loads(alert.parameters), read(ctx, alert))
                    opened, resolved = service.evaluate(alert, crossings, now)
                    savepoint.commit()
                    result.evaluated += 1
                    result.opened += opened
                    result.resolved += resolved
                except Exception as exc:  # this alert only: its changes are rolled back, its failure recorded
                    savepoint.rollback()
                    reason = describe(exc)
                    service.failed(alert, reason, now)
                    result.failures.append((org_id, alert.pk, reason))
                    log.warning(
                        "alert evaluation failed",
                        exc_info=exc if alert.failures <= 1 else None,
                        extra={"fields": {"org_id": org_id, "alert_id": alert.pk, "reason": reason}},
                    )
        if len(claimed) < batch:
            return


class Evaluator(BackgroundLoop):
    """Evaluates due alerts with the wall clock every `interval` seconds (a thread of `serve` and `worker`)."""

    thread_name, what, log = "meterline-alerts", "alert evaluation", log

    def __init__(self, factory: sessionmaker[Session], interval: float, *, read: Read) -> None:
        super().__init__(interval)
        self.factory, self.read = factory, read

    def tick(self) -> RunResult:
        return run(self.factory, utc_now(), read=self.read)

    def round(self) -> bool:
        result = self.tick()
        if result.opened or result.resolved or result.failures:
            log.info(
                "alerts evaluated",
                extra={
                    "fields": {
                        "evaluated": result.evaluated,
                        "opened": result.opened,
                        "resolved": result.resolved,
                        "failures": len(result.failures),
                    }
                },
            )
        return False
