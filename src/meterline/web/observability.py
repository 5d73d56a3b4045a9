"""/readyz, /metrics, and the middleware that gives every request an id, a JSON log line and its metrics."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import Engine, text
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterline.core.observability import HTTP_LATENCY, HTTP_REQUESTS, request_id
from meterline.migrations import alembic_config

access = logging.getLogger("meterline.access")
_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TOKEN_IN_QUERY = re.compile(r"([?&](?:token|signature)=)[^&\s\"]*")  # portal links; signed file links
_PORTAL_TOKEN = re.compile(r"mlp_[A-Za-z0-9_-]+")  # a portal token wherever it is (`?%74oken=mlp_...` too)
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access")


def redact(text: str) -> str:
    return _PORTAL_TOKEN.sub("<redacted>", _TOKEN_IN_QUERY.sub(r"\1<redacted>", text))


class RedactTokens(logging.Filter):
    """uvicorn's (and gunicorn's) access log writes each request's path with its query: a customer portal link's
    `?token=` (a secret: docs/portal.md) is written as `token=<redacted>`, a file link's `signature=` (it downloads
    the file until it expires: docs/reports.md) as `signature=<redacted>`, and a portal token (`mlp_...`) anywhere
    else in the line, however its parameter was spelled, as `<redacted>`. (Meterline's own access log writes the path
    alone.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):  # gunicorn's access log: its atoms
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def redact_access_log() -> None:
    """Install `RedactTokens` on uvicorn's and gunicorn's access loggers (once per process; their logging set-ups
    keep filters)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def _route(scope: Scope) -> str:
    """The route's template (`/api/customers/{customer_id}`), never the raw path: metric labels stay few."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template is None:
        return "unmatched"
    return f"{scope.get('root_path', '')}{template}"


class RequestObserver:
    """Pure ASGI middleware: a request id (the caller's `X-Request-ID` when it is sane, else a new one) in the
    response header and in every log line of the request; one access log line; request count and latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _GOOD_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route, method = _route(scope), scope["method"]
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            HTTP_LATENCY.labels(method=method, route=route).observe(elapsed)
            access.info(
                "request",
                extra={
                    "fields": {
                        "method": method,
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )
            request_id.reset(token)


def metrics_response() -> Response:
    registry: Any = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def readiness(engine: Engine) -> JSONResponse:
    """Ready when the database answers and its schema is the newest this version knows."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:  # any failure to reach the database means not ready
        return JSONResponse({"status": "not ready", "reason": f"database unavailable: {type(exc).__name__}"}, 503)
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    if current != head:
        return JSONResponse({"status": "not ready", "reason": f"schema at {current}, this version needs {head}"}, 503)
    return JSONResponse({"status": "ready", "schema": current})
