"""Feature credits (EntitlementsApi): entries, their consumption by entitled events, refunds, updates, voids and
balances (docs/entitlements.md).

- An entry grants `granted` units of a feature to an account over [effectiveFrom, effectiveUntil). Its status is
  VOIDED once voided, else EXPIRED from `effectiveUntil` on (read from the instant of the read: no job), else ACTIVE.
  Its balance is granted - used while ACTIVE, 0 once EXPIRED or VOIDED (what is left can no longer be used).
- `POST /entitled` (EntitledIngestion) ingests an event only when the account's entries of the event's feature
  cover its units, and consumes them in one order: the entry that ends first, then the one that started first, then
  the one made first. An entry covers an event when it is ACTIVE now and the event's timestamp is inside its window.
  Each piece consumed is a FeatureConsumption row (event -> entry, units); `used` is their sum.
- An UNDO of an entitled event gives its units back as REFUND entries, one per entry it consumed that is still
  ACTIVE (same window as that entry); units of an entry voided or expired since are not given back. REDO and
  REDO_EVENT of an entitled event are refused: they would ingest it again without the credit check.
- Never overdrawn: a consumer locks the (account, feature) entries it may consume (pk order) before it ingests, so
  concurrent consumers take turns and each reads what the previous one left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core import numbers
from meterline.core.clock import BEGINNING_OF_TIME, END_OF_TIME, isoformat_z
from meterline.core.errors import BadRequest, Conflict, MeterlineError, NotFound
from meterline.core.ids import new_id
from meterline.core.money import EXACT
from meterline.core.pagination import Page, PageRequest
from meterline.core.prepared import loaded
from meterline.entitlements.models import Feature, FeatureConsumption, FeatureCreditEntry
from meterline.entitlements.repository import EntryRepository, FeatureRepository
from meterline.entitlements.statuses import EntrySource, EntryStatus
from meterline.events.models import Event as StoredEvent
from meterline.events.service import IngestionService, InvoicedUntilOf, Result
from meterline.events.wire import Event
from meterline.tenancy.context import Context
from meterline.webhooks import outbox

ACTIVE, EXPIRED, VOIDED = EntryStatus.ACTIVE, EntryStatus.EXPIRED, EntryStatus.VOIDED
ENTITLEMENT, PRICE_PLAN, OVERAGE, REFUND = (
    EntrySource.ENTITLEMENT,
    EntrySource.PRICE_PLAN,
    EntrySource.OVERAGE,
    EntrySource.REFUND,
)
ENTRY_ID_MAX = 50  # the SDK's limit on FeatureCreditEntry.id and on the entry_id path parameter
ZERO = Decimal(0)
UNLIMITED = Decimal("Infinity")  # what an entry without `granted` (an OVERAGE entry with no maxQuantity) grants


class InsufficientCredits(MeterlineError):
    """The account's feature credits do not cover an entitled event (422: nothing was stored)."""

    status_code = 422
    code = "insufficient_credits"


# -- pure rules --------------------------------------------------------------------------------------------------
def entry_status(entry: FeatureCreditEntry, now: datetime) -> EntryStatus:
    if entry.status == VOIDED:
        return VOIDED
    return EXPIRED if entry.ends_at <= now else ACTIVE


def entry_granted(entry: FeatureCreditEntry) -> Decimal:
    """What the entry grants; UNLIMITED (Decimal infinity) for an OVERAGE entry without a limit."""
    return UNLIMITED if entry.granted is None else entry.granted


def entry_balance(entry: FeatureCreditEntry, now: datetime) -> Decimal:
    """What can still be used of the entry: granted - used while ACTIVE (UNLIMITED without a limit), 0 once EXPIRED
    or VOIDED."""
    if entry_status(entry, now) != ACTIVE:
        return ZERO
    return UNLIMITED if entry.granted is None else EXACT.subtract(entry.granted, entry.used)


def covering(entries: Iterable[FeatureCreditEntry], at: datetime, now: datetime) -> list[FeatureCreditEntry]:
    """The entries that may pay for an event timestamped `at`, read at `now`, in the order they are consumed: ACTIVE
    now, `at` inside [effectiveFrom, effectiveUntil), something left; OVERAGE entries after all others (overage is
    billed); then the one ending first, then the one that started first, then the one made first (pks sort by
    creation)."""
    usable = [
        e
        for e in entries
        if e.starts_at <= at < e.ends_at and entry_balance(e, now) > 0 and entry_status(e, now) == ACTIVE
    ]
    return sorted(usable, key=lambda e: (e.source == OVERAGE, e.ends_at, e.starts_at, e.pk))


def take(entries: list[FeatureCreditEntry], units: Decimal, now: datetime) -> list[tuple[FeatureCreditEntry, Decimal]]:
    """How `units` are taken from `entries` (already in consumption order): as much as possible from each in turn.
    The caller has checked that they cover the units."""
    plan: list[tuple[FeatureCreditEntry, Decimal]] = []
    left = units
    for entry in entries:
        if left <= 0:
            break
        piece = min(entry_balance(entry, now), left)
        plan.append((entry, piece))
        left = EXACT.subtract(left, piece)
    return plan


def cycle_entry_id(schedule_id: str, cycle_start: date, source: EntrySource) -> str:
    """The id of the entry a schedule grants for a cycle: `scheduleId#YYYYMMDD$PRICE_PLAN` (or `$OVERAGE`), the day
    the cycle starts in the organization's timezone. A schedule id (`ps.` + 26) gives 49 characters at most."""
    entry_id = f"{schedule_id}#{cycle_start:%Y%m%d}${source}"
    if len(entry_id) > ENTRY_ID_MAX:  # pragma: no cover - schedule ids are 29 characters
        raise ValueError(f"entry id {entry_id} is longer than {ENTRY_ID_MAX} characters")
    return entry_id


def refund_entry_id(event_pk: str, n: int) -> str:
    """`<referenceId of the reverted event>#<n>$REFUND`: n counts the entries it gave back to, from 1."""
    return f"{event_pk}#{n}${REFUND}"


# -- values ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """A grant of feature credits. `entry_id` None: `ent.<26 characters>$ENTITLEMENT`; given, the grant is
    idempotent: an entry with that id for the account's feature is returned as it is (the plan step grants each
    cycle's entry under `cycle_entry_id`, as often as a bill run reruns)."""

    account_id: str
    feature_id: str
    granted: Decimal
    effective_from: datetime | None = None  # None: no start (1970-01-01T00:00:00Z), as an alias's
    effective_until: datetime | None = None  # None: no end (9999-12-31T00:00:00Z)
    source: EntrySource = ENTITLEMENT
    entry_id: str | None = None
    origin: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Credits:
    """An account's credits of a feature now, from the entries in effect (ACTIVE, effectiveFrom <= now): `granted`
    and `balance` of every entry but OVERAGE ones; `overage_limit` what the OVERAGE entries allow (None without one,
    or when one has no limit) and `used_overage` what was used of them."""

    granted: Decimal
    balance: Decimal
    used_overage: Decimal = ZERO
    overage_limit: Decimal | None = None
    has_unlimited_overage: bool = False

    @property
    def room(self) -> Decimal:
        """What an entitled event may still take now: the balance and the overage left (UNLIMITED without limit)."""
        if self.overage_limit is None:
            return UNLIMITED if self.has_unlimited_overage else self.balance
        return EXACT.add(self.balance, max(ZERO, EXACT.subtract(self.overage_limit, self.used_overage)))


class FeatureCreditService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = EntryRepository(ctx.session, ctx.org_id)
        self.features = FeatureRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)

    def account(self, account_id: str) -> Account:
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    def feature(self, feature_id: str) -> Feature:
        feature = self.features.by_pk(feature_id)
        if feature is None:
            raise NotFound(f"Feature {feature_id} not found")
        return feature

    def entry(self, account_id: str, feature_id: str, entry_id: str) -> FeatureCreditEntry:
        account, feature = self.account(account_id), self.feature(feature_id)
        entry = self.repo.by_entry_id(account.pk, feature.pk, entry_id)
        if entry is None:
            raise NotFound(f"Entry {entry_id} of feature {feature_id} for account {account_id} not found")
        return entry

    # -- grants ---------------------------------------------------------------------------------------------------
    def grant(self, grant: Grant) -> FeatureCreditEntry:
        """Add an entry (the plan step and Meterline's extension route call this)."""
        account, feature = self.account(grant.account_id), self.feature(grant.feature_id)
        if grant.idempotency_key is not None:
            self.repo.lock_key("feature-grant-idempotency", grant.idempotency_key)
            found = self.repo.by_idempotency_key(grant.idempotency_key)
            if found is not None:
                if (found.account_pk, found.feature_pk, found.granted) != (account.pk, feature.pk, grant.granted):
                    raise Conflict(
                        f"idempotencyKey {grant.idempotency_key[:60]!r} was used for another grant (entry "
                        f"{found.entry_id}: {numbers.plain(entry_granted(found))} units of feature {found.feature_pk}"
                        f"{'' if found.account_pk == account.pk else ', to another account'}): send a new key for a "
                        "new grant, or this one's body again to read it back"
                    )
                return found
        try:
            granted = numbers.bounded(grant.granted)
        except numbers.NumberError as exc:
            raise BadRequest(f"granted: {exc}") from None
        if granted <= 0:
            raise BadRequest("granted: must be more than 0 (units of the feature)")
        starts = grant.effective_from or BEGINNING_OF_TIME
        ends = grant.effective_until or END_OF_TIME
        for name, moment in (("effectiveFrom", starts), ("effectiveUntil", ends)):
            if moment.tzinfo is None or not BEGINNING_OF_TIME <= moment <= END_OF_TIME:
                raise BadRequest(f"{name}: must be a UTC date-time from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z")
        if ends <= starts:
            raise BadRequest("effectiveUntil must be after effectiveFrom")
        if grant.entry_id is not None:
            if not 1 <= len(grant.entry_id) <= ENTRY_ID_MAX:
                raise BadRequest(f"an entry id has 1 to {ENTRY_ID_MAX} characters: {grant.entry_id!r}")
            self.repo.lock_key("feature-entry", account.pk, feature.pk, grant.entry_id)
            found = self.repo.by_entry_id(account.pk, feature.pk, grant.entry_id)
            if found is not None:
                return found
        entry_id = grant.entry_id or f"{new_id('ent')}${ENTITLEMENT}"
        return self.add_entry(
            account.pk,
            feature.pk,
            entry_id,
            source=grant.source,
            starts=starts,
            ends=ends,
            granted=granted,
            origin=grant.origin,
            idempotency_key=grant.idempotency_key,
        )

    def grant_entitlement(self, grant: Grant) -> FeatureCreditEntry:
        """Meterline's extension route: an ENTITLEMENT entry whose window has not ended (a typo in a date would
        otherwise make an entry EXPIRED at birth)."""
        if grant.effective_until is not None and grant.effective_until <= self.ctx.now:
            raise BadRequest(f"effectiveUntil must be in the future (now is {isoformat_z(self.ctx.now)})")
        return self.grant(grant)

    def add_entry(
        self,
        account_pk: str,
        feature_pk: str,
        entry_id: str,
        *,
        source: str,
        starts: datetime,
        ends: datetime,
        granted: Decimal | None,
        origin: str | None = None,
        idempotency_key: str | None = None,
    ) -> FeatureCreditEntry:
        """Insert an entry as given (callers check it: `grant`, the plan's cycle grants, refunds)."""
        entry = FeatureCreditEntry(
            pk=new_id("fce"),
            org_id=self.ctx.org_id,
            account_pk=account_pk,
            feature_pk=feature_pk,
            entry_id=entry_id,
            source=source,
            status=ACTIVE,
            starts_at=starts,
            ends_at=ends,
            granted=granted,
            used=ZERO,
            origin=origin,
            idempotency_key=idempotency_key,
            voided_at=None,
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self.repo.add(entry)
        return entry

    def owed_grants(self, account: Account, at: datetime) -> None:
        """Grant what the account's price plan owes for the cycle holding `at` (plan_grants.py), before a
        consumption."""
        from meterline.entitlements.plan_grants import PlanGrants  # it builds on this module

        PlanGrants(self.ctx).ensure(account, at)

    def _owed(self, account: Account, now: datetime) -> list[FeatureCreditEntry]:
        """What the price plan owes for the cycle holding now and has not made yet, unsaved: reads show it and write
        nothing."""
        from meterline.entitlements.plan_grants import PlanGrants  # it builds on this module

        return PlanGrants(self.ctx).owed(account, now)

    # -- reads ----------------------------------------------------------------------------------------------------
    def credits(self, account_id: str, feature_id: str) -> Credits:
        account, feature = self.account(account_id), self.feature(feature_id)
        return self.credits_of(account, {feature.pk})[feature.pk]

    def credits_of(self, account: Account, feature_pks: set[str] | None) -> dict[str, Credits]:
        """Each feature's credits now (every feature with an entry when `feature_pks` is None)."""
        now = self.ctx.now
        pks = set(feature_pks or ())
        made = self.repo.usable(account.pk, feature_pks, now)
        owed = [e for e in self._owed(account, now) if feature_pks is None or e.feature_pk in feature_pks]
        entries = [e for e in made + owed if e.starts_at <= now]  # in effect
        pks |= {e.feature_pk for e in entries}
        out = {}
        for pk in pks:
            mine = [e for e in entries if e.feature_pk == pk and e.source != OVERAGE]
            overage = [e for e in entries if e.feature_pk == pk and e.source == OVERAGE]
            unlimited = any(e.granted is None for e in overage)
            out[pk] = Credits(
                granted=sum((entry_granted(e) for e in mine), ZERO),
                balance=sum((entry_balance(e, now) for e in mine), ZERO),
                used_overage=sum((e.used for e in overage), ZERO),
                overage_limit=None if unlimited or not overage else sum((entry_granted(e) for e in overage), ZERO),
                has_unlimited_overage=unlimited,
            )
        return out

    def page(self, account_id: str, feature_id: str, request: PageRequest) -> Page[FeatureCreditEntry]:
        account, feature = self.account(account_id), self.feature(feature_id)
        page = self.repo.page(account.pk, feature.pk, request)
        if page.next_token is None:  # the plan's entries owed and not made yet come last, as they will be made
            page.items.extend(e for e in self._owed(account, self.ctx.now) if e.feature_pk == feature.pk)
        return page

    # -- changes --------------------------------------------------------------------------------------------------
    def _locked(self, account_id: str, feature_id: str, entry_id: str) -> FeatureCreditEntry:
        """The entry, read again under its row lock, so that a change and a consumption take turns."""
        entry = self.entry(account_id, feature_id, entry_id)
        locked = self.repo.lock({entry.pk}).get(entry.pk)
        if locked is None:  # pragma: no cover - entries are never deleted but with their account
            raise NotFound(f"Entry {entry_id} of feature {feature_id} for account {account_id} not found")
        return locked

    def update(
        self,
        account_id: str,
        feature_id: str,
        entry_id: str,
        *,
        effective_until: datetime | None,
        granted: Decimal | None,
    ) -> FeatureCreditEntry:
        """Change an ACTIVE entry's end (to an instant in the future, after its start) or what it grants (more than 0
        and at least what is used already). Fields left out stay."""
        entry = self._locked(account_id, feature_id, entry_id)
        now = self.ctx.now
        if effective_until is None and granted is None:
            return entry
        status = entry_status(entry, now)
        if status != ACTIVE:
            raise BadRequest(f"Entry {entry_id} is {status}: only an ACTIVE entry can be updated")
        if effective_until is not None:
            if effective_until <= now:
                raise BadRequest(f"effectiveUntil must be in the future (now is {isoformat_z(now)})")
            if effective_until <= entry.starts_at:
                raise BadRequest(
                    f"effectiveUntil must be after the entry's effectiveFrom, {isoformat_z(entry.starts_at)}"
                )
        if granted is not None:
            if granted <= 0:
                raise BadRequest("granted: must be more than 0 (units of the feature)")
            if granted < entry.used:
                raise BadRequest(
                    f"granted: must be at least what the entry has used already, {numbers.plain(entry.used)}"
                )
            entry.granted = granted
        if effective_until is not None:
            entry.ends_at = effective_until
        entry.updated_at = now
        self.ctx.session.flush()
        return entry

    def void(self, account_id: str, feature_id: str, entry_id: str) -> FeatureCreditEntry:
        """VOIDED: what is left can no longer be used; what was used stays."""
        entry = self._locked(account_id, feature_id, entry_id)
        status = entry_status(entry, self.ctx.now)
        if status != ACTIVE:
            raise BadRequest(f"Entry {entry_id} is {status}: only an ACTIVE entry can be voided")
        entry.status = VOIDED
        entry.voided_at = entry.updated_at = self.ctx.now
        self.ctx.session.flush()
        return entry

    # -- consumption and refunds ---------------------------------------------------------------------------------
    def consume(
        self,
        locked: list[FeatureCreditEntry],
        feature: Feature,
        units: Decimal,
        *,
        event_pk: str,
        at: datetime,
        account_ref: str,
    ) -> list[FeatureConsumption]:
        """Take `units` from the entries (read and locked by the caller, lock_usable: instances in no session) for the
        event stored as `event_pk`, timestamped `at`; InsufficientCredits (422) when they do not cover it. The entries'
        `used` and the consumption rows are written by driver statements (EntryRepository.consumed)."""
        now = self.ctx.now
        usable = covering(locked, at, now)
        available = sum((entry_balance(e, now) for e in usable), ZERO)
        if available < units:
            raise InsufficientCredits(
                f"Insufficient feature credits: account {account_ref[:60]!r} has {numbers.plain(available)} units of "
                f"feature {feature.pk} ({feature.name[:60]}) for an event at {isoformat_z(at)}, and the event needs "
                f"{numbers.plain(units)}; nothing was stored"
            )
        made, changed = [], []
        for entry, piece in take(usable, units, now):
            entry.used = EXACT.add(entry.used, piece)
            entry.updated_at = now
            changed.append(entry)
            made.append(
                loaded(
                    FeatureConsumption,
                    {
                        "pk": new_id("fcu"),
                        "org_id": self.ctx.org_id,
                        "entry_pk": entry.pk,
                        "event_pk": event_pk,
                        "units": piece,
                        "refunded_at": None,
                        "refund_entry_pk": None,
                        "created_at": now,
                    },
                )
            )
        self.repo.consumed(changed, made)
        if available == units:  # this event took the last units that covered it
            outbox.emit(
                self.ctx, "entitlement.exhausted", lambda: self._exhausted(locked, feature), object_id=feature.pk
            )
        return made

    def _exhausted(self, entries: list[FeatureCreditEntry], feature: Feature) -> dict[str, object]:
        """entitlement.exhausted's data: the feature's credits as GET .../features/{id}/credits answers them."""
        account = self.accounts.by_pks({entries[0].account_pk})[entries[0].account_pk]
        credits = self.credits_of(account, {feature.pk})[feature.pk]
        out: dict[str, object] = {
            "accountId": account.id,
            "featureId": feature.pk,
            "granted": credits.granted,
            "balance": credits.balance,
            "usedOverage": credits.used_overage,
        }
        if credits.overage_limit is not None:
            out["overageLimit"] = credits.overage_limit
        return out

    def give_back(self, event: StoredEvent, action: str) -> None:
        """A correction of `event` is about to run (the event's row is locked). UNDO: what it consumed comes back
        as REFUND entries, one per consumed entry still ACTIVE, with that entry's window; REDO and REDO_EVENT of an
        entitled event are refused. Called before the correction takes usage back: entries are locked before usage
        rollups (docs/architecture.md, "Locks")."""
        consumed = self.repo.unrefunded(event.pk)
        if not consumed:
            return
        if action != "UNDO":
            raise BadRequest(
                f"{action}: event {event.event_id!r} was ingested through /entitled, and {action} would ingest it "
                "again without checking feature credits; UNDO it (its credits come back) and send it to /entitled "
                "again"
            )
        now = self.ctx.now
        entries = self.repo.lock({c.entry_pk for c in consumed})
        refunds: dict[str, FeatureCreditEntry] = {}  # consumed entry pk -> its REFUND entry
        for consumption in consumed:
            consumption.refunded_at = now
            entry = entries.get(consumption.entry_pk)
            if entry is not None and entry.source == OVERAGE:
                # overage is billed (its `used`, voided or ended since included): undone overage is not billed, and
                # does not come back as free units either. An UNDO after the period ended (its invoice still open,
                # within the grace period; a final one refuses the correction) takes it off the bill all the same.
                entry.used = EXACT.subtract(entry.used, consumption.units)
                entry.updated_at = now
                continue
            if entry is None or entry_status(entry, now) != ACTIVE:
                continue  # voided or expired since: its units are not given back
            refund = refunds.get(entry.pk)
            if refund is None:
                refund = refunds[entry.pk] = self.add_entry(
                    entry.account_pk,
                    entry.feature_pk,
                    refund_entry_id(event.pk, len(refunds) + 1),
                    source=REFUND,
                    starts=entry.starts_at,
                    ends=entry.ends_at,
                    granted=consumption.units,
                    origin=event.pk,
                )
            else:  # pragma: no cover - an event consumes each entry once
                refund.granted = EXACT.add(entry_granted(refund), consumption.units)
            consumption.refund_entry_pk = refund.pk
        self.ctx.session.flush()


def give_back_feature_credits(ctx: Context, event: StoredEvent, action: str) -> None:
    """The check corrections take (events/corrections.py, `feature_credits=`), supplied by usecases/events.py."""
    FeatureCreditService(ctx).give_back(event, action)


# -- POST /entitled ----------------------------------------------------------------------------------------------
class EntitledIngestion:
    """Ingest an event only when the account's credits of its feature cover it, all in the request's transaction:

    1. the feature: the one that reads the event's schema (400 without one), and the attribute it reads;
    2. the account (as ingestion resolves it) and its entries of the feature that may pay, locked;
    3. ingestion, exactly as `/ingest` (IngestionService: the same checks, statuses and idempotent ids); a rejected
       event is answered as `/ingest` answers it;
    4. the units (the attribute's value) taken from the entries, or InsufficientCredits (422), which rolls the
       whole request back: nothing is stored."""

    def __init__(self, ctx: Context, *, invoiced_until: InvoicedUntilOf) -> None:
        """`invoiced_until` (required): ingestion's guard (`IngestionService`)."""
        self.ctx = ctx
        self.credits = FeatureCreditService(ctx)
        self.invoiced_until = invoiced_until

    def ingest(self, event: Event) -> Result:
        if event.id is None:
            raise BadRequest(
                "event.id: this field is required by /entitled (it makes a retry safe, and an UNDO names it)"
            )
        found = self.credits.features.of_schema(event.schema_name)
        if found is None:
            raise BadRequest(
                f"event.schemaName: no feature reads event schema {event.schema_name!r}; associate the schema with a "
                "feature (PATCH /features/{id}), or send the event to /ingest"
            )
        feature, association = found
        ingestion = IngestionService(self.ctx, invoiced_until=self.invoiced_until)
        [account_pk] = ingestion.resolve_accounts([event])
        if account_pk is not None:
            account = self.credits.accounts.read_by_pk(account_pk)  # (owed_grants reads it, and locks it to write)
            if account is not None:
                self.credits.owed_grants(account, event.timestamp)
        after = max(self.ctx.now, event.timestamp)
        locked = self.credits.repo.lock_usable(account_pk, feature.pk, after) if account_pk is not None else []
        result = ingestion.ingest([event])[0]
        if not result.accepted:
            return result
        value = next((a.value for a in event.attributes if a.name == association.attribute_name), None)
        if value is None:
            raise BadRequest(
                f"event.attributes: feature {feature.pk} reads attribute {association.attribute_name!r} of schema "
                f"{event.schema_name}, and the event has none; nothing was stored"
            )
        units = numbers.bounded(Decimal(value))  # the pipeline accepted it: a decimal within the number rule
        if units < 0:
            raise BadRequest(
                f"event.attributes: {association.attribute_name} is {value!r}: the units of a feature cannot be "
                "negative (an UNDO gives units back); nothing was stored"
            )
        self.credits.consume(
            locked,
            feature,
            units,
            event_pk=result.reference_id,
            at=event.timestamp,
            account_ref=event.account_id,
        )
        return result
