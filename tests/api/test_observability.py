"""Operating signals of a live server: /readyz, Prometheus /metrics, request ids and JSON access logs."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
import togai_client as tc
from alembic.script import ScriptDirectory

from meterline.migrations import alembic_config
from tests.api.conftest import Sdk
from tests.conftest import Tenant, start_server, stop_server


def test_ready_and_metrics(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    ready = httpx.get(f"{tenant.base_url}/readyz")
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()  # the newest migration
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "schema": head}
    tc.EventIngestionApi(sdk.client).ingest_batch(
        tc.IngestBatchEventRequest(
            events=[
                tc.Event(
                    schema_name="api_calls",
                    id=f"m{i}",
                    timestamp=datetime.now(timezone.utc),
                    account_id="acme",
                    attributes=[tc.Attribute(name="calls", value="1")],
                    dimensions={"region": "us"},
                )
                for i in range(3)
            ]
        )
    )
    text = httpx.get(f"{tenant.base_url}/metrics").text
    accepted = re.search(
        r'meterline_events_ingested_total\{status="INGESTION_COMPLETED_EVENT_NOT_METERED"\} (\S+)', text
    )
    assert accepted and float(accepted[1]) >= 3
    assert re.search(r'meterline_http_requests_total\{method="POST",route="/api/ingestBatch",status="202"\} ', text)
    assert 'route="/api/customers/{customer_id}"' in text or 'route="/api/customers"' in text
    assert "meterline_http_request_duration_seconds_bucket" in text
    assert "meterline_invoices_finalized_total" in text


def test_request_ids(tenant: Tenant) -> None:
    with tenant.http() as http:
        assert http.get("/customers", headers={"X-Request-ID": "trace-42"}).headers["x-request-id"] == "trace-42"
        made = http.get("/customers", headers={"X-Request-ID": "no spaces allowed"}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
        assert http.get("/customers").headers["x-request-id"] != made


def test_json_access_logs_carry_the_request_id(db_url: str, tenant: Tenant, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process, base_url = start_server(db_url, log, log_level="info")
    try:
        response = httpx.get(
            f"{base_url}/api/customers/nobody",
            headers={"Authorization": f"Bearer {tenant.token}", "X-Request-ID": "find-me-7"},
        )
        assert (response.status_code, response.json()["message"]) == (404, "Customer nobody not found")
    finally:
        stop_server(process)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [entry] = [e for e in lines if e.get("request_id") == "find-me-7"]
    assert (entry["route"], entry["status"], entry["method"]) == ("/api/customers/{customer_id}", 404, "GET")
    assert entry["logger"] == "meterline.access" and entry["duration_ms"] >= 0
    assert tenant.token not in log.read_text()  # no secret in the logs


def test_metrics_behind_a_token_when_one_is_set(db_url: str, tmp_path: Path) -> None:
    """METERLINE_METRICS_TOKEN set: a scrape without it (or with another) is a 401 that says what to send."""
    process, base_url = start_server(db_url, tmp_path / "server.log", env={"METERLINE_METRICS_TOKEN": "s3cret-scrape"})
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-scrape"}):
            refused = httpx.get(f"{base_url}/metrics", headers=headers)
            assert refused.status_code == 401, refused.text
            assert refused.json() == {"message": "GET /metrics needs Authorization: Bearer <METERLINE_METRICS_TOKEN>"}
        scraped = httpx.get(f"{base_url}/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert scraped.status_code == 200 and "meterline_http_requests_total" in scraped.text
        assert httpx.get(f"{base_url}/healthz").status_code == 200  # only /metrics asks for it
    finally:
        stop_server(process)
