"""The console's Settings (organization, API keys, users) (issue 7). Thin handlers over the services. (The invoices
list is console/invoice_list.py.)

- `/settings` has three tabs. Everyone signed in reads them; only an ADMIN changes the organization's name and
  settings, creates and revokes API keys, and adds and removes users (a MEMBER gets the lists read-only, and a 403
  page if they post a form anyway). A new API key's secret, and a generated password, are shown once, on the page
  that answers the form, never stored in clear.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from meterline.api.routing import UnitOfWorkRoute, keep_writes
from meterline.console import auth, feedback
from meterline.console.pages import (
    User,
    check_csrf,
    client_address,
    context,
    login_throttle,
    render,
    too_many_tries,
)
from meterline.core.errors import BadRequest, Conflict, Forbidden, MeterlineError, NotFound
from meterline.core.schemas import error_text
from meterline.invoicing.service import number_format
from meterline.portal import service as portal_service
from meterline.settings.schemas import SettingIn, UpdateSettingRequest
from meterline.settings.service import SettingsService
from meterline.tenancy import security
from meterline.tenancy.service import ROLES, InvalidUser, TenancyService

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

TABS = {
    "organization": "Organization",
    "api-keys": "API keys",
    "users": "Users",
    "password": "Your password",  # nosec B105 - the tab's title, not a password
}
DATA_TYPES = ("STRING", "NUMERIC", "JSON", "JSON_LOGIC")


# -- settings ----------------------------------------------------------------------------------------------------
def _admin(user: Any, what: str) -> None:
    if user.user.role != "ADMIN":
        raise Forbidden(f"Only an admin can {what}: ask an admin of {user.org.name}")


def _settings_page(request: Request, user: Any, tab: str, status: int = 200, **extra: Any) -> Response:
    ctx = context(request, user)
    tab = tab if tab in TABS else "organization"
    tenancy = TenancyService(ctx.session)
    values: dict[str, Any] = {
        "tab": tab,
        "tabs": TABS,
        "is_admin": user.user.role == "ADMIN",
        "errors": {},
        "values": {},
        "roles": ROLES,
        "data_types": DATA_TYPES,
    }
    if tab == "organization":
        values["org_settings"] = SettingsService(ctx).for_entity("ORGANIZATION", ctx.org_id)
        values["portal_origins"] = portal_service.embed_origins(ctx)
        fmt = number_format()
        values["numbers"] = f"{fmt.format(number=1)}, {fmt.format(number=2)}, …"
    elif tab == "api-keys":
        values["keys"] = list(reversed(tenancy.api_keys(ctx.org)))
    elif tab == "users":
        values["users"] = tenancy.users(ctx.org)
    values.update(extra)
    return render(request, "settings.html", user, status=status, **values)


@router.get("/settings")
def settings(request: Request, user: User, tab: str = "organization") -> Response:
    return _settings_page(request, user, tab)


def _back(request: Request, tab: str, notice: str) -> Response:
    return feedback.saved(request, f"/settings?{urlencode({'tab': tab})}", notice)


@router.post("/settings/organization")
def rename_organization(
    request: Request, user: User, csrf: Annotated[str, Form()] = "", name: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "rename the organization")
    ctx = context(request, user)
    try:
        TenancyService(ctx.session).rename_organization(ctx.org, name, ctx.now)
    except MeterlineError as exc:
        return _settings_page(
            request, user, "organization", status=400, errors={"org_name": exc.message}, values={"org_name": name}
        )
    return _back(request, "organization", "The organization's name is saved.")


@router.post("/settings/portal-embed")
def portal_embed(
    request: Request, user: User, csrf: Annotated[str, Form()] = "", origins: Annotated[str, Form()] = ""
) -> Response:
    """The origins allowed to show the customer portal in a frame (docs/portal.md): the ORGANIZATION setting
    portal/embed_origins, checked to be origins."""
    check_csrf(user, csrf)
    _admin(user, "change the organization's settings")
    ctx = context(request, user)
    try:
        saved = portal_service.set_embed_origins(ctx, origins)
    except MeterlineError as exc:
        return _settings_page(
            request, user, "organization", status=400, errors={"portal": exc.message}, values={"portal": origins}
        )
    said = ", ".join(saved) if saved else "no site: the portal is never shown in a frame"
    return _back(request, "organization", f"The customer portal may be embedded by {said}.")


@router.post("/settings/values")
def add_setting(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    namespace: Annotated[str, Form()] = "",
    id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    data_type: Annotated[str, Form()] = "STRING",
    value: Annotated[str, Form()] = "",
) -> Response:
    """An ORGANIZATION setting, through the same service as POST /api/settings."""
    check_csrf(user, csrf)
    _admin(user, "change the organization's settings")
    ctx = context(request, user)
    typed = {"namespace": namespace, "id": id, "name": name, "data_type": data_type, "value": value}
    try:
        body = SettingIn(
            id=id.strip(),
            value=value,
            entity_type="ORGANIZATION",
            entity_id=ctx.org_id,
            namespace=namespace.strip(),
            name=name.strip() or id.strip(),
            data_type=data_type,  # type: ignore[arg-type]  # the form's text; pydantic checks it
        )
        SettingsService(ctx).insert(body)
    except ValidationError as exc:
        return _settings_page(
            request, user, "organization", status=400, values=typed, errors={"setting": _setting_words(exc)}
        )
    except MeterlineError as exc:
        return _settings_page(request, user, "organization", status=400, values=typed, errors={"setting": exc.message})
    return _back(request, "organization", f"Setting {id.strip()} is added.")


def _setting_words(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = {"id": "ID", "namespace": "Namespace", "name": "Name", "data_type": "Type", "value": "Value"}.get(
        str(error["loc"][0]) if error["loc"] else "", "Setting"
    )
    if error["type"] == "string_pattern_mismatch":
        return f"{field}: no spaces, slashes, ? or #{' or dots' if field == 'Namespace' else ''}, please"
    if error["type"] == "string_too_short":
        return f"{field}: fill it in"
    if error["type"] == "string_too_long":
        return f"{field}: at most {error['ctx']['max_length']} characters, please"
    return f"{field}: {error_text(error)}"


@router.post("/settings/values/edit")
def edit_setting(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    setting: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "change the organization's settings")
    ctx = context(request, user)
    service = SettingsService(ctx)
    row = service.get(setting)
    if row.entity_type != "ORGANIZATION":
        raise BadRequest("Only the organization's own settings are edited here")
    try:
        service.update(row.full_id, UpdateSettingRequest(value=value))
    except MeterlineError as exc:
        return _settings_page(
            request,
            user,
            "organization",
            status=400,
            edit_errors={row.full_id: exc.message},
            edit_values={row.full_id: value},
        )
    return _back(request, "organization", f"Setting {row.id} is saved.")


@router.post("/settings/api-keys")
def create_api_key(
    request: Request, user: User, csrf: Annotated[str, Form()] = "", name: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    _admin(user, "create API keys")
    ctx = context(request, user)
    try:
        if not name.strip():
            raise BadRequest("Name: give the key a name, such as the program that will use it")
        created = TenancyService(ctx.session).create_api_key(org=ctx.org, now=ctx.now, name=name)
    except MeterlineError as exc:
        return _settings_page(
            request, user, "api-keys", status=400, errors={"key_name": exc.message}, values={"key_name": name}
        )
    return feedback.show_once(
        request, kind="API key", owner=created.key.name, secret=created.token, back="/settings?tab=api-keys"
    )


@router.get("/settings/api-keys/{key_id}/revoke")
def revoke_api_key_page(request: Request, user: User, key_id: str) -> Response:
    _admin(user, "revoke API keys")
    key = _key_of(request, user, key_id)
    return render(
        request,
        "settings_confirm.html",
        user,
        title=f"Revoke the API key “{key.name}”?",
        words="Every request made with it, and with the tokens made from it, gets 401 from now on. "
        "This cannot be undone: a program that needs access again gets a new key.",
        action=f"/settings/api-keys/{quote(key.id, safe='')}/revoke",
        button="Revoke key",
        back="/settings?tab=api-keys",
        facts=[
            ("Name", key.name),
            ("Key", f"mlk_{key.prefix}_…"),
            ("Created", key.created_at.strftime("%Y-%m-%d %H:%M UTC")),
        ],
    )


def _key_of(request: Request, user: Any, key_id: str) -> Any:
    ctx = context(request, user)
    found = [k for k in TenancyService(ctx.session).api_keys(ctx.org) if k.id == key_id]
    if not found:
        raise NotFound(f"API key {key_id} not found")
    return found[0]


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_api_key(request: Request, user: User, key_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    _admin(user, "revoke API keys")
    ctx = context(request, user)
    key = TenancyService(ctx.session).revoke_api_key(org=ctx.org, key_id=key_id, now=ctx.now)
    return _back(
        request,
        "api-keys",
        f"The API key “{key.name}” is revoked: requests with it get 401 within a second, in every process.",
    )


@router.post("/settings/users")
def add_user(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "MEMBER",
    password: Annotated[str, Form()] = "",
) -> Response:  # nosec B107 - a form field, not a password
    """Add a console user; with no password typed, one is generated and shown once."""
    check_csrf(user, csrf)
    _admin(user, "add users")
    ctx = context(request, user)
    generated = not password
    secret = security.new_password() if generated else password
    try:
        added = TenancyService(ctx.session).create_user(
            org=ctx.org, email=email, name=name or None, role=role, now=ctx.now, password=secret
        )
    except InvalidUser as exc:
        return _settings_page(
            request, user, "users", status=400, values=_typed(email, name, role), errors={exc.field: exc.message}
        )
    except Conflict as exc:
        return _settings_page(
            request, user, "users", status=400, values=_typed(email, name, role), errors={"email": exc.message}
        )
    if not generated:
        return _back(
            request, "users", f"{added.email} is added as {added.role}: they sign in with the password you typed."
        )
    return feedback.show_once(request, kind="password", owner=added.email, secret=secret, back="/settings?tab=users")


def _typed(email: str, name: str, role: str) -> dict[str, str]:
    return {"email": email, "name": name, "role": role}


@router.get("/settings/users/{user_id}/remove")
def remove_user_page(request: Request, user: User, user_id: str) -> Response:
    _admin(user, "remove users")
    ctx = context(request, user)
    found = [u for u in TenancyService(ctx.session).users(ctx.org) if u.id == user_id]
    if not found:
        raise NotFound(f"User {user_id} not found")
    if found[0].id == user.user.id:
        raise BadRequest("You cannot remove yourself: ask another admin")
    person = found[0]
    return render(
        request,
        "settings_confirm.html",
        user,
        title=f"Remove {person.email}?",
        words="They are signed out at once and can no longer sign in to this console, and the customer portal links "
        "they issued end. "
        "To give them access again, add them again.",
        action=f"/settings/users/{quote(person.id, safe='')}/remove",
        button="Remove user",
        back="/settings?tab=users",
        facts=[("Name", person.name), ("Email", person.email), ("Role", person.role)],
    )


@router.post("/settings/users/{user_id}/remove")
def remove_user(request: Request, user: User, user_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    _admin(user, "remove users")
    ctx = context(request, user)
    removed = TenancyService(ctx.session).remove_user(org=ctx.org, user_id=user_id, by=user.user)
    return _back(request, "users", f"{removed.email} is removed.")


# -- the signed-in user's password -------------------------------------------------------------------------------
@router.post("/settings/password")
def change_password(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:  # nosec B107 - form fields
    """Anyone signed in changes their own password, with the current one. Every session of theirs ends (a copied
    cookie, another browser); this browser gets a new one. A wrong current password counts as a failed sign-in."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    throttle, address = login_throttle(request), client_address(request)
    wait = throttle.retry_after(user.user.email, address, ctx.now)
    if wait is not None:
        response = _settings_page(
            request, user, "password", status=429, errors={"current_password": too_many_tries(wait)}
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if new_password != confirm_password:
        return _settings_page(
            request,
            user,
            "password",
            status=400,
            errors={"confirm_password": "The two new passwords are not the same"},  # nosec B105 - a message
        )
    try:
        TenancyService(ctx.session).change_password(
            user.user, current_password=current_password, new_password=new_password, now=ctx.now
        )
    except InvalidUser as exc:
        if exc.field == "current_password":
            throttle.failed(user.user.email, address, ctx.now)
            return keep_writes(_settings_page(request, user, "password", status=400, errors={exc.field: exc.message}))
        return _settings_page(request, user, "password", status=400, errors={exc.field: exc.message})
    response = _back(request, "password", "Your password is changed: every other session of yours is signed out.")
    auth.start(ctx.session, user.user, ctx.now, request, response)
    return response
