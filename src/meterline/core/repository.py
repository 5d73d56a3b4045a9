"""What every repository shares: organization scoping and keyset pages. SQL lives in repositories only."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.core.pagination import Page, PageRequest, encode_token

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

    def add(self, obj: Any) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: Any) -> None:
        self.session.delete(obj)
        self.session.flush()

    def keyset_page(self, stmt: Select[M], key: InstrumentedAttribute[str], request: PageRequest,
                    descending: bool = False) -> Page[M]:
        """A page in key order (newest last), or newest first with `descending` (its token then reads "before")."""
        if request.after is not None:
            stmt = stmt.where(key < request.after if descending else key > request.after)
        rows = list(self.session.scalars(stmt.order_by(key.desc() if descending else key).limit(request.size + 1)))
        has_more = len(rows) > request.size
        rows = rows[: request.size]
        token = encode_token(getattr(rows[-1], key.key)) if has_more and rows else None
        return Page(items=rows, next_token=token, size=request.size)
