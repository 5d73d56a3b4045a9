"""The ClickHouse usage store's SQL on a current ClickHouse engine: chdb (PyPI) embeds one in this process. The tests'
server is Debian's ClickHouse 18.16 (tests/clickhouse_server.py); production runs current releases, so the very same
SQL text that `ClickHouseUsage` builds is run here too (tests/unit/test_clickhouse_sql_current_engine.py).

Only `execute` differs. Its parameters are substituted with clickhouse-driver's own client-side substitution (what the
native client does before it sends a query); an INSERT's rows, which the native client sends as binary blocks, are
written as a VALUES list with the driver's escaping (Decimals in plain notation, exact). The answer is read from
JSONCompact with its column types and returned as the native driver returns it: int for (U)Int columns, Decimal
(exact, never through a float) for Decimal columns, str for String, lists for arrays."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.util.escape import escape_param

from meterline.events.clickhouse import ClickHouseError, ClickHouseUsage

_INTEGER = re.compile(r"U?Int(8|16|32|64|128|256)")


def _value(column_type: str, value: Any) -> Any:
    """One value of a JSONCompact answer, as the native driver gives a column of `column_type`."""
    if column_type.startswith("Nullable(") and column_type.endswith(")"):
        return None if value is None else _value(column_type[9:-1], value)
    if column_type.startswith("Decimal"):
        if not isinstance(value, Decimal | int | str):  # json.loads below parses numbers with a fraction as Decimal
            raise TypeError(f"a {column_type} value came as {value!r}")
        return Decimal(str(value))
    if _INTEGER.fullmatch(column_type):
        return int(value)  # 64-bit integers may come quoted
    if column_type == "String":
        if not isinstance(value, str):
            raise TypeError(f"a String value came as {value!r}")
        return value
    if column_type.startswith("Array(") and column_type.endswith(")"):
        return [_value(column_type[6:-1], item) for item in value]
    raise TypeError(f"no conversion for a {column_type} column here (add it, as the native driver returns it)")


class ChdbUsage(ClickHouseUsage):
    """`ClickHouseUsage` on a chdb session (`chdb.session.Session`), database `database` in it."""

    def __init__(self, session: Any, database: str = "meterline") -> None:
        super().__init__(f"clickhouse://chdb/{database}")
        self.session = session
        self._driver = Client("localhost")  # never connects: it lends its client-side parameter substitution
        self.statements: list[str] = []  # every statement run, as sent (for a failing test's message)

    def render(self, sql: str, params: Any = None) -> str:
        """`sql` with `params` in it, as the native client would send it (an INSERT's rows as a VALUES list)."""
        context = self._driver.connection.context
        if params is None:
            return sql
        if isinstance(params, dict):
            return str(self._driver.substitute_params(sql, params, context))
        if not sql.rstrip().upper().endswith("VALUES"):
            raise ValueError(f"rows given to a statement that is not an INSERT ... VALUES: {sql!r}")
        rows: Sequence[Sequence[Any]] = params
        values = ", ".join(
            "("
            + ", ".join(format(v, "f") if isinstance(v, Decimal) else str(escape_param(v, context)) for v in row)
            + ")"
            for row in rows
        )
        return f"{sql.rstrip()} {values}"

    def execute(
        self, sql: str, params: Any = None, *, sets: dict[str, Sequence[str]] | None = None
    ) -> list[tuple[Any, ...]]:
        # chdb takes no external tables: each set becomes a Memory table of the same name and column, in the session's
        # current database, where the statement's unqualified `(SELECT v FROM name)` finds it
        for name, values in (sets or {}).items():
            self._run(f"DROP TABLE IF EXISTS {name}")
            self._run(f"CREATE TABLE {name} (v String) ENGINE = Memory")
            if values:
                self._run(self.render(f"INSERT INTO {name} (v) VALUES", [(v,) for v in values]))
        return self._run(self.render(sql, params))

    def _run(self, text: str) -> list[tuple[Any, ...]]:
        self.statements.append(text)
        try:
            result = self.session.query(text, "JSONCompact")
        except Exception as exc:  # chdb's ChdbError (a RuntimeError), as the server's errors are the driver's
            raise ClickHouseError(f"chdb: {exc}".splitlines()[0]) from exc
        raw = result.bytes()
        if not raw:  # DDL, INSERT, OPTIMIZE: no result set
            return []
        answer = json.loads(raw, parse_float=Decimal)
        types = [column["type"] for column in answer["meta"]]
        return [tuple(_value(t, v) for t, v in zip(types, row, strict=True)) for row in answer["data"]]
