"""ReportsApi models, as the SDK has them (Report, QueryInput and its parts), and Meterline's request to run one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictInt, StringConstraints

from meterline.core.schemas import RequestModel, ResponseModel, UtcDatetime

Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Arg = Annotated[str, StringConstraints(max_length=255)]


class QueryFunction(RequestModel):
    name: Name
    args: list[Arg] = Field(max_length=10)


class QueryColumn(RequestModel):
    data_source: Name | None = None
    column_name: Name
    alias: Name | None = None
    functions: list[QueryFunction] | None = Field(None, max_length=10)
    aggregator: Name | None = None


class QueryFilter(RequestModel):
    column: QueryColumn
    operator: Name
    args: list[Arg] = Field(max_length=100)


class QueryInputSortInner(RequestModel):
    column: QueryColumn
    sort_order: Name


MAX_FILTERS = 20  # a request's filters (reports/service.py checks it)


class QueryInput(RequestModel):
    selects: list[QueryColumn] = Field(min_length=1, max_length=30)
    # One more when stored: the account's filter a report with `account_id` adds (read back by the runner).
    query_filters: list[QueryFilter] | None = Field(None, max_length=MAX_FILTERS + 1)
    base_data_source: Name
    sort: list[QueryInputSortInner] = Field(max_length=5)
    seek_values: list[Arg] | None = Field(None, max_length=5)
    limit: StrictInt


class CreateReportRequest(RequestModel):
    """Run a report (Meterline's; the SDK only lists them): a template with its parameters, or a query."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    type: Literal["TEMPLATE", "QUERY"]
    report_template_id: Name | None = None
    from_date: UtcDatetime | None = Field(None, alias="fromDate")
    to_date: UtcDatetime | None = Field(None, alias="toDate")
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = Field(None, alias="account_id")
    query_input: QueryInput | None = None


class QueryColumnOut(ResponseModel):
    data_source: str | None = None
    column_name: str
    alias: str | None = None
    aggregator: str | None = None


class QueryFilterOut(ResponseModel):
    column: QueryColumnOut
    operator: str
    args: list[str]


class QueryInputSortOut(ResponseModel):
    column: QueryColumnOut
    sort_order: str


class QueryInputOut(ResponseModel):
    selects: list[QueryColumnOut]
    query_filters: list[QueryFilterOut] | None = None
    base_data_source: str
    sort: list[QueryInputSortOut]
    limit: int


class Report(ResponseModel):
    id: str
    name: str
    account_id: str | None = Field(None, alias="account_id")
    status: str
    file_id: str | None = None
    query_input: QueryInputOut | None = None
    report_template_id: str | None = None
    created_at: datetime
    updated_at: datetime
    pre_signed_url: str | None = None
    type: str | None = None


class ReportsPaginatedResponse(ResponseModel):
    data: list[Report]
    next_token: str | None = None


class ReportTemplateOut(ResponseModel):
    id: str
    name: str
    description: str
    base_data_source: str


class ReportTemplatesResponse(ResponseModel):
    data: list[ReportTemplateOut]
