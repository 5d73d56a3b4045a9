"""Every query of features and feature credits. Row locks follow docs/architecture.md ("Locks"): the entries of an
(account, feature) are locked in pk order, after keys and the account, before invoices."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm.util import identity_key

from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.prepared import Prepared, PreparedWrite, columns, load
from meterline.core.repository import OrgRepository, sort_column, sorted_by
from meterline.entitlements.models import Feature, FeatureConsumption, FeatureCreditEntry, FeatureSchema
from meterline.entitlements.statuses import EntrySource, EntryStatus

ACTIVE = EntryStatus.ACTIVE

# The entitlement reads' statements (entitlements/values.py: a product may ask on each of its own requests), built
# once and run through the driver (core/prepared.py).
_METERED = (
    exists()
    .where(FeatureSchema.org_id == Feature.org_id, FeatureSchema.feature_pk == Feature.pk)
    .correlate(Feature)
    .label("metered")
)
_FEATURES_METERED = Prepared(
    select(*columns(Feature), _METERED).where(Feature.org_id == bindparam("org_id")).order_by(Feature.pk)
)
_FEATURE_METERED = Prepared(
    select(*columns(Feature), _METERED).where(Feature.org_id == bindparam("org_id"), Feature.pk == bindparam("pk"))
)
_FEATURE_COLUMNS = len(columns(Feature))
_OF_SCHEMA = Prepared(
    select(*columns(Feature), *columns(FeatureSchema))
    .join(FeatureSchema, FeatureSchema.feature_pk == Feature.pk)
    .where(FeatureSchema.org_id == bindparam("org_id"), FeatureSchema.schema_name == bindparam("schema_name"))
)
_USABLE_CONDITIONS = (
    FeatureCreditEntry.org_id == bindparam("org_id"),
    FeatureCreditEntry.account_pk == bindparam("account_pk"),
    FeatureCreditEntry.status == ACTIVE,
    FeatureCreditEntry.ends_at > bindparam("after"),
)
_USABLE = Prepared(select(*columns(FeatureCreditEntry)).where(*_USABLE_CONDITIONS).order_by(FeatureCreditEntry.pk))
_USABLE_OF_ONE = Prepared(
    select(*columns(FeatureCreditEntry))
    .where(*_USABLE_CONDITIONS, FeatureCreditEntry.feature_pk == bindparam("feature_pk"))
    .order_by(FeatureCreditEntry.pk)
)
# POST /entitled's lock of the entries it may consume (PostgreSQL: FOR NO KEY UPDATE; SQLite renders no clause: the
# writing transaction holds the database's write lock), and its consumption: driver statements, built once.
_LOCK_USABLE = Prepared(
    select(*columns(FeatureCreditEntry))
    .where(*_USABLE_CONDITIONS, FeatureCreditEntry.feature_pk == bindparam("feature_pk"))
    .order_by(FeatureCreditEntry.pk)
    .with_for_update(key_share=True)
)
_SET_USED = PreparedWrite(
    update(FeatureCreditEntry)
    .where(FeatureCreditEntry.org_id == bindparam("org_id"), FeatureCreditEntry.pk == bindparam("entry_pk"))
    .values(used=bindparam("new_used"), updated_at=bindparam("now"))
)
_ADD_CONSUMPTION = PreparedWrite(insert(FeatureConsumption))  # every column, each a parameter named after it
_CONSUMPTION_KEYS = tuple(c.key for c in columns(FeatureConsumption))


class FeatureRepository(OrgRepository):
    def by_pk(self, pk: str) -> Feature | None:
        return self.session.scalar(self.scoped(Feature).where(Feature.pk == pk))

    def metered(self) -> list[tuple[Feature, bool]]:
        """Every feature, in creation order, and whether it reads an event schema (a metered feature), in one query."""
        rows = _FEATURES_METERED.all(self.session, {"org_id": self.org_id})
        return [(load(Feature, row), bool(row[_FEATURE_COLUMNS])) for row in rows]

    def metered_one(self, pk: str) -> tuple[Feature, bool] | None:
        """The feature and whether it reads an event schema, in one query."""
        row = _FEATURE_METERED.first(self.session, {"org_id": self.org_id, "pk": pk})
        return (load(Feature, row), bool(row[_FEATURE_COLUMNS])) if row is not None else None

    def all(self) -> list[Feature]:
        return list(self.session.scalars(self.scoped(Feature).order_by(Feature.pk)))

    def page(self, request: PageRequest) -> Page[Feature]:
        return self.keyset_page(self.scoped(Feature), Feature.pk, request)

    def associations(self, feature_pks: set[str]) -> dict[str, list[FeatureSchema]]:
        """Each feature's (schema, attribute) pairs, in the order the feature lists them."""
        found: dict[str, list[FeatureSchema]] = {pk: [] for pk in feature_pks}
        if not feature_pks:
            return found
        stmt = self.scoped(FeatureSchema).where(FeatureSchema.feature_pk.in_(sorted(feature_pks)))
        for row in self.session.scalars(stmt.order_by(FeatureSchema.feature_pk, FeatureSchema.position)):
            found[row.feature_pk].append(row)
        return found

    def schema_counts(self, feature_pks: set[str]) -> dict[str, int]:
        counts = dict.fromkeys(feature_pks, 0)
        if not feature_pks:
            return counts
        stmt = (
            select(FeatureSchema.feature_pk, func.count())
            .where(FeatureSchema.org_id == self.org_id, FeatureSchema.feature_pk.in_(sorted(feature_pks)))
            .group_by(FeatureSchema.feature_pk)
        )
        for feature_pk, n in self.session.execute(stmt):
            counts[feature_pk] = int(n)
        return counts

    def of_schema(self, schema_name: str) -> tuple[Feature, FeatureSchema] | None:
        """The feature that reads events of this schema, and which attribute it reads (POST /entitled: for reading,
        the instances are not in the session)."""
        row = _OF_SCHEMA.first(self.session, {"org_id": self.org_id, "schema_name": schema_name})
        return (load(Feature, row), load(FeatureSchema, row, _FEATURE_COLUMNS)) if row is not None else None

    def owners(self, schema_names: set[str]) -> dict[str, str]:
        """schema name -> the feature (pk) that reads it, for the names that have one."""
        if not schema_names:
            return {}
        stmt = select(FeatureSchema.schema_name, FeatureSchema.feature_pk).where(
            FeatureSchema.org_id == self.org_id, FeatureSchema.schema_name.in_(sorted(schema_names))
        )
        return {name: pk for name, pk in self.session.execute(stmt)}

    def replace_associations(self, feature_pk: str, pairs: list[tuple[str, str]]) -> None:
        """The feature reads exactly these (schema, attribute) pairs from now on (a statement, not the ORM's unit of
        work: its deletes would run after the inserts, and a schema kept would collide with itself)."""
        self.session.execute(
            delete(FeatureSchema).where(FeatureSchema.org_id == self.org_id, FeatureSchema.feature_pk == feature_pk)
        )
        for position, (schema_name, attribute_name) in enumerate(pairs):
            self.session.add(
                FeatureSchema(
                    org_id=self.org_id,
                    schema_name=schema_name,
                    feature_pk=feature_pk,
                    attribute_name=attribute_name,
                    position=position,
                )
            )
        self.session.flush()

    # -- the console's list (console/feature_pages.py) -----------------------------------------------------------
    SORTS = {"name": func.lower(Feature.name), "created": Feature.created_at}

    def listed(self, request: Slice) -> Counted[Feature]:
        """A sorted slice of the features, with their count (names case aside; the pk last, so pages never
        overlap)."""
        column = sort_column(self.SORTS, request)
        order = [*sorted_by(column, request.descending), *sorted_by(Feature.pk, request.descending)]
        return self.counted_page(self.scoped(Feature), order, request)


class EntryRepository(OrgRepository):
    def by_entry_id(self, account_pk: str, feature_pk: str, entry_id: str) -> FeatureCreditEntry | None:
        stmt = self.scoped(FeatureCreditEntry).where(
            FeatureCreditEntry.account_pk == account_pk,
            FeatureCreditEntry.feature_pk == feature_pk,
            FeatureCreditEntry.entry_id == entry_id,
        )
        return self.session.scalar(stmt)

    def entry_ids(self, account_pk: str, feature_pks: set[str]) -> set[tuple[str, str]]:
        """(feature pk, entry id) of the account's entries of these features."""
        stmt = select(FeatureCreditEntry.feature_pk, FeatureCreditEntry.entry_id).where(
            FeatureCreditEntry.org_id == self.org_id,
            FeatureCreditEntry.account_pk == account_pk,
            FeatureCreditEntry.feature_pk.in_(sorted(feature_pks)),
        )
        return {(f, e) for f, e in self.session.execute(stmt)}

    def lock_plan_entries(self, account_pk: str, now: datetime) -> list[FeatureCreditEntry]:
        """The account's ACTIVE PRICE_PLAN and OVERAGE entries that have not ended, locked, in pk order."""
        stmt = select(FeatureCreditEntry.pk).where(
            FeatureCreditEntry.org_id == self.org_id,
            FeatureCreditEntry.account_pk == account_pk,
            FeatureCreditEntry.status == ACTIVE,
            FeatureCreditEntry.source.in_([EntrySource.PRICE_PLAN, EntrySource.OVERAGE]),
            FeatureCreditEntry.ends_at > now,
        )
        pks = set(self.session.scalars(stmt))
        locked = self.lock(pks)
        return [locked[pk] for pk in sorted(locked)]

    def overage_used(self, account_pk: str) -> dict[tuple[str, str], Decimal]:
        """(feature pk, entry id) -> used, of the account's OVERAGE entries (what invoices bill), voided ones too."""
        stmt = select(FeatureCreditEntry.feature_pk, FeatureCreditEntry.entry_id, FeatureCreditEntry.used).where(
            FeatureCreditEntry.org_id == self.org_id,
            FeatureCreditEntry.account_pk == account_pk,
            FeatureCreditEntry.source == EntrySource.OVERAGE,
        )
        return {(f, e): used for f, e, used in self.session.execute(stmt)}

    def by_idempotency_key(self, key: str) -> FeatureCreditEntry | None:
        return self.session.scalar(self.scoped(FeatureCreditEntry).where(FeatureCreditEntry.idempotency_key == key))

    def page(self, account_pk: str, feature_pk: str, request: PageRequest) -> Page[FeatureCreditEntry]:
        """Every entry of the account's feature, whatever its status, in the order they were made."""
        stmt = self.scoped(FeatureCreditEntry).where(
            FeatureCreditEntry.account_pk == account_pk, FeatureCreditEntry.feature_pk == feature_pk
        )
        return self.keyset_page(stmt, FeatureCreditEntry.pk, request)

    def usable(self, account_pk: str, feature_pks: set[str] | None, after: datetime) -> list[FeatureCreditEntry]:
        """The account's entries (of these features; all without) that are ACTIVE and end after `after`."""
        if feature_pks is None or len(feature_pks) == 1:  # the entitlement reads (prepared statements)
            params = {"org_id": self.org_id, "account_pk": account_pk, "after": after}
            if feature_pks is None:
                rows = _USABLE.all(self.session, params)
            else:
                [params["feature_pk"]] = feature_pks
                rows = _USABLE_OF_ONE.all(self.session, params)
            return [load(FeatureCreditEntry, row) for row in rows]
        stmt = self.scoped(FeatureCreditEntry).where(
            FeatureCreditEntry.account_pk == account_pk,
            FeatureCreditEntry.status == ACTIVE,
            FeatureCreditEntry.ends_at > after,
        )
        if feature_pks is not None:
            stmt = stmt.where(FeatureCreditEntry.feature_pk.in_(sorted(feature_pks)))
        return list(self.session.scalars(stmt.order_by(FeatureCreditEntry.pk)))

    def lock_usable(self, account_pk: str, feature_pk: str, after: datetime) -> list[FeatureCreditEntry]:
        """`usable`, read again and locked until the transaction ends, in pk order: two consumers of one account's
        feature take turns, and the second reads what the first left (PostgreSQL: SELECT ... FOR NO KEY UPDATE,
        which re-reads a row another transaction changed before returning it; SQLite: the writing transaction
        already holds the database's only write lock)."""
        params = {"org_id": self.org_id, "account_pk": account_pk, "feature_pk": feature_pk, "after": after}
        return [load(FeatureCreditEntry, row) for row in _LOCK_USABLE.all(self.session, params)]

    def consumed(self, entries: list[FeatureCreditEntry], consumptions: list[FeatureConsumption]) -> None:
        """Store a consumption: each entry's new `used` and `updated_at` (entries locked by `lock_usable`, changed
        by the caller), and the consumption rows, through driver statements (the ORM's flush of the same cost more
        than the rest of the consumption). A copy of an entry the session holds is expired: read again if used."""
        changed = [{"org_id": self.org_id, "entry_pk": e.pk, "new_used": e.used, "now": e.updated_at} for e in entries]
        if _SET_USED.run(self.session, changed) != len(changed):  # pragma: no cover - locked, never deleted
            raise RuntimeError("a locked feature credit entry was not found")
        _ADD_CONSUMPTION.run(self.session, [{key: getattr(c, key) for key in _CONSUMPTION_KEYS} for c in consumptions])
        held = self.session.identity_map
        for entry in entries:
            copy = held.get(identity_key(FeatureCreditEntry, (entry.pk,)))
            if copy is not None:
                self.session.expire(copy, ["used", "updated_at"])

    def lock(self, pks: set[str]) -> dict[str, FeatureCreditEntry]:
        return {e.pk: e for e in self.lock_rows(FeatureCreditEntry, pks)}

    def unrefunded(self, event_pk: str) -> list[FeatureConsumption]:
        """What an entitled event consumed and has not been given back, in the order it was consumed."""
        stmt = self.scoped(FeatureConsumption).where(
            FeatureConsumption.event_pk == event_pk, FeatureConsumption.refunded_at.is_(None)
        )
        return list(self.session.scalars(stmt.order_by(FeatureConsumption.pk)))

    def given_back(self, event_pk: str) -> list[tuple[str, str, Decimal, bool]]:
        """(feature pk, the consumed entry's source, units, whether they came back as a REFUND entry) of what an UNDO
        of the event gave back (an OVERAGE entry's units are taken off its `used` instead; a voided or expired
        entry's are not given back)."""
        stmt = (
            select(
                FeatureCreditEntry.feature_pk,
                FeatureCreditEntry.source,
                FeatureConsumption.units,
                FeatureConsumption.refund_entry_pk,
            )
            .join(FeatureCreditEntry, FeatureCreditEntry.pk == FeatureConsumption.entry_pk)
            .where(
                FeatureConsumption.org_id == self.org_id,
                FeatureConsumption.event_pk == event_pk,
                FeatureConsumption.refunded_at.is_not(None),
            )
            .order_by(FeatureConsumption.pk)
        )
        rows = self.session.execute(stmt)
        return [(feature, str(source), units, refund is not None) for feature, source, units, refund in rows]

    def consumptions(self, entry_pks: set[str]) -> dict[str, list[FeatureConsumption]]:
        found: dict[str, list[FeatureConsumption]] = defaultdict(list)
        if not entry_pks:
            return found
        stmt = self.scoped(FeatureConsumption).where(FeatureConsumption.entry_pk.in_(sorted(entry_pks)))
        for row in self.session.scalars(stmt.order_by(FeatureConsumption.pk)):
            found[row.entry_pk].append(row)
        return found

    # -- the console's reads (entitlements/reads.py) --------------------------------------------------------------
    ENTRY_SORTS = {"made": FeatureCreditEntry.pk}

    def listed(self, account_pk: str, feature_pk: str, request: Slice) -> Counted[FeatureCreditEntry]:
        """A slice of the account's entries of the feature, whatever their status, in the order they were made (or
        newest first), with their count."""
        stmt = self.scoped(FeatureCreditEntry).where(
            FeatureCreditEntry.account_pk == account_pk, FeatureCreditEntry.feature_pk == feature_pk
        )
        column = sort_column(self.ENTRY_SORTS, request)
        return self.counted_page(stmt, sorted_by(column, request.descending), request)

    def holders(self, feature_pk: str, after: datetime, limit: int) -> list[str]:
        """The accounts (pks, in pk order, at most `limit`) with an ACTIVE entry of the feature that ends after
        `after`."""
        stmt = (
            select(FeatureCreditEntry.account_pk)
            .where(
                FeatureCreditEntry.org_id == self.org_id,
                FeatureCreditEntry.feature_pk == feature_pk,
                FeatureCreditEntry.status == ACTIVE,
                FeatureCreditEntry.ends_at > after,
            )
            .distinct()
            .order_by(FeatureCreditEntry.account_pk)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))
