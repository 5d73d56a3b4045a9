"""The event store's SQL: events, deduplication claims, usage rollups. Dialect differences stay in here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.events.models import Event, EventId, UsageRollup

UsageKey = tuple[str, str, datetime]  # (account_pk, meter_id, bucket_start)


class EventStore(OrgRepository):
    def _dialect_insert(self, model: Any) -> Any:
        name = self.session.get_bind().dialect.name
        return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)

    # -- writes ----------------------------------------------------------------------------------------------
    def claim_ids(self, event_ids: list[str], now: datetime) -> set[str]:
        """Claim each id for this organization; returns the ids claimed now (the others were already taken).

        Atomic with the rest of the transaction: a concurrent claim of the same id waits for this one to commit or
        roll back, so an id is claimed once whatever the interleaving.
        """
        if not event_ids:
            return set()
        # Sorted: concurrent batches then take their row locks in one order and cannot deadlock.
        stmt = (
            self._dialect_insert(EventId)
            .values([{"org_id": self.org_id, "event_id": i, "claimed_at": now} for i in sorted(set(event_ids))])
            .on_conflict_do_nothing(index_elements=["org_id", "event_id"])
            .returning(EventId.event_id)
        )
        return set(self.session.scalars(stmt))

    def add_events(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(Event), rows)

    def add_usage(self, increments: dict[UsageKey, tuple[Decimal, int]]) -> None:
        """Add quantities and event counts to their buckets."""
        if not increments:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = self._dialect_insert(UsageRollup)
            stmt = stmt.on_conflict_do_update(
                index_elements=["org_id", "account_pk", "meter_id", "bucket_start"],
                set_={
                    "quantity": UsageRollup.quantity + stmt.excluded.quantity,
                    "events": UsageRollup.events + stmt.excluded.events,
                },
            )
            self.session.execute(stmt, self._rollup_rows(increments))
            return
        # SQLite keeps decimals as text, which SQL cannot add exactly: read, add in Python, write back. Safe,
        # since a writing transaction holds SQLite's only write lock from its start.
        current = {
            (r.account_pk, r.meter_id, r.bucket_start): (r.quantity, r.events)
            for r in self.session.execute(
                select(UsageRollup.account_pk, UsageRollup.meter_id, UsageRollup.bucket_start,
                       UsageRollup.quantity, UsageRollup.events).where(
                    UsageRollup.org_id == self.org_id,
                    tuple_(UsageRollup.account_pk, UsageRollup.meter_id, UsageRollup.bucket_start).in_(
                        list(increments)
                    ),
                )
            )
        }
        totals = {
            key: (current.get(key, (Decimal(0), 0))[0] + qty, current.get(key, (Decimal(0), 0))[1] + n)
            for key, (qty, n) in increments.items()
        }
        stmt = self._dialect_insert(UsageRollup)
        stmt = stmt.on_conflict_do_update(
            index_elements=["org_id", "account_pk", "meter_id", "bucket_start"],
            set_={"quantity": stmt.excluded.quantity, "events": stmt.excluded.events},
        )
        self.session.execute(stmt, self._rollup_rows(totals))

    def _rollup_rows(self, values: dict[UsageKey, tuple[Decimal, int]]) -> list[dict[str, Any]]:
        # Sorted, like the id claims, so that concurrent writers lock rollup rows in one order.
        return [
            {"org_id": self.org_id, "account_pk": a, "meter_id": m, "bucket_start": b, "quantity": q, "events": n}
            for (a, m, b), (q, n) in sorted(values.items())
        ]

    def forget_ids_before(self, before: datetime) -> int:
        """End the deduplication window: ids claimed before `before` may be used again."""
        result = self.session.execute(
            delete(EventId).where(EventId.org_id == self.org_id, EventId.claimed_at < before)
        )
        return int(result.rowcount or 0)

    # -- reads -----------------------------------------------------------------------------------------------
    def usage(
        self, account_pk: str, meter_ids: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, tuple[Decimal, int]]:
        """(quantity, events) per meter over whole buckets in [start, end)."""
        meter_ids = list(meter_ids)
        result = {m: (Decimal(0), 0) for m in meter_ids}
        if not meter_ids:
            return result
        where = (
            UsageRollup.org_id == self.org_id,
            UsageRollup.account_pk == account_pk,
            UsageRollup.meter_id.in_(meter_ids),
            UsageRollup.bucket_start >= start,
            UsageRollup.bucket_start < end,
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = select(UsageRollup.meter_id, func.sum(UsageRollup.quantity), func.sum(UsageRollup.events))
            for meter_id, qty, n in self.session.execute(stmt.where(*where).group_by(UsageRollup.meter_id)):
                result[meter_id] = (Decimal(qty), int(n))
            return result
        rows = self.session.execute(select(UsageRollup.meter_id, UsageRollup.quantity, UsageRollup.events).where(*where))
        for meter_id, qty, n in rows:
            total, count = result[meter_id]
            result[meter_id] = (total + qty, count + n)
        return result

    def page(
        self,
        request: PageRequest,
        *,
        account_pk: str | None = None,
        status: str | None = None,
        schema_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Page[Event]:
        stmt = self.scoped(Event)
        if account_pk is not None:
            stmt = stmt.where(Event.account_pk == account_pk)
        if status is not None:
            stmt = stmt.where(Event.status == status)
        if schema_name is not None:
            stmt = stmt.where(Event.schema_name == schema_name)
        if start is not None:
            stmt = stmt.where(Event.timestamp >= start)
        if end is not None:
            stmt = stmt.where(Event.timestamp < end)
        return self.keyset_page(stmt, Event.pk, request)

    def by_event_id(self, event_id: str) -> list[Event]:
        return list(self.session.scalars(self.scoped(Event).where(Event.event_id == event_id).order_by(Event.pk)))
