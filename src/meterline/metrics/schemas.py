"""MetricsApi models, field for field as the SDK has them (a few limits made explicit: see docs/api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from meterline.core.schemas import Number, RequestModel, ResponseModel, UtcDatetime
from meterline.metrics.periods import MAX_POINTS

MAX_QUERIES = 5
MAX_FILTERS = 5
MAX_FILTER_VALUES = 100
MAX_CONFIGS = 5  # Togai has one (CURRENCY)

MetricName = Literal[
    "EVENTS", "USAGE", "METER_USAGE", "NAMED_LICENSE_USAGE", "REVENUE", "USAGE_FOR_CYCLE", "REVENUE_FOR_CYCLE"
]
AggregationPeriod = Literal["HOUR", "DAY", "WEEK", "MONTH"]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
FieldValue = Annotated[str, StringConstraints(max_length=512)]


class MetricQueryFilterEntry(RequestModel):
    field_name: FieldName
    field_values: Annotated[list[FieldValue], Field(min_length=1, max_length=MAX_FILTER_VALUES)]


class MetricQuery(RequestModel):
    id: Annotated[str, StringConstraints(max_length=255)]
    name: MetricName
    aggregation_period: AggregationPeriod
    group_by: FieldName | None = None
    configs: Annotated[dict[FieldName, FieldValue], Field(max_length=MAX_CONFIGS)] | None = None
    filters: Annotated[list[MetricQueryFilterEntry], Field(min_length=1, max_length=MAX_FILTERS)] | None = None


class GetMetricsRequest(RequestModel):
    start_time: UtcDatetime = Field(description="start of the range, included")
    end_time: UtcDatetime = Field(description="end of the range, excluded")
    metric_queries: Annotated[list[MetricQuery], Field(max_length=MAX_QUERIES)] = Field(
        description=f"at most {MAX_QUERIES} queries"
    )


class MetricDataPointsGroupedBy(ResponseModel):
    field_name: str
    field_value: str


class MetricDataPoints(ResponseModel):
    grouped_by: MetricDataPointsGroupedBy | None = None
    timestamps: Annotated[list[datetime], Field(max_length=MAX_POINTS)]
    metric_values: Annotated[list[Number], Field(max_length=MAX_POINTS)]


class MetricQueryResponse(ResponseModel):
    id: str
    name: MetricName
    data: list[MetricDataPoints]


class GetMetricsResponse(ResponseModel):
    results: list[MetricQueryResponse]
