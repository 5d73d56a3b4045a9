"""A report query is built from looked-up names and bound parameters only (reports/query.py): what a request sends
never appears in the SQL text; the CSV's cells (reports/service.py `cell`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from meterline.core.errors import BadRequest
from meterline.reports.query import compile_query
from meterline.reports.schemas import QueryInput
from meterline.reports.service import cell
from meterline.reports.sources import NUMBER, SOURCES, TEXT

EVIL = "x' OR '1'='1'; DROP TABLE invoices; --"


def _query(**changes: object) -> QueryInput:
    body: dict[str, object] = {
        "baseDataSource": "invoices",
        "selects": [{"columnName": "id"}, {"columnName": "totalAmount", "aggregator": "SUM", "alias": "total"}],
        "queryFilters": [
            {"column": {"columnName": "customerId"}, "operator": "IN", "args": [EVIL, "acme"]},
            {"column": {"columnName": "status"}, "operator": "CONTAINS", "args": ["50%_off"]},
            {"column": {"columnName": "totalAmount"}, "operator": "BETWEEN", "args": ["1.5", "10"]},
        ],
        "sort": [{"column": {"columnName": "totalAmount", "aggregator": "SUM", "alias": "total"}, "sortOrder": "DESC"}],
        "limit": 5,
    }
    return QueryInput.model_validate({**body, **changes})


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_request_values_are_bound_never_written_into_the_sql(dialect: object) -> None:
    compiled = compile_query(_query(), "org.a", sqlite=isinstance(dialect, sqlite.dialect))
    statement = compiled.statement.compile(dialect=dialect)
    text = str(statement)
    assert EVIL not in text and "50%_off" not in text and "DROP" not in text
    params = [v for value in statement.params.values() for v in (value if isinstance(value, list) else [value])]
    assert EVIL in params and "%50\\%\\_off%" in params and "org.a" in params
    assert "GROUP BY" in text and "LIMIT" in text
    assert [c.header for c in compiled.columns] == ["id", "total"]


def test_sqlite_sums_numbers_exactly_from_their_text() -> None:
    compiled = compile_query(_query(), "org.a", sqlite=True)
    assert compiled.rows([("inv.1", "0.1 0.2 1000000000000.000000000001")]) == [
        ["inv.1", Decimal("1000000000000.300000000001")]
    ]
    assert compile_query(_query(), "org.a", sqlite=False).rows([("inv.1", Decimal("0.3"))]) == [
        ["inv.1", Decimal("0.3")]
    ]


def test_every_source_column_is_a_column_expression() -> None:
    for source in SOURCES.values():
        for name, (expr, kind) in source.columns.items():
            assert hasattr(expr, "label") and kind in ("text", "number", "integer", "time", "date"), (source.name, name)


def test_a_name_is_looked_up_or_refused() -> None:
    with pytest.raises(BadRequest, match=r"^queryInput.selects\[0\].columnName: invoices has no column id\)"):
        compile_query(_query(selects=[{"columnName": "id)"}]), "org.a", sqlite=True)
    with pytest.raises(BadRequest, match=r"^queryInput.sort\[0\].column: a query with aggregators sorts by its"):
        compile_query(
            _query(sort=[{"column": {"columnName": "status"}, "sortOrder": "ASC"}]),
            "org.a",
            sqlite=True,
        )
    with pytest.raises(BadRequest, match=r"^queryInput.queryFilters\[0\].column.aggregator: filters apply to rows"):
        filters = [{"column": {"columnName": "id", "aggregator": "COUNT"}, "operator": "EQ", "args": ["1"]}]
        compile_query(_query(queryFilters=filters), "org.a", sqlite=True)
    with pytest.raises(BadRequest, match=r"^queryInput.selects\[1\].dataSource: must be the baseDataSource invoices"):
        selects = [{"columnName": "id"}, {"columnName": "id", "dataSource": "accounts", "alias": "x"}]
        compile_query(_query(selects=selects, sort=[]), "org.a", sqlite=True)
    with pytest.raises(BadRequest, match=r"^queryInput.selects\[1\].alias: two selects are named id"):
        compile_query(
            _query(selects=[{"columnName": "id"}, {"columnName": "id"}], sort=[]),
            "org.a",
            sqlite=True,
        )


def test_cells_are_exact_utc_and_safe_in_a_spreadsheet() -> None:
    assert cell(Decimal("1E+2"), NUMBER) == "100" and cell(Decimal("-0.50"), NUMBER) == "-0.50"
    assert cell(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), TEXT) == "2026-01-02T03:04:05Z"
    assert cell(date(2026, 1, 2), TEXT) == "2026-01-02" and cell(None, TEXT) == ""
    for formula in ('=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "\tx"):
        assert cell(formula, TEXT) == "'" + formula
    assert cell("Acme", TEXT) == "Acme" and cell(-3, "integer") == "-3"


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_the_row_count_stops_at_the_limit(dialect: object) -> None:
    """The runner shows `min(count, limit)` rows to come: the count reads at most `limit` rows (it scanned every
    matching row of the source, the whole of a large events table for a query without filters)."""
    query = QueryInput.model_validate(
        {"baseDataSource": "events", "selects": [{"columnName": "eventId"}], "sort": [], "limit": 7}
    )
    compiled = compile_query(query, "org.a", sqlite=isinstance(dialect, sqlite.dialect))
    counted = compiled.count_statement.compile(dialect=dialect)
    assert "LIMIT" in str(counted) and 7 in counted.params.values()
