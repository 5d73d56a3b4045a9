"""Compaction of the usage shipped to ClickHouse (docs/clickhouse.md, "Compaction"): reads that do not grow with the
number of batches shipped.

Every shipped row is named (batch_id, seq) so that a batch shipped twice counts once; a read groups the rows by that
name before it sums them, which costs as many rows as were shipped (one per batch, meter and bucket). Compaction
sums them, one generation after the other, into one row per (account, meter, bucket) and generation, and deletes
the rows it summed.

**The boundary is an epoch of shipping, not a batch id.** Batch ids are time-ordered but committed in any order, so
"every batch below id X" is never known to be complete. Instead, the installation keeps an epoch (a row of the
relational database, `installation.usage_epoch`). A shipper reads it with a share lock (PostgreSQL `FOR SHARE`;
SQLite's single writer) in the transaction that ships and deletes its batches, and tags the rows it inserts with it
(`ship_seq`). Compaction takes the row exclusively (`FOR UPDATE`: it waits for every shipper in flight to commit or
roll back), bumps the epoch to g, reads the ids of the batches still in the outbox (`leave_out`) and commits. So:

- every batch deleted from the outbox before the bump was acknowledged by ClickHouse with `ship_seq < g`, and every
  batch shipped after it carries `ship_seq >= g`;
- a batch in the outbox at the bump may have copies in ClickHouse with `ship_seq < g` (a shipper that died after
  ClickHouse took its rows, or whose insert landed late); they are left out, and its real shipping carries
  `ship_seq >= g`.

Generation g holds, per (account, meter, bucket), the sum of its rows with `ship_seq` in [through, g) outside
`leave_out`, each (batch_id, seq) once (`ClickHouseUsage.compact`); `through` is the previous generation. A copy of
a row with `ship_seq` below `through` is one a shipper that died left; its batch's real copy is the one summed.

**Reads** (events/store.py) read the last generation recorded as done, C, *before* they read the outbox, then sum
the generations up to C and the rows whose highest `ship_seq` (over the copies of one name) is C or more. Exact:

- each row shipped is in exactly one of the two: below C it was summed by the generation whose epochs hold it (or
  is a copy whose batch is summed elsewhere), from C on it is read as a row;
- a generation up to C began (and read its `leave_out`) before the read read the outbox, so it holds no batch the
  read counts from the outbox; generations after C, written or half-written meanwhile, are not read;
- a generation is recorded with its writer, and reads sum only that writer's rows of it (a plain sum, no grouping).
  The job is a row of the relational database: the compactor that starts it writes as '' and holds it; another
  takes it over only after TAKE_OVER_AFTER (a compactor that died; the one that holds it may take it over at once,
  after an error of its own), under a new random writer recorded in the job. Only the job's current writer records
  it, and a generation whose writer is not '' is named in the recorded state (`writers`). So whatever a compactor
  that was taken over still writes, late, or an attempt that failed half-way, is never read;
- the rows a generation summed are deleted (a mutation) DELETE_AFTER after it was recorded, by the database's clock
  (compactors on several hosts), twice as long as a read may take (READ_LIMIT, counted from the snapshot the read
  stands on; a longer read is refused): a read that began before it was recorded still finds them.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.background import BackgroundLoop
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.events.clickhouse import ClickHouseError, Compacted
from meterline.events.models import Installation, UsageOutbox
from meterline.events.usage_store import COMPACTION, EPOCH, READ_LIMIT, clickhouse_of, compacted_of

log = logging.getLogger("meterline.compaction")

# A compaction leaves out the batches in the outbox at its start (sent to ClickHouse as an external table). The
# outbox holds about a second of usage normally; past this many batches ClickHouse is behind, and compaction waits.
MAX_LEAVE_OUT = 20_000
# The rows a generation replaced are deleted this long after it was recorded: twice as long as a read may take
# (events/store.py), so that a read that began before the generation was recorded still finds them.
DELETE_AFTER = 2 * READ_LIMIT


@dataclass(frozen=True)
class Job:
    through: int  # rows shipped in epochs [through, generation) are compacted
    generation: int
    leave_out: list[str]
    writer: str  # '' for the compactor that started the job, a random name for one that took it over


# A job unfinished for this long is taken over by another compactor (its own compactor takes it over at once): far
# longer than a compaction takes (a minute of shipped rows), so that two compactors rarely write one generation;
# exactness does not depend on it (the recorded writer's rows are the only ones read).
TAKE_OVER_AFTER = timedelta(minutes=10)
HOLDER = secrets.token_hex(8)  # this process, as the holder of the jobs it starts


def _locked(session: Session, name: str, *, share: bool = False) -> str:
    """The value of installation row `name` (created when missing), locked until the transaction ends: in share
    mode for `share` (PostgreSQL; SQLite's writer holds the only write lock anyway)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    stmt = select(Installation.value).where(Installation.name == name)
    if postgres:
        stmt = stmt.with_for_update(read=share)
    value = session.scalar(stmt)
    if value is None:
        initial = "0" if name == EPOCH else json.dumps({"through": 0, "job": None})
        insert = (postgresql.insert if postgres else sqlite.insert)(Installation)
        session.execute(insert.values(name=name, value=initial, updated_at=utc_now()).on_conflict_do_nothing())
        value = session.scalar(stmt)
    if value is None:  # inserted just above, or by a concurrent transaction: it cannot be missing
        raise RuntimeError(f"installation row {name} is missing after its insert")
    return value


def shipping_epoch(session: Session) -> int:
    """The epoch the rows shipped in this transaction are tagged with; compaction waits until it ends."""
    return int(_locked(session, EPOCH, share=True))


def start(session: Session, holder: str) -> Job | None:
    """The compaction job to run for `holder` (a process): the unfinished one, taken over (under a new writer) if it
    holds it or once it is TAKE_OVER_AFTER old, else a new generation (the epoch bumped, the outbox's batches read,
    after every shipper in flight has ended). None while another compactor holds the job, or while ClickHouse is too
    far behind (logged)."""
    epoch = int(_locked(session, EPOCH))  # exclusive: shippers in flight end first, later ones wait
    state = json.loads(_locked(session, COMPACTION))
    now = _database_now(session)
    held = state["job"]
    if held is not None:
        began = datetime.fromisoformat(held["began"]) if "began" in held else now - TAKE_OVER_AFTER
        if held.get("holder") != holder and now - began < TAKE_OVER_AFTER:
            return None
        held.update(writer=secrets.token_hex(8), holder=holder, began=now.isoformat())
        _write(session, COMPACTION, json.dumps(state))
        return Job(state["through"], held["generation"], held["leave_out"], held["writer"])
    leave_out = list(session.scalars(select(UsageOutbox.id).limit(MAX_LEAVE_OUT + 1)))
    if len(leave_out) > MAX_LEAVE_OUT:
        log.warning("usage compaction waits: more than %s batches wait in the outbox", MAX_LEAVE_OUT)
        return None
    job = Job(state["through"], epoch + 1, leave_out, "")
    _write(session, EPOCH, str(job.generation))
    state["job"] = {  # what was recorded and deleted stays
        "generation": job.generation,
        "leave_out": leave_out,
        "writer": job.writer,
        "holder": holder,
        "began": now.isoformat(),
    }
    _write(session, COMPACTION, json.dumps(state))
    return job


def finish(session: Session, job: Job) -> int | None:
    """Record `job` as done, with its writer. Returns the epoch below which the shipped rows may now be deleted
    (those replaced by a generation recorded DELETE_AFTER ago or more, which no read can still stand on), None when
    there is none new, or when the job was recorded first or taken over by another compactor."""
    _locked(session, EPOCH)  # one compactor at a time records
    state = json.loads(_locked(session, COMPACTION))
    held = state["job"]
    if held is None or held["generation"] != job.generation or held.get("writer", "") != job.writer:
        return None
    now = _database_now(session)
    recorded = [*state.get("recorded", []), [job.generation, now.isoformat()]]
    old_enough = [g for g, at in recorded if datetime.fromisoformat(at) <= now - DELETE_AFTER]
    deleted = int(state.get("deleted", 0))
    below = max(old_enough, default=deleted)
    writers = state.get("writers", {})
    if job.writer:
        writers[str(job.generation)] = job.writer
    state = {
        "through": job.generation,
        "job": None,
        "recorded": [[g, at] for g, at in recorded if g > below],
        "deleted": max(below, deleted),
        "writers": writers,
    }
    _write(session, COMPACTION, json.dumps(state))
    return below if below > deleted else None


def hold(session: Session) -> Compacted:
    """Hold every shipper and compactor off until this transaction ends (moving usage back into the database:
    events/moves.py); returns what is compacted, up to the last generation recorded, which no deletion can pass
    meanwhile."""
    _locked(session, EPOCH)
    return compacted_of(_locked(session, COMPACTION))


def _database_now(session: Session) -> datetime:
    """The time by the database's clock on PostgreSQL, which every process compares with (compactors may run on
    hosts whose clocks differ): `clock_timestamp()`, the moment of the call, since `now()` is the transaction's start
    and `finish` may have waited for the epoch's lock (a generation stamped before it was recorded would look old
    enough too soon); SQLite's processes share one host, and its clock."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalar(select(func.clock_timestamp()))  # now, after the locks: not the transaction's start
        if isinstance(found, datetime):
            return found
    return utc_now()


def _write(session: Session, name: str, value: str) -> None:
    session.execute(update(Installation).where(Installation.name == name).values(value=value, updated_at=utc_now()))


# A deletion ClickHouse refused is logged as a warning at most once an hour per process (a cluster's distributed
# table refuses every one), at debug in between.
REFUSAL_WARNING_EVERY = 3600.0
_warned_at: float | None = None


def compact_once(factory: sessionmaker[Session]) -> bool:
    """One compaction where usage is in ClickHouse and rows were shipped since the last: True when a generation was
    written (and recorded, by this compactor or another running the same job)."""
    with unit_of_work(factory, write=False) as session:
        clickhouse = clickhouse_of(session)
        if clickhouse is None:
            return False
        state = json.loads(session.scalar(select(Installation.value).where(Installation.name == COMPACTION)) or "{}")
    if not state.get("job") and not clickhouse.shipped_since(int(state.get("through", 0))):
        return False
    with unit_of_work(factory) as session:
        if clickhouse_of(session) is not clickhouse:  # moved meanwhile (usage_store.py): nothing to compact there
            return False
        job = start(session, HOLDER)
    if job is None:
        return False
    clickhouse.compact(job.through, job.generation, job.leave_out, job.writer)
    with unit_of_work(factory) as session:
        if clickhouse_of(session) is not clickhouse:  # moved meanwhile: another store's job may bear its numbers
            return False
        below = finish(session, job)
    if below is not None:
        try:
            clickhouse.forget_rows_before(below)
        except ClickHouseError as exc:  # a cluster's distributed table refuses it; the next deletion covers these
            global _warned_at  # this process's last warning of a refused deletion
            now = time.monotonic()
            warn = _warned_at is None or now - _warned_at >= REFUSAL_WARNING_EVERY
            _warned_at = now if warn else _warned_at
            log.log(
                logging.WARNING if warn else logging.DEBUG,  # a cluster refuses every one: said once an hour
                "usage compaction: the rows shipped before epoch %s were summed but not deleted; reads no longer "
                'count them. On a cluster, delete them on the local tables (docs/operations.md, "A cluster"): %s',
                below,
                exc,
            )
    return True


class UsageCompactor(BackgroundLoop):
    thread_name = "meterline-compactor"
    what = "usage compaction"
    log: ClassVar[logging.Logger] = log

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval)
        self.factory = factory

    def round(self) -> bool:
        compact_once(self.factory)
        return False
