"""How the API finds a request's route (web/api.py, api/routing.py `ShapedRouter`): the busiest routers are tried
first and a router none of whose routes fits the path is skipped at once; neither may change which route answers."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.routing import Match

from meterline.api.routing import ShapedRouter
from meterline.core.db import create_db_engine, make_session_factory
from meterline.core.settings import Settings
from meterline.web.api import DOCUMENTED, ROUTERS, create_api_app


def _shape(path: str) -> tuple[str | None, ...]:
    return tuple(None if "{" in segment else segment for segment in path[1:].split("/"))


def _routes() -> list[tuple[int, APIRoute]]:
    return [(n, route) for n, router in enumerate(ROUTERS) for route in router.routes if isinstance(route, APIRoute)]


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/api" + path, "root_path": "/api", "headers": []}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-1", path)


def test_no_two_routers_serve_the_same_request_so_their_order_is_free() -> None:
    routes = _routes()
    clashes = []
    for i, (n, a) in enumerate(routes):
        for m, b in routes[i + 1 :]:
            same_shape = len(_shape(a.path)) == len(_shape(b.path)) and all(
                x is None or y is None or x == y for x, y in zip(_shape(a.path), _shape(b.path), strict=True)
            )
            if n != m and same_shape and a.methods & b.methods:
                clashes.append((a.path, b.path))
    assert clashes == []
    assert set(map(id, ROUTERS)) == set(map(id, DOCUMENTED)) and len(ROUTERS) == len(DOCUMENTED)


def test_a_shaped_router_fits_every_path_of_its_routes_and_no_other_routers() -> None:
    shaped = [ShapedRouter(router) for router in ROUTERS]
    for n, route in _routes():
        path = _concrete(route.path)
        assert route.matches(_scope(path, sorted(route.methods)[0]))[0] == Match.FULL, route.path
        fitting = [m for m, router in enumerate(shaped) if router.fits(path)]
        assert n in fitting, route.path
        for m in fitting:  # another router that fits serves the path with other methods only (405 otherwise)
            assert m == n or not any(
                other.matches(_scope(path, method))[0] == Match.FULL
                for other in ROUTERS[m].routes
                for method in route.methods
            ), (route.path, m)


def test_a_path_of_another_shape_fits_no_router() -> None:
    for path in ("/nothing", "/accounts/x-1/nothing", "/accounts/x-1/entitlements/x-2/more", "/", "/entitled/x-1"):
        assert not any(ShapedRouter(router).fits(path) for router in ROUTERS), path


def test_every_operation_is_reached_through_the_api_application() -> None:
    """Through the whole application (every router behind a ShapedRouter, in the busiest-first order): each
    operation's path and method reach it (401 without credentials: the route's authentication ran), an unknown
    path is 404, a known path with another method 405."""
    api = create_api_app(Settings(database_url="sqlite://"), make_session_factory(create_db_engine("sqlite://")))

    async def check() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            for _n, route in _routes():
                for method in sorted(route.methods):
                    answer = await client.request(method, _concrete(route.path))
                    assert answer.status_code == 401, (method, route.path, answer.status_code, answer.text)
            assert (await client.get("/accounts/x-1/nothing")).status_code == 404
            assert (await client.get("/entitled")).status_code == 405

    # in a thread of its own: a browser test earlier in the same process may have left its loop running here
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, check()).result()
