"""The security headers of every response, the console's and the API's: one middleware around the whole process.

- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page is shown inside another site's frame
  (clickjacking).
- `Content-Security-Policy`: the console's pages load only from this origin (one stylesheet, no script, SVG charts
  drawn on the server), so `default-src 'self'` holds them; forms post only here (`form-action 'self'`). A response
  that sets its own policy keeps it (the Swagger UI at /api/docs needs its inline start-up script and data: images).
- The customer portal (console/portal_pages.py) is the one exception to "never in a frame": its pages set their own
  policy with `framed_by(origins)`, the organization's allow-list of origins (docs/portal.md), and then get no
  `X-Frame-Options` (which cannot name origins, and would otherwise override the list in older browsers).
- `X-Content-Type-Options: nosniff`: a browser takes each body as the type it is sent as.
- `Referrer-Policy: same-origin`: URLs (ids, filters) are not sent to other sites.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def framed_by(origins: list[str]) -> str:
    """The usual policy, but for the frames it allows: these origins (already checked to be origins: portal/service.py),
    or none without any."""
    ancestors = " ".join(origins) if origins else "'none'"
    return POLICY.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                own = headers.get("content-security-policy")
                for name, value in HEADERS.items():
                    if name == "X-Frame-Options" and own is not None and "frame-ancestors 'none'" not in own:
                        continue  # a page that names who may frame it (the portal's allow-list)
                    headers[name] = value
                if own is None:
                    headers["Content-Security-Policy"] = POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
