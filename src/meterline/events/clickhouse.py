"""Usage in ClickHouse (docs/clickhouse.md): the table, its writes and its deduplicated reads. The SQL holds on
Debian's ClickHouse 18.16 and on current releases: no DateTime64 (times are Int64 microseconds, UTC), no Nullable
key columns, no function newer than 18.16.

Exactness. A row is (organization, account, meter, 15-minute bucket, quantity, events), written by the shipper
(events/shipper.py) from one outbox batch; (batch_id, seq) names it. A batch shipped twice (the shipper died between
ClickHouse's acknowledgement and deleting the batch) writes the same rows with the same names, and every read groups
by (batch_id, seq) first, so each row counts once whether or not ClickHouse has merged the copies away yet.
Quantities: `Decimal(38, 12)` sums exactly; a quantity with more than 12 decimals (a meter's computation may divide)
travels as text in `quantity_text` instead, and is added here in Python, exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from meterline.core.errors import Unavailable
from meterline.core.money import EXACT, exact_sum

# The driver logs each failed connection as a warning with its traceback, on stderr (an operator running `meterline
# usage-store` with a wrong URL saw one and took it for a crash); ClickHouseError says the same in one line.
logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)

SCALE = 12  # decimals of the quantity column
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# One row of usage as shipped: (org_id, account_pk, meter_id, bucket µs, quantity, events, batch_id, seq)
# Lists up to this long go inline in a query's text (cheapest for one account's read); longer ones as external tables,
# since a query's text is limited (max_query_size, 256 KiB by default: about 8,000 ids).
INLINE_VALUES = 500

UsageRow = tuple[str, str, str, int, Decimal, int, str, int]

ROWS = "usage_rows"  # the rows as shipped, named (batch_id, seq), tagged with the shipping epoch (ship_seq)
COMPACT = "usage_compact"  # per (account, meter, bucket, generation): the sum of its rows compacted in that generation
EVENTS = "events"  # every version of every event (events/clickhouse_events.py)
EVENT_KEYS = "event_keys"  # (org_id, event_id) -> pk: the events of an event id found by their keys (ibid.)
OWNERS = "owners"  # the installations that moved into this database: one (usage_store.py `choose_clickhouse`)


def reason_of(exc: BaseException) -> str:
    """A driver's error on one line, without the server's stack trace ("Code: 192. DB::Exception: Unknown user x")."""
    text = str(exc).split("Stack trace:")[0]
    reason = " ".join(text.split()) or type(exc).__name__
    return reason if len(reason) <= 400 else reason[:399] + "…"


def micros(at: datetime) -> int:
    """`at` (UTC-aware) as whole microseconds since the epoch, exactly."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class ClickHouseError(Unavailable):
    """The ClickHouse store cannot be reached or refused a statement (the API answers 503). `str()` is the whole
    reason, with ClickHouse's address, for the server's log and the CLI; `message`, which API clients and console
    pages see, names neither host nor user unless `public` is given."""

    def __init__(self, reason: str, *, public: str | None = None) -> None:
        super().__init__(public or UNAVAILABLE, retry_after=5)
        self.args = (reason,)


UNAVAILABLE = "The usage and events store (ClickHouse) is unavailable; nothing was changed, retry shortly"
HTTP_PORTS = (8123, 8443)  # ClickHouse's HTTP ports: its native protocol, which Meterline talks, is on 9000 / 9440


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    database: str
    user: str
    password: str

    @classmethod
    def parse(cls, url: str) -> Address:
        """clickhouse://[user[:password]@]host[:port]/[database] (native protocol; port 9000, database
        `meterline` when left out)."""
        parts = urlsplit(url)
        if parts.scheme != "clickhouse" or not parts.hostname:
            raise ValueError(f"not a ClickHouse URL: {url!r} (expected clickhouse://host:9000/database)")
        if parts.query or parts.fragment:
            raise ValueError(
                f"a ClickHouse URL takes no options ({'?' + parts.query if parts.query else '#' + parts.fragment}): "
                "Meterline talks ClickHouse's native protocol without TLS (secure=... is not supported); reach a "
                "remote ClickHouse over a private network or a TLS tunnel"
            )
        try:
            port = parts.port or 9000
        except ValueError:
            raise ValueError(f"the port of {url!r} is not a number from 1 to 65535") from None
        if port in HTTP_PORTS:
            raise ValueError(
                f"{port} is ClickHouse's HTTP port: Meterline talks ClickHouse's native protocol, on port 9000 "
                "by default (clickhouse://host:9000/database)"
            )
        database = parts.path.strip("/") or "meterline"
        if not database.replace("_", "").isalnum():
            raise ValueError(f"a ClickHouse database name is letters, digits and '_': {database!r}")
        return cls(
            host=parts.hostname,
            port=port,
            database=database,
            user=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
        )

    def without_password(self) -> str:
        return f"clickhouse://{self.user}@{self.host}:{self.port}/{self.database}"


def table_ddl(database: str) -> list[str]:
    """The single-node schema. A cluster's (replicated and distributed) is in docs/operations.md."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        f"CREATE TABLE IF NOT EXISTS {database}.{ROWS} ("
        "org_id String, account_pk String, meter_id String, bucket Int64, "
        "quantity Decimal(38, 12), quantity_text String, events Int64, batch_id String, seq UInt32, ship_seq UInt64"
        ") ENGINE = ReplacingMergeTree(ship_seq) ORDER BY (org_id, account_pk, meter_id, bucket, batch_id, seq)",
        f"CREATE TABLE IF NOT EXISTS {database}.{COMPACT} ("
        "org_id String, account_pk String, meter_id String, bucket Int64, "
        "quantity Decimal(38, 12), quantity_text String, events Int64, generation UInt64, writer String"
        ") ENGINE = MergeTree ORDER BY (org_id, account_pk, meter_id, bucket, generation, writer)",
        f"CREATE TABLE IF NOT EXISTS {database}.{EVENTS} ("
        "org_id String, pk String, version UInt64, event_id Nullable(String), schema_name String, "
        "schema_version Nullable(Int64), account_ref String, account_pk Nullable(String), ts Int64, "
        "attributes String, dimensions String, status String, status_description Nullable(String), "
        "units Nullable(String), meters Nullable(String), enrichments Nullable(String), created Int64, batch_id String"
        ") ENGINE = ReplacingMergeTree(version) ORDER BY (org_id, pk)",
        f"CREATE TABLE IF NOT EXISTS {database}.{EVENT_KEYS} (org_id String, event_id String, pk String) "
        "ENGINE = ReplacingMergeTree ORDER BY (org_id, event_id, pk)",
        f"CREATE TABLE IF NOT EXISTS {database}.{OWNERS} (installation String) ENGINE = TinyLog",
    ]


class Compacted(NamedTuple):
    """What a read takes of the compacted sums (events/compaction.py): the generations up to `through`, each one's
    rows as its recorded writer wrote them: the first compactor of its job ('') unless another took the job over
    (`writers`: generation -> the writer recorded)."""

    through: int
    writers: Mapping[int, str]


def _split(quantity: Decimal) -> tuple[Decimal, str]:
    """(the column's value, the text column's): exact either way."""
    exponent = quantity.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -SCALE:
        return quantity, ""
    return Decimal(0), str(quantity)


class ClickHouseUsage:
    """Usage rows in one ClickHouse database. Thread-safe: each thread talks through a connection of its own."""

    def __init__(self, url: str) -> None:
        self.address = Address.parse(url)
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from clickhouse_driver import Client  # an optional dependency: only installations that use it need it

            a = self.address
            client = Client(
                a.host, port=a.port, user=a.user, password=a.password, connect_timeout=5, send_receive_timeout=30
            )
            self._local.client = client
        return client

    def execute(
        self, sql: str, params: Any = None, *, sets: dict[str, Sequence[str]] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run `sql`; each of `sets` goes with the query as an external table of one String column `v`, read as
        `(SELECT v FROM name)`, so a list of any length passes whatever the server's max_query_size."""
        external = [
            {"name": name, "structure": [("v", "String")], "data": [{"v": value} for value in values]}
            for name, values in (sets or {}).items()
        ]
        try:
            result = self._client().execute(sql, params, external_tables=external or None)
        except Exception as exc:  # the driver's errors have no common base: network, server, protocol
            self._local.client = None
            reason = reason_of(exc)
            if reason.startswith("Code: 209."):  # the driver's socket timeout: nothing answered the native protocol
                reason += " (no answer: is this ClickHouse's native port, 9000 by default, and not its HTTP port?)"
            raise ClickHouseError(f"ClickHouse at {self.address.without_password()}: {reason}") from exc
        return list(result) if isinstance(result, list) else []  # an INSERT answers how many rows it took

    def create_schema(self) -> None:
        for statement in table_ddl(self.address.database):
            self.execute(statement)

    def insert(self, rows: Sequence[UsageRow], ship_seq: int = 0) -> None:
        """Write `rows` as shipped in epoch `ship_seq` (events/compaction.py)."""
        if not rows:
            return
        values = []
        for org, account, meter, bucket, quantity, events, batch, seq in rows:
            column, text = _split(quantity)
            values.append((org, account, meter, bucket, column, text, events, batch, seq, ship_seq))
        self.execute(
            f"INSERT INTO {self.address.database}.{ROWS} "  # noqa: S608  # nosec B608 - a checked name
            "(org_id, account_pk, meter_id, bucket, quantity, quantity_text, events, batch_id, seq, ship_seq) VALUES",
            values,
        )

    def owned_by(self, installation: str) -> set[str]:
        """Claim this database for `installation` unless another installation has; returns the others that claimed
        it (none: it is `installation`'s). The claim is written, then read again: of two installations claiming an
        unclaimed database at once, each sees the other (both are refused, and the database stays claimed by both)."""
        db = self.address.database

        def owners() -> set[str]:
            found = self.execute(f"SELECT DISTINCT installation FROM {db}.{OWNERS}")  # noqa: S608  # nosec B608 - a checked name
            return {str(row[0]) for row in found}

        claimed = owners()
        if claimed - {installation}:
            return claimed - {installation}
        if installation not in claimed:
            self.execute(f"INSERT INTO {db}.{OWNERS} (installation) VALUES", [(installation,)])  # noqa: S608  # nosec B608
        return owners() - {installation}

    def holds_usage(self) -> bool:
        """Whether this database holds any usage (rows or compacted sums) or events already. (One query per table:
        18.16 refuses a UNION ALL of constants read through distributed tables, code 171.)"""
        db = self.address.database
        return any(
            self.execute(f"SELECT 1 FROM {db}.{table} LIMIT 1")  # noqa: S608  # nosec B608 - checked names
            for table in (ROWS, COMPACT, EVENTS, EVENT_KEYS)
        )

    def empty(self) -> None:
        """Delete all usage here (a move into this database that failed half-way: events/moves.py). A cluster's
        distributed tables take TRUNCATE and keep their shards' rows: that is refused, with what to run instead."""
        for table in (ROWS, COMPACT, EVENTS, EVENT_KEYS):
            self.execute(f"TRUNCATE TABLE {self.address.database}.{table}")
        if self.holds_usage():
            raise ClickHouseError(
                f"{self.address.without_password()} still holds usage after TRUNCATE: on a cluster, empty the "
                'shards\' local tables (docs/operations.md, "A cluster")'
            )

    def shipped_since(self, epoch: int) -> bool:
        """Whether rows were shipped in epoch `epoch` or later."""
        found = self.execute(
            f"SELECT 1 FROM {self.address.database}.{ROWS} WHERE ship_seq >= %(epoch)s LIMIT 1",  # noqa: S608  # nosec B608 - a checked name
            {"epoch": epoch},
        )
        return bool(found)

    def spans(self) -> dict[str, tuple[int, int]]:
        """The first and last bucket (µs) of every organization with usage here."""
        db = self.address.database
        rows = self.execute(
            f"SELECT org_id, min(bucket), max(bucket) FROM (SELECT org_id, bucket FROM {db}.{ROWS} "  # noqa: S608  # nosec B608 - checked names
            f"UNION ALL SELECT org_id, bucket FROM {db}.{COMPACT}) GROUP BY org_id"
        )
        return {org: (int(low), int(high)) for org, low, high in rows}

    def sums(
        self,
        org_id: str,
        account_pks: Sequence[str],
        meter_ids: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        leave_out: Iterable[str] = (),
        compacted: Compacted,
    ) -> dict[tuple[str, str], tuple[Decimal, int]]:
        """(quantity, events) per (account, meter) over the buckets in [start, end), each row counted once; the
        batches in `leave_out` (still in the outbox, counted from there) are not read; the compacted generations up
        to `compacted.through` are, with the rows shipped in epoch `compacted.through` or later (0: none compacted
        yet; events/compaction.py)."""
        rows = self._deduplicated(
            "account_pk, meter_id", org_id, start, end, account_pks, meter_ids, leave_out, compacted
        )
        return {(a, m): (quantity, events) for a, m, quantity, events in rows}

    def bucket_sums(
        self,
        org_id: str,
        start: datetime,
        end: datetime,
        *,
        account_pks: Sequence[str] | None = None,
        meter_ids: Sequence[str] | None = None,
        leave_out: Iterable[str] = (),
        compacted: Compacted,
    ) -> list[tuple[str, str, int, Decimal, int]]:
        """(account, meter, bucket µs, quantity, events) of every bucket with usage in [start, end), each row counted
        once (for the metrics and reports that group usage by period); `leave_out` and `compacted` as in `sums`."""
        rows = self._deduplicated(
            "account_pk, meter_id, bucket", org_id, start, end, account_pks, meter_ids, leave_out, compacted
        )
        return [(a, m, int(b), quantity, events) for a, m, b, quantity, events in rows]

    def _deduplicated(
        self,
        keys: str,
        org_id: str,
        start: datetime,
        end: datetime,
        account_pks: Sequence[str] | None,
        meter_ids: Sequence[str] | None,
        leave_out: Iterable[str],
        compacted: Compacted,
    ) -> list[tuple[Any, ...]]:
        """Rows of `keys` (constant column names) with their (quantity, events) summed over [start, end): the
        compacted sums of the generations up to `compacted.through`, each as its recorded writer wrote it (a plain
        sum: no grouping by generation), plus the rows shipped in epoch `compacted.through` or later, each
        (batch_id, seq) once whatever copies ClickHouse has not merged yet (by the highest epoch among them).
        events/compaction.py says why that is exact."""
        where = ["org_id = %(org)s", "bucket >= %(start)s", "bucket < %(end)s"]
        params: dict[str, Any] = {"org": org_id, "start": micros(start), "end": micros(end)}
        sets: dict[str, Sequence[str]] = {}

        def within(column: str, name: str, values: Sequence[str], negated: bool = False) -> str:
            """`column` [NOT] IN the values: inline when few, else as an external table (any length)."""
            operator = "NOT IN" if negated else "IN"
            if len(values) <= INLINE_VALUES:
                params[name] = tuple(values)
                return f"{column} {operator} %({name})s"
            sets[name] = values
            return f"{column} {operator} (SELECT v FROM {name})"  # noqa: S608  # nosec B608 - constant names

        for column, values in (("account_pk", account_pks), ("meter_id", meter_ids)):
            if values is not None:
                if not values:
                    return []
                where.append(within(column, f"{column}s", tuple(set(values))))
        compact_where = " AND ".join([*where, "generation <= %(compacted)s", _written(compacted, params)])
        params["compacted"] = compacted.through
        pending = tuple(set(leave_out))
        if pending:
            where.append(within("batch_id", "pending", pending, negated=True))
        db, key = self.address.database, "account_pk, meter_id, bucket"
        # constant column names, checked database and table names, values as parameters
        # each side summed to `keys` first (cheaper than a union of every bucket), the quantities kept as text
        # gathered as one list per side
        summed = f"SELECT {keys}, sum(q) AS q, sum(n) AS n, groupArrayIf(t, t != '') AS t FROM"
        sql = (
            f"SELECT {keys}, sum(q), sum(n), groupArray(t) FROM ("  # noqa: S608  # nosec B608
            f"{summed} (SELECT {key}, quantity AS q, events AS n, quantity_text AS t "
            f"FROM {db}.{COMPACT} WHERE {compact_where}) "
            f"GROUP BY {keys} UNION ALL {summed} (SELECT {key}, batch_id, seq, any(quantity) AS q, any(events) AS n, "
            f"any(quantity_text) AS t, max(ship_seq) AS s FROM {db}.{ROWS} WHERE {' AND '.join(where)} "
            f"GROUP BY {key}, batch_id, seq) WHERE s >= %(compacted)s GROUP BY {keys}) GROUP BY {keys}"
        )
        return [
            (*row[:-3], EXACT.add(Decimal(row[-3]), exact_sum(_texts(row[-1]))), int(row[-2]))
            for row in self.execute(sql, params, sets=sets)
        ]

    def compact(self, start: int, generation: int, leave_out: Sequence[str], writer: str) -> None:
        """Write generation `generation` of the compacted sums as `writer`: per (account, meter, bucket), the sum of
        its rows shipped in epochs [start, generation) outside the batches `leave_out`, each (batch_id, seq) once.
        Reads take one writer's rows per generation, the one recorded (events/compaction.py): another compactor of
        the same job, or this one's half-written attempt, writes rows nobody reads."""
        db, key = self.address.database, "org_id, account_pk, meter_id, bucket"
        params = {"start": start, "generation": generation, "writer": writer}
        outside = " AND batch_id NOT IN (SELECT v FROM pending)" if leave_out else ""
        self.execute(
            f"INSERT INTO {db}.{COMPACT} ({key}, quantity, quantity_text, events, generation, writer) "  # noqa: S608  # nosec B608 - checked names
            f"SELECT {key}, sum(q), arrayStringConcat(groupArrayIf(t, t != ''), ' '), sum(n), %(generation)s, "
            f"%(writer)s FROM (SELECT {key}, batch_id, seq, any(quantity) AS q, any(events) AS n, "
            f"any(quantity_text) AS t FROM {db}.{ROWS} WHERE ship_seq >= %(start)s AND ship_seq < %(generation)s"
            f"{outside} GROUP BY {key}, batch_id, seq) GROUP BY {key}",
            params,
            sets={"pending": leave_out} if leave_out else None,
        )

    def forget_rows_before(self, generation: int) -> None:
        """Delete the rows shipped before epoch `generation` (all compacted: reads no longer count them). A
        mutation: ClickHouse rewrites the parts in the background."""
        self.execute(
            f"ALTER TABLE {self.address.database}.{ROWS} DELETE WHERE ship_seq < %(generation)s",  # noqa: S608  # nosec B608 - a checked name
            {"generation": generation},
        )


def _written(compacted: Compacted, params: dict[str, Any]) -> str:
    """The condition on `usage_compact.writer`: the first compactor's rows ('') in the generations nobody took over,
    the recorded writer's in the others."""
    if not compacted.writers:
        return "writer = ''"
    params["taken_over"] = tuple(sorted(compacted.writers))
    params["recorded"] = tuple(f"{generation} {writer}" for generation, writer in sorted(compacted.writers.items()))
    return (
        "(writer = '' AND generation NOT IN %(taken_over)s "
        "OR concat(toString(generation), ' ', writer) IN %(recorded)s)"
    )


def _texts(lists: Iterable[Iterable[str]]) -> Iterable[Decimal]:
    """The quantities kept as text (more than 12 decimals), as a read gathers them: lists of texts, each one row's
    quantity or, in a compacted row, several separated by spaces."""
    for texts in lists:
        for text in texts:
            for piece in text.split():
                yield Decimal(piece)
