"""Every query of webhooks: endpoints, the outbox's messages, deliveries and their attempts.

Two kinds of callers: an organization's (OrgRepository: endpoints, logs, replays, and the outbox writing inside a
change's transaction), and the delivery worker (`DeliveryQueue`: across organizations, claims in short transactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from meterline.core.ids import new_ids
from meterline.core.pagination import Counted, Page, PageRequest, Slice, encode_token
from meterline.core.repository import OrgRepository
from meterline.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from meterline.webhooks.statuses import DeliveryStatus, EndpointStatus

ENABLED, DISABLED, DELETED = EndpointStatus.ENABLED, EndpointStatus.DISABLED, EndpointStatus.DELETED
PENDING, SUCCEEDED, FAILED = DeliveryStatus.PENDING, DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED
_SUBSCRIBED = "meterline_webhook_endpoints"  # session.info: the organization's enabled endpoints, per transaction


class WebhookRepository(OrgRepository):
    # -- endpoints ---------------------------------------------------------------------------------------------------
    def endpoint(self, pk: str) -> WebhookEndpoint | None:
        return self.session.scalar(
            self.scoped(WebhookEndpoint).where(WebhookEndpoint.pk == pk, WebhookEndpoint.status != DELETED)
        )

    def locked_endpoint(self, pk: str) -> WebhookEndpoint | None:
        rows = self.lock_rows(WebhookEndpoint, [pk])
        return rows[0] if rows and rows[0].status != DELETED else None

    def endpoints(self, request: PageRequest) -> Page[WebhookEndpoint]:
        stmt = self.scoped(WebhookEndpoint).where(WebhookEndpoint.status != DELETED)
        return self.keyset_page(stmt, WebhookEndpoint.pk, request)

    def any_endpoint(self) -> bool:
        """Has the organization ever had an endpoint (deleted ones count)?"""
        stmt = select(WebhookEndpoint.pk).where(WebhookEndpoint.org_id == self.org_id).limit(1)
        return self.session.scalar(stmt) is not None

    def all_endpoints(self) -> list[WebhookEndpoint]:
        stmt = self.scoped(WebhookEndpoint).where(WebhookEndpoint.status != DELETED).order_by(WebhookEndpoint.pk)
        return list(self.session.scalars(stmt))

    def forget_subscriptions(self) -> None:
        """An endpoint changed: the outbox reads the organization's endpoints again."""
        self.session.info.pop(_SUBSCRIBED, None)

    def subscribed(self, event_type: str) -> list[str]:
        """The organization's enabled endpoints that want `event_type`: read once per transaction (an emit with no
        endpoint costs one indexed query per transaction, then nothing)."""
        transaction = self.session.get_transaction()
        cached: tuple[Any, dict[str, list[tuple[str, frozenset[str]]]]] | None = self.session.info.get(_SUBSCRIBED)
        if cached is None or cached[0] is not transaction or self.org_id not in cached[1]:
            if cached is None or cached[0] is not transaction:
                cached = (transaction, {})
                self.session.info[_SUBSCRIBED] = cached
            rows = self.session.execute(
                select(WebhookEndpoint.pk, WebhookEndpoint.event_types).where(
                    WebhookEndpoint.org_id == self.org_id, WebhookEndpoint.status == ENABLED
                )
            )
            cached[1][self.org_id] = [(pk, frozenset(types)) for pk, types in rows]
        return [pk for pk, types in cached[1][self.org_id] if event_type in types]

    # -- the outbox --------------------------------------------------------------------------------------------------
    def add_message(self, message: WebhookMessage, endpoint_pks: Sequence[str], now: datetime) -> None:
        self.session.add(message)
        self.session.flush()
        self.add_deliveries(message.pk, endpoint_pks, now)

    def add_deliveries(self, message_pk: str, endpoint_pks: Sequence[str], now: datetime) -> list[str]:
        if not endpoint_pks:
            return []
        pks = new_ids("whdl", len(endpoint_pks))
        self.session.execute(
            insert(WebhookDelivery),
            [
                dict(
                    pk=pk,
                    org_id=self.org_id,
                    message_pk=message_pk,
                    endpoint_pk=endpoint_pk,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                for pk, endpoint_pk in zip(pks, endpoint_pks, strict=True)
            ],
        )
        return pks

    # -- the log -----------------------------------------------------------------------------------------------------
    def delivery(self, pk: str) -> tuple[WebhookDelivery, WebhookMessage] | None:
        row = self.session.execute(
            select(WebhookDelivery, WebhookMessage)
            .join(WebhookMessage, WebhookMessage.pk == WebhookDelivery.message_pk)
            .where(WebhookDelivery.org_id == self.org_id, WebhookDelivery.pk == pk)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def deliveries(
        self, endpoint_pk: str, request: PageRequest, status: str | None = None
    ) -> Page[tuple[WebhookDelivery, WebhookMessage]]:
        """The endpoint's deliveries, newest first."""
        stmt: Select[WebhookDelivery, WebhookMessage] = (
            select(WebhookDelivery, WebhookMessage)
            .join(WebhookMessage, WebhookMessage.pk == WebhookDelivery.message_pk)
            .where(WebhookDelivery.org_id == self.org_id, WebhookDelivery.endpoint_pk == endpoint_pk)
        )
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if request.after is not None:
            stmt = stmt.where(WebhookDelivery.pk < request.after)
        rows = [
            (d, m) for d, m in self.session.execute(stmt.order_by(WebhookDelivery.pk.desc()).limit(request.size + 1))
        ]
        more = len(rows) > request.size
        rows = rows[: request.size]
        return Page(items=rows, next_token=encode_token(rows[-1][0].pk) if more and rows else None, size=request.size)

    def delivery_log(
        self, endpoint_pk: str, request: Slice, status: str | None = None
    ) -> Counted[tuple[WebhookDelivery, WebhookMessage]]:
        """The console's page of the endpoint's deliveries (newest first, or oldest with `descending` false) and
        how many there are."""
        where = [WebhookDelivery.org_id == self.org_id, WebhookDelivery.endpoint_pk == endpoint_pk]
        if status is not None:
            where.append(WebhookDelivery.status == status)
        total = int(self.session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0)
        order = WebhookDelivery.pk.desc() if request.descending else WebhookDelivery.pk.asc()
        rows = self.session.execute(
            select(WebhookDelivery, WebhookMessage)
            .join(WebhookMessage, WebhookMessage.pk == WebhookDelivery.message_pk)
            .where(*where)
            .order_by(order)
            .offset(request.offset)
            .limit(request.size)
        )
        return Counted(items=[(d, m) for d, m in rows], total=total)

    def last_deliveries(self, endpoint_pks: Sequence[str]) -> dict[str, WebhookDelivery]:
        """Each endpoint's newest delivery (delivery ids are time-ordered), for those that have one."""
        if not endpoint_pks:
            return {}
        newest = (
            select(func.max(WebhookDelivery.pk))
            .where(WebhookDelivery.org_id == self.org_id, WebhookDelivery.endpoint_pk.in_(list(endpoint_pks)))
            .group_by(WebhookDelivery.endpoint_pk)
        )
        rows = self.session.scalars(self.scoped(WebhookDelivery).where(WebhookDelivery.pk.in_(newest)))
        return {d.endpoint_pk: d for d in rows}

    def attempts(self, delivery_pk: str) -> list[WebhookAttempt]:
        stmt = self.scoped(WebhookAttempt).where(WebhookAttempt.delivery_pk == delivery_pk)
        return list(self.session.scalars(stmt.order_by(WebhookAttempt.pk)))

    def messages_between(self, endpoint_pk: str, since: datetime, until: datetime, failed_only: bool) -> list[str]:
        """The messages sent to the endpoint from `since` to before `until` (those whose delivery FAILED, or all),
        oldest first, once each."""
        stmt = (
            select(WebhookMessage.pk)
            .join(WebhookDelivery, WebhookDelivery.message_pk == WebhookMessage.pk)
            .where(
                WebhookMessage.org_id == self.org_id,
                WebhookDelivery.endpoint_pk == endpoint_pk,
                WebhookMessage.created_at >= since,
                WebhookMessage.created_at < until,
            )
            .group_by(WebhookMessage.pk)
            .order_by(WebhookMessage.pk)
        )
        if failed_only:
            stmt = stmt.having(func.sum(case((WebhookDelivery.status == SUCCEEDED, 1), else_=0)) == 0)
        return list(self.session.scalars(stmt))

    def forget_messages_before(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` messages made before `before`, none of whose deliveries is PENDING, with their
        deliveries and attempts (the retention of docs/webhooks.md); how many went."""
        pending = select(WebhookDelivery.message_pk).where(
            WebhookDelivery.org_id == self.org_id, WebhookDelivery.status == PENDING
        )
        old = list(
            self.session.scalars(
                select(WebhookMessage.pk)
                .where(
                    WebhookMessage.org_id == self.org_id,
                    WebhookMessage.created_at < before,
                    WebhookMessage.pk.not_in(pending),
                )
                .order_by(WebhookMessage.created_at)
                .limit(limit)
            )
        )
        if not old:
            return 0
        deliveries = select(WebhookDelivery.pk).where(WebhookDelivery.message_pk.in_(old))
        self.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_pk.in_(deliveries)))
        self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.message_pk.in_(old)))
        self.session.execute(delete(WebhookMessage).where(WebhookMessage.pk.in_(old)))
        return len(old)


@dataclass(frozen=True)
class Claimed:
    """A delivery the worker holds until `lease_until`: everything it needs to send it."""

    pk: str
    org_id: str
    endpoint_pk: str
    message_pk: str
    url: str
    secrets: tuple[str, ...]
    payload: str
    attempts: int
    created_at: datetime


class DeliveryQueue:
    """The delivery worker's queries, across organizations. Every method runs in the caller's short transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def any_due(self, now: datetime) -> bool:
        """Is any delivery of an enabled endpoint due? (Those of disabled or deleted endpoints wait: they must not
        make the worker open a writing transaction every round for nothing.)"""
        stmt = (
            select(WebhookDelivery.pk)
            .join(WebhookEndpoint, WebhookEndpoint.pk == WebhookDelivery.endpoint_pk)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.status == ENABLED,
            )
        )
        return self.session.scalar(stmt.limit(1)) is not None

    def claim(self, now: datetime, lease_until: datetime, limit: int, per_endpoint: int) -> list[Claimed]:
        """Up to `limit` due deliveries of enabled endpoints: at most `per_endpoint` of one endpoint while others
        have due deliveries (so that one slow endpoint does not take every slot), the slots left over to any; each
        pushed to `lease_until`: another worker skips them meanwhile,
        and if this one dies they are due again then (at least once). PostgreSQL: rows locked FOR UPDATE SKIP LOCKED,
        so several workers share the queue; SQLite: the writing transaction holds the only write lock."""
        stmt = (
            select(WebhookDelivery.pk, WebhookDelivery.endpoint_pk)
            .join(WebhookEndpoint, WebhookEndpoint.pk == WebhookDelivery.endpoint_pk)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.status == ENABLED,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.pk)
            .limit(limit * per_endpoint * 4)
        )
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
        due = list(self.session.execute(stmt))
        taken: list[str] = []
        per: dict[str, int] = {}
        for pk, endpoint_pk in due:  # every endpoint its share first...
            if per.get(endpoint_pk, 0) < per_endpoint and len(taken) < limit:
                per[endpoint_pk] = per.get(endpoint_pk, 0) + 1
                taken.append(pk)
        chosen = set(taken)
        taken += [pk for pk, _ in due if pk not in chosen][: limit - len(taken)]  # ...then the slots left over
        if not taken:
            return []
        self.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.pk.in_(taken)).values(next_attempt_at=lease_until)
        )
        rows = self.session.execute(
            select(WebhookDelivery, WebhookEndpoint, WebhookMessage)
            .join(WebhookEndpoint, WebhookEndpoint.pk == WebhookDelivery.endpoint_pk)
            .join(WebhookMessage, WebhookMessage.pk == WebhookDelivery.message_pk)
            .where(WebhookDelivery.pk.in_(taken))
            .order_by(WebhookDelivery.pk)
        )
        claimed = []
        for delivery, endpoint, message in rows:
            secrets = [endpoint.secret]
            if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
                secrets.append(endpoint.previous_secret)
            claimed.append(
                Claimed(
                    delivery.pk,
                    delivery.org_id,
                    endpoint.pk,
                    message.pk,
                    endpoint.url,
                    tuple(secrets),
                    message.payload,
                    delivery.attempts,
                    delivery.created_at,
                )
            )
        return claimed

    def record(
        self,
        claimed: Claimed,
        at: datetime,
        status_code: int | None,
        duration_ms: int,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        """One attempt's outcome: SUCCEEDED, PENDING again until `next_attempt_at`, or FAILED (no next attempt)."""
        ok = error is None
        status = SUCCEEDED if ok else PENDING if next_attempt_at is not None else FAILED
        self.session.execute(
            insert(WebhookAttempt).values(
                pk=new_ids("what", 1)[0],
                org_id=claimed.org_id,
                delivery_pk=claimed.pk,
                attempted_at=at,
                status_code=status_code,
                duration_ms=duration_ms,
                error=error,
            )
        )
        self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.pk == claimed.pk)
            .values(
                status=status,
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=at,
                last_status_code=status_code,
                next_attempt_at=None if ok else next_attempt_at,
            )
        )

    def endpoint_succeeded(self, endpoint_pk: str) -> None:
        self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.pk == endpoint_pk, WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
        )

    def endpoint_failed(self, endpoint_pk: str, at: datetime, disable_before: datetime, reason: str) -> bool:
        """The endpoint failed at `at`; disabled when it has failed without a success since before `disable_before`.
        True when this disabled it."""
        self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.pk == endpoint_pk, WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=at)
        )
        disabled = self.session.execute(
            update(WebhookEndpoint)
            .where(
                and_(
                    WebhookEndpoint.pk == endpoint_pk,
                    WebhookEndpoint.status == ENABLED,
                    WebhookEndpoint.failing_since <= disable_before,
                )
            )
            .values(status=DISABLED, disabled_reason=reason[:300], updated_at=at)
        )
        return bool(getattr(disabled, "rowcount", 0))
