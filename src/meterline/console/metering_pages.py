"""The console's usage meter, event schema and events pages (issue 7). Thin handlers over the services."""

from __future__ import annotations

from fastapi import APIRouter

from meterline.api.routing import UnitOfWorkRoute

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
