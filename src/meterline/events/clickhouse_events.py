"""Events in ClickHouse (docs/clickhouse.md, "Events"): the table, its writes and its reads, for an installation that
keeps its usage there. The SQL holds on Debian's ClickHouse 18.16 and on current releases.

A row is one *version* of an event: ingestion writes version 0; a correction that changes its status writes the
whole row again with the next version (the event's other columns never change). The table is a
`ReplacingMergeTree(version)` ordered by (org_id, pk), so merges keep an event's newest version; reads do not wait for
that: each takes, per pk, the row of the highest version (`ORDER BY pk, version DESC LIMIT 1 BY pk`) and filters on
the status after that, never before. A batch shipped twice writes the same (pk, version) twice, which a read takes
once. Filters on what never changes (account, schema, time, event id, pk) are applied before, so ClickHouse reads
only those rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from meterline.events.clickhouse import EVENT_KEYS, EVENTS, ClickHouseUsage, from_micros, micros
from meterline.events.models import Event
from meterline.events.statuses import IngestionStatus

# The columns of a row, in the order the outbox's JSON and every read carry them (org_id and batch_id aside).
COLUMNS = (
    "pk, version, event_id, schema_name, schema_version, account_ref, account_pk, ts, attributes, dimensions, "
    "status, status_description, units, meters, enrichments, created"
)
# The first chunk of a page's key scan (`ClickHouseEvents._keys`): at least FIRST_CHUNK rows, ROWS_PER_EVENT per
# event wanted (versions, and events the filters leave).
FIRST_CHUNK, ROWS_PER_EVENT = 1_000, 4
CORRECTED = {IngestionStatus.REVERTED.value}  # the statuses only a correction writes: few events have them
_JSON = (8, 9, 12, 13, 14)  # attributes, dimensions, units, meters, enrichments: JSON text in ClickHouse
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def outbox_row(event: Event, version: int) -> list[Any]:
    """An event's version as the outbox keeps it (JSON), in COLUMNS' order; times as microseconds."""
    return [
        *(event.pk, version, event.event_id, event.schema_name, event.schema_version, event.account_ref),
        *(event.account_pk, micros(event.timestamp), event.attributes, event.dimensions, event.status),
        *(event.status_description, event.units, event.meters, event.enrichments, micros(event.created_at)),
    ]


def event_of(org_id: str, row: Sequence[Any]) -> Event:
    """A transient Event (never added to a session: it is not a row of the relational database) from an outbox row
    or a ClickHouse row, its version kept in `clickhouse_version`."""
    pk, version, eid, schema, schema_version, ref, account, ts, attributes, dimensions, status, text = row[:12]
    units, meters, enriched, created = row[12:16]
    event = Event(
        pk=pk,
        org_id=org_id,
        event_id=eid,
        schema_name=schema,
        schema_version=schema_version,
        account_ref=ref,
        account_pk=account,
        timestamp=from_micros(int(ts)),
        attributes=attributes,
        dimensions=dimensions,
        status=status,
        status_description=text,
        units=units,
        meters=meters,
        enrichments=enriched,
        created_at=from_micros(int(created)),
    )
    event.clickhouse_version = int(version)
    return event


@dataclass(frozen=True)
class EventFilter:
    """Which events a read wants; None: any. `statuses` is tested on each event's newest version."""

    account_pks: Collection[str] | None = None  # with account_refs: or the events that reached no account
    account_refs: Collection[str] | None = None  # sent with one of these accountIds
    schema_names: Collection[str] | None = None
    statuses: Collection[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    account_pk: str | None = None
    pks: Collection[str] | None = None
    event_id: str | None = None

    def matches(self, e: Event) -> bool:
        if self.account_pks is not None:
            reached = e.account_pk in self.account_pks
            if not reached and not (e.account_pk is None and e.account_ref in (self.account_refs or ())):
                return False
        return (
            (self.pks is None or e.pk in self.pks)
            and (self.event_id is None or e.event_id == self.event_id)
            and (self.account_pk is None or e.account_pk == self.account_pk)
            and (self.schema_names is None or e.schema_name in self.schema_names)
            and (self.statuses is None or e.status in self.statuses)
            and (self.start is None or e.timestamp >= self.start)
            and (self.end is None or e.timestamp < self.end)
        )


class ClickHouseEvents:
    """The events of one ClickHouse database (the installation's usage store's)."""

    def __init__(self, clickhouse: ClickHouseUsage) -> None:
        self.clickhouse = clickhouse
        self.table = f"{clickhouse.address.database}.{EVENTS}"
        self.keys = f"{clickhouse.address.database}.{EVENT_KEYS}"

    def insert(self, rows: Sequence[tuple[str, str, Sequence[Any]]]) -> None:
        """Write (org_id, batch_id, outbox row) versions, and the (org_id, event_id, pk) of those with an event id
        (the key rows first: an event is never found without them; the same key row written again is read once)."""
        if not rows:
            return
        values = []
        keys = {(org_id, row[2], row[0]) for org_id, _, row in rows if row[2] is not None}
        for org_id, batch, row in rows:
            cells = list(row)
            for i in _JSON:
                cells[i] = None if cells[i] is None else _encode(cells[i]).decode()
            values.append((org_id, *cells, batch))
        if keys:
            self.clickhouse.execute(
                f"INSERT INTO {self.keys} (org_id, event_id, pk) VALUES",  # noqa: S608  # nosec B608 - a checked name
                sorted(keys),
            )
        self.clickhouse.execute(
            f"INSERT INTO {self.table} (org_id, {COLUMNS}, batch_id) VALUES",  # noqa: S608  # nosec B608 - a checked name
            values,
        )

    def holds_events(self) -> bool:
        return bool(self.clickhouse.execute(f"SELECT 1 FROM {self.table} LIMIT 1"))  # noqa: S608  # nosec B608

    def newest(
        self,
        org_id: str,
        wanted: EventFilter,
        *,
        leave_out: Collection[str] = (),
        after: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Event]:
        """The newest version of each event that `wanted` takes, in pk order (or reversed), after `after` (before,
        when descending), at most `limit`; the pks of `leave_out` are not read (the outbox holds newer versions).

        With a limit (a page), the events are found first by their keys alone (`_keys`: pk, version and status,
        a chunk of the sort at a time), then read whole by pk: reading every column of every row to sort them cost
        ~720 ms for a first page at a million events on 18.16, the keys ~10 ms a chunk (bench/events_read.py)."""
        if limit is None:
            return self._all_newest(org_id, wanted, leave_out, after, descending)
        keys = self._keys(org_id, wanted, leave_out, after, descending, limit)
        if not keys:
            return []
        rows = self.clickhouse.execute(
            f"SELECT {COLUMNS} FROM {self.table} WHERE org_id = %(org)s AND pk IN (SELECT v FROM page_pks)",  # noqa: S608  # nosec B608 - a checked name
            {"org": org_id},
            sets={"page_pks": [pk for pk, _ in keys]},
        )
        found = {(row[0], int(row[1])): row for row in rows}
        return [event_of(org_id, _decoded(found[key])) for key in keys if key in found]

    def _all_newest(
        self, org_id: str, wanted: EventFilter, leave_out: Collection[str], after: str | None, descending: bool
    ) -> list[Event]:
        inner, outer, params, sets = self._where(org_id, wanted, leave_out)
        if after is not None:
            inner.append("pk < %(after)s" if descending else "pk > %(after)s")
            params["after"] = after
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM {self.table} WHERE {' AND '.join(inner)} "  # noqa: S608  # nosec B608 - constants, values as parameters
            f"ORDER BY pk {direction}, version DESC LIMIT 1 BY pk) WHERE {' AND '.join(outer)} ORDER BY pk {direction}"
        )
        return [event_of(org_id, _decoded(row)) for row in self.clickhouse.execute(sql, params, sets=sets)]

    def _keys(
        self,
        org_id: str,
        wanted: EventFilter,
        leave_out: Collection[str],
        after: str | None,
        descending: bool,
        want: int,
    ) -> list[tuple[str, int]]:
        """(pk, newest version) of the first `want` events `wanted` takes after `after`, in pk order (or reversed).

        Rows are read a chunk at a time in (pk, version descending) order, so each event's first row is its newest
        version and the status is tested on that one; an event's older versions left beyond a chunk's end are skipped
        by the next chunk's `pk > last`. A plain ORDER BY ... LIMIT is a partial sort, which 18.16 does well; chunks
        double, so that a status found rarely costs a few sorts, not one per page of events.

        Statuses only a correction writes (REVERTED) are few: then only the rows with one of them are read (an event
        whose newest version has it has such a row, and its first such row in this order is that version), and each
        chunk's events are kept if that row's version is their newest (`_newest_versions`)."""
        inner, _, params, sets = self._where(org_id, wanted, leave_out)
        statuses = None if wanted.statuses is None else set(wanted.statuses)
        rare = statuses is not None and statuses <= CORRECTED
        if rare:
            inner.append("status IN %(statuses)s")
        direction = "DESC" if descending else "ASC"
        found: list[tuple[str, int]] = []
        cursor, chunk = after, max(FIRST_CHUNK, ROWS_PER_EVENT * want)
        while len(found) < want:
            where = list(inner)
            if cursor is not None:
                where.append("pk < %(cursor)s" if descending else "pk > %(cursor)s")
                params["cursor"] = cursor
            rows = self.clickhouse.execute(
                f"SELECT pk, version, status FROM {self.table} WHERE {' AND '.join(where)} "  # noqa: S608  # nosec B608 - constants, values as parameters
                f"ORDER BY pk {direction}, version DESC LIMIT {int(chunk)}",
                params,
                sets=sets,
            )
            first: list[tuple[str, int, str]] = []
            for pk, version, status in rows:
                if not first or first[-1][0] != pk:  # else an older version (or a copy) of the event just seen
                    first.append((pk, int(version), status))
            newest = self._newest_versions(org_id, [pk for pk, _, _ in first]) if rare else {}
            for pk, version, status in first:
                if (newest.get(pk) == version) if rare else (statuses is None or status in statuses):
                    found.append((pk, version))
                    if len(found) == want:
                        break
            if len(rows) < chunk:
                break
            cursor, chunk = rows[-1][0], chunk * 2
        return found

    def _newest_versions(self, org_id: str, pks: Sequence[str]) -> dict[str, int]:
        if not pks:
            return {}
        rows = self.clickhouse.execute(
            f"SELECT pk, max(version) FROM {self.table} WHERE org_id = %(org)s AND pk IN (SELECT v FROM pks) "  # noqa: S608  # nosec B608 - a checked name
            "GROUP BY pk",
            {"org": org_id},
            sets={"pks": list(pks)},
        )
        return {pk: int(version) for pk, version in rows}

    def count(
        self, org_id: str, wanted: EventFilter, *, leave_out: Collection[str] = (), up_to: int | None = None
    ) -> int:
        """How many events `wanted` takes; with `up_to`, counted up to `up_to` + 1 and no further (the keys of that
        many, as a page finds them)."""
        if up_to is not None and wanted.statuses is None:  # reading stops at up_to + 1 events
            inner, _, params, sets = self._where(org_id, wanted, leave_out)
            sql = (
                f"SELECT count() FROM (SELECT DISTINCT pk FROM {self.table} WHERE {' AND '.join(inner)} "  # noqa: S608  # nosec B608 - constants
                f"LIMIT {int(up_to) + 1})"
            )
            return int(self.clickhouse.execute(sql, params, sets=sets)[0][0])
        if up_to is not None:
            return len(self._keys(org_id, wanted, leave_out, None, False, up_to + 1))
        inner, outer, params, sets = self._where(org_id, wanted, leave_out)
        sql = (
            f"SELECT count() FROM (SELECT pk, argMax(status, version) AS status FROM {self.table} "  # noqa: S608  # nosec B608 - constants
            f"WHERE {' AND '.join(inner)} GROUP BY pk) WHERE {' AND '.join(outer)}"
        )
        return int(self.clickhouse.execute(sql, params, sets=sets)[0][0])

    def counts(
        self,
        org_id: str,
        wanted: EventFilter,
        starts: Sequence[datetime],
        keys: Sequence[str],
        *,
        leave_out: Collection[str] = (),
    ) -> list[tuple[Any, ...]]:
        """(period index, *keys, events) per period and key (column names of COLUMNS), the periods starting at
        `starts` (the events' times are already inside [starts[0], end) by `wanted`)."""
        inner, outer, params, sets = self._where(org_id, wanted, leave_out)
        key_list = "".join(f", {k}" for k in keys)
        period = _period_of([micros(s) for s in starts], 0, len(starts))
        sql = (
            f"SELECT {period} AS period{key_list}, count() FROM "  # noqa: S608  # nosec B608 - constant keys, integers
            f"(SELECT {COLUMNS} FROM {self.table} WHERE {' AND '.join(inner)} ORDER BY pk, version DESC LIMIT 1 BY pk) "
            f"WHERE {' AND '.join(outer)} GROUP BY period{key_list}"
        )
        return [tuple(row) for row in self.clickhouse.execute(sql, params, sets=sets)]

    def distinct(
        self, org_id: str, wanted: EventFilter, key: str, limit: int, *, leave_out: Collection[str] = ()
    ) -> set[str]:
        """Up to `limit` distinct values of `key` (an expression over COLUMNS) among the events `wanted` takes."""
        inner, outer, params, sets = self._where(org_id, wanted, leave_out)
        sql = (
            f"SELECT DISTINCT {key} FROM (SELECT {COLUMNS} FROM {self.table} WHERE {' AND '.join(inner)} "  # noqa: S608  # nosec B608 - constant keys
            f"ORDER BY pk, version DESC LIMIT 1 BY pk) WHERE {' AND '.join(outer)} LIMIT {int(limit)}"
        )
        return {row[0] for row in self.clickhouse.execute(sql, params, sets=sets)}

    def all_newest(self, after: tuple[str, str], limit: int) -> list[tuple[str, Event]]:
        """(org_id, newest version) of every event after `after` in (org_id, pk) order, `limit` at most: for moving
        events back into the database (events/moves.py)."""
        sql = (
            f"SELECT org_id, {COLUMNS} FROM {self.table} WHERE (org_id, pk) > (%(org)s, %(pk)s) "  # noqa: S608  # nosec B608 - a checked name
            f"ORDER BY org_id, pk, version DESC LIMIT 1 BY org_id, pk LIMIT {int(limit)}"
        )
        rows = self.clickhouse.execute(sql, {"org": after[0], "pk": after[1]})
        return [(row[0], event_of(row[0], _decoded(row[1:]))) for row in rows]

    def _where(
        self, org_id: str, wanted: EventFilter, leave_out: Collection[str]
    ) -> tuple[list[str], list[str], dict[str, Any], dict[str, Sequence[str]]]:
        """The conditions on the rows (what never changes) and on each event's newest version (its status)."""
        inner, outer = ["org_id = %(org)s"], ["1"]
        params: dict[str, Any] = {"org": org_id}
        sets: dict[str, Sequence[str]] = {}
        pks = None if wanted.pks is None else set(wanted.pks)
        if wanted.event_id is not None:  # the event id's pks first: then the events are read by their primary key
            found = self.clickhouse.execute(
                f"SELECT DISTINCT pk FROM {self.keys} WHERE org_id = %(org)s AND event_id = %(event_id)s",  # noqa: S608  # nosec B608 - a checked name
                {"org": org_id, "event_id": wanted.event_id},
            )
            pks = {pk for (pk,) in found} if pks is None else pks & {pk for (pk,) in found}
        if pks is not None:
            sets["wanted_pks"] = sorted(pks) or [""]
            inner.append("pk IN (SELECT v FROM wanted_pks)")
        if leave_out:
            sets["leave_out"] = sorted(leave_out)
            inner.append("pk NOT IN (SELECT v FROM leave_out)")
        if wanted.event_id is not None:
            inner.append("event_id = %(event_id)s")
            params["event_id"] = wanted.event_id
        if wanted.account_pk is not None:
            inner.append("account_pk = %(account_pk)s")
            params["account_pk"] = wanted.account_pk
        if wanted.account_pks is not None:
            sets["account_pks"] = sorted(wanted.account_pks) or [""]
            reached = "account_pk IN (SELECT v FROM account_pks)"
            if wanted.account_refs:
                sets["account_refs"] = sorted(wanted.account_refs)
                reached = (
                    "(account_pk IN (SELECT v FROM account_pks) OR "
                    "(isNull(account_pk) AND account_ref IN (SELECT v FROM account_refs)))"
                )
            inner.append(reached)
        if wanted.schema_names is not None:
            params["schema_names"] = tuple(sorted(wanted.schema_names)) or ("",)
            inner.append("schema_name IN %(schema_names)s")
        if wanted.start is not None:
            inner.append("ts >= %(start)s")
            params["start"] = micros(wanted.start)
        if wanted.end is not None:
            inner.append("ts < %(end)s")
            params["end"] = micros(wanted.end)
        if wanted.statuses is not None:
            params["statuses"] = tuple(sorted(wanted.statuses)) or ("",)
            outer.append("status IN %(statuses)s")
        return inner, outer, params, sets


def _period_of(starts: list[int], lo: int, hi: int) -> str:
    """The index of the period that holds `ts` (already inside [starts[0], end)): nested ifs that halve the periods
    at each level, about log2(periods) comparisons a row (18.16's lambdas cannot read a row's columns)."""
    if hi - lo == 1:
        return str(lo)
    mid = (lo + hi) // 2
    return f"if(ts < {int(starts[mid])}, {_period_of(starts, lo, mid)}, {_period_of(starts, mid, hi)})"


def _decoded(row: Sequence[Any]) -> list[Any]:
    cells = list(row)
    for i in _JSON:
        if cells[i] is not None:
            cells[i] = _decode(cells[i])
    return cells
