"""The console's invoices list and Settings (organization, API keys, users) (issue 7). Thin handlers over the services."""

from __future__ import annotations

from fastapi import APIRouter

from meterline.api.routing import UnitOfWorkRoute

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
