"""Fixtures shared by the suite.

- `db_url` is parametrized over both engines: every test that touches a database runs on SQLite and PostgreSQL.
  Each engine gets one throwaway database per test run, migrated with the real migrations.
- Tests isolate by organization (a fresh one per test), which is also how Meterline isolates tenants.
- `server` runs `meterline serve` as a subprocess on that database: the official SDK talks to it over HTTP.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import begin_write, create_db_engine, make_session_factory, unit_of_work
from meterline.events.shipper import ship
from meterline.events.store import EventStore
from meterline.events.usage_store import choose_clickhouse, clickhouse_of
from meterline.migrations import upgrade
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.tenancy.service import TenancyService
from tests import clickhouse_server

PG_ADMIN_URL = os.environ.get("METERLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENGINES = ["sqlite", "postgresql"]
# The second pass of scripts/test.sh sets METERLINE_TEST_USAGE_STORE=clickhouse: each engine's test database keeps
# its usage in a real ClickHouse server (tests/clickhouse_server.py), as `meterline usage-store` makes it.
USAGE_STORE = os.environ.get("METERLINE_TEST_USAGE_STORE", "")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# Hypothesis: no deadline and no too_slow health check (a loaded machine must not fail a property by its speed, nor by
# how long it took to draw the data: the properties that set their own suppress_health_check list it too), and a
# failing example printed with the blob that replays it. Every run draws one seed, printed at the end: replay a run
# with --hypothesis-seed=N (a forced seed also makes Hypothesis skip its local example database, which CI's fresh
# machines never have). bench/mutation.py runs the properties with fewer examples (METERLINE_HYPOTHESIS_PROFILE).
hypothesis_settings.register_profile(
    "meterline", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("mutation", hypothesis_settings.get_profile("meterline"), max_examples=25)
hypothesis_settings.load_profile(os.environ.get("METERLINE_HYPOTHESIS_PROFILE", "meterline"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)  # a pytest-xdist worker runs with its controller's seed
    if workerinput is not None and "hypothesis_seed" in workerinput:
        config.option.hypothesis_seed = workerinput["hypothesis_seed"]
    elif config.getoption("hypothesis_seed", default=None) is None:
        config.option.hypothesis_seed = str(secrets.randbelow(2**32))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist (scripts/test.sh runs on both cores): hand every worker the seed the run prints."""
    node.workerinput["hypothesis_seed"] = node.config.option.hypothesis_seed


# Tests of live servers read the wall clock, as the server does: "this month's draft invoice", "the cycle now". A test
# that starts in one month and asserts in the next would see two different months; one that ingests an event "5
# minutes ago" into a plan starting this month, in the first minutes of a month, would send it before the plan (or
# into last month's closed cycle). So no test starts within MONTH_EDGE of either side of the turn of a UTC month: it
# waits first (at most MONTH_EDGE, twice a month), and a run at 23:59 on the last day of a month, or at 00:01 on the
# first, passes. Events "now - d" in tests/api and tests/console keep d <= MONTH_EDGE where their month matters.
# (Service and unit tests take `now` as an argument: fixed dates.)
MONTH_EDGE = timedelta(minutes=5)


def next_month_start(now: datetime) -> datetime:
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)


def until_month_is_safe(now: datetime, edge: timedelta = MONTH_EDGE) -> float:
    """Seconds to wait before a test starting at `now` runs within one UTC month, at least `edge` from its start
    and its end (0: none)."""
    left = next_month_start(now) - now
    if left < edge:
        return left.total_seconds() + edge.total_seconds() + 1  # past the turn, and `edge` into the new month
    since = now - now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (edge - since).total_seconds() + 1 if since < edge else 0.0


@pytest.fixture(autouse=True)
def _one_month_per_test() -> None:
    wait = until_month_is_safe(utc_now())
    if wait:
        time.sleep(wait)


def _engine_of(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    engine = callspec.params.get("db_url") if callspec is not None else None
    return ENGINES.index(engine) if engine in ENGINES else 0


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a random order run (`--random-order`, pytest-random-order, which prints its seed: replay it with
    `--random-order-seed=N`), each engine's tests stay together, in their shuffled order: an engine's database and
    live server are session fixtures, set up once per engine rather than at every switch between engines."""
    try:
        from random_order.config import Config as RandomOrder  # only where the plugin is installed
    except ImportError:
        return
    if RandomOrder(config).is_enabled:
        items.sort(key=_engine_of)  # stable: the shuffled order within each engine is kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The seeds of the run, also under -q (which hides the header): Hypothesis's, and the random order's."""
    terminalreporter.write_line(f"hypothesis: --hypothesis-seed={config.getoption('hypothesis_seed')}")
    try:
        from random_order.config import Config as RandomOrder
    except ImportError:
        return
    order = RandomOrder(config)
    if order.is_enabled:
        terminalreporter.write_line(
            f"random order: --random-order-bucket={order.bucket_type} --random-order-seed={order.seed}"
        )


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ClickHouse server of the run's own (its URL names no database: add one per use)."""
    process, url = clickhouse_server.start(tmp_path_factory.mktemp("clickhouse"))
    yield url
    clickhouse_server.stop(process)


def keep_usage_in_clickhouse(database_url: str, clickhouse_url: str) -> str:
    """Make `database_url`'s installation keep its usage in a ClickHouse database of its own; returns that URL."""
    url = f"{clickhouse_url}meterline_{secrets.token_hex(4)}"
    engine = create_db_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            choose_clickhouse(session, url, utc_now())
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session", params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'meterline.db'}"
        upgrade(url)
        if USAGE_STORE == "clickhouse":
            keep_usage_in_clickhouse(url, request.getfixturevalue("clickhouse_url"))
        yield url
        return
    name = f"meterline_test_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    if USAGE_STORE == "clickhouse":
        keep_usage_in_clickhouse(url, request.getfixturevalue("clickhouse_url"))
    yield url
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def session_factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def new_org(factory: sessionmaker[Session], **kwargs: object) -> Organization:
    with unit_of_work(factory) as session:
        return TenancyService(session).create_organization(
            name=kwargs.pop("name", f"Org {secrets.token_hex(3)}"),
            now=utc_now(),
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture(autouse=True)
def _usage_shipped_at_once(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In the ClickHouse pass, the usage and events a test's transaction wrote are shipped as it commits (by the
    shipper's own `ship`, inside that transaction), so that the service tests' reads go through ClickHouse and not
    only the outbox; a transaction rolled back ships nothing, as in production. (Live servers ship as in
    production.)"""
    if USAGE_STORE != "clickhouse":
        yield
        return
    original = EventStore._to_outbox

    def to_outbox(store: EventStore, usage: str, events: str | None, now: datetime) -> None:
        original(store, usage, events, now)
        store.session.info["outbox_written"] = True

    def ship_before_commit(session: Session) -> None:
        if session.info.pop("outbox_written", False):
            clickhouse = clickhouse_of(session)
            if clickhouse is not None:
                ship(session, clickhouse, limit=1_000_000)

    def forget_on_rollback(session: Session) -> None:
        session.info.pop("outbox_written", None)

    monkeypatch.setattr(EventStore, "_to_outbox", to_outbox)
    sa_event.listen(Session, "before_commit", ship_before_commit)
    sa_event.listen(Session, "after_rollback", forget_on_rollback)
    yield
    sa_event.remove(Session, "before_commit", ship_before_commit)
    sa_event.remove(Session, "after_rollback", forget_on_rollback)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One open writing transaction, rolled back after the test. (On SQLite it holds the write lock: create what
    the test needs in this session, not in another unit of work.)"""
    s = session_factory()
    begin_write(s)
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def org_in(session: Session, **kwargs: object) -> Organization:
    return TenancyService(session).create_organization(
        name=kwargs.pop("name", f"Org {secrets.token_hex(3)}"),
        now=utc_now(),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def org(session: Session) -> Organization:
    return org_in(session)


@pytest.fixture
def ctx(session: Session, org: Organization) -> Context:
    return Context(session=session, org=org, now=utc_now())


# -- live server ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not come up in {timeout}s:\n{log.read_text()}")


def files_dir_of(database_url: str) -> Path:
    """The local file store of every server the tests start on `database_url`: one per database, since any server's
    report runner may run any report of its database (docs/operations.md), and the file must be where every server
    of that database reads it."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "meterline-test-files" / digest


@contextmanager
def fresh_database(like: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of its own on the engine of `like` (no test server works on it), dropped afterwards."""
    if like.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('own-sqlite') / 'meterline.db'}"
        upgrade(url)
        yield url
        return
    name = f"meterline_own_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(
    database_url: str, log: Path, workers: int = 1, log_level: str = "warning", env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    out = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterline.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--workers",
            str(workers),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        # Quotas off unless a test sets them (tests/api/test_quotas.py): suites and benches send far above them.
        # The billing worker off unless a test turns it on (tests/api/test_invoices_sdk.py): tests bill explicitly
        # (POST /invoices/bill_runs), so backdated schedule edits are not raced by a finalizing worker.
        env={
            "METERLINE_RATE_LIMIT_INGEST": "0",
            "METERLINE_RATE_LIMIT_API": "0",
            "METERLINE_WORKER_INTERVAL": "0",
            "METERLINE_ALERT_INTERVAL": "0",  # likewise the alert evaluator: tests evaluate at chosen instants
            "METERLINE_FILES_DIR": str(files_dir_of(database_url)),  # every server of one database: one store
            # And the webhook sender: a server delivering with the real retry delays (5 s, 60 s...) would take the
            # deliveries that service tests' own Deliverers (fast schedules) expect, on the same database. A test
            # that needs the server to deliver starts one with it on (sending_server below).
            "METERLINE_WEBHOOK_INTERVAL": "0",
            **os.environ,
            "METERLINE_LOG_LEVEL": log_level,
            **(env or {}),
        },
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_until_up(base_url, process, log)
    return process, base_url


SENDING = {"METERLINE_WEBHOOK_INTERVAL": "1"}  # the webhook sender on, as in production (docs/webhooks.md)


@pytest.fixture(scope="module")
def sending_server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of the module's own that delivers webhooks; stopped when the module's tests end, so that it never
    takes deliveries from another module's tests on the same database."""
    log = tmp_path_factory.mktemp("sending-server") / "server.log"
    process, base_url = start_server(db_url, log, env=SENDING)
    yield base_url
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the sending server logged errors:\n{log.read_text()}"


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# How long a revocation may take to reach every server process: each remembers a verified API key for at most
# 0.5 s (tenancy/key_cache.py), and issue 21 allows one second. Not a timing of anything: a bound of correctness.
REVOCATION_BOUND = 1.0


def refused_within(send: Callable[[], httpx.Response], seconds: float = REVOCATION_BOUND) -> httpx.Response:
    """Call `send` (a request with a just-revoked credential) until it answers 401, and fail as soon as a request
    *sent* more than `seconds` after this call still gets another answer. Judged by when each request left, so a
    slow machine cannot fail it, and a process that keeps honouring the credential always does."""
    deadline = time.monotonic() + seconds
    while True:
        sent = time.monotonic()
        answer = send()
        if answer.status_code == 401:
            return answer
        assert sent <= deadline, (
            f"a request sent {sent - deadline + seconds:.2f} s after the revocation still got "
            f"{answer.status_code}: {answer.text[:200]}"
        )
        time.sleep(0.02)


@pytest.fixture(scope="session")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    process, base_url = start_server(db_url, log)
    yield base_url
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the server logged errors:\n{log.read_text()}"


@dataclass
class Tenant:
    org: Organization
    token: str
    base_url: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base_url}/api", headers=self.headers, timeout=30)


def new_tenant(factory: sessionmaker[Session], base_url: str) -> Tenant:
    org = new_org(factory)
    with unit_of_work(factory) as s:
        created = TenancyService(s).create_api_key(org=org, now=utc_now(), name="tests")
    return Tenant(org=org, token=created.token, base_url=base_url)


@pytest.fixture
def tenant(session_factory: sessionmaker[Session], server: str) -> Tenant:
    return new_tenant(session_factory, server)


@pytest.fixture
def other_tenant(session_factory: sessionmaker[Session], server: str) -> Tenant:
    return new_tenant(session_factory, server)
