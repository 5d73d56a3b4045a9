"""The console's price plan pages (issue 7): the list, the builder, versions. Thin handlers over the services."""

from __future__ import annotations

from fastapi import APIRouter

from meterline.api.routing import UnitOfWorkRoute

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
