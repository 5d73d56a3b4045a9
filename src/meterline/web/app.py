"""The process's ASGI application: the API under /api and the console at /."""

from __future__ import annotations

import gc
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from meterline import __version__
from meterline.api.errors import allowed_methods, error_response
from meterline.console import (
    account_pages as console_accounts,
    alert_pages as console_alerts,
    customer_pages as console_customers,
    dashboard as console_dashboard,
    entitlement_pages as console_entitlements,
    errors as console_errors,
    feature_pages as console_features,
    invoice_list as console_invoice_list,
    invoice_pages as console_invoices,
    job_pages as console_jobs,
    metering_pages as console_metering,
    pages as console_pages,
    plan_draft_pages as console_plan_drafts,
    plan_pages as console_plans,
    portal_pages as console_portal,
    pricing_rule_pages as console_pricing_rules,
    report_pages as console_reports,
    schedule_draft_pages as console_schedule_drafts,
    settings_pages as console_settings,
    webhook_pages as console_webhooks,
)
from meterline.core.clock import utc_now
from meterline.core.db import create_db_engine, make_session_factory
from meterline.core.errors import MeterlineError
from meterline.core.observability import configure_logging
from meterline.core.settings import Settings
from meterline.events.compaction import UsageCompactor
from meterline.events.shipper import UsageShipper
from meterline.files import storage
from meterline.usecases import alerts, bill_runs
from meterline.usecases.reports import ReportRunner
from meterline.web.api import create_api_app
from meterline.web.limits import BodyLimit
from meterline.web.observability import RequestObserver, metrics_response, readiness, redact_access_log
from meterline.web.security_headers import SecurityHeaders
from meterline.webhooks.delivery import Deliverer


async def console_error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error of the console as a page in its layout (console/errors.py): the side menu when signed in."""
    return await run_in_threadpool(console_errors.page, request, status, message, utc_now(), headers)


def _in_words(request: Request, exc: StarletteHTTPException, portal: bool = False) -> str:
    """What a person reads for an HTTP error no page raised itself (a path no page has, a method it does not take);
    `portal`: on the customer portal's pages, which have no menu and take no form."""
    if exc.status_code == 404:
        return f"There is no page at {request.url.path}."
    if exc.status_code == 405 and portal:
        return f"{request.url.path} is read-only: it does not take a {request.method}."
    if exc.status_code == 405:
        return f"{request.url.path} does not take a {request.method}: open it from the console's menu instead."
    return str(exc.detail)


def create_app(settings: Settings) -> FastAPI:
    engine = create_db_engine(settings.database_url)
    storage.configure(settings)  # the file store of this process (files/storage.py)
    session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What the process built to serve (modules, the app, its routes and models: ~250,000 objects) lives as long
        # as the process: out of the garbage collector's reach, so that a full collection scans only what requests
        # left behind. It scanned them all, for ~200 ms on this project's machine, once every few tens of seconds
        # under load: every request waiting meanwhile took that much longer (docs/performance.md).
        gc.collect()
        gc.freeze()
        # A request leaves no reference cycle (tests/service/test_prepared.py), so what the collector finds is
        # mostly the live objects of requests in flight, promoted a generation at each pass. At the default 700
        # allocations per young pass, that promotion set off a full pass of the objects made since the freeze every
        # ~2 s under load (10-30 ms, every request meanwhile waiting); at 10,000 the young passes are rarer, each
        # still a few milliseconds, and full passes all but stop (docs/performance.md, Session 8).
        gc.set_threshold(10_000, 10, 10)
        # The billing worker runs beside the API unless METERLINE_WORKER_INTERVAL is 0 (then run `meterline worker`).
        worker = (
            bill_runs.worker(session_factory, settings, settings.worker_interval)
            if settings.worker_interval > 0
            else None
        )
        if worker is not None:
            worker.start()
        # The webhook delivery worker likewise, unless METERLINE_WEBHOOK_INTERVAL is 0 (docs/webhooks.md).
        deliverer = Deliverer(session_factory, settings) if settings.webhook_interval > 0 else None
        if deliverer is not None:
            deliverer.start()
        # The alert evaluator likewise, unless METERLINE_ALERT_INTERVAL is 0 (docs/alerts.md).
        evaluator = alerts.worker(session_factory, settings.alert_interval) if settings.alert_interval > 0 else None
        if evaluator is not None:
            evaluator.start()
        # The report runner likewise, unless METERLINE_REPORT_INTERVAL is 0 (docs/reports.md).
        reporter = ReportRunner(session_factory, settings.report_interval) if settings.report_interval > 0 else None
        if reporter is not None:
            reporter.start()
        # The usage shipper likewise, where usage is kept in ClickHouse (docs/clickhouse.md).
        shipper = (
            UsageShipper(session_factory, settings.usage_ship_interval) if settings.usage_ship_interval > 0 else None
        )
        if shipper is not None:
            shipper.start()
        compactor = (
            UsageCompactor(session_factory, settings.usage_compact_interval)
            if settings.usage_compact_interval > 0
            else None
        )
        if compactor is not None:
            compactor.start()
        yield
        if compactor is not None:
            compactor.stop()
        if shipper is not None:
            shipper.stop()
        if reporter is not None:
            reporter.stop()
        if evaluator is not None:
            evaluator.stop()
        if worker is not None:
            worker.stop()
        if deliverer is not None:
            deliverer.stop()

    app = FastAPI(
        title="Meterline", version=__version__, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.engine = engine
    app.mount("/api", create_api_app(settings, session_factory))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # Paths the /api mount cannot route (e.g. a control character in an id) still get the API's error body.
        if request.url.path.startswith("/api"):
            return error_response(exc.status_code, "No such API path: see /api/docs", getattr(exc, "headers", None))
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method the path takes, not only its first route's
            headers["Allow"] = ", ".join(allowed_methods(request, headers.get("Allow", "")))
        if request.url.path == "/portal" or request.url.path.startswith("/portal/"):  # the customer's pages
            response = console_portal.no_such_page(request, exc.status_code, _in_words(request, exc, portal=True))
            response.headers.update(headers)
            return response
        return await console_error_page(request, exc.status_code, _in_words(request, exc), headers or None)

    @app.exception_handler(RequestValidationError)
    async def _console_parameters(request: Request, exc: RequestValidationError) -> Response:
        # A query or form field a console page cannot read (e.g. a file where text is typed): a 400 page in words,
        # not FastAPI's JSON.
        names = ", ".join(sorted({str(error["loc"][-1]) for error in exc.errors() if error.get("loc")}))
        return await console_error_page(
            request, 400, f"The page could not read what was sent ({names or 'the request'}): open it again and retry"
        )

    # The console: pages at /, their CSS at /console-static (shipped in the package: no CDN).
    app.state.session_factory = session_factory
    app.include_router(console_pages.router)
    app.include_router(console_accounts.router)
    app.include_router(console_invoices.router)
    for module in (
        console_dashboard,
        console_plans,
        console_pricing_rules,
        console_plan_drafts,
        console_schedule_drafts,
        console_metering,
        console_features,
        console_entitlements,
        console_alerts,
        console_settings,
        console_webhooks,
        console_jobs,
        console_reports,
        console_portal,
    ):
        app.include_router(module.router)
    app.include_router(console_customers.router)  # after pages.py's /customers/new
    app.include_router(console_invoice_list.router)
    app.mount(
        "/console-static",
        StaticFiles(directory=str(Path(console_pages.__file__).parent / "static")),
        name="console-static",
    )

    @app.exception_handler(console_pages.NotSignedIn)
    async def _sign_in(request: Request, exc: console_pages.NotSignedIn) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    @app.exception_handler(MeterlineError)
    async def _console_error(request: Request, exc: MeterlineError) -> Response:
        # Errors of console pages (API errors are handled inside the /api app): a page in the layout that says what
        # happened, with a way back.
        return await console_error_page(request, exc.status_code, exc.message)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        return readiness(engine)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if settings.metrics_token and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {settings.metrics_token}".encode()
        ):
            return JSONResponse(
                {"message": "GET /metrics needs Authorization: Bearer <METERLINE_METRICS_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return metrics_response()

    configure_logging(settings.log_level)
    redact_access_log()  # a portal link's token never reaches uvicorn's access log
    # (the last added runs first: the observer counts the 413s that BodyLimit answers before anything reads a body)
    app.add_middleware(
        BodyLimit, default=settings.max_body_bytes, per_path={"/api/ingestBatch": settings.max_ingest_batch_bytes}
    )
    app.add_middleware(RequestObserver)
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries them, errors included
    return app
