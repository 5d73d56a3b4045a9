"""What the console tells a person after they act: post-redirect-get with a notice, secrets shown once, and the
confirmation page every irreversible action goes through.

- `saved(url, message)`: the answer to every successful form post. A 303 to the page to show, carrying the notice in
  a short-lived cookie (never in the URL, so a link cannot make the console say something it did not do); the next
  page `render`s it once in the layout (`role="status"`) and clears it. Reloading that page posts nothing again.
- `show_once(...)`: a secret (a new API key, a generated password) is never the answer to the POST (reloading it would
  make a second one). The POST redirects to `/once`, which shows the secret from a cookie scoped to `/once` and clears
  it; a reload says it was shown already. The cookie is a session cookie (no Max-Age: not written to disk), HttpOnly,
  SameSite=Lax, Secure over HTTPS; Meterline keeps only the secret's hash.
- `confirm(...)`: the page before an irreversible action: what it acts on (facts), the consequence in words, the
  inputs the action still needs (hidden or typed), one button that posts, and Cancel.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

NOTICE_COOKIE = "meterline_notice"
ONCE_COOKIE = "meterline_once"
ONCE_PATH = "/once"
_MAX_NOTICE = 300


def _pack(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _unpack(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(text.encode()))
    except ValueError:  # a cookie that is not ours (or was cut short): nothing to show
        return None


def local_path(url: str, default: str = "/dashboard") -> str:
    """`url` when it is a path of this site, else `default` (never an open redirect)."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else default


def saved(request: Request, url: str, message: str) -> RedirectResponse:
    """Post-redirect-get after a successful save: the next page shows `message` once."""
    response = RedirectResponse(local_path(url), status_code=303)
    response.set_cookie(
        NOTICE_COOKIE,
        _pack(message[:_MAX_NOTICE]),
        max_age=120,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def notice_of(request: Request) -> str | None:
    value = _unpack(request.cookies.get(NOTICE_COOKIE))
    return value[:_MAX_NOTICE] if isinstance(value, str) and value else None


def shown(request: Request, response: Response) -> None:
    """Clear the notice once a page showed it."""
    if NOTICE_COOKIE in request.cookies:
        response.delete_cookie(NOTICE_COOKIE)


def show_once(request: Request, *, kind: str, owner: str, secret: str, back: str, note: str = "") -> RedirectResponse:
    """Redirect to the page that shows `secret` once. `kind` names it ("API key", "password", "webhook secret"),
    `owner` whose it is; `note`: a sentence more about it (a rotated secret's overlap)."""
    response = RedirectResponse(ONCE_PATH, status_code=303)
    response.set_cookie(
        ONCE_COOKIE,
        _pack({"kind": kind, "owner": owner, "secret": secret, "back": local_path(back), "note": note}),
        path=ONCE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@dataclass(frozen=True)
class Once:
    kind: str
    owner: str
    secret: str
    back: str
    note: str = ""


def take_once(request: Request) -> Once | None:
    value = _unpack(request.cookies.get(ONCE_COOKIE))
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("kind", "owner", "secret")):
        return None
    note = value.get("note")
    return Once(
        value["kind"],
        value["owner"],
        value["secret"],
        local_path(str(value.get("back", ""))),
        note if isinstance(note, str) else "",
    )


def forget_once(response: Response) -> None:
    response.delete_cookie(ONCE_COOKIE, path=ONCE_PATH)
    response.headers["Cache-Control"] = "no-store"  # neither the page nor the secret is kept by the browser


@dataclass(frozen=True)
class Confirmation:
    """The page before an irreversible action (`confirm.html`).

    title: the question ("Void invoice INV-000012?"); words: the consequence, in an operator's words;
    action: where the button posts; button: its label ("Void invoice"); back: Cancel's link;
    section: the side menu's section; crumbs: (href, label) pairs above the title; facts: (label, value) pairs
    about what is acted on; hidden: (name, value) pairs posted as they are; danger: a red button.
    """

    title: str
    words: str
    action: str
    button: str
    back: str
    section: str
    crumbs: Sequence[tuple[str, str]] = ()
    facts: Sequence[tuple[str, str]] = ()
    hidden: Sequence[tuple[str, str]] = ()
    danger: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
