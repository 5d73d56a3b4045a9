"""The webhooks API against live `meterline serve` processes (raw HTTP: the SDK has no WebhooksApi; a Meterline
extension) and a real local receiver verifying signatures with the `standardwebhooks` library: endpoints, secrets
shown once and rotated, the delivery log, replays; and kill -9 of the server mid-delivery (docs/webhooks.md)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.webhooks.models import WebhookDelivery, WebhookMessage
from tests.conftest import Tenant, new_tenant, start_server, stop_server
from tests.webhook_receiver import Receiver, wait_for

pytestmark = pytest.mark.db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _customer(http: httpx.Client) -> None:
    body = {"id": "acme", "name": "Acme Inc", "primaryEmail": "a@acme.test", "address": {}}
    assert http.post("/customers", json=body).status_code == 201


def _invoice(http: httpx.Client) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "ownerType": "ACCOUNT",
        "accountId": "acme",
        "startDate": (now - timedelta(days=30)).isoformat(),
        "endDate": now.isoformat(),
        "status": "DUE",
        "lineItems": [{"description": "Setup", "value": 120}],
    }
    answer = http.post("/invoices", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_endpoints_secrets_log_and_replay_over_http(
    session_factory: sessionmaker[Session], sending_server: str, receiver: Receiver
) -> None:
    tenant = new_tenant(session_factory, sending_server)  # a server that delivers (the shared one does not)
    with tenant.http() as http:
        _customer(http)
        ftp = http.post("/webhooks/endpoints", json={"url": "ftp://x", "eventTypes": ["invoice.paid"]})
        assert ftp.status_code == 400
        assert ftp.json()["message"].startswith("url: 'ftp://x' must be an http or https URL with a host")
        nope = http.post("/webhooks/endpoints", json={"url": receiver.url, "eventTypes": ["nope"]})
        assert nope.status_code == 400 and nope.json()["message"].startswith("eventTypes: 'nope' is not one of ")
        made = http.post(
            "/webhooks/endpoints", json={"url": receiver.url, "eventTypes": ["invoice.created"], "description": "ERP"}
        )
        assert made.status_code == 201
        endpoint = made.json()
        old = endpoint["secret"]
        assert old.startswith("whsec_") and endpoint["status"] == "ENABLED"
        read = http.get(f"/webhooks/endpoints/{endpoint['id']}").json()
        assert "secret" not in read and read["description"] == "ERP"  # shown once
        assert [e["id"] for e in http.get("/webhooks/endpoints").json()["data"]] == [endpoint["id"]]
        changed = http.patch(
            f"/webhooks/endpoints/{endpoint['id']}", json={"eventTypes": ["invoice.created", "invoice.finalized"]}
        )
        assert changed.json()["eventTypes"] == ["invoice.created", "invoice.finalized"]
        rotated = http.post(f"/webhooks/endpoints/{endpoint['id']}/rotate_secret").json()
        assert rotated["secret"] != old and rotated["secretRotatedUntil"]
        receiver.secrets = [old]  # a receiver not yet told of the rotation still verifies every delivery
        invoice = _invoice(http)
        wait_for(lambda: len(receiver.accepted) == 2)
        assert sorted(r.body["type"] for r in receiver.accepted) == ["invoice.created", "invoice.finalized"]
        assert all(r.body["data"]["id"] == invoice for r in receiver.accepted)
        wait_for(
            lambda: all(
                d["status"] == "SUCCEEDED"
                for d in http.get(f"/webhooks/endpoints/{endpoint['id']}/deliveries").json()["data"]
            )
        )
        log = http.get(f"/webhooks/endpoints/{endpoint['id']}/deliveries", params={"status": "SUCCEEDED"}).json()
        assert len(log["data"]) == 2
        one = http.get(f"/webhooks/deliveries/{log['data'][0]['id']}").json()
        assert one["attemptLog"][0]["statusCode"] == 204 and one["payload"]["type"] == one["eventType"]
        receiver.secrets = [rotated["secret"]]
        replayed = http.post(f"/webhooks/deliveries/{one['id']}/replay")
        assert replayed.status_code == 201 and replayed.json()["messageId"] == one["messageId"]
        wait_for(lambda: len(receiver.accepted) == 3)
        assert receiver.accepted[-1].webhook_id == one["messageId"]  # the same id: the receiver can deduplicate
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        body = {"since": since, "onlyFailed": False}
        assert http.post(f"/webhooks/endpoints/{endpoint['id']}/replay", json=body).json() == {"replayed": 2}
        assert http.post(f"/webhooks/endpoints/{endpoint['id']}/replay", json={"since": since}).json() == {
            "replayed": 0
        }
        wait_for(lambda: len(receiver.accepted) == 5)
        assert http.delete(f"/webhooks/endpoints/{endpoint['id']}").status_code == 200
        gone = http.get(f"/webhooks/endpoints/{endpoint['id']}")
        assert (gone.status_code, gone.json()["message"]) == (404, f"Webhook endpoint {endpoint['id']} not found")
        assert http.get("/webhooks/endpoints").json()["data"] == []
        assert "alert.triggered" in http.get("/webhooks/event_types").json()["data"]


def test_kill_9_mid_delivery_loses_nothing(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path, receiver: Receiver
) -> None:
    """The server dies while the receiver holds two deliveries: after a restart every message arrives; those in
    flight may arrive twice (at least once, same webhook-id), none more."""
    env = {"METERLINE_WEBHOOK_INTERVAL": "0.1", "METERLINE_WEBHOOK_TIMEOUT": "1"}  # a lease of 7 s
    process, base_url = start_server(db_url, tmp_path / "first.log", env=env)
    tenant = new_tenant(session_factory, base_url)
    receiver.delay = 3  # the first deliveries are held: the kill comes while they are in flight
    with tenant.http() as http:
        _customer(http)
        made = http.post("/webhooks/endpoints", json={"url": receiver.url, "eventTypes": ["invoice.finalized"]})
        receiver.secrets = [made.json()["secret"]]
        invoices = [_invoice(http) for _ in range(5)]
    wait_for(lambda: len(receiver.arrived) >= 1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    receiver.delay = 0
    process, base_url = start_server(db_url, tmp_path / "second.log", env=env)
    try:
        with unit_of_work(session_factory, write=False) as session:
            messages = set(session.scalars(select(WebhookMessage.pk).where(WebhookMessage.org_id == tenant.org.id)))
        assert len(messages) == 5
        wait_for(lambda: messages <= {r.webhook_id for r in receiver.accepted}, timeout=60)

        def all_succeeded() -> bool:
            with unit_of_work(session_factory, write=False) as session:
                stmt = select(WebhookDelivery.status).where(WebhookDelivery.org_id == tenant.org.id)
                return set(session.scalars(stmt)) == {"SUCCEEDED"}

        wait_for(all_succeeded, timeout=60)
    finally:
        stop_server(process)
    counts = Counter(r.webhook_id for r in receiver.accepted)
    assert set(counts) == messages and max(counts.values()) <= 2
    assert {r.body["data"]["id"] for r in receiver.accepted} == set(invoices)
    assert "Traceback" not in (tmp_path / "second.log").read_text()


def test_a_replay_range_without_an_offset_is_utc_never_a_500(tenant: Tenant) -> None:
    """`since`/`until` as every date-time of the API: without an offset it is UTC (a date alone: its midnight); a
    bare number is refused; the range is compared, not a 500 for naive and aware date-times."""
    with tenant.http() as http:
        made = http.post("/webhooks/endpoints", json={"url": "http://127.0.0.1:9/", "eventTypes": ["invoice.paid"]})
        replay = f"/webhooks/endpoints/{made.json()['id']}/replay"
        for body in ({"since": "2024-01-01T00:00:00"}, {"since": "2024-01-01"}, {"since": "2024-01-01T00:00:00Z"}):
            answer = http.post(replay, json=body)
            assert (answer.status_code, answer.json()) == (200, {"replayed": 0}), answer.text
        answer = http.post(replay, json={"since": "2024-01-02T00:00:00", "until": "2024-01-01T00:00:00+00:00"})
        assert (answer.status_code, answer.json()["message"]) == (400, "since: must be before until")
        numeric = http.post(replay, json={"since": 1700000000})
        assert numeric.status_code == 400
        assert numeric.json()["message"] == "since: must be an ISO-8601 date-time such as 2024-01-01T00:00:00Z"


def test_the_first_endpoint_brings_an_alert_that_opens_an_incident_when_an_endpoint_is_disabled(
    tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    from meterline.usecases import alerts

    with tenant.http() as http:
        first = http.post("/webhooks/endpoints", json={"url": "http://127.0.0.1:9/a", "eventTypes": ["invoice.paid"]})
        second = http.post("/webhooks/endpoints", json={"url": "http://127.0.0.1:9/b", "eventTypes": ["invoice.paid"]})
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        watches = [a for a in http.get("/alerts").json()["data"] if a["alertTemplateId"] == "webhook_endpoint_disabled"]
        assert [(w["status"], w["entityDetails"]) for w in watches] == [("ACTIVE", {})]  # one, organization-wide
        # an endpoint disabled (here by hand; after failing 5 days the worker does it): one incident for it
        r = http.patch(f"/webhooks/endpoints/{second.json()['id']}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["status"] == "DISABLED", r.text
        assert alerts.run(session_factory, datetime.now(UTC), org_id=tenant.org.id).opened == 1
        [incident] = http.get("/incidents").json()["data"]
        assert (incident["alertId"], incident["status"]) == (watches[0]["id"], "OPEN")
        assert second.json()["id"] in str(incident["reportData"])
