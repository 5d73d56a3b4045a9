"""Ingestion and the read paths over events and usage (billing-rules D5, D6).

An ingest call, for 1 to 1000 events, in one transaction:
1. resolve each event's schema (the ACTIVE version and its ACTIVE meters, compiled once) and account (an account
   id, else an alias effective at the event's timestamp);
2. evaluate each event (pipeline.evaluate): validation, the schema's enrichments (with the settings they depend on,
   read for the whole batch at once) and id template, then units per meter;
3. claim the ids of the events that passed (deduplication on (organization, event id), atomic with the write);
4. store every event with its final status, and add the units of accepted ones to the usage rollups.
The caller commits; the answer (202/207) is sent only after that commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_ids
from meterline.core.money import EXACT
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.events import pipeline, predefined
from meterline.events.models import Event as StoredEvent
from meterline.events.store import EventRow, EventStore, UsageKey
from meterline.events.wire import Event
from meterline.metering import enrichments
from meterline.metering.repository import MeteringRepository
from meterline.schedules.coverage import CLOSED, OPEN, UNSCHEDULED, Coverage
from meterline.schedules.repository import ScheduleRepository
from meterline.settings.repository import SettingRepository
from meterline.tenancy.context import Context

DEDUP_WINDOW = timedelta(days=45)
STATUS_TEXT = 250  # the SDK's limit on statusDescription


def _short(text: str | None) -> str:
    text = text or ""
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass(frozen=True)
class Result:
    """What happened to one event of an ingest call."""

    index: int
    event_id: str | None
    status: str
    message: str | None
    reference_id: str = ""  # the stored event's pk (Togai's referenceId)

    @property
    def accepted(self) -> bool:
        return self.status in pipeline.ACCEPTED


# Per account pk, up to when its usage is on finalized invoices (invoicing knows; usecases/events.py passes it).
InvoicedUntilOf = Callable[[Context, set[str]], dict[str, datetime]]


class IngestionService:
    def __init__(self, ctx: Context, *, invoiced_until: InvoicedUntilOf) -> None:
        """`invoiced_until` (required): an event of an open cycle whose invoice was already finalized early is refused
        as one past the grace period (its usage would never be billed); read once per call, for all its accounts."""
        self.ctx = ctx
        self.invoiced_until = invoiced_until
        self.store = EventStore(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.catalog = MeteringRepository(ctx.session, ctx.org_id)
        self._account_pks: dict[str, str] = {}  # account id -> pk, as read in this call's transaction

    def ingest(self, events: list[Event]) -> list[Result]:
        now = self.ctx.now
        rules = self._rules({e.schema_name for e in events})
        accounts = self.resolve_accounts(events)
        settings = self._dependency_settings(events, rules, accounts)
        account_ids = self._templated_account_ids(events, rules, accounts)
        outcomes = [
            pipeline.evaluate(rules.get(e.schema_name), e, now, s, account_ids.get(i))
            for i, (e, s) in enumerate(zip(events, settings, strict=True))
        ]
        coverage = Coverage(
            ScheduleRepository(self.ctx.session, self.ctx.org_id).for_coverage({a for a in accounts if a}),
            ZoneInfo(self.ctx.org.timezone),
            now,
        )
        invoiced = self.invoiced_until(self.ctx, {a for a in accounts if a})

        results: list[Result] = []
        statuses: list[tuple[str, str | None]] = []  # a failure, or ("", status if its id is claimed)
        wanted: list[str] = []
        event_ids = [e.id if e.id is not None else o.event_id for e, o in zip(events, outcomes, strict=True)]
        for event, outcome, account, event_id in zip(events, outcomes, accounts, event_ids, strict=True):
            state = coverage.state(account, event.timestamp) if account and not outcome.failed else None
            if outcome.failed:
                statuses.append((outcome.status, outcome.message))  # type: ignore[arg-type]
            elif account is None:
                statuses.append(
                    (
                        pipeline.ACCOUNT_NOT_FOUND,
                        f"No account has id or alias {_short(event.account_id)} at {event.timestamp.isoformat()}",
                    )
                )
            elif event_id is None:
                statuses.append(
                    (
                        pipeline.NO_EVENT_ID,
                        "An event needs an id (or its schema an eventIdTemplate): it is what makes a retry safe",
                    )
                )
            elif state == CLOSED:
                statuses.append(
                    (
                        pipeline.PAST_GRACE,
                        f"The pricing cycle of {event.timestamp.isoformat()} is closed "
                        "(its grace period has ended and its invoice is final)",
                    )
                )
            elif state == OPEN and account in invoiced and event.timestamp < invoiced[account]:
                statuses.append(
                    (
                        pipeline.PAST_GRACE,
                        f"The pricing cycle of {event.timestamp.isoformat()} is closed (its invoice was finalized "
                        f"early: the account is invoiced up to {invoiced[account].isoformat()})",
                    )
                )
            else:
                # A matched event of an account on a plan at that instant is metered; without a plan, not (D5).
                if not outcome.units and not outcome.applied:
                    statuses.append(("", pipeline.NO_MATCHING_METERS))
                else:
                    statuses.append(("", pipeline.NOT_METERED if state == UNSCHEDULED else pipeline.METERED))
                wanted.append(event_id)
        claimed = self.store.claim_ids(list(dict.fromkeys(wanted)), now)

        rows: list[EventRow] = []
        usage: dict[UsageKey, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
        pks = new_ids("event", len(events))
        for index, (event, event_id, outcome, account, (status, message)) in enumerate(
            zip(events, event_ids, outcomes, accounts, statuses, strict=True)
        ):
            if status == "":
                if event_id in claimed:
                    claimed.discard(event_id)  # a second copy in the same batch is a duplicate too
                    status, message = message, None  # type: ignore[assignment]
                    bucket = pipeline.bucket_of(event.timestamp)
                    for meter_id, units in outcome.units.items():
                        key: UsageKey = (account, meter_id, bucket)  # type: ignore[assignment]
                        qty, n = usage[key]
                        usage[key] = (EXACT.add(qty, units), n + 1)
                else:
                    status, message = pipeline.DUPLICATE, f"Event {_short(event_id)} was already ingested"
            accepted = status in pipeline.ACCEPTED
            message = message[:STATUS_TEXT] if message else None
            rule = rules.get(event.schema_name)
            # A duplicate is recorded for the event log, without its payload: the copy that claimed the id holds
            # it, and a client retrying a large event must not store it once per retry. An accepted event records
            # what every meter did with it; a rejected one never reached the meters.
            duplicate = status == pipeline.DUPLICATE
            meters = pipeline.meter_outcomes(rule, outcome.units) if accepted and rule is not None else None
            enriched = outcome.enriched.view() if accepted and outcome.enriched is not enrichments.NOTHING else None
            rows.append(
                (
                    pks[index],
                    event_id,
                    event.schema_name,
                    rule.version if rule else None,
                    event.account_id,
                    account,
                    event.timestamp,
                    [] if duplicate else event.attributes,
                    {} if duplicate else event.dimensions,
                    status,
                    message,
                    {m: str(u) for m, u in outcome.units.items()} if accepted else None,
                    meters,
                    enriched,
                )
            )
            results.append(
                Result(index=index, event_id=event_id, status=status, message=message, reference_id=pks[index])
            )
        self.store.add_ingested(rows, dict(usage), ZoneInfo(self.ctx.org.timezone), now)
        return results

    def _rules(self, schema_names: set[str]) -> dict[str, pipeline.SchemaRule]:
        rules = {}
        for name in schema_names:
            special = predefined.rule(self.ctx.session, self.ctx.org_id, name)
            if special is not None:
                rules[name] = special
                continue
            schema = self.catalog.active_schema(name)
            if schema is None:
                continue
            meters = tuple(
                pipeline.meter_rule(
                    id=m.id,
                    name=m.name,
                    aggregation=m.aggregation,
                    filters=m.filters or [],
                    computations=m.computations or [],
                )
                for m in self.catalog.active_meters(name)
            )
            rules[name] = pipeline.SchemaRule(
                name=schema.name,
                version=schema.version,
                attributes=frozenset(a["name"] for a in schema.attributes or []),
                dimensions=frozenset(d["name"] for d in schema.dimensions or []),
                meters=meters,
                plan=enrichments.plan_of(
                    schema.enrichments, schema.event_id_template, schema.attribute_names, schema.dimension_names
                ),
            )
        return rules

    def _templated_account_ids(
        self, events: list[Event], rules: dict[str, pipeline.SchemaRule], accounts: list[str | None]
    ) -> dict[int, str]:
        """By index, the id of the account of each event that its schema's id template names: an event sent with an
        alias gets the id its account has, so that the same event sent by id and by alias is one event. Read only
        for aliases (an accountId that is an id is that id)."""
        out: dict[int, str] = {}
        aliased: dict[int, str] = {}
        for index, (event, account) in enumerate(zip(events, accounts, strict=True)):
            rule = rules.get(event.schema_name)
            if account is None or event.id is not None or rule is None or rule.plan.template is None:
                continue
            if self._account_pks.get(event.account_id) == account:
                out[index] = event.account_id
            else:
                aliased[index] = account
        if aliased:
            ids = self.accounts.ids_with_customer_ids(set(aliased.values()))
            out.update({index: ids[pk][0] for index, pk in aliased.items() if pk in ids})
        return out

    def _dependency_settings(
        self, events: list[Event], rules: dict[str, pipeline.SchemaRule], accounts: list[str | None]
    ) -> list[Mapping[str, tuple[str, Any]]]:
        """Per event, the settings its schema's enrichments depend on (key -> (text, value as rules read it)), each
        from the nearest level that sets it: the account, its customer, the organization. One query for the batch."""
        keys = {name: [d.key for d in rule.plan.queried] for name, rule in rules.items() if rule.plan.queried}
        if not keys:
            return [pipeline.NO_SETTINGS] * len(events)
        entities = AccountRepository(self.ctx.session, self.ctx.org_id).ids_with_customer_ids(
            {a for e, a in zip(events, accounts, strict=True) if a and e.schema_name in keys}
        )
        org = ("ORGANIZATION", self.ctx.org_id)
        levels_of: list[list[tuple[str, str]]] = []
        wanted: set[str] = set()
        for event, account in zip(events, accounts, strict=True):
            if event.schema_name not in keys:
                levels_of.append([])
                continue
            ids = entities.get(account or "")
            levels = [("ACCOUNT", ids[0]), ("CUSTOMER", ids[1]), org] if ids else [org]
            levels_of.append(levels)
            wanted.update(f"{key}.{t}.{i}" for key in keys[event.schema_name] for t, i in levels)
        found = {
            full_id: (value, enrichments.dependency_value(data_type, value))
            for full_id, (value, data_type) in SettingRepository(self.ctx.session, self.ctx.org_id)
            .values_by_full_ids(wanted)
            .items()
        }
        out: list[Mapping[str, tuple[str, Any]]] = []
        for event, levels in zip(events, levels_of, strict=True):
            if not levels:
                out.append(pipeline.NO_SETTINGS)
                continue
            values = {}
            for key in keys[event.schema_name]:
                hit = next((found[f] for f in (f"{key}.{t}.{i}" for t, i in levels) if f in found), None)
                if hit is not None:
                    values[key] = hit
            out.append(values)
        return out

    def resolve_accounts(self, events: list[Event]) -> list[str | None]:
        """Each event's account pk: its accountId as an account id, else as an alias effective at its timestamp."""
        refs = {e.account_id for e in events}
        # (POST /entitled resolves its event's account before it ingests it: the second time reads nothing)
        by_id = {ref: self._account_pks[ref] for ref in refs if ref in self._account_pks}
        by_id.update(self.accounts.pks_by_ids(refs - by_id.keys()))
        self._account_pks.update(by_id)
        spans = defaultdict(list)
        for value, account_pk, start, end in self.accounts.alias_spans(refs - by_id.keys()):
            spans[value].append((account_pk, start, end))
        resolved: list[str | None] = []
        for event in events:
            pk = by_id.get(event.account_id)
            if pk is None:
                ts = event.timestamp
                pk = next((a for a, start, end in spans.get(event.account_id, ()) if start <= ts < end), None)
            resolved.append(pk)
        return resolved


class EventQueryService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = EventStore(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)

    def page(
        self,
        request: PageRequest,
        *,
        account_id: str | None,
        status: str | None,
        schema_name: str | None,
        start: datetime | None,
        end: datetime | None,
        statuses: Collection[str] | None = None,
        newest_first: bool = False,
    ) -> Page[StoredEvent]:
        account_pk = None
        if account_id is not None:
            account = self.accounts.by_id(account_id)
            if account is None:
                return Page(items=[], next_token=None, size=request.size)
            account_pk = account.pk
        return self.store.page(
            request,
            account_pk=account_pk,
            status=status,
            statuses=statuses,
            schema_name=schema_name,
            start=start,
            end=end,
            newest_first=newest_first,
        )

    def listed(
        self,
        request: Slice,
        *,
        account_id: str | None,
        status: str | None,
        schema_name: str | None,
        start: datetime | None,
        end: datetime | None,
        statuses: Collection[str] | None = None,
        count_up_to: int | None = None,
    ) -> Counted[StoredEvent]:
        """The console's list: a slice of the events `page` filters, in the order received, and their count."""
        account_pk = None
        if account_id is not None:
            account = self.accounts.by_id(account_id)
            if account is None:
                return Counted(items=[], total=0)
            account_pk = account.pk
        return self.store.listed(
            request,
            account_pk=account_pk,
            status=status,
            statuses=statuses,
            schema_name=schema_name,
            start=start,
            end=end,
            count_up_to=count_up_to,
        )

    def by_event_id(self, event_id: str) -> list[StoredEvent]:
        events = self.store.by_event_id(event_id)
        if not events:
            raise NotFound(f"Event {event_id} not found")
        return events

    def accounts_of(self, events: list[StoredEvent]) -> dict[str, Account]:
        return self.accounts.by_pks({e.account_pk for e in events if e.account_pk})

    def pipelines(self, event_id: str) -> list[EventPipeline]:
        """Every event stored with this id, with what its pipeline did, as recorded at ingestion: the account it
        reached and each meter ACTIVE then with the units it computed, or None where it filtered the event out."""
        return self._pipelines(self.by_event_id(event_id))

    def pipeline(self, reference_id: str) -> EventPipeline:
        """One stored event (by its referenceId), with what its pipeline did, as `pipelines` tells it."""
        event = self.store.by_pk(reference_id)
        if event is None:
            raise NotFound(f"Event {reference_id} not found")
        return self._pipelines([event])[0]

    def _pipelines(self, events: list[StoredEvent]) -> list[EventPipeline]:
        accounts = self.accounts_of(events)
        catalog = MeteringRepository(self.ctx.session, self.ctx.org_id)
        result = []
        for event in events:
            meters: list[tuple[str, str, Decimal | None]]
            if event.meters is not None:  # recorded at ingestion
                meters = [(m[0], m[1], Decimal(m[3]) if m[3] is not None else None) for m in event.meters]
            else:
                # Rejected (no meter reached), or stored before outcomes were recorded (migration 0008): the meters
                # it reached, named from the catalog whatever their status now; which ones filtered it out is unknown.
                meters = []
                for meter_id, units in (event.units or {}).items():
                    known = catalog.meter(meter_id)
                    meters.append((meter_id, known.name if known else meter_id, Decimal(units)))
            result.append(EventPipeline(event, accounts.get(event.account_pk or ""), meters))
        return result


@dataclass(frozen=True)
class EventPipeline:
    event: StoredEvent
    account: Account | None
    meters: list[tuple[str, str, Decimal | None]]  # (meter id, name, units or None when filtered out)


@dataclass(frozen=True)
class MeterUsage:
    meter_id: str
    name: str
    aggregation: str
    usage: Decimal
    events: int


class UsageService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = EventStore(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.catalog = MeteringRepository(ctx.session, ctx.org_id)

    def of_account(self, account_id: str, start: datetime, end: datetime) -> list[MeterUsage]:
        """Usage of every meter that is not archived, for the account, over [start, end)."""
        for label, moment in (("start", start), ("end", end)):
            if pipeline.bucket_of(moment) != moment:
                raise BadRequest(f"{label} must fall on a 15-minute boundary (usage is kept in 15-minute buckets)")
        if start >= end:
            raise BadRequest("start must be before end")
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        meters = self.catalog.usable_meters()
        totals = self.store.usage(account.pk, [m.id for m in meters], start, end)
        return [MeterUsage(m.id, m.name, m.aggregation, totals[m.id][0], totals[m.id][1]) for m in meters]
