"""The Togai-compatible API application: every domain's router, mounted at `/api` by `web.app`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from meterline import __version__
from meterline.accounts.endpoints import router as accounts_router
from meterline.api.errors import install_error_handlers
from meterline.core.settings import Settings
from meterline.customers.endpoints import router as customers_router
from meterline.settings.endpoints import router as settings_router
from meterline.tenancy.endpoints import router as tenancy_router

ROUTERS = (customers_router, accounts_router, settings_router, tenancy_router)


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
    install_error_handlers(api)
    for router in ROUTERS:
        api.include_router(router)

    # Swagger UI from the files shipped in the swagger-ui-bundle package: nothing is fetched from a CDN.
    api.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-static")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Meterline API",
            swagger_js_url="/api/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/static/swagger-ui.css",
            swagger_favicon_url="/api/docs/static/favicon-32x32.png",
        )

    return api
