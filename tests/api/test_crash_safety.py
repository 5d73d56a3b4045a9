"""kill -9 the server while clients ingest: every event answered 202 is there after the restart, none twice, and a
client that retries what got no answer ends with every event counted exactly once (billing-rules D6)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import togai_client as tc
from sqlalchemy.orm import Session, sessionmaker

from tests.api.conftest import Sdk, create_metering_catalog
from tests.conftest import new_tenant, start_server, stop_server

CLIENTS, BATCH = 4, 50
AT = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def _batch(client: int, n: int) -> list[dict]:
    return [
        {
            "schemaName": "api_calls",
            "id": f"c{client}-b{n}-e{i}",
            "timestamp": AT.isoformat(),
            "accountId": "acme",
            "attributes": [{"name": "calls", "value": "1"}],
            "dimensions": {"region": "us"},
        }
        for i in range(BATCH)
    ]


def test_acknowledged_events_survive_a_kill_and_retries_count_once(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    process, base_url = start_server(db_url, tmp_path / "first.log")
    tenant = new_tenant(session_factory, base_url)
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    create_metering_catalog(sdk)
    sdk.close()

    acknowledged: set[str] = set()
    unanswered: list[list[dict]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=f"{base_url}/api", headers=tenant.headers, timeout=10) as http:
            n = 0
            while not stop.is_set():
                events = _batch(k, n)
                n += 1
                try:
                    response = http.post("/ingestBatch", json={"events": events})
                except httpx.HTTPError:
                    with lock:
                        unanswered.append(events)
                    return
                assert response.status_code == 202, response.text
                with lock:
                    acknowledged.update(e["id"] for e in events)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 20 * BATCH and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no shutdown, no flush
    process.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 20 * BATCH and unanswered  # the kill landed while clients were sending

    process, base_url = start_server(db_url, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=f"{base_url}/api", headers=tenant.headers, timeout=30) as http:
            for event_id in sorted(acknowledged)[:: max(1, len(acknowledged) // 200)]:  # a sample, each one read back
                found = http.get(f"/events/{event_id}").json()["events"]
                assert len(found) == 1, event_id
            before = _requests(http)
            assert before >= len(acknowledged)  # every acknowledged event counted (some unanswered ones may be too)
            assert before % BATCH == 0  # a batch is stored whole or not at all
            for events in unanswered:  # the client retries what got no answer
                response = http.post("/ingestBatch", json={"events": events})
                assert response.status_code in (202, 207), response.text
            expected = len(acknowledged) + sum(len(b) for b in unanswered)
            assert _requests(http) == expected  # each id exactly once
            again = http.post("/ingestBatch", json={"events": unanswered[0]})  # and a second retry changes nothing
            assert again.status_code == 207 and _requests(http) == expected
    finally:
        stop_server(process)


def _requests(http: httpx.Client) -> int:
    start = AT - timedelta(hours=1)
    usage = http.get(
        "/accounts/acme/usage", params={"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat()}
    )
    assert usage.status_code == 200, usage.text
    counts = {m["name"]: m for m in usage.json()["meters"]}
    assert Decimal(str(counts["us_calls"]["usage"])) == counts["requests"]["events"]  # the two meters agree
    return int(counts["requests"]["events"])
