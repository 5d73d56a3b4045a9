"""The process's ASGI application: the API under /api and the console at /."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from meterline import __version__
from meterline.api.errors import error_response
from meterline.web.api import create_api_app
from meterline.core.db import create_db_engine, make_session_factory
from meterline.core.observability import configure_logging
from meterline.core.settings import Settings
from meterline.invoicing.billing import Worker
from meterline.web.observability import RequestObserver, metrics_response, readiness

LANDING = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Meterline</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}a{color:#2563eb}</style></head><body>
<h1>Meterline</h1><p>Usage-based billing is running (version %s).</p>
<ul><li>API: <code>/api</code>, with a Togai-compatible client:
<code>Configuration(host="http://HOST:PORT/api", access_token=TOKEN)</code></li>
<li><a href="/api/docs">Interactive API docs</a> and <a href="/api/openapi.json">OpenAPI</a></li>
<li>New API key: <code>meterline api-key create</code></li></ul></body></html>"""


def create_app(settings: Settings) -> FastAPI:
    engine = create_db_engine(settings.database_url)
    session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The billing worker runs beside the API unless METERLINE_WORKER_INTERVAL is 0 (then run `meterline worker`).
        worker = Worker(session_factory, settings.worker_interval) if settings.worker_interval > 0 else None
        if worker is not None:
            worker.start()
        yield
        if worker is not None:
            worker.stop()

    app = FastAPI(title="Meterline", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.mount("/api", create_api_app(settings, session_factory))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # Paths the /api mount cannot route (e.g. a control character in an id) still get the API's error body.
        if request.url.path.startswith("/api"):
            return error_response(exc.status_code, "No such API path: see /api/docs", getattr(exc, "headers", None))
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.get("/", include_in_schema=False)
    def landing() -> HTMLResponse:
        return HTMLResponse(LANDING % __version__)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        return readiness(engine)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return metrics_response()

    configure_logging(settings.log_level)
    app.add_middleware(RequestObserver)
    return app
