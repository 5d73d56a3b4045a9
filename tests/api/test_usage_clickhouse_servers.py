"""Ingestion that scales out, with usage in ClickHouse: two `meterline serve` processes on one database and one
ClickHouse, each with its own shipper, take overlapping batches at once (repeated ids across both). Every answer is
a 2xx, each id counts once, the outbox empties, and both servers read the same usage, from ClickHouse."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import togai_client
from sqlalchemy import func, select

from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.events.clickhouse import UNAVAILABLE
from meterline.events.models import Installation, UsageOutbox
from meterline.events.usage_store import USAGE_STORE, clickhouse_of
from tests.api.conftest import Sdk, create_metering_catalog
from tests.conftest import fresh_database, keep_usage_in_clickhouse, new_tenant, start_server, stop_server

UTC = timezone.utc
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def servers(
    db_url: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str], Path]]:
    """Two servers (shippers every 0.2 s) on an installation of their own that keeps usage in ClickHouse; and the
    directory of their logs (server0.log, server1.log)."""
    with fresh_database(db_url, tmp_path_factory) as url:
        keep_usage_in_clickhouse(url, clickhouse_url)
        logs = tmp_path_factory.mktemp("servers")
        started = [
            start_server(url, logs / f"server{n}.log", env={"METERLINE_USAGE_SHIP_INTERVAL": "0.2"}) for n in range(2)
        ]
        try:
            yield url, [base for _, base in started], logs
        finally:
            for process, _ in started:
                stop_server(process)
        for n in range(2):
            text = (logs / f"server{n}.log").read_text()
            assert "Traceback" not in text, text


def test_two_servers_ingest_into_one_clickhouse_and_count_each_id_once(servers: tuple[str, list[str], Path]) -> None:
    url, bases, _ = servers
    engine = create_db_engine(url)
    factory = make_session_factory(engine)
    tenant = new_tenant(factory, bases[0])
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        togai_client.CreateCustomerRequest(
            id="acme", name="Acme Inc", primary_email="a@acme.test", address=togai_client.Address()
        )
    )
    create_metering_catalog(sdk)
    sdk.close()
    failures: list[str] = []

    def send(n: int) -> None:
        with httpx.Client(base_url=f"{bases[n % 2]}/api", headers=tenant.headers, timeout=60) as http:
            for b in range(6):
                events = [
                    {
                        "schemaName": "api_calls",
                        "id": f"e{(n * 40 + b * 20 + i) % 300}",  # the threads' ids overlap
                        "timestamp": (T0 + timedelta(minutes=(n * 40 + b * 20 + i) % 300)).isoformat(),
                        "accountId": "acme",
                        "attributes": [{"name": "calls", "value": "1.5"}],
                        "dimensions": {"region": "us"},
                    }
                    for i in range(50)
                ]
                r = http.post("/ingestBatch", json={"events": events})
                if r.status_code not in (200, 202, 207):
                    failures.append(f"{r.status_code} {r.text}")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    deadline = time.monotonic() + 60
    while True:
        with unit_of_work(factory, write=False) as s:
            waiting = s.scalar(select(func.count()).select_from(UsageOutbox))
            store = clickhouse_of(s)
        if waiting == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert waiting == 0, "the shippers did not empty the outbox within 60 s"
    assert store is not None
    [(rows,)] = store.execute(
        f"SELECT count() FROM {store.address.database}.usage_rows WHERE org_id = %(org)s",  # noqa: S608
        {"org": tenant.org.id},
    )
    assert rows > 0  # the usage is in ClickHouse, not only in the outbox
    sent = {f"e{(n * 40 + b * 20 + i) % 300}" for n in range(4) for b in range(6) for i in range(50)}
    for base in bases:
        with httpx.Client(base_url=f"{base}/api", headers=tenant.headers, timeout=30) as http:
            r = http.get(
                "/accounts/acme/usage",
                params={"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()},
            )
        assert r.status_code == 200, r.text
        meters = {m["name"]: (Decimal(str(m["usage"])), m["events"]) for m in r.json()["meters"]}
        assert meters["us_calls"] == (Decimal("1.5") * len(sent), len(sent))
        assert meters["requests"] == (Decimal(len(sent)), len(sent))
    engine.dispose()


def test_a_running_server_follows_the_choice_and_tells_clients_nothing_of_clickhouse(
    servers: tuple[str, list[str], Path],
) -> None:
    """The servers read the choice in each transaction (events/usage_store.py): pointed at a ClickHouse that cannot
    be reached, the next read answers 503 with Retry-After and a message that names neither its host nor its user
    (the server's log has the reason, on one line); pointed back, they read again."""
    url, bases, logs = servers
    engine = create_db_engine(url)
    factory = make_session_factory(engine)
    tenant = new_tenant(factory, bases[0])
    with unit_of_work(factory) as s:
        row = s.get(Installation, USAGE_STORE)
        assert row is not None
        kept, row.value = row.value, "clickhouse://secret_user:pw@127.0.0.1:1/meterline"
    try:
        with httpx.Client(base_url=f"{bases[1]}/api", headers=tenant.headers, timeout=30) as http:
            r = http.get("/events", params={"pageSize": "5"})
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json() == {"message": UNAVAILABLE}
        reason = "ClickHouse at clickhouse://secret_user@127.0.0.1:1/meterline: Code: 210. Connection refused"
        assert reason in (logs / "server1.log").read_text()
    finally:
        with unit_of_work(factory) as s:
            restored = s.get(Installation, USAGE_STORE)
            assert restored is not None
            restored.value = kept
    with httpx.Client(base_url=f"{bases[1]}/api", headers=tenant.headers, timeout=30) as http:
        assert http.get("/events", params={"pageSize": "5"}).status_code == 200
    engine.dispose()
