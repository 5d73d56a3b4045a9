"""Schemathesis over /api/openapi.json against a live server: no 5xx, and every answer matches the document.

A bounded run (a few thousand requests per engine); business-rule rejections of schema-valid input (an unknown
currency, an alias given twice) are legitimate 400s, so only the checks that such answers cannot break are on.
The server fixture's teardown also fails the run if the server logged a traceback. Its seed is the run's Hypothesis
seed (printed at the end of every run: `hypothesis: --hypothesis-seed=N`); `--hypothesis-seed=N` sends the same
requests again, and a failure names it too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Tenant

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "ignored_auth",
        "allow_header_conformance",
    ]
)


def test_fuzzed_requests_never_break_the_contract(
    tenant: Tenant, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    st = Path(sys.executable).with_name("schemathesis")
    seed = int(request.config.getoption("hypothesis_seed"))  # drawn and printed by tests/conftest.py
    result = subprocess.run(
        [
            str(st),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{tenant.base_url}/api/openapi.json",
            "--url",
            f"{tenant.base_url}/api",
            "-H",
            f"Authorization: Bearer {tenant.token}",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            str(seed),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        # a guard against a hung run, not a speed check: on a quiet machine it takes 2-4 minutes; at a load average
        # of 10 on 2 cores (a random-order run beside other work) PostgreSQL's run passed 600 s
        timeout=1800,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
    )
    replay = f"replay: --hypothesis-seed={seed}\n"
    assert result.returncode == 0, replay + result.stdout[-6000:] + result.stderr[-2000:]
    assert "generated" in result.stdout
