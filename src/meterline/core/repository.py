"""What every repository shares: organization scoping, row locks and keyset pages. SQL lives in repositories only.

A read-modify-write of a shared row (an invoice's paidAmount, an account's aliases or license quantities) reads the
row with `lock_rows` first, and a rule over rows that do not exist yet (a unique name) takes `lock_key` first; both
hold until the transaction ends (docs/architecture.md, "Locks").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, String, any_, bindparam, case, func, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.core.errors import BadRequest
from meterline.core.pagination import Counted, Page, PageRequest, Slice, encode_token

M = TypeVar("M")


class OrgRepository:
    """Every query of a repository built on this is filtered by the organization it was made for."""

    def __init__(self, session: Session, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    def scoped(self, model: type[M]) -> Select[M]:
        return select(model).where(model.org_id == self.org_id)  # type: ignore[attr-defined]

    def insert(self, model: Any) -> Any:
        """The dialect's INSERT for `model`, which takes ON CONFLICT clauses (PostgreSQL's or SQLite's)."""
        dialect = self.session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)

    def count(self, model: Any) -> int:
        """How many rows of `model` the organization has."""
        return int(self.session.scalar(select(func.count()).select_from(model).where(model.org_id == self.org_id)) or 0)

    @property
    def postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def among(self, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
        """`column IN values` with the values as one parameter: an array on PostgreSQL, JSON read by `json_each` on
        SQLite. For the lists of hundreds of ids ingestion looks up per request: an expanding `IN` renders one
        parameter per value at every request (35% of a 1,000-event request's CPU went to three of them,
        docs/performance.md), and its statement cannot be cached whole."""
        ordered = sorted(set(values))
        if self.postgres:
            return column == any_(bindparam(None, ordered, type_=postgresql.ARRAY(String)))  # type: ignore[no-any-return]
        listed = func.json_each(bindparam(None, json.dumps(ordered))).table_valued("value")
        return column.in_(select(listed.c.value))  # type: ignore[no-any-return]

    def lock_rows(self, model: type[M], pks: Iterable[str], *, removal: bool = False) -> list[M]:
        """The organization's rows of `model` with these primary keys (`pk`), read again from the database and
        locked until the transaction ends, in pk order, so that two writers locking overlapping rows take them in
        one order and cannot deadlock. PostgreSQL: SELECT ... FOR NO KEY UPDATE (other writers of these rows wait;
        inserts that merely reference them do not). SQLite: a writing transaction already holds the database's only
        write lock (BEGIN IMMEDIATE), so the read alone is enough.
        `removal`: the rows are about to be deleted (or archived because of what hangs on them): SELECT ... FOR
        UPDATE, which also holds back the inserts that reference them (their foreign key check waits), so nothing
        can be attached to a row while its removal decides what it has."""
        keys = sorted(set(pks))
        if not keys:
            return []
        pk = model.pk  # type: ignore[attr-defined]
        stmt = self.scoped(model).where(pk.in_(keys)).order_by(pk).execution_options(populate_existing=True)
        if self.postgres:
            stmt = stmt.with_for_update() if removal else stmt.with_for_update(key_share=True)
        return list(self.session.scalars(stmt))

    def lock_key(self, kind: str, *parts: str) -> None:
        """Serialize, within the organization, the writers that check and then take `kind` + `parts` (a name that
        must be unique, say) until the transaction ends: a transaction-scoped advisory lock on PostgreSQL; nothing
        on SQLite, whose writers run one at a time. Take keys before row locks (the lock order)."""
        if not self.postgres:
            return
        key = ":".join((kind, self.org_id, *parts))
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    def add(self, obj: Any) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: Any) -> None:
        self.session.delete(obj)
        self.session.flush()

    def keyset_page(
        self, stmt: Select[M], key: InstrumentedAttribute[str], request: PageRequest, descending: bool = False
    ) -> Page[M]:
        """A page in key order (newest last), or newest first with `descending` (its token then reads "before")."""
        if request.after is not None:
            stmt = stmt.where(key < request.after if descending else key > request.after)
        rows = list(self.session.scalars(stmt.order_by(key.desc() if descending else key).limit(request.size + 1)))
        has_more = len(rows) > request.size
        rows = rows[: request.size]
        token = encode_token(getattr(rows[-1], key.key)) if has_more and rows else None
        return Page(items=rows, next_token=token, size=request.size)

    def counted_page(
        self, stmt: Select[M], order: Sequence[ColumnElement[Any]], request: Slice, cap: int | None = None
    ) -> Counted[M]:
        """A slice of `stmt` in `order` (which ends with a unique key, so that pages never overlap or skip a row) and
        how many rows `stmt` has, counted up to `cap` when given (a table too big to count at every page)."""
        counted: Select[Any] = stmt.order_by(None).with_only_columns(literal_column("1"), maintain_column_froms=True)
        if cap is not None:
            counted = counted.limit(cap + 1)
        total = int(self.session.scalar(select(func.count()).select_from(counted.subquery())) or 0)
        rows = list(self.session.scalars(stmt.order_by(*order).offset(request.offset).limit(request.size)))
        if cap is not None and total > cap:
            return Counted(items=rows, total=cap, more=True)
        return Counted(items=rows, total=total)


def sorted_by(column: Any, descending: bool, *, nulls_last: bool = False) -> list[ColumnElement[Any]]:
    """The ORDER BY terms of one column, either way; with `nulls_last`, rows without a value come last either way
    (on both engines, which otherwise disagree on where NULL sorts)."""
    terms: list[ColumnElement[Any]] = [case((column.is_(None), 1), else_=0)] if nulls_last else []
    return [*terms, column.desc() if descending else column.asc()]


def sort_column(columns: Mapping[str, Any], request: Slice) -> Any:
    """The column a slice sorts by, of those a list offers (a key it does not offer is a 400, never a 500)."""
    if request.sort not in columns:
        raise BadRequest(f"sort: {request.sort!r} is not one of {', '.join(columns)}")
    return columns[request.sort]
