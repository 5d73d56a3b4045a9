"""The Togai-compatible API application: every domain's router, mounted at `/api` by `web.app`."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from meterline import __version__
from meterline.accounts.endpoints import router as accounts_router
from meterline.alerts.endpoints import router as alerts_router
from meterline.api.deps import principal
from meterline.api.errors import install_error_handlers
from meterline.api.quotas import Quotas
from meterline.api.routing import ShapedRouter
from meterline.catalog.endpoints import router as addons_router
from meterline.catalog.plan_endpoints import router as price_plans_router
from meterline.catalog.plan_v2_endpoints import router as price_plans_v2_router
from meterline.core.schemas import ErrorResponse
from meterline.core.settings import Settings
from meterline.credits.endpoints import router as credits_router
from meterline.customers.endpoints import router as customers_router
from meterline.entitlements.endpoints import read_router as entitlement_checks_router, router as entitlements_router
from meterline.events import wire
from meterline.events.endpoints import router as events_router
from meterline.files.endpoints import link_router as file_link_router, router as files_router
from meterline.invoice_groups.endpoints import router as invoice_groups_router
from meterline.invoicing.endpoints import router as invoices_router
from meterline.jobs.endpoints import router as jobs_router
from meterline.licenses.endpoints import router as licenses_router
from meterline.metering.endpoints import router as metering_router
from meterline.metrics.endpoints import router as metrics_router
from meterline.payments.endpoints import router as payments_router
from meterline.portal.endpoints import router as portal_router
from meterline.purchases.endpoints import router as purchases_router
from meterline.reports.endpoints import router as reports_router
from meterline.revenue.endpoints import router as revenue_router
from meterline.schedules.endpoints import router as schedules_router
from meterline.settings.endpoints import router as settings_router
from meterline.tenancy.endpoints import router as tenancy_router
from meterline.tenancy.key_cache import VerifiedKeys
from meterline.wallet.endpoints import router as wallet_router
from meterline.webhooks.endpoints import router as webhooks_router

# The busiest first: FastAPI tries routers in this order (each skipped at once when none of its routes fits the path:
# api/routing.py, ShapedRouter), and no two routes of different routers match the same request
# (tests/unit/test_api_routes.py), so the order changes only how soon a route is found.
ROUTERS = (
    accounts_router,
    entitlement_checks_router,  # (one route: before the router whose GET shares its path)
    entitlements_router,
    events_router,
    customers_router,
    metering_router,
    metrics_router,
    settings_router,
    tenancy_router,
    portal_router,
    addons_router,
    price_plans_router,
    price_plans_v2_router,
    schedules_router,
    revenue_router,
    licenses_router,
    jobs_router,
    invoices_router,
    invoice_groups_router,
    payments_router,
    credits_router,
    wallet_router,
    webhooks_router,
    alerts_router,
    files_router,
    reports_router,
    purchases_router,
)
# The API document lists the operations in this order (the domains' order), whatever the order above.
DOCUMENTED = (
    customers_router,
    accounts_router,
    purchases_router,
    metering_router,
    events_router,
    metrics_router,
    settings_router,
    tenancy_router,
    portal_router,
    addons_router,
    price_plans_router,
    price_plans_v2_router,
    schedules_router,
    revenue_router,
    licenses_router,
    jobs_router,
    invoices_router,
    invoice_groups_router,
    payments_router,
    credits_router,
    wallet_router,
    entitlements_router,
    entitlement_checks_router,
    webhooks_router,
    alerts_router,
    files_router,
    reports_router,
)

# What any operation may answer besides its success: Togai's `{"message"}` body (billing-rules D14).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Invalid input or a broken business rule; the message names the field or the rule"),
        (401, "Missing, invalid or revoked credentials"),
        (403, "Not allowed"),
        (404, "Unknown object, or one of another organization"),
        (405, "The path does not take that method"),
        (409, "Duplicate id or value"),
        (413, "Request body over the size limit (METERLINE_MAX_BODY_BYTES; docs/operations.md)"),
        (429, "Over quota"),
        (503, "Database busy or unavailable; retry"),
    )
}


def _openapi(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less the 422 it documents by default: Meterline answers validation errors with 400."""
    if api.openapi_schema is None:
        schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
        order: dict[str, int] = {}
        for router in DOCUMENTED:
            for route in router.routes:
                order.setdefault(getattr(route, "path", ""), len(order))
        schema["paths"] = dict(sorted(schema.get("paths", {}).items(), key=lambda item: order.get(item[0], len(order))))
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        # The ingestion bodies are msgspec Structs (events/wire.py), described from themselves.
        for name, body_schema in wire.openapi_components().items():
            components.setdefault(name, body_schema)
        api.openapi_schema = schema
    return api.openapi_schema


def docs_policy(page: bytes) -> str:
    """The Swagger UI page's own policy (web/security_headers.py): its inline start-up script by hash, and the data:
    images and inline styles the bundle uses; otherwise this origin only, and never in a frame."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in re.findall(rb"<script>(.*?)</script>", page, re.DOTALL)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    )


def create_api_app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    api = FastAPI(
        title="Meterline API",
        version=__version__,
        description="Usage-based billing, compatible with Togai's public API. Authenticate with "
        "`Authorization: Bearer <API key>`.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state.settings = settings
    api.state.session_factory = session_factory
    api.state.quotas = Quotas(settings.rate_limit_ingest, settings.rate_limit_api)
    api.state.verified_keys = VerifiedKeys()  # API keys verified in the last 0.5 s (tenancy/key_cache.py)
    install_error_handlers(api)
    if sorted(map(id, ROUTERS)) != sorted(map(id, DOCUMENTED)):  # a router in one list only: missing or hidden
        raise RuntimeError("web/api.py: ROUTERS and DOCUMENTED must list the same routers")
    for router in ROUTERS:
        # Authentication runs first, so a request without credentials is 401 whatever else is wrong with it.
        # (each through a ShapedRouter: a path none of its routes can match skips them at once)
        api.include_router(ShapedRouter(router), responses=ERROR_RESPONSES, dependencies=[Depends(principal)])
    # The local store's signed download links (files/endpoints.py): the signature is their credential, no API key.
    api.include_router(ShapedRouter(file_link_router), responses=ERROR_RESPONSES)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]

    # Swagger UI from the files shipped in the swagger-ui-bundle package: nothing is fetched from a CDN.
    api.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-static")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Meterline API",
            swagger_js_url="/api/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/static/swagger-ui.css",
            swagger_favicon_url="/api/docs/static/favicon-32x32.png",
        )
        page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body))
        return page

    return api
