"""Bad text and size, against live servers on both engines: lone surrogates and deep JSON are 400s naming the
field, bodies over the limit are 413 before they are read (and before authentication), events stay within Togai's
limits, a duplicate does not store its payload again, and a client that goes away mid-body is no 500."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant, start_server, stop_server
from tests.stored_events import stored_events

LONE = "\\ud800"  # a lone surrogate, as JSON spells it (sent as raw JSON text: no encoder would write one)
CUSTOMER = '{"id": "c1", "name": "Acme Inc", "primaryEmail": "a@acme.test", "address": {}%s}'
TOO_LARGE = "The request body is larger than this operation accepts"
T0 = "2024-03-01T10:00:00Z"


def post_raw(http: httpx.Client, method: str, path: str, body: str) -> httpx.Response:
    return http.request(method, path, content=body.encode(), headers={"Content-Type": "application/json"})


def setting(org_id: str, value: str, data_type: str = "STRING", setting_id: str = "s1") -> str:
    return json.dumps(
        {
            "id": setting_id,
            "entityType": "ORGANIZATION",
            "entityId": org_id,
            "namespace": "USER",
            "name": "A setting",
            "dataType": data_type,
            "value": "VALUE",
        }
    ).replace('"VALUE"', value)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (f', "address": {{"line1": "{LONE}"}}', "address.line1"),
        (
            f', "settings": [{{"id": "s", "namespace": "USER", "name": "n", "dataType": "STRING", '
            f'"value": "x{LONE}"}}]',
            "settings[0].value",
        ),
        (f', "account": {{"id": "a1", "name": "Main", "address": {{"city": "{LONE}"}}}}', "account.address.city"),
        (f', "account": {{"id": "a1", "name": "Main", "metadata": {{"{LONE}": "x"}}}}', "account.metadata (a key)"),
    ],
)
def test_lone_surrogates_in_a_new_customer_are_400_naming_the_field(tenant: Tenant, extra: str, field: str) -> None:
    with tenant.http() as http:
        r = post_raw(http, "POST", "/customers", CUSTOMER % extra)
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(f"{field}: ") and "surrogate" in r.json()["message"]
        assert http.get("/customers/c1").status_code == 404  # nothing stored
        assert http.get("/accounts/a1").status_code == 404


def test_lone_surrogates_in_customer_updates_and_settings_are_400(tenant: Tenant) -> None:
    org = tenant.org.id
    with tenant.http() as http:
        assert post_raw(http, "POST", "/customers", CUSTOMER % "").status_code == 201
        r = post_raw(http, "PATCH", "/customers/c1", f'{{"address": {{"line1": "x", "city": "{LONE}"}}}}')
        assert r.status_code == 400 and r.json()["message"].startswith("address.city: "), r.text
        assert http.get("/customers/c1").json()["address"] in ({}, None)  # nothing stored

        r = post_raw(http, "POST", "/settings", setting(org, f'"{LONE}"'))
        assert r.status_code == 400 and r.json()["message"].startswith("value: "), r.text
        assert http.get("/settings").json()["data"] == []
        assert post_raw(http, "POST", "/settings", setting(org, '"fine"')).status_code == 201
        full_id = f"setting.USER.s1.ORGANIZATION.{org}"
        r = post_raw(http, "PATCH", f"/settings/{full_id}", f'{{"value": "{LONE}x"}}')
        assert r.status_code == 400 and r.json()["message"].startswith("value: "), r.text
        assert http.get(f"/settings/{full_id}").json()["value"] == "fine"
        # A pair of surrogates is a character like any other.
        ok = post_raw(http, "PATCH", "/customers/c1", '{"address": {"line1": "\\ud83d\\ude00 Street"}}')
        assert ok.status_code == 200 and ok.json()["address"]["line1"] == "\U0001f600 Street"


def test_lone_surrogates_in_paths_and_queries_are_not_500(tenant: Tenant) -> None:
    # On the wire a path or query holds bytes; a lone surrogate's UTF-8-like bytes are not UTF-8 and decode as
    # replacement characters, so these reach the API as text it can store or refuse.
    with tenant.http() as http:
        assert http.get("/customers/%ED%A0%80").status_code == 404
        r = http.get("/customers?nextToken=%ED%B2%80")
        assert (r.status_code, r.json()["message"]) == (
            400,
            "nextToken is not valid: pass the nextToken of a previous page unchanged",
        )


def nested(levels: int) -> str:
    """A JSON array `levels` levels deep."""
    return "[" * levels + "1" + "]" * levels


def test_json_nested_deeper_than_32_levels_is_400(tenant: Tenant) -> None:
    org = tenant.org.id
    with tenant.http() as http:
        # The body itself is level 1: a value 31 levels deep inside it is the deepest allowed (then the schema
        # says what it thinks of settings that are lists).
        r = post_raw(http, "POST", "/customers", CUSTOMER % f', "settings": {nested(31)}')
        assert r.status_code == 400 and "levels" not in r.json()["message"], r.text
        for levels in (32, 1_100, 100_000):
            r = post_raw(http, "POST", "/customers", CUSTOMER % f', "settings": {nested(levels)}')
            assert r.status_code == 400, r.text
            assert r.json()["message"].startswith("settings[0]") and "at most 32 levels" in r.json()["message"]
        # A JSON setting: its value is JSON text, nested as deep as the parser gives up (RecursionError before).
        for levels in (33, 1_100):
            r = post_raw(http, "POST", "/settings", setting(org, json.dumps(nested(levels)), "JSON"))
            assert r.status_code == 400, r.text
            assert "s1: value[0]" in r.json()["message"] and "at most 32 levels" in r.json()["message"]
        assert http.get("/settings").json()["data"] == []
        ok = post_raw(http, "POST", "/settings", setting(org, json.dumps(nested(32)), "JSON"))
        assert ok.status_code == 201, ok.text


# -- body limits ---------------------------------------------------------------------------------------------------
def _connect(base_url: str) -> socket.socket:
    url = urlsplit(base_url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80))
    sock.settimeout(60)  # a guard against hanging forever, never a measure of speed
    return sock


def _response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: (\d+)", head)
    while length and len(body) < int(length[1]):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def test_an_oversized_body_with_a_length_is_413_before_it_is_read_or_authenticated(server: str) -> None:
    announced = 200 * 1024 * 1024
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % announced + b"{" + b" " * 1000
        )
        # The client has sent 1 KB of the 200 MB it announced, and holds the rest: the answer comes now.
        status, body = _response(sock)
    assert status == 413 and "larger than this operation accepts (1048576 bytes)" in json.loads(body)["message"]


def test_an_oversized_chunked_body_is_cut_at_the_limit(server: str) -> None:
    chunk = b" " * 65536
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # 1 MiB and one more chunk, and never the last chunk: the body is not over when the answer comes.
        for _ in range(17):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, body = _response(sock)
    assert status == 413 and "1048576 bytes" in json.loads(body)["message"]


def test_ingest_batch_takes_more_than_the_default(server: str, tenant: Tenant) -> None:
    big = json.dumps(
        {
            "events": [{"schemaName": "s", "timestamp": T0, "accountId": "a" * 500, "attributes": [], "dimensions": {}}]
            * 1000,
            "padding": " " * (1024 * 1024),
        }
    )
    assert len(big) > 1024 * 1024
    r = httpx.post(f"{server}/api/ingestBatch", content=big)  # past the limit, then auth
    assert (r.status_code, r.json()["message"]) == (401, "Missing credentials: send 'Authorization: Bearer <API key>'")
    r = httpx.post(f"{server}/api/ingestBatch", content=big, headers=tenant.headers)
    assert r.status_code == 400 and "padding" in r.json()["message"]  # read, decoded, refused for its content
    for path in ("/api/customers", "/api/ingest"):
        r = httpx.post(f"{server}{path}", content=big)
        assert (r.status_code, r.json()["message"]) == (413, f"{TOO_LARGE} (1048576 bytes)"), path
    # ...and the console's forms get the default
    r = httpx.post(f"{server}/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()["message"]) == (413, f"{TOO_LARGE} (1048576 bytes)")


@pytest.fixture
def small_limits(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server of its own, logging every request, with limits of 64 KiB (default) and 128 KiB (ingestBatch)."""
    log = tmp_path / "server.log"
    process, base_url = start_server(
        db_url,
        log,
        log_level="info",
        env={"METERLINE_MAX_BODY_BYTES": str(64 * 1024), "METERLINE_MAX_INGEST_BATCH_BYTES": str(128 * 1024)},
    )
    try:
        yield base_url, log
    finally:
        stop_server(process)


def test_limits_are_configured_and_a_disconnect_mid_body_is_no_500(
    small_limits: tuple[str, Path], tenant: Tenant
) -> None:
    base_url, log = small_limits
    body = " " * (100 * 1024)
    r = httpx.post(f"{base_url}/api/customers", content=body)  # METERLINE_MAX_BODY_BYTES
    assert (r.status_code, r.json()["message"]) == (413, f"{TOO_LARGE} (65536 bytes)")
    r = httpx.post(f"{base_url}/api/ingestBatch", content=body, headers=tenant.headers)  # read whole: blank is no JSON
    assert (r.status_code, r.json()["message"]) == (400, "The request body is not valid JSON")
    r = httpx.post(f"{base_url}/api/ingestBatch", content=body + body)  # METERLINE_MAX_INGEST_BATCH_BYTES
    assert (r.status_code, r.json()["message"]) == (413, f"{TOO_LARGE} (131072 bytes)")

    # A client that announces 50 KB, sends 1 KB and goes away.
    with _connect(base_url) as sock:
        sock.sendall(
            b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + tenant.token.encode() + b"\r\n"
            b"Content-Length: 50000\r\n\r\n{" + b" " * 1000
        )
    deadline = time.monotonic() + 60  # a guard against waiting forever, not a measure of speed
    metrics = ""
    while time.monotonic() < deadline:
        metrics = httpx.get(f"{base_url}/metrics").text
        if 'route="/api/customers",status="499"' in metrics:
            break
        time.sleep(0.1)
    assert 'meterline_http_requests_total{method="POST",route="/api/customers",status="499"} 1.0' in metrics
    assert 'status="500"' not in metrics
    assert re.search(r'status="413"\} 2\.0', metrics)
    text = log.read_text()
    assert "Traceback" not in text and "ClientDisconnect" not in text
    [line] = [json.loads(x) for x in text.splitlines() if x.startswith("{") and '"status": 499' in x]
    assert line["route"] == "/api/customers" and line["logger"] == "meterline.access"


# -- events ----------------------------------------------------------------------------------------------------------
def event(event_id: str, dimensions: dict[str, str], attributes: int = 1) -> dict[str, object]:
    return {
        "schemaName": "api_calls",
        "id": event_id,
        "timestamp": T0,
        "accountId": "acme",
        "attributes": [{"name": "calls" if n == 0 else f"a{n}", "value": "1"} for n in range(attributes)],
        "dimensions": dimensions,
    }


def test_events_stay_within_togais_limits(tenant: Tenant, catalog: dict[str, str]) -> None:
    with tenant.http() as http:
        r = http.post("/ingest", json={"event": event("e1", {f"d{i}": "x" for i in range(51)})})
        assert r.status_code == 400 and r.json()["message"].startswith("event.dimensions: "), r.text
        r = http.post("/ingestBatch", json={"events": [event("e2", {"region": "us"}), event("e3", {"k" * 51: "x"})]})
        assert r.status_code == 400 and r.json()["message"].startswith("events[1].dimensions (a key): "), r.text
        r = http.post("/ingest", json={"event": event("e4", {"region": "x" * 201})})
        assert r.status_code == 400 and r.json()["message"].startswith("event.dimensions"), r.text
        r = http.post("/ingest", json={"event": event("e5", {"region": "us"}, attributes=11)})
        assert r.status_code == 400 and r.json()["message"].startswith("event.attributes: "), r.text
        r = http.post(
            "/ingest",
            content=json.dumps({"event": event("e6", {"region": "us"})}).replace('"us"', '"\\ud800"'),
            headers={"Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()["message"]) == (400, "The request body is not valid JSON"), r.text
        for event_id in ("e1", "e2", "e3", "e4", "e5", "e6"):
            assert http.get(f"/events/{event_id}").status_code == 404  # nothing stored
        at_limits = {"region": "us", **{f"d{i}": "x" * 200 for i in range(49)}}
        r = http.post("/ingest", json={"event": event("e7", at_limits, attributes=10)})
        assert r.status_code == 202, r.text  # 50 dimensions of 200 characters and 10 attributes: at the limits
        assert http.get("/events/e7").status_code == 200


def test_a_duplicate_does_not_store_its_payload_again(
    tenant: Tenant, catalog: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    big = {"region": "us", **{f"d{i}": "x" * 200 for i in range(49)}}
    with tenant.http() as http:
        assert http.post("/ingest", json={"event": event("big", big)}).status_code == 202
        again = http.post("/ingest", json={"event": event("big", big)})
        assert (again.status_code, again.json()["message"]) == (409, "Event 'big' was already ingested"), again.text
        listed = http.get("/events/big").json()["events"]
    assert sorted(e["ingestionStatus"]["status"] for e in listed) == [
        "INGESTION_COMPLETED_EVENT_NOT_METERED",
        "INGESTION_FAILED_DUPLICATE_EVENT",
    ]
    with session_factory() as s:
        rows = stored_events(s, tenant.org.id, event_id="big")
    stored = {row.status: (row.attributes, row.dimensions) for row in rows}
    assert stored["INGESTION_COMPLETED_EVENT_NOT_METERED"] == ([{"name": "calls", "value": "1"}], big)
    assert stored["INGESTION_FAILED_DUPLICATE_EVENT"] == ([], {})
    assert len(rows) == 2
    assert datetime.now(timezone.utc) > rows[0].created_at  # (stored rows are aware datetimes)
