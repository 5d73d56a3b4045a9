"""The console's Settings → Webhooks (docs/webhooks.md): endpoints, their event types and secrets, the delivery log
and replays. Thin handlers over WebhookService, as the webhooks API.

- Everyone signed in reads the endpoints and their logs; only an ADMIN adds, changes, disables, deletes, rotates and
  replays (a MEMBER gets the pages read-only, and a 403 page if they post a form anyway), as for API keys.
- A secret (a new endpoint's, a rotation's) is shown once through `feedback.show_once`: never the POST's answer,
  and a reload says it was shown already.
- Rotating, disabling, enabling, deleting and replaying go through a confirmation page (`pages.confirm`) that says
  what will happen; a refusal of the service is said in words on the form, what was typed kept.
- Days typed for a range replay are UTC calendar days, the last one included.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.console import feedback, listing
from meterline.console.pages import User, check_csrf, confirm, context, render
from meterline.console.settings_pages import TABS
from meterline.core.errors import Forbidden, MeterlineError, NotFound
from meterline.tenancy.context import Context
from meterline.usecases import webhooks
from meterline.webhooks.models import WebhookEndpoint
from meterline.webhooks.service import DeliveryView, WebhookService, secret_overlap
from meterline.webhooks.statuses import EVENT_TYPES, DeliveryStatus, EndpointStatus

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

HOME = "/settings/webhooks"
ENDPOINT_STATUS = {EndpointStatus.ENABLED: "Enabled", EndpointStatus.DISABLED: "Disabled"}
DELIVERY_STATUS = {
    DeliveryStatus.PENDING: "Pending",
    DeliveryStatus.SUCCEEDED: "Delivered",
    DeliveryStatus.FAILED: "Failed",
}
# badge classes the stylesheet already has: green, amber, red
TONE = {"ENABLED": "paid", "DISABLED": "overdue", "PENDING": "open", "SUCCEEDED": "paid", "FAILED": "overdue"}
FIELDS = {"url": "URL", "eventTypes": "Event types", "description": "Description", "since": "From", "until": "Until"}


def _log_spec(endpoint_id: str) -> listing.Spec:
    return listing.Spec(
        path=_endpoint_url(endpoint_id),
        columns={"created": listing.Column("Created", descending_first=True)},
        default="-created",
        noun=("delivery", "deliveries"),
    )


def _endpoint_url(endpoint_id: str) -> str:
    return f"{HOME}/{quote(endpoint_id, safe='')}"


def _delivery_url(endpoint_id: str, delivery_id: str) -> str:
    return f"{_endpoint_url(endpoint_id)}/deliveries/{quote(delivery_id, safe='')}"


def _admin(user: Any, what: str) -> None:
    if user.user.role != "ADMIN":
        raise Forbidden(f"Only an admin can {what}: ask an admin of {user.org.name}")


def in_words(message: str) -> tuple[str, str]:
    """A refusal of the service as (the form field it is about, words for a person): `url: ...` -> ("url",
    "URL: ...")."""
    field, sep, rest = message.partition(": ")
    if sep and field in FIELDS:
        if field == "eventTypes":
            return "event_types", f"Event types: {'tick at least one' if rest.startswith('name at least') else rest}"
        return field, f"{FIELDS[field]}: {rest}"
    return "form", message


def _render(request: Request, user: Any, name: str, status: int = 200, **values: Any) -> Response:
    return render(
        request, name, user, status=status, tabs=TABS, is_admin=user.user.role == "ADMIN", statuses=_words(), **values
    )


def _words() -> dict[str, Any]:
    return {"endpoint": ENDPOINT_STATUS, "delivery": DELIVERY_STATUS, "tone": TONE}


# -- the endpoints ---------------------------------------------------------------------------------------------------
@router.get(HOME)
def endpoints_page(request: Request, user: User) -> Response:
    service = WebhookService(context(request, user))
    endpoints = service.all()
    return _render(request, user, "webhooks.html", endpoints=endpoints, last=service.last_deliveries(endpoints))


def _form(request: Request, user: Any, values: dict[str, Any], errors: dict[str, str], **extra: Any) -> Response:
    return _render(
        request,
        user,
        "webhook_form.html",
        status=400 if errors else 200,
        values=values,
        errors=errors,
        event_types=EVENT_TYPES,
        **extra,
    )


@router.get(f"{HOME}/new")
def new_endpoint_page(request: Request, user: User) -> Response:
    _admin(user, "add webhook endpoints")
    return _form(request, user, {"url": "", "description": "", "event_types": []}, {})


@router.post(f"{HOME}/new")
def new_endpoint(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "add webhook endpoints")
    values = {"url": url, "description": description, "event_types": event_types or []}
    try:
        endpoint, secret = webhooks.create_endpoint(context(request, user), url, event_types or [], description)
    except MeterlineError as exc:
        field, words = in_words(exc.message)
        return _form(request, user, values, {field: words})
    return feedback.show_once(
        request, kind="webhook secret", owner=endpoint.url, secret=secret, back=_endpoint_url(endpoint.pk)
    )


@router.get(f"{HOME}/{{endpoint_id}}/edit")
def edit_endpoint_page(request: Request, user: User, endpoint_id: str) -> Response:
    _admin(user, "change webhook endpoints")
    endpoint = WebhookService(context(request, user)).get(endpoint_id)
    values = {"url": endpoint.url, "description": endpoint.description or "", "event_types": endpoint.event_types}
    return _form(request, user, values, {}, endpoint=endpoint)


@router.post(f"{HOME}/{{endpoint_id}}/edit")
def edit_endpoint(
    request: Request,
    user: User,
    endpoint_id: str,
    csrf: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "change webhook endpoints")
    ctx = context(request, user)
    service = WebhookService(ctx)
    endpoint = service.get(endpoint_id)
    values = {"url": url, "description": description, "event_types": event_types or []}
    try:
        with ctx.session.begin_nested():  # a refusal leaves the endpoint as it was
            service.update(endpoint_id, url=url, event_types=event_types or [], description=description)
    except MeterlineError as exc:
        field, words = in_words(exc.message)
        return _form(request, user, values, {field: words}, endpoint=service.get(endpoint.pk))
    return feedback.saved(request, _endpoint_url(endpoint_id), f"Webhook endpoint {url.strip()} is saved.")


def _since_until(since: str, until: str) -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """The range form's days (UTC; the last one included) as instants, or the mistakes in words."""
    errors: dict[str, str] = {}
    first = last = None
    try:
        first = date.fromisoformat(since.strip())
    except ValueError:
        errors["since"] = "From: enter a day, such as 2026-12-01"
    if until.strip():
        try:
            last = date.fromisoformat(until.strip())
        except ValueError:
            errors["until"] = "Until: enter a day, such as 2026-12-31, or leave it empty for up to now"
    if errors or first is None:
        return None, None, errors
    start = datetime.combine(first, time(), timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(), timezone.utc) if last is not None else None
    if end is not None and end <= start:
        errors["until"] = "Until: the last day must not be before From"
    return start, end, errors


def _endpoint_page(
    request: Request,
    user: Any,
    ctx: Context,
    endpoint_id: str,
    status: str = "",
    sort: str = "",
    page: str = "",
    range_values: dict[str, str] | None = None,
    range_errors: dict[str, str] | None = None,
) -> Response:
    service = WebhookService(ctx)
    endpoint = service.get(endpoint_id)
    found = listing.Listing.read(_log_spec(endpoint.pk), sort=sort, page=page, filters={"status": status})
    status_error = (
        f"Status: pick one of {', '.join(DELIVERY_STATUS.values())}"
        if status and status not in DELIVERY_STATUS
        else None
    )
    rows: list[Any] = []
    if found.ok and status_error is None:
        result = service.delivery_log(endpoint.pk, found.slice(), status or None)
        found.found(result)
        rows = result.items
    today = ctx.now.date()
    return _render(
        request,
        user,
        "webhook.html",
        status=400 if range_errors or status_error or not found.ok else 200,
        endpoint=endpoint,
        deliveries=rows,
        list=found,
        status_filter=status if status_error is None else "",
        status_error=status_error,
        now=ctx.now,
        range_values=range_values or {"since": (today - timedelta(days=7)).isoformat(), "until": today.isoformat()},
        range_errors=range_errors or {},
    )


@router.get(f"{HOME}/{{endpoint_id}}")
def endpoint_page(
    request: Request, user: User, endpoint_id: str, status: str = "", sort: str = "", page: str = ""
) -> Response:
    return _endpoint_page(request, user, context(request, user), endpoint_id, status, sort, page)


def _endpoint_facts(endpoint: WebhookEndpoint) -> list[tuple[str, str]]:
    facts = [("URL", endpoint.url)]
    if endpoint.description:
        facts.append(("Description", endpoint.description))
    facts += [
        ("Event types", ", ".join(endpoint.event_types)),
        ("Status", ENDPOINT_STATUS.get(EndpointStatus(endpoint.status), endpoint.status)),
    ]
    return facts


def _confirmation(endpoint: WebhookEndpoint, action: str, **kwargs: Any) -> feedback.Confirmation:
    return feedback.Confirmation(
        action=f"{_endpoint_url(endpoint.pk)}/{action}",
        back=_endpoint_url(endpoint.pk),
        section="settings",
        crumbs=[("/settings", "Settings"), (HOME, "Webhooks"), (_endpoint_url(endpoint.pk), endpoint.url)],
        facts=_endpoint_facts(endpoint),
        **kwargs,
    )


# -- rotate, disable, enable, delete ---------------------------------------------------------------------------------
def _rotation(endpoint: WebhookEndpoint, now: datetime) -> feedback.Confirmation:
    hours = secret_overlap().total_seconds() / 3600
    window = f"{hours:g} hours" if hours != 1 else "1 hour"
    return _confirmation(
        endpoint,
        "rotate",
        title=f"Rotate the secret of {endpoint.url}?",
        words=f"A new signing secret is made and shown once. The current secret keeps verifying for {window}, "
        f"until {(now + secret_overlap()).strftime('%Y-%m-%d %H:%M UTC')}: every delivery until then carries two "
        "signatures, one made with each secret, so update your receiver with the new secret before then. "
        "Rotating again ends that overlap at once.",
        button="Rotate secret",
        danger=False,
    )


def _toggle(endpoint: WebhookEndpoint, enable: bool) -> feedback.Confirmation:
    if enable:
        return _confirmation(
            endpoint,
            "enable",
            title=f"Enable {endpoint.url}?",
            words="It gets new messages again, and the deliveries that waited while it was disabled are sent now "
            "(their failures forgotten).",
            button="Enable endpoint",
            danger=False,
        )
    return _confirmation(
        endpoint,
        "disable",
        title=f"Disable {endpoint.url}?",
        words="It gets no new messages from now on, and its pending deliveries wait: enabling it again sends them.",
        button="Disable endpoint",
    )


def _removal(endpoint: WebhookEndpoint) -> feedback.Confirmation:
    return _confirmation(
        endpoint,
        "delete",
        title=f"Delete {endpoint.url}?",
        words="It gets no more messages, its pending deliveries are never sent, and its delivery log is no longer "
        "shown. This cannot be undone: to receive events again, add an endpoint (it gets a new secret).",
        button="Delete endpoint",
    )


ACTIONS = {"rotate": "rotate webhook secrets", "disable": "disable webhook endpoints"}
ACTIONS |= {"enable": "enable webhook endpoints", "delete": "delete webhook endpoints"}


def _ask_action(request: Request, user: Any, endpoint_id: str, action: str, error: str | None = None) -> Response:
    _admin(user, ACTIONS[action])
    ctx = context(request, user)
    endpoint = WebhookService(ctx).get(endpoint_id)
    if action == "rotate":
        confirmation = _rotation(endpoint, ctx.now)
    elif action == "delete":
        confirmation = _removal(endpoint)
    else:
        confirmation = _toggle(endpoint, action == "enable")
    return confirm(request, user, confirmation, error=error, status=409 if error else 200)


@router.get(f"{HOME}/{{endpoint_id}}/rotate")
def rotate_page(request: Request, user: User, endpoint_id: str) -> Response:
    return _ask_action(request, user, endpoint_id, "rotate")


@router.get(f"{HOME}/{{endpoint_id}}/disable")
def disable_page(request: Request, user: User, endpoint_id: str) -> Response:
    return _ask_action(request, user, endpoint_id, "disable")


@router.get(f"{HOME}/{{endpoint_id}}/enable")
def enable_page(request: Request, user: User, endpoint_id: str) -> Response:
    return _ask_action(request, user, endpoint_id, "enable")


@router.get(f"{HOME}/{{endpoint_id}}/delete")
def delete_page(request: Request, user: User, endpoint_id: str) -> Response:
    return _ask_action(request, user, endpoint_id, "delete")


@router.post(f"{HOME}/{{endpoint_id}}/rotate")
def rotate(request: Request, user: User, endpoint_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    _admin(user, ACTIONS["rotate"])
    ctx = context(request, user)
    endpoint, secret = WebhookService(ctx).rotate_secret(endpoint_id)
    until = endpoint.previous_secret_until
    note = (
        f"The previous secret keeps verifying until {until.strftime('%Y-%m-%d %H:%M UTC')}: update your receiver "
        "before then."
        if until is not None and until > ctx.now
        else "The previous secret no longer signs."
    )
    return feedback.show_once(
        request, kind="webhook secret", owner=endpoint.url, secret=secret, back=_endpoint_url(endpoint.pk), note=note
    )


@router.post(f"{HOME}/{{endpoint_id}}/disable")
def disable(request: Request, user: User, endpoint_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    return _set_enabled(request, user, endpoint_id, csrf, False)


@router.post(f"{HOME}/{{endpoint_id}}/enable")
def enable(request: Request, user: User, endpoint_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    return _set_enabled(request, user, endpoint_id, csrf, True)


def _set_enabled(request: Request, user: Any, endpoint_id: str, csrf: str, enabled: bool) -> Response:
    check_csrf(user, csrf)
    _admin(user, ACTIONS["enable" if enabled else "disable"])
    service = WebhookService(context(request, user))
    before = service.get(endpoint_id).status
    wanted = EndpointStatus.ENABLED if enabled else EndpointStatus.DISABLED
    if before == wanted:  # a stale tab: nothing to do, said in words
        words = "enabled" if enabled else "disabled"
        return _ask_action(
            request, user, endpoint_id, "enable" if enabled else "disable", error=f"This endpoint is {words} already."
        )
    endpoint = service.update(endpoint_id, enabled=enabled)
    message = (
        f"Webhook endpoint {endpoint.url} is enabled: its waiting deliveries are sent now."
        if enabled
        else f"Webhook endpoint {endpoint.url} is disabled: it gets no new messages, its pending deliveries wait."
    )
    return feedback.saved(request, _endpoint_url(endpoint.pk), message)


@router.post(f"{HOME}/{{endpoint_id}}/delete")
def delete(request: Request, user: User, endpoint_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    _admin(user, ACTIONS["delete"])
    service = WebhookService(context(request, user))
    url = service.get(endpoint_id).url
    service.delete(endpoint_id)
    return feedback.saved(request, HOME, f"Webhook endpoint {url} is deleted: it gets no more messages.")


# -- replays ---------------------------------------------------------------------------------------------------------
@router.get(f"{HOME}/{{endpoint_id}}/replay-range")
def replay_range_page(request: Request, user: User, endpoint_id: str, since: str = "", until: str = "") -> Response:
    """The range form's GET: the endpoint again with the mistakes, or the confirmation with what would be sent."""
    _admin(user, "replay webhook deliveries")
    ctx = context(request, user)
    service = WebhookService(ctx)
    typed = {"since": since, "until": until}
    start, end, errors = _since_until(since, until)
    count = 0
    if not errors and start is not None:
        try:
            count = service.replayable(endpoint_id, start, end, failed_only=True)
        except MeterlineError as exc:
            field, words = in_words(exc.message)
            errors = {field if field in ("since", "until") else "since": words}
    if errors:
        return _endpoint_page(request, user, ctx, endpoint_id, range_values=typed, range_errors=errors)
    endpoint = service.get(endpoint_id)
    last = f"to the end of {until.strip()}" if until.strip() else "to now"
    confirmation = _confirmation(
        endpoint,
        "replay-range",
        title=f"Replay the failed deliveries of {endpoint.url}?",
        words=(
            f"{count} message{'s' if count != 1 else ''} sent to this endpoint from {since.strip()} {last} (UTC) "
            f"{'were' if count != 1 else 'was'} never delivered. Each is sent again as a new delivery, oldest first, "
            "with the same webhook-id as before, so a receiver that has it already can tell."
            if count
            else f"No message sent to this endpoint from {since.strip()} {last} (UTC) is waiting for a replay: "
            "every one was delivered."
        ),
        button="Replay deliveries",
        danger=False,
        hidden=[("since", since.strip()), ("until", until.strip())],
    )
    return confirm(request, user, confirmation)


@router.post(f"{HOME}/{{endpoint_id}}/replay-range")
def replay_range(
    request: Request,
    user: User,
    endpoint_id: str,
    csrf: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "replay webhook deliveries")
    ctx = context(request, user)
    typed = {"since": since, "until": until}
    start, end, errors = _since_until(since, until)
    if errors or start is None:
        return _endpoint_page(request, user, ctx, endpoint_id, range_values=typed, range_errors=errors)
    try:
        count = WebhookService(ctx).replay_range(endpoint_id, start, end, failed_only=True)
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        field, words = in_words(exc.message)
        return _endpoint_page(request, user, ctx, endpoint_id, range_values=typed, range_errors={"since": words})
    back = f"{_endpoint_url(endpoint_id)}?{urlencode({'status': 'PENDING'})}" if count else _endpoint_url(endpoint_id)
    message = (
        f"{count} message{'s' if count != 1 else ''} sent again: each is a new pending delivery."
        if count
        else "Nothing to replay: every message of that range was delivered."
    )
    return feedback.saved(request, back, message)


def _delivery(service: WebhookService, endpoint_id: str, delivery_id: str) -> tuple[WebhookEndpoint, DeliveryView]:
    """The endpoint and one of its deliveries (404 for a delivery of another endpoint, or of a deleted one)."""
    endpoint = service.get(endpoint_id)
    view = service.delivery(delivery_id)
    if view.delivery.endpoint_pk != endpoint.pk:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    return endpoint, view


@router.get(f"{HOME}/{{endpoint_id}}/deliveries/{{delivery_id}}")
def delivery_page(request: Request, user: User, endpoint_id: str, delivery_id: str) -> Response:
    endpoint, view = _delivery(WebhookService(context(request, user)), endpoint_id, delivery_id)
    return _render(request, user, "webhook_delivery.html", endpoint=endpoint, view=view)


@router.get(f"{HOME}/{{endpoint_id}}/deliveries/{{delivery_id}}/replay")
def replay_page(request: Request, user: User, endpoint_id: str, delivery_id: str) -> Response:
    _admin(user, "replay webhook deliveries")
    service = WebhookService(context(request, user))
    endpoint, view = _delivery(service, endpoint_id, delivery_id)
    status = DELIVERY_STATUS.get(DeliveryStatus(view.delivery.status), view.delivery.status)
    confirmation = feedback.Confirmation(
        title=f"Replay this {view.message.event_type} delivery?",
        words=f"The message is sent again to {endpoint.url} as a new delivery, with the same webhook-id "
        f"({view.message.pk}): a receiver that has it already can tell. This delivery stays in the log as it is.",
        action=f"{_delivery_url(endpoint.pk, view.delivery.pk)}/replay",
        button="Replay delivery",
        back=_delivery_url(endpoint.pk, view.delivery.pk),
        section="settings",
        crumbs=[("/settings", "Settings"), (HOME, "Webhooks"), (_endpoint_url(endpoint.pk), endpoint.url)],
        facts=[
            ("Event type", view.message.event_type),
            ("Message ID", view.message.pk),
            ("Status", f"{status} after {view.delivery.attempts} attempt{'s' if view.delivery.attempts != 1 else ''}"),
            ("Endpoint", endpoint.url),
        ],
        danger=False,
    )
    return confirm(request, user, confirmation)


@router.post(f"{HOME}/{{endpoint_id}}/deliveries/{{delivery_id}}/replay")
def replay(
    request: Request, user: User, endpoint_id: str, delivery_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "replay webhook deliveries")
    service = WebhookService(context(request, user))
    endpoint, view = _delivery(service, endpoint_id, delivery_id)
    made = service.replay(delivery_id)
    return feedback.saved(
        request,
        _delivery_url(endpoint.pk, made.pk),
        f"The {view.message.event_type} message {view.message.pk} is sent again: delivery {made.pk} is pending.",
    )
