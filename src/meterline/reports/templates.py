"""The report templates Meterline ships: each a query over the fixed sources (sources.py), for a period
[fromDate, toDate) and optionally one account. docs/reports.md lists them with their columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterline.core.clock import isoformat_z
from meterline.reports.schemas import QueryInput

MAX_TEMPLATE_ROWS = 100_000


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    source: str
    period_column: str
    build: Callable[[], dict[str, Any]]  # the query's selects, extra filters and sort (camelCase JSON)

    def query(self, start: datetime, end: datetime, account_id: str | None) -> QueryInput:
        body = self.build()
        filters = [
            {"column": {"columnName": self.period_column}, "operator": "GTE", "args": [isoformat_z(start)]},
            {"column": {"columnName": self.period_column}, "operator": "LT", "args": [isoformat_z(end)]},
            *body.get("queryFilters", []),
        ]
        if account_id is not None:
            filters.append({"column": {"columnName": "accountId"}, "operator": "EQ", "args": [account_id]})
        return QueryInput.model_validate(
            {
                "baseDataSource": self.source,
                "selects": body["selects"],
                "queryFilters": filters,
                "sort": body["sort"],
                "limit": MAX_TEMPLATE_ROWS,
            }
        )


def _cols(*names: str) -> list[dict[str, Any]]:
    return [{"columnName": name} for name in names]


def _sort(*names: str) -> list[dict[str, Any]]:
    return [{"column": {"columnName": name}, "sortOrder": "ASC"} for name in names]


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template(
            "invoices_per_period",
            "Invoices per period",
            "Every finalized invoice dated in the period, with its totals",
            "invoices",
            "invoiceDate",
            lambda: {
                "selects": _cols(
                    "invoiceNumber",
                    "id",
                    "status",
                    "accountId",
                    "customerId",
                    "currency",
                    "invoiceDate",
                    "startDate",
                    "endDate",
                    "dueDate",
                    "totalAmount",
                    "paidAmount",
                ),
                "queryFilters": [{"column": {"columnName": "status"}, "operator": "NEQ", "args": ["DRAFT"]}],
                "sort": _sort("invoiceDate", "id"),
            },
        ),
        Template(
            "revenue_per_customer_and_plan",
            "Revenue per customer and plan",
            "Invoiced totals of the period per customer, price plan and currency (finalized, not VOID)",
            "invoices",
            "invoiceDate",
            lambda: {
                "selects": [
                    *_cols("customerId", "customerName", "pricePlanId", "currency"),
                    {"columnName": "totalAmount", "aggregator": "SUM", "alias": "revenue"},
                    {"columnName": "id", "aggregator": "COUNT", "alias": "invoices"},
                ],
                "queryFilters": [{"column": {"columnName": "status"}, "operator": "NOT_IN", "args": ["DRAFT", "VOID"]}],
                "sort": _sort("customerId", "pricePlanId", "currency"),
            },
        ),
        Template(
            "usage_per_account_and_meter",
            "Usage per account and meter",
            "What each meter counted for each account in the period",
            "usage",
            "bucketStart",
            lambda: {
                "selects": [
                    *_cols("accountId", "customerId", "usageMeterId", "usageMeterName"),
                    {"columnName": "usage", "aggregator": "SUM", "alias": "usage"},
                    {"columnName": "events", "aggregator": "SUM", "alias": "events"},
                ],
                "sort": _sort("accountId", "usageMeterId"),
            },
        ),
        Template(
            "credit_ledger",
            "Credits ledger",
            "Every credit transaction of the period: grants, consumption, give-backs, expiries, voids",
            "credit_transactions",
            "createdAt",
            lambda: {
                "selects": _cols("createdAt", "id", "creditId", "accountId", "type", "currency", "amount", "invoiceId"),
                "sort": _sort("createdAt", "id"),
            },
        ),
        Template(
            "wallet_ledger",
            "Wallet ledger",
            "Every wallet entry of the period with the balance after it",
            "wallet_entries",
            "createdAt",
            lambda: {
                "selects": _cols(
                    "createdAt",
                    "id",
                    "accountId",
                    "type",
                    "currency",
                    "amount",
                    "closingBalance",
                    "description",
                    "invoiceId",
                ),
                "sort": _sort("createdAt", "id"),
            },
        ),
        Template(
            "failed_events",
            "Failed events",
            "Events ingested in the period that failed, with the reason",
            "events",
            "ingestedAt",
            lambda: {
                "selects": _cols(
                    "ingestedAt",
                    "referenceId",
                    "eventId",
                    "schemaName",
                    "accountId",
                    "timestamp",
                    "status",
                    "statusDescription",
                ),
                "queryFilters": [
                    {"column": {"columnName": "status"}, "operator": "STARTS_WITH", "args": ["INGESTION_FAILED"]}
                ],
                "sort": _sort("ingestedAt", "referenceId"),
            },
        ),
    )
}
