"""Webhook endpoints (the rules): URL and event types checked, secrets made and rotated, deliveries listed and
replayed. Sending is the delivery worker's (webhooks/delivery.py); announcing is the outbox's (webhooks/outbox.py).

- A URL is http or https with a host. Private and loopback addresses are allowed: Meterline is self-hosted, and a
  receiver next to it (127.0.0.1, a private network) is the common case. Redirects are not followed.
- A secret is `whsec_` + base64 of 24 random bytes (Standard Webhooks), shown once (at creation and rotation) and
  stored as it is, since it signs every delivery.
- Rotating keeps the previous secret signing beside the new one for METERLINE_WEBHOOK_SECRET_OVERLAP seconds (24 h):
  every attempt then carries two signatures, and a receiver with either secret accepts it.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.settings import load_settings
from meterline.tenancy.context import Context
from meterline.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from meterline.webhooks.repository import DELETED, DISABLED, ENABLED, WebhookRepository
from meterline.webhooks.statuses import EVENT_TYPES

URL_LENGTH = 2000
DESCRIPTION_LENGTH = 500
MAX_REPLAY = 10_000  # messages one range replay may send again


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def check_url(url: str) -> str:
    url = url.strip()
    if not url or len(url) > URL_LENGTH:
        raise BadRequest(f"url: must be an http or https URL of at most {URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        raise BadRequest(f"url: {url[:100]!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        raise BadRequest(f"url: {url[:100]!r} must be an http or https URL with a host, e.g. https://example.com/hooks")
    return url


def secret_overlap() -> timedelta:
    """How long a rotated secret keeps signing beside the new one (METERLINE_WEBHOOK_SECRET_OVERLAP)."""
    return timedelta(seconds=load_settings().webhook_secret_overlap)


def check_event_types(types: list[str], extra: frozenset[str] = frozenset()) -> list[str]:
    if not types:
        raise BadRequest(f"eventTypes: name at least one of {', '.join(EVENT_TYPES)}")
    unknown = [t for t in types if t not in EVENT_TYPES and t not in extra]
    if unknown:
        raise BadRequest(f"eventTypes: {unknown[0]!r} is not one of {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(types))


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    message: WebhookMessage
    attempts: list[WebhookAttempt]


class WebhookService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = WebhookRepository(ctx.session, ctx.org_id)

    # -- endpoints ---------------------------------------------------------------------------------------------------
    def get(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = self.repo.endpoint(endpoint_id)
        if endpoint is None:
            raise NotFound(f"Webhook endpoint {endpoint_id} not found")
        return endpoint

    def _locked(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = self.repo.locked_endpoint(endpoint_id)
        if endpoint is None:
            raise NotFound(f"Webhook endpoint {endpoint_id} not found")
        return endpoint

    def page(self, request: PageRequest) -> Page[WebhookEndpoint]:
        return self.repo.endpoints(request)

    def all(self) -> list[WebhookEndpoint]:
        return self.repo.all_endpoints()

    def create(self, url: str, event_types: list[str], description: str | None = None) -> tuple[WebhookEndpoint, str]:
        """A new ENABLED endpoint and its secret (shown once: it is never returned again)."""
        secret = new_secret()
        endpoint = WebhookEndpoint(
            pk=new_id("whep"),
            org_id=self.ctx.org_id,
            url=check_url(url),
            description=_description(description),
            event_types=check_event_types(event_types),
            status=ENABLED,
            secret=secret,
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self.repo.add(endpoint)
        self.repo.forget_subscriptions()
        return endpoint, secret

    def update(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change what is given. Enabling a DISABLED endpoint resumes its waiting deliveries, failures forgotten."""
        endpoint = self._locked(endpoint_id)
        if url is not None:
            endpoint.url = check_url(url)
        if event_types is not None:
            endpoint.event_types = check_event_types(event_types, frozenset(endpoint.event_types))
        if description is not None:
            endpoint.description = _description(description)
        if enabled is True and endpoint.status == DISABLED:
            endpoint.status, endpoint.disabled_reason, endpoint.failing_since = ENABLED, None, None
        elif enabled is False and endpoint.status == ENABLED:
            endpoint.status, endpoint.disabled_reason = DISABLED, "disabled by hand"
        endpoint.updated_at = self.ctx.now
        self.repo.forget_subscriptions()
        return endpoint

    def delete(self, endpoint_id: str) -> None:
        """Gone from every list and sent nothing more (its row stays, marked DELETED, for its deliveries' rows)."""
        endpoint = self._locked(endpoint_id)
        endpoint.status = DELETED
        endpoint.updated_at = self.ctx.now
        self.repo.forget_subscriptions()

    def rotate_secret(self, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
        """A new secret (shown once); the current one keeps signing beside it for the overlap window."""
        endpoint = self._locked(endpoint_id)
        secret = new_secret()
        endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, self.ctx.now + secret_overlap()
        endpoint.secret = secret
        endpoint.updated_at = self.ctx.now
        return endpoint, secret

    # -- deliveries --------------------------------------------------------------------------------------------------
    def deliveries(
        self, endpoint_id: str, request: PageRequest, status: str | None = None
    ) -> Page[tuple[WebhookDelivery, WebhookMessage]]:
        endpoint = self.get(endpoint_id)
        return self.repo.deliveries(endpoint.pk, request, status)

    def delivery_log(
        self, endpoint_id: str, request: Slice, status: str | None = None
    ) -> Counted[tuple[WebhookDelivery, WebhookMessage]]:
        """The endpoint's deliveries as the console pages through them (offset pages with a count)."""
        endpoint = self.get(endpoint_id)
        return self.repo.delivery_log(endpoint.pk, request, status)

    def last_deliveries(self, endpoints: list[WebhookEndpoint]) -> dict[str, WebhookDelivery]:
        """Each endpoint's newest delivery, by endpoint id (none for an endpoint that has had none)."""
        return self.repo.last_deliveries([e.pk for e in endpoints])

    def delivery(self, delivery_id: str) -> DeliveryView:
        found = self.repo.delivery(delivery_id)
        if found is None:
            raise NotFound(f"Webhook delivery {delivery_id} not found")
        return DeliveryView(found[0], found[1], self.repo.attempts(delivery_id))

    def replay(self, delivery_id: str) -> WebhookDelivery:
        """Send the delivery's message to its endpoint again, as a new delivery (same message id, so a receiver
        that already has it can tell). The endpoint is locked first: a replay racing its removal is made before it
        or finds it gone, never attached to a deleted endpoint."""
        view = self.delivery(delivery_id)
        self._locked(view.delivery.endpoint_pk)  # not a deleted endpoint, and not deleted before this commits
        pk = self.repo.add_deliveries(view.message.pk, [view.delivery.endpoint_pk], self.ctx.now)[0]
        found = self.repo.delivery(pk)
        if found is None:  # just inserted in this transaction
            raise NotFound(f"Webhook delivery {pk} not found")
        return found[0]

    def replayable(self, endpoint_id: str, since: datetime, until: datetime | None, failed_only: bool) -> int:
        """How many messages `replay_range` with these arguments would send again now (it writes nothing)."""
        endpoint = self.get(endpoint_id)
        until = until or self.ctx.now
        if until <= since:
            raise BadRequest("since: must be before until")
        return len(self.repo.messages_between(endpoint.pk, since, until, failed_only))

    def replay_range(self, endpoint_id: str, since: datetime, until: datetime | None, failed_only: bool) -> int:
        """Send again the messages of the endpoint's deliveries made from `since` to before `until` (default: now),
        only those never delivered unless `failed_only` is false, oldest first; how many. The endpoint is locked
        first, as in `replay`."""
        endpoint = self._locked(endpoint_id)
        until = until or self.ctx.now
        if until <= since:
            raise BadRequest("since: must be before until")
        messages = self.repo.messages_between(endpoint.pk, since, until, failed_only)
        if len(messages) > MAX_REPLAY:
            raise BadRequest(f"the range holds {len(messages)} messages, more than {MAX_REPLAY}: replay a shorter one")
        for message_pk in messages:
            self.repo.add_deliveries(message_pk, [endpoint.pk], self.ctx.now)
        return len(messages)


def _description(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > DESCRIPTION_LENGTH:
        raise BadRequest(f"description: at most {DESCRIPTION_LENGTH} characters")
    return text or None
