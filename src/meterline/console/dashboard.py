"""The console's dashboard (issue 7): usage over time, revenue per month, events processed and failed, drawn as SVG on the server (no JavaScript, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter

from meterline.api.routing import UnitOfWorkRoute

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
