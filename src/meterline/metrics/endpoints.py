"""MetricsApi."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context
from meterline.api.responses import respond
from meterline.api.routing import ReadOnlyRoute
from meterline.metrics import schemas
from meterline.metrics.service import MetricsService, QueryResult
from meterline.tenancy.context import Context

router = APIRouter(route_class=ReadOnlyRoute, tags=["Metrics"])


def result_out(result: QueryResult) -> schemas.MetricQueryResponse:
    return schemas.MetricQueryResponse(
        id=result.id,
        name=result.name,  # type: ignore[arg-type]
        data=[
            schemas.MetricDataPoints(
                grouped_by=schemas.MetricDataPointsGroupedBy(field_name=s.group[0], field_value=s.group[1])
                if s.group
                else None,
                timestamps=s.timestamps,
                metric_values=s.values,
            )
            for s in result.series
        ],
    )


@router.post("/metrics", response_model=schemas.GetMetricsResponse, operation_id="getMetrics")
def get_metrics(body: schemas.GetMetricsRequest, ctx: Context = Depends(api_context)) -> Response:
    """Every metric, one data point per HOUR, DAY, WEEK or MONTH of the organization's time zone over
    [startTime, endTime), each labelled with its period's start: EVENTS (events counted by timestamp), USAGE /
    METER_USAGE (usage summed from the 15-minute rollups; startTime and endTime on 15-minute boundaries),
    USAGE_FOR_CYCLE (usage of each account's pricing cycles, at the cycle's start), NAMED_LICENSE_USAGE (license
    quantities: the largest in force in each period), REVENUE (finalized invoices by invoice date) and
    REVENUE_FOR_CYCLE (the invoices of each pricing cycle, DRAFTs as they stand now, at the cycle's start), in the
    base currency (exchange rates: the organization's JSON setting metrics.exchangeRates) or the invoices' own
    (configs.CURRENCY INVOICE). At most 5 queries, 300 periods each (docs/api.md)."""
    return respond(schemas.GetMetricsResponse(results=[result_out(r) for r in MetricsService(ctx).get(body)]))
