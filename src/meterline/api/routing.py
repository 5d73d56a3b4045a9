"""The route class every API endpoint uses: exact JSON in, one unit of work per request.

- Request bodies are parsed with JSON numbers as `Decimal` (never float), so amounts keep every digit.
- Each request gets a session in `request.state.session`; it commits before the response leaves when the endpoint
  succeeds, and rolls back otherwise. Endpoints and services never commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import Scope

from meterline.core import text
from meterline.core.db import begin_write, close_read, queues_writers
from meterline.core.errors import BadRequest

# The status a request is counted with (metrics, access log) when its client went away before sending its whole
# body (nginx's convention): it is no error of the server, and no answer reaches the client anyway.
CLIENT_CLOSED = 499

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEEP_WRITES = "meterline_keep_writes"


def keep_writes(response: Response) -> Response:
    """Commit the request's writes even though the response is an error (e.g. a rejected event that the event
    log must still show)."""
    setattr(response, KEEP_WRITES, True)
    return response


# A JSON `\u0000` escape that is not itself escaped (`\\u0000` is a backslash followed by text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _json_int(text: str) -> int | Decimal:
    # Python refuses int() of more than 4,300 digits: such a number is read as a Decimal, and the field's own rule
    # (core/numbers.py) refuses it by name instead of a 400 about the whole body
    return int(text) if len(text) <= 4000 else Decimal(text)


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal, parse_int=_json_int)
        return self._json

    def checked_json(self, value: Any) -> None:
        """The body as `_check_body` decoded and checked it: what `json()` returns from now on."""
        self._json = value


def _is_json(request: Request) -> bool:
    """Would FastAPI decode this body as JSON? (the same test: no content type, or a JSON one)"""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not content_type or content_type == "application/json" or content_type.endswith("+json")


def _check_parameters(request: Request) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and text.has_lone_surrogate(value):
            raise BadRequest(text.surrogate_message(name))
    for name, value in request.query_params.multi_items():
        if text.has_lone_surrogate(name) or text.has_lone_surrogate(value):
            raise BadRequest(text.surrogate_message(name if not text.has_lone_surrogate(name) else "query"))


async def _check_body(request: ExactJSONRequest, decodes_json: bool) -> None:
    """What every request must be, before any endpoint sees it (core/text.py): no NUL, no lone surrogate, JSON
    nested at most `text.MAX_DEPTH` levels. A body the endpoint reads itself (ingestion: msgspec, which refuses
    lone surrogates, into types of bounded depth) is not decoded here."""
    _check_parameters(request)
    if request.method in READ_METHODS:
        return
    body = await request.body()
    # (the plain substring test first: the regex is slow over a large ingest batch, and almost never needed)
    if b"\\u0000" in body and _NUL_ESCAPE.search(body):
        # PostgreSQL text cannot hold NUL, and no billing field needs it. The field is named when the body is JSON
        # (decoded here only on this error's path).
        where = None
        if decodes_json and _is_json(request):
            try:
                where = text.nul_path(json.loads(body))
            except (ValueError, RecursionError):
                where = None
        prefix = f"{where}: text" if where else "Text"
        raise BadRequest(f"{prefix} may not contain the NUL character (\\u0000)")
    if decodes_json and body and _is_json(request):
        try:
            request.checked_json(text.parse_json(body))
        except ValueError:
            pass  # not JSON: FastAPI answers it ("The request body is not valid JSON")


class UnitOfWorkRoute(APIRoute):
    # Does the operation write? By default, every method but GET/HEAD/OPTIONS does. A query sent as POST (e.g.
    # /metrics) uses ReadOnlyRoute, so that on SQLite it never holds the write lock while it reads.
    read_only = False
    writes_on_read = False  # a GET that may write (WritingRoute)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        read_only = self.read_only
        writes_on_read = self.writes_on_read

        def _end(session: Any, commit: bool) -> None:
            try:
                if commit:
                    session.commit()
            finally:
                session.close()  # (rolls back what was not committed, and gives the connection back)

        decodes_json = self.body_field is not None

        async def run(request: Request) -> Response:
            request = ExactJSONRequest(request.scope, request.receive)
            try:
                await _check_body(request, decodes_json)
            except ClientDisconnect:
                # Nothing to answer and nothing went wrong here: the access log's one line tells it (status 499).
                return Response(status_code=CLIENT_CLOSED)
            session = request.app.state.session_factory()  # no I/O until its first statement
            writes = not read_only and (writes_on_read or request.method not in READ_METHODS)
            if writes and queues_writers(session):
                # The thread pool hop is needed here only: taking SQLite's write lock may wait (PostgreSQL's writers
                # take no lock up front: no hop).
                await run_in_threadpool(begin_write, session)
            request.state.session = session
            commit = False
            try:
                response = await handler(request)
                commit = writes and (response.status_code < 400 or getattr(response, KEEP_WRITES, False))
                return response
            finally:
                if writes:
                    # One hop ends the unit of work: commit (or roll back) and close.
                    await run_in_threadpool(_end, session, commit)
                else:
                    # Ending a read (a rollback of what only read, a commit of what ran only SELECTs on PostgreSQL, or
                    # nothing when no statement ran) waits on no lock: done on the event loop, without a thread pool
                    # hop.
                    close_read(session)

        return run


class ShapedRouter(APIRouter):
    """One domain's router, included through this one (web/api.py includes every API router so), so that a request
    whose path none of its routes can match is turned away at once, before FastAPI tries them one by one.

    FastAPI tries an application's routes in order, a regular expression and some bookkeeping each (2 to 10 us), and
    the API has over a hundred: `GET /api/accounts/{id}/entitlements` was tried against some 60 routes first (0.2 to
    0.4 ms; docs/performance.md). Here each route's path is a shape, its segments with each parameter a wildcard
    (`accounts/*/entitlements`); a path of another number of segments, or with another word where a route has a
    word, cannot match that route, so the router is skipped when no route's shape fits. When one fits, FastAPI
    matches as before: the same route answers, only sooner. A router with a route whose parameter may hold slashes
    (`{x:path}`) is never skipped."""

    def __init__(self, router: APIRouter) -> None:
        super().__init__()
        self.include_router(router)
        shapes: dict[int, list[tuple[str | None, ...]]] = {}
        for route in router.routes:
            path = getattr(route, "path", None)
            if not isinstance(path, str) or ":path}" in path or not path.startswith("/"):
                shapes = {}
                self._shapes: dict[int, list[tuple[str | None, ...]]] | None = None
                return
            shape = tuple(None if "{" in segment else segment for segment in path[1:].split("/"))
            shapes.setdefault(len(shape), []).append(shape)
        self._shapes = shapes

    def fits(self, path: str) -> bool:
        """Could one of the router's routes match this path (relative to the API's root)?"""
        if self._shapes is None:
            return True
        segments = path[1:].split("/")
        shapes = self._shapes.get(len(segments), ())
        return any(all(w is None or w == s for w, s in zip(shape, segments, strict=True)) for shape in shapes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not self.fits(get_route_path(scope)):
            return Match.NONE, {}
        return super().matches(scope)


class ReadOnlyRoute(UnitOfWorkRoute):
    """For operations that only read, whatever their HTTP method: no write lock, nothing committed."""

    read_only = True


class WritingRoute(UnitOfWorkRoute):
    """For a GET that may write, and commits what it wrote: `GET /files/{id}`, which stores a finalized invoice's
    PDF on its first request (usecases/invoice_files.py). It takes SQLite's write lock like any write."""

    writes_on_read = True
