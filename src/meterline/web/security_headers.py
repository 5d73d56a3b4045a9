"""The security headers of every response, the console's and the API's: one middleware around the whole process.

- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page is shown inside another site's frame
  (clickjacking).
- `Content-Security-Policy`: the console's pages load only from this origin (one stylesheet, no script, SVG charts
  drawn on the server), so `default-src 'self'` holds them; forms post only here (`form-action 'self'`). A response
  that sets its own policy keeps it (the Swagger UI at /api/docs needs its inline start-up script and data: images).
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
                for name, value in HEADERS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
