"""The console's pages: thin handlers over the same services as the API, rendered with Jinja2 (issue 7).

Every page needs a signed-in user (else a redirect to /login); every form POST checks the CSRF token. A service's
refusal (BadRequest, Conflict...) is shown next to the form, in words, with what was typed kept.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from meterline.api.deps import session_of
from meterline.api.routing import UnitOfWorkRoute, keep_writes
from meterline.console import auth, feedback, words
from meterline.core.clock import utc_now
from meterline.core.errors import Forbidden, MeterlineError
from meterline.core.numbers import plain
from meterline.core.schemas import Address, error_text
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.tenancy.context import Context
from meterline.tenancy.service import TenancyService
from meterline.tenancy.sessions import LoginThrottle, ThrottleRules

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def local_day(instant: datetime, timezone: str) -> date:
    """The calendar day of `instant` in the organization's time zone: billing periods start at local midnights."""
    try:
        return instant.astimezone(ZoneInfo(timezone)).date()
    except OverflowError:  # the end of time (year 9999) has no later local day
        return instant.date()


def local_last_day(end: datetime, timezone: str) -> date:
    """The last day of a period that ends (exclusive) at `end`."""
    return local_day(end - timedelta(microseconds=1), timezone)


def _zone_of(context: Any) -> str:
    user = context.get("user")
    return user.org.timezone if user is not None else "UTC"


# `day(x)` and `last_day(end)` in templates: days as the organization's time zone has them.
templates.env.globals["day"] = pass_context(lambda context, instant: local_day(instant, _zone_of(context)))
templates.env.globals["last_day"] = pass_context(lambda context, end: local_last_day(end, _zone_of(context)))


def _plain_numbers(value: Any) -> Any:
    """What every `{{ ... }}` of a template writes: a Decimal in plain notation (100, 0.0000001; never 1E+2)."""
    return plain(value) if isinstance(value, Decimal) else value


templates.env.finalize = _plain_numbers
# How values read on every page (console/words.py): money, unit prices, quantities, statuses, instants.
templates.env.globals.update(
    money=words.money,
    rate=words.rate,
    quantity=words.quantity,
    # overdue counts the organization's days, as `day()` shows the due date
    invoice_status=pass_context(lambda context, invoice, now: words.invoice_status(invoice, now, _zone_of(context))),
    when=words.when,
)
PAGE = 25


class NotSignedIn(Exception):
    """Raised by `signed_in`; the app turns it into a redirect to /login."""

    def __init__(self, path: str) -> None:
        self.path = path


def signed_in(request: Request) -> auth.ConsoleUser:
    user = auth.read(session_of(request), request.cookies.get(auth.COOKIE), utc_now())
    if user is None:
        raise NotSignedIn(request.url.path)
    return user


User = Annotated[auth.ConsoleUser, Depends(signed_in)]


def context(request: Request, user: auth.ConsoleUser) -> Context:
    return Context(session=session_of(request), org=user.org, now=utc_now())


def render(request: Request, name: str, user: auth.ConsoleUser | None, status: int = 200, **values: Any) -> Response:
    """A page in the layout; a notice left by the last save (`feedback.saved`) is shown once, above the content."""
    notice = values.pop("notice", None) or (feedback.notice_of(request) if user is not None else None)
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf": user.csrf if user else "", "notice": notice, **values}, status_code=status
    )
    if user is not None:
        feedback.shown(request, response)
    return response


def confirm(request: Request, user: auth.ConsoleUser, confirmation: feedback.Confirmation, **values: Any) -> Response:
    """The page before an irreversible action (see `feedback.Confirmation`)."""
    return render(request, values.pop("template", "confirm.html"), user, confirmation=confirmation, **values)


def check_csrf(user: auth.ConsoleUser, token: str | None) -> None:
    if not auth.csrf_ok(user, token):
        raise Forbidden("The form has expired: reload the page and send it again")


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors in words a person reads next to the field."""
    names = {
        "id": "id",
        "name": "name",
        "primary_email": "email",
        "primaryEmail": "email",
        "line1": "line1",
        "city": "city",
        "postal_code": "postal_code",
        "postalCode": "postal_code",
        "country": "country",
    }
    words = {
        "email": "Enter an email address, such as name@company.com",
        "id": "No spaces, slashes, ? or #, please (1 to 50 characters)",
    }
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if loc[:1] == ["address"]:  # a nested address field is shown next to its own input
            loc = loc[1:]
        field = names.get(loc[0] if loc else "", "form")
        if error["type"] == "string_pattern_mismatch" and field in words:
            message = words[field]
        elif field == "country" and error["type"] == "value_error":
            message = "Enter a two-letter ISO 3166-1 country code, such as US, DE or IN"
        elif error["type"] == "string_too_short":
            message = f"At least {error['ctx']['min_length']} characters, please"
        elif error["type"] == "string_too_long":
            message = f"At most {error['ctx']['max_length']} characters, please"
        else:
            message = error_text(error)
        out.setdefault(field, message)
    return out


# -- sign in and out ---------------------------------------------------------------------------------------------
def _login_form(
    request: Request,
    next: str,
    email: str = "",
    status: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The sign-in page, its form carrying this browser's pre-session token (and the cookie set to match)."""
    token = auth.login_token(request)
    response = render(request, "login.html", None, status=status, next=next, email=email, error=error, login_csrf=token)
    auth.set_login_cookie(request, response, token)
    response.headers.update(headers or {})
    return response


def login_throttle(request: Request) -> LoginThrottle:
    settings = request.app.state.settings
    return LoginThrottle(
        session_of(request),
        ThrottleRules(
            per_email=settings.login_failures_per_email,
            per_address=settings.login_failures_per_address,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        ),
    )


def client_address(request: Request) -> str:
    """The address the throttle counts: the connection's peer (behind a proxy, run uvicorn with --proxy-headers
    and --forwarded-allow-ips so that it is the browser's)."""
    return request.client.host if request.client is not None else "unknown"


def too_many_tries(retry_after: int) -> str:
    minutes = max(1, -(-retry_after // 60))
    return f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}"


@router.get("/login")
def login_page(request: Request, next: str = "/dashboard") -> Response:
    return _login_form(request, next)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",  # nosec B107 - a form field, not a password
    next: Annotated[str, Form()] = "/dashboard",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if auth.cross_site(request) or not auth.login_form_ok(request, csrf):
        # Login CSRF: another site cannot sign this browser in (to an account of the attacker's).
        return _login_form(
            request,
            next,
            email,
            status=403,
            error="The sign-in form has expired or was sent from another site: sign in again",
        )
    now, address = utc_now(), client_address(request)
    throttle = login_throttle(request)
    wait = throttle.retry_after(email, address, now)
    if wait is not None:  # the password is not even checked: a guess gets no answer
        return _login_form(
            request, next, email, status=429, error=too_many_tries(wait), headers={"Retry-After": str(wait)}
        )
    user = TenancyService(session_of(request)).check_password(email, password)
    if user is None:
        throttle.failed(email, address, now)
        return keep_writes(_login_form(request, next, email, status=400, error="Wrong email or password"))
    throttle.succeeded(email)
    target = feedback.local_path(next)  # a path of this site, else the dashboard
    response = RedirectResponse(target, status_code=303)
    auth.start(session_of(request), user, now, request, response)
    response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, user: User, csrf: Annotated[str, Form()] = "") -> Response:
    """Sign out: every session of the user ends (a cookie copied earlier, another browser), not only this one."""
    check_csrf(user, csrf)
    TenancyService(session_of(request)).end_sessions(user.user, utc_now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


@router.get("/")
def home(user: User) -> Response:
    return RedirectResponse("/dashboard", status_code=303)


@router.get(feedback.ONCE_PATH)
def once(request: Request, user: User) -> Response:
    """A secret made by the last form, shown this once (`feedback.show_once`)."""
    response = render(request, "once.html", user, once=feedback.take_once(request))
    feedback.forget_once(response)
    return response


# -- customers ---------------------------------------------------------------------------------------------------
@router.get("/customers/new")
def new_customer_page(request: Request, user: User) -> Response:
    return render(request, "customer_form.html", user, values={}, errors={})


@router.post("/customers/new")
def new_customer(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    id: Annotated[str, Form()] = "",
    line1: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    postal_code: Annotated[str, Form()] = "",
    country: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    values = {
        "name": name,
        "email": email,
        "id": id,
        "line1": line1,
        "city": city,
        "postal_code": postal_code,
        "country": country,
    }
    try:
        address = Address(
            line1=line1 or None, city=city or None, postal_code=postal_code or None, country=country or None
        )
        body = CreateCustomerRequest(id=id.strip(), name=name, primary_email=email.strip(), address=address)
        created = CustomerService(context(request, user)).create(body)
    except ValidationError as exc:
        return render(request, "customer_form.html", user, status=400, values=values, errors=_field_errors(exc))
    except MeterlineError as exc:
        return render(request, "customer_form.html", user, status=400, values=values, errors={"form": exc.message})
    return feedback.saved(
        request,
        f"/customers/{quote(created.customer.id, safe='')}",
        f"Customer “{created.customer.name}” created, with its default account {created.account.id} "
        f"({created.account.invoice_currency}).",
    )
