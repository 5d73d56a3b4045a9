"""Every error of the API becomes `{"message": ...}` with the status of billing-rules D14, here and only here."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from meterline.api.responses import ApiJSONResponse
from meterline.core.errors import MeterlineError
from meterline.core.schemas import error_text

log = logging.getLogger("meterline.api")
MAX_MESSAGE = 500  # the SDK's ErrorResponse.message limit


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> ApiJSONResponse:
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return ApiJSONResponse({"message": message}, status_code=status_code, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def validation_message(errors: list[dict[str, Any]]) -> str:
    messages = []
    for error in errors[:5]:
        where = _location(tuple(error.get("loc", ())))
        kind = error.get("type", "")
        if kind == "json_invalid":
            messages.append("The request body is not valid JSON")
            continue
        if kind == "extra_forbidden":
            messages.append(f"{where}: unknown field, it cannot be set here")
            continue
        if kind == "missing":
            messages.append(f"{where}: this field is required")
            continue
        if where == "body" and kind in ("model_attributes_type", "model_type", "dict_type", "value_error"):
            messages.append("The request body must be a JSON object")
            continue
        messages.append(f"{where}: {error_text(error)}")
    if len(errors) > 5:
        messages.append(f"and {len(errors) - 5} more")
    return "; ".join(messages)


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an app, the ones of included routers too (FastAPI nests them in `_IncludedRouter`s)."""
    for route in routes:
        nested = getattr(route, "effective_route_contexts", None)
        yield from (nested() if callable(nested) else (route,))


def allowed_methods(request: Request, fallback: str = "") -> list[str]:
    """Every method some route of the request's app serves on its path (Starlette's 405 names only the first
    route's, and none of an included router's); `fallback` (the 405's own Allow, e.g. of static files) when no
    route of the app has the path."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    literal: set[str] = set()  # of routes whose template is the path itself (no parameter)
    templated: set[str] = set()  # of routes whose parameters match it (`/invoices/{id}` matches /invoices/bill_runs)
    for route in _leaf_routes(request.app.router.routes):
        regex, served = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and served and regex.match(path):
            (templated if getattr(route, "param_convertors", None) else literal).update(served)
    # A path that names a resource of its own (/invoices/bill_runs) answers for that resource, as documented
    methods = literal or templated
    if not methods:
        methods = {m.strip() for m in fallback.split(",") if m.strip()}
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MeterlineError)
    async def _domain(_request: Request, exc: MeterlineError) -> ApiJSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else exc.headers
        if exc.status_code >= 500 and str(exc) != exc.message:  # the reason the client is not told (ClickHouse's)
            log.warning("%s: %s", exc.message, exc)
        return error_response(exc.status_code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> ApiJSONResponse:
        return error_response(400, validation_message(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ApiJSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and message == "Not Found":
            message = "No such API path: see /api/docs for the operations Meterline serves"
        if exc.status_code == 405:
            allowed = allowed_methods(request, headers.get("Allow", ""))
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not served on this path; it takes {', '.join(allowed)}"
        return error_response(exc.status_code, message, headers or None)

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> ApiJSONResponse:
        # A unique key caught a race that the service's own checks could not see.
        log.info("integrity error: %s", exc.orig)
        return error_response(
            409,
            "The request conflicts with an existing object (it was probably created "
            "concurrently); read it back or retry",
        )

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> ApiJSONResponse:
        # The database refused a value the schema let through (a NUL in a path, a number out of range).
        log.info("data error: %s", exc.orig)
        return error_response(
            400,
            "A value in the request cannot be stored or compared (out of range, or a control character such as NUL)",
        )

    @app.exception_handler(OperationalError)
    async def _operational(_request: Request, exc: OperationalError) -> ApiJSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return error_response(503, "The database is busy or unavailable; retry shortly", {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> ApiJSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "Internal error: it has been logged")
