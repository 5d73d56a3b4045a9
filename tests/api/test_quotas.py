"""Per-API-key quotas on a live server: a burst of one second passes, then 429 `{message}` with Retry-After;
each key has its own bucket; ingestion has its own quota (api/quotas.py)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import new_tenant, start_server, stop_server


def test_quotas(db_url: str, session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    process, base_url = start_server(
        db_url, tmp_path / "server.log", env={"METERLINE_RATE_LIMIT_API": "5", "METERLINE_RATE_LIMIT_INGEST": "3"}
    )
    try:
        first, second = new_tenant(session_factory, base_url), new_tenant(session_factory, base_url)
        with first.http() as http, second.http() as other:
            answers = [http.get("/customers") for _ in range(12)]
            codes = [a.status_code for a in answers]
            assert codes[:5] == [200] * 5 and 429 in codes[5:]
            refused = next(a for a in answers if a.status_code == 429)
            assert refused.headers["retry-after"] == "1"
            assert "quota of 5 requests per second" in refused.json()["message"]
            assert other.get("/customers").status_code == 200  # another key, another bucket
            time.sleep(1.1)
            assert http.get("/customers").status_code == 200  # refilled

            event = {
                "schemaName": "none",
                "timestamp": datetime.now(timezone.utc).isoformat(),
                "accountId": "x",
                "attributes": [],
                "dimensions": {},
            }
            ingests = [http.post("/ingest", json={"event": {**event, "id": f"q{i}"}}).status_code for i in range(6)]
            assert ingests[:3] == [400] * 3 and 429 in ingests[3:]  # (400: no such schema; the quota comes first after)
            assert http.get("/customers").status_code == 200  # the API quota is its own, not spent by ingestion
    finally:
        stop_server(process)
