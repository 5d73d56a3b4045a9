"""A report's query (`queryInput`: selects, filters, sort, limit over one named source) checked against the fixed
sources (sources.py) and built with SQLAlchemy Core: every name is looked up, every argument is bound as a parameter
of the column's kind. A bad name, operator or argument is a 400 naming the field.

Numbers (Decimal columns): PostgreSQL sums, compares and sorts them exactly (NUMERIC). SQLite stores them as text:
there a filter or a sort on a number column compares them as REAL (15 significant digits), and SUM, MIN and MAX are
computed exactly in Python from the values (the same method as the dashboard's sums, invoicing/reports.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, String, and_, cast, func, not_, select
from sqlalchemy.sql.elements import ColumnElement

from meterline.core import numbers
from meterline.core.clock import as_utc
from meterline.core.errors import BadRequest
from meterline.core.money import exact_sum
from meterline.reports.schemas import QueryColumn, QueryInput
from meterline.reports.sources import DATE, INTEGER, NUMBER, SOURCES, TEXT, TIME, Source

MAX_QUERY_LIMIT = 10_000  # rows of a QUERY report
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # an INTEGER column's range (32-bit on PostgreSQL)
AGGREGATORS = ("SUM", "COUNT", "MIN", "MAX")
OPERATORS = {
    "EQ": "=",
    "NEQ": "!=",
    "GT": ">",
    "GTE": ">=",
    "LT": "<",
    "LTE": "<=",
    "IN": None,
    "NOT_IN": None,
    "BETWEEN": None,
    "CONTAINS": None,
    "STARTS_WITH": None,
    "IS_NULL": None,
    "IS_NOT_NULL": None,
}
_SYMBOLS = {symbol: name for name, symbol in OPERATORS.items() if symbol} | {"==": "EQ", "<>": "NEQ"}


@dataclass(frozen=True)
class OutColumn:
    header: str
    kind: str
    aggregator: str | None
    exact_fold: bool  # SQLite: the values came as one text, folded here (SUM/MIN/MAX of numbers)


@dataclass(frozen=True)
class CompiledQuery:
    statement: Any
    count_statement: Any
    columns: list[OutColumn]
    limit: int
    on: Any = None  # where it runs: None, the organization's database; else a Session (reports/staging.py)

    def rows(self, result_rows: list[Any]) -> list[list[Any]]:
        out = []
        for row in result_rows:
            values = []
            for column, value in zip(self.columns, row, strict=True):
                values.append(_fold(column, value) if column.exact_fold else _typed(column, value))
            out.append(values)
        return out


def _typed(column: OutColumn, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == NUMBER and column.aggregator != "COUNT" and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value


def _fold(column: OutColumn, value: Any) -> Decimal | None:
    if value is None:
        return None
    values = [Decimal(part) for part in str(value).split(" ") if part]
    if not values:
        return None
    if column.aggregator == "SUM":
        return exact_sum(values)
    return min(values) if column.aggregator == "MIN" else max(values)


def _column(source: Source, column: QueryColumn, where: str) -> tuple[Any, str]:
    if column.data_source is not None and column.data_source != source.name:
        raise BadRequest(
            f"{where}.dataSource: must be the baseDataSource {source.name} (a query reads one source); "
            f"got {column.data_source}"
        )
    if column.functions:
        raise BadRequest(f"{where}.functions: no functions are supported; leave it out")
    found = source.columns.get(column.column_name)
    if found is None:
        raise BadRequest(
            f"{where}.columnName: {source.name} has no column {column.column_name}; "
            f"its columns: {', '.join(source.columns)}"
        )
    return found


def argument(kind: str, text: str, where: str) -> Any:
    """A filter's argument as the query reads it (reports/staging.py narrows with it too)."""
    try:
        if kind == NUMBER:
            return numbers.parse(text)
        if kind == INTEGER:
            whole = numbers.parse(text)
            if whole != whole.to_integral_value():
                raise ValueError("not whole")
            if not INT_MIN <= whole <= INT_MAX:  # PostgreSQL would refuse it when the report runs: refused now
                raise BadRequest(f"{where}: must be a whole number from {INT_MIN} to {INT_MAX}; got {text!r}")
            return int(whole)
        if kind == TIME:
            return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
        if kind == DATE:
            return date.fromisoformat(text)
    except (ValueError, ArithmeticError):
        wanted = {NUMBER: "a number", INTEGER: "a whole number", TIME: "an ISO 8601 date-time", DATE: "a date"}[kind]
        raise BadRequest(f"{where}: must be {wanted}; got {text!r}") from None
    return text


def _comparable(expr: Any, kind: str, sqlite: bool) -> Any:
    return cast(expr, Float) if sqlite and kind == NUMBER else expr


def _filter(expr: Any, kind: str, operator: str, args: list[str], where: str, sqlite: bool) -> ColumnElement[bool]:
    name = _SYMBOLS.get(operator, operator.upper())
    if name not in OPERATORS:
        raise BadRequest(f"{where}.operator: must be one of {', '.join(OPERATORS)}; got {operator}")
    wanted = {"IS_NULL": 0, "IS_NOT_NULL": 0, "BETWEEN": 2, "IN": None, "NOT_IN": None}.get(name, 1)
    if wanted is None and not args:
        raise BadRequest(f"{where}.args: {name} takes at least one value")
    if wanted is not None and len(args) != wanted:
        raise BadRequest(f"{where}.args: {name} takes {wanted} value{'s' if wanted != 1 else ''}; got {len(args)}")
    if name == "IS_NULL":
        return expr.is_(None)
    if name == "IS_NOT_NULL":
        return expr.is_not(None)
    if name in ("CONTAINS", "STARTS_WITH"):
        if kind != TEXT:
            raise BadRequest(f"{where}.operator: {name} applies to text columns only")
        escaped = args[0].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%" if name == "CONTAINS" else f"{escaped}%"
        return expr.like(pattern, escape="\\")
    values = [argument(kind, text, f"{where}.args[{n}]") for n, text in enumerate(args)]
    if sqlite and kind == NUMBER:
        expr, values = cast(expr, Float), [float(v) for v in values]
    if name == "IN":
        return expr.in_(values)
    if name == "NOT_IN":
        return not_(expr.in_(values))
    if name == "BETWEEN":
        return and_(expr >= values[0], expr <= values[1])
    return expr.op(OPERATORS[name])(values[0])


def compile_query(
    query: QueryInput,
    org_id: str,
    *,
    sqlite: bool,
    max_limit: int = MAX_QUERY_LIMIT,
    field: str = "queryInput",
) -> CompiledQuery:
    source = SOURCES.get(query.base_data_source)
    if source is None:
        raise BadRequest(
            f"{field}.baseDataSource: no data source {query.base_data_source}; the sources: {', '.join(SOURCES)}"
        )
    if not 1 <= query.limit <= max_limit:
        raise BadRequest(f"{field}.limit: must be from 1 to {max_limit}; got {query.limit}")
    if query.seek_values:
        raise BadRequest(f"{field}.seekValues: not supported; narrow the query with queryFilters instead")

    aggregating = any(c.aggregator for c in query.selects)
    selected: list[Any] = []
    columns: list[OutColumn] = []
    group_by: list[Any] = []
    by_name: dict[str, Any] = {}
    for n, column in enumerate(query.selects):
        where = f"{field}.selects[{n}]"
        expr, kind = _column(source, column, where)
        header = column.alias or (
            f"{column.aggregator.lower()}_{column.column_name}" if column.aggregator else column.column_name
        )
        if header in by_name:
            raise BadRequest(f"{where}.alias: two selects are named {header}; give one an alias")
        aggregator = column.aggregator.upper() if column.aggregator else None
        fold = False
        sort_expr = expr
        if aggregator is not None:
            if aggregator not in AGGREGATORS:
                allowed = ", ".join(AGGREGATORS)
                raise BadRequest(f"{where}.aggregator: must be one of {allowed}; got {column.aggregator}")
            if aggregator == "COUNT":
                expr = sort_expr = func.count(expr)
            elif aggregator == "SUM" and kind not in (NUMBER, INTEGER):
                raise BadRequest(f"{where}.aggregator: SUM applies to number columns; {column.column_name} is {kind}")
            elif sqlite and kind == NUMBER:
                fold = True
                sort_expr = getattr(func, aggregator.lower())(cast(expr, Float))
                expr = func.group_concat(expr, " ", type_=String)
            else:
                expr = sort_expr = getattr(func, aggregator.lower())(expr, type_=expr.type)
        elif aggregating:
            group_by.append(expr)
            sort_expr = _comparable(expr, kind, sqlite)
        else:
            sort_expr = _comparable(expr, kind, sqlite)
        selected.append(expr.label(f"c{n}"))
        columns.append(OutColumn(header, kind if aggregator != "COUNT" else INTEGER, aggregator, fold))
        by_name[header] = sort_expr
        by_name.setdefault(column.column_name if not aggregator else header, sort_expr)

    conditions: list[Any] = [source.org_filter(org_id)]
    for n, query_filter in enumerate(query.query_filters or []):
        where = f"{field}.queryFilters[{n}]"
        if query_filter.column.aggregator:
            raise BadRequest(f"{where}.column.aggregator: filters apply to rows, before any aggregation")
        expr, kind = _column(source, query_filter.column, f"{where}.column")
        conditions.append(_filter(expr, kind, query_filter.operator, query_filter.args, where, sqlite))

    order: list[Any] = []
    for n, sort in enumerate(query.sort):
        where = f"{field}.sort[{n}]"
        direction = sort.sort_order.upper()
        if direction not in ("ASC", "DESC"):
            raise BadRequest(f"{where}.sortOrder: must be ASC or DESC; got {sort.sort_order}")
        if aggregating:
            key = sort.column.alias or (
                f"{sort.column.aggregator.lower()}_{sort.column.column_name}"
                if sort.column.aggregator
                else sort.column.column_name
            )
            if key not in by_name:
                raise BadRequest(f"{where}.column: a query with aggregators sorts by its selects only; {key} is none")
            expr = by_name[key]
        else:
            expr, kind = _column(source, sort.column, f"{where}.column")
            expr = _comparable(expr, kind, sqlite)
        order.append(expr.desc() if direction == "DESC" else expr.asc())

    stmt = source.joins(select(*selected)).where(*conditions)
    if group_by:
        stmt = stmt.group_by(*group_by)
    count = select(func.count()).select_from(stmt.limit(query.limit).subquery())  # never more rows than are written
    stmt = stmt.order_by(*order).limit(query.limit)
    return CompiledQuery(stmt, count, columns, query.limit)
