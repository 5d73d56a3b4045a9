"""A webhook endpoint, and the alert that watches endpoints (webhooks and alerts: two domains, one step).

An endpoint disabled after failing for too long must not go unnoticed: the organization's first endpoint comes with
an organization-wide alert of the template `webhook_endpoint_disabled` (docs/alerts.md), which opens an incident per
disabled endpoint (and `alert.triggered` to the endpoints that still work). Only the first endpoint ever: an
organization that made such an alert itself, or later made it INACTIVE, is left as it chose. The API and the console
both create endpoints through here.
"""

from __future__ import annotations

from meterline.alerts.repository import AlertRepository
from meterline.alerts.service import AlertService
from meterline.tenancy.context import Context
from meterline.webhooks.models import WebhookEndpoint
from meterline.webhooks.service import WebhookService

WATCH = "webhook_endpoint_disabled"
WATCH_INTERVAL = 15  # minutes, the template's own


def create_endpoint(
    ctx: Context, url: str, event_types: list[str], description: str | None = None
) -> tuple[WebhookEndpoint, str]:
    """(endpoint, its secret, to show once)."""
    service = WebhookService(ctx)
    alerts = AlertRepository(ctx.session, ctx.org_id)
    alerts.lock_key("webhook-endpoint-watch")  # two first endpoints at once make one alert
    first = not service.repo.any_endpoint()
    made = service.create(url, event_types, description)
    if first:
        if not alerts.any_of_template(WATCH):
            AlertService(ctx).create(
                WATCH,
                interval=WATCH_INTERVAL,
                status="ACTIVE",
                description="Made with the first webhook endpoint: an incident when an endpoint is disabled",
            )
    return made
