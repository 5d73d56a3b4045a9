"""The two usage stores for the benches (issue 19): `database` (the rollup tables of SQLite / PostgreSQL, the
default) and `clickhouse` (docs/clickhouse.md), and a ClickHouse server to put the second one in.

The server is the tests' own (tests/clickhouse_server.py: Debian's clickhouse-server, its own data directory and
free ports), started once per bench and stopped at its end. Each bench database gets a ClickHouse database of its own
on it, chosen as `meterline usage-store --clickhouse URL` chooses (`choose_clickhouse`, a row of the database)."""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/conftest.py (start_server) imports `tests.` modules

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from tests import clickhouse_server  # noqa: E402

from meterline.core.clock import utc_now  # noqa: E402
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work  # noqa: E402
from meterline.events.models import UsageOutbox  # noqa: E402
from meterline.events.usage_store import choose_clickhouse  # noqa: E402

STORES = ("database", "clickhouse")


def stores_of(choice: str) -> list[str]:
    return list(STORES) if choice == "both" else [choice]


@contextmanager
def clickhouse_server_running() -> Iterator[str]:
    """A ClickHouse server for the bench's duration; yields its URL (clickhouse://127.0.0.1:<port>/)."""
    with tempfile.TemporaryDirectory(prefix="meterline-bench-ch-") as tmp:
        process, url = clickhouse_server.start(Path(tmp))
        try:
            yield url
        finally:
            clickhouse_server.stop(process)


def keep_usage_in_clickhouse(database_url: str, server_url: str, tag: str) -> str:
    """Record in the database that its usage is kept in a fresh ClickHouse database of `server_url` (as `meterline
    usage-store --clickhouse` does on an empty installation); returns that database's URL."""
    url = f"{server_url.rstrip('/')}/bench_{tag}_{secrets.token_hex(3)}"
    factory = make_session_factory(create_db_engine(database_url))
    with unit_of_work(factory) as session:
        choose_clickhouse(session, url, utc_now())
    return url


def outbox_size(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(UsageOutbox)) or 0)


def wait_for_empty_outbox(factory: sessionmaker[Session], timeout: float = 1800, poll: float = 0.05) -> float:
    """Wait until the server's shipper emptied the outbox; returns the perf_counter instant it was seen empty."""
    deadline = time.monotonic() + timeout
    while outbox_size(factory):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the outbox was not empty after {timeout:.0f} s")
        time.sleep(poll)
    return time.perf_counter()


def clickhouse_rows(clickhouse_url: str) -> str:
    """How many rows the usage tables hold (shipped rows, copies not merged yet included; compacted sums)."""
    from meterline.events.clickhouse import COMPACT, ROWS, ClickHouseUsage

    store = ClickHouseUsage(clickhouse_url)
    db = store.address.database
    shipped = int(store.execute(f"SELECT count() FROM {db}.{ROWS}")[0][0])  # noqa: S608
    compacted = int(store.execute(f"SELECT count() FROM {db}.{COMPACT}")[0][0])  # noqa: S608
    return f"{shipped:,} shipped rows and {compacted:,} compacted"


def wait_for_mutations(store: Any, timeout: float = 600) -> None:
    """Wait until ClickHouse has run the deletions compaction asked for (mutations run in the background)."""
    deadline = time.monotonic() + timeout
    while store.execute(
        "SELECT count() FROM system.mutations WHERE database = %(db)s AND is_done = 0", {"db": store.address.database}
    )[0][0]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"ClickHouse's deletions were not done after {timeout:.0f} s")
        time.sleep(0.1)
