"""The README's first hour, as written, on any day (issue 15).

- `examples/quickstart.py` runs as a user runs it (a subprocess, the token in METERLINE_TOKEN) against live servers
  on both engines, twice on one server (its ids never collide), and what it prints is read back through the API.
- Every ```python block of README.md is an excerpt of the example, and the README's sample output has its lines.
- Every shell block of the README's first hour runs in bash, in order, against a new database set up as
  `scripts/run.sh` does (`meterline init`, then a server): the curls, the example, the bill run, the PDF.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ENGINES, PG_ADMIN_URL, Tenant, _libpq, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "/bin/bash"
EXAMPLE = ROOT / "examples" / "quickstart.py"
README = ROOT / "README.md"
FIRST_HOUR = ["First calls", "Your first events", "Your first price plan", "Your first invoice"]
# Shell blocks outside the first hour, and what checks them instead: scripts/run.sh and scripts/test.sh are the
# project's own commands (CI runs the test command, `test_ci_runs_the_readmes_test_command`); the PostgreSQL block
# names a server that is not there.
NOT_RUN_HERE = {"Two commands", "PostgreSQL and scaling"}
# Lines of the first hour's shell blocks the shell test leaves out, and why: the token is given by `meterline init`
# (as scripts/run.sh prints it), and the SDK is installed in the test environment already.
LEFT_OUT = {
    "export METERLINE_TOKEN=mlk_...   # printed by scripts/run.sh; another one: .venv/bin/meterline api-key create",
    ".venv/bin/pip install togai-client",
}

LINES = {
    "header": re.compile(r"^Meterline at (?P<host>\S+), run (?P<run>[0-9a-f]{6})$"),
    "customer": re.compile(r"^customer  (?P<customer>acme-[0-9a-f]{6}) \(Acme Inc\), account (?P<account>\S+) in USD$"),
    "events": re.compile(
        r"^events    3 sent for (?P<account>\S+), (?P<first>evt-[0-9a-f]{6}-1) to evt-[0-9a-f]{6}-3 "
        r"\((?P=first) twice: counted once\)$"
    ),
    "plan": re.compile(
        r"^plan      Growth [0-9a-f]{6} \((?P<plan>pp\.\w+)\) on (?P<account>\S+) from (?P<start>[\d-]+)$"
    ),
    "usage": re.compile(
        r"^usage     (?P<calls>\d+) calls on (?P<meter>calls_[0-9a-f]{6}) from (?P<start>[\d-]+) to (?P<end>[\d-]+) "
        r"\(excluded\)$"
    ),
    "invoice": re.compile(
        r"^invoice   (?P<invoice>inv\.\w+), DRAFT from (?P<start>[\d-]+) to (?P<end>[\d-]+): "
        r"USD (?P<total>\d+\.\d\d) so far$"
    ),
    "next": re.compile(
        r"^Next, in your shell: (?P<export>export ACCOUNT_ID=(?P<account>\S+) EVENT_ID=(?P<event>\S+) "
        r"INVOICE_ID=(?P<invoice>\S+))$"
    ),
}


def month_start(at: datetime) -> date:
    return at.date().replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def run_example(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )


def parse(stdout: str) -> dict[str, dict[str, str]]:
    """The example's output, line by line: each line matches its pattern, in order, and nothing else is printed."""
    lines = [line for line in stdout.splitlines() if line]
    assert len(lines) == len(LINES), stdout
    parsed = {}
    for (name, pattern), line in zip(LINES.items(), lines, strict=True):
        match = pattern.match(line)
        assert match, f"{name!r} line reads {line!r}"
        parsed[name] = match.groupdict()
    return parsed


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(section, language, code) of every fenced block of a Markdown text; section is the `## ` heading above."""
    found, section, fence, code = [], "", None, []
    for line in text.splitlines():
        if fence is None and line.startswith("## "):
            section = line[3:].strip()
        elif fence is None and line.startswith("```"):
            fence, code = line[3:].strip(), []
        elif fence is not None and line.startswith("```"):
            found.append((section, fence, "\n".join(code)))
            fence = None
        elif fence is not None:
            code.append(line)
    return found


def squeeze(code: str) -> str:
    return " ".join(code.split())


def check_run(http: Any, out: dict[str, dict[str, str]], before: datetime, after: datetime) -> None:
    """What the example printed, read back through the API."""
    account, start, end = out["customer"]["account"], out["usage"]["start"], out["usage"]["end"]
    assert out["customer"]["customer"] == account == out["events"]["account"] == out["plan"]["account"]
    assert out["next"]["account"] == account and out["next"]["invoice"] == out["invoice"]["invoice"]
    # dates relative to the day it ran: the cycle under way, from the 1st of the month to the 1st of the next
    assert date.fromisoformat(start) in {month_start(before), month_start(after)}
    assert end == str(next_month(date.fromisoformat(start))) == out["invoice"]["end"]
    assert start == out["plan"]["start"] == out["invoice"]["start"]

    customer = http.get(f"/customers/{out['customer']['customer']}")
    assert customer.status_code == 200 and customer.json()["name"] == "Acme Inc"
    usage = http.get(f"/accounts/{account}/usage", params={"start": f"{start}T00:00:00Z", "end": f"{end}T00:00:00Z"})
    assert usage.status_code == 200, usage.text
    [meter] = [m for m in usage.json()["meters"] if m["name"] == out["usage"]["meter"]]  # the organization's meters
    assert (Decimal(str(meter["usage"])), meter["events"]) == (Decimal(out["usage"]["calls"]), 3) == (170, 3)
    sent = http.get(f"/events/{out['next']['event']}").json()["events"]
    assert [e["ingestionStatus"]["status"] for e in sent] == [
        "INGESTION_COMPLETED_EVENT_NOT_METERED",  # before the plan
        "INGESTION_FAILED_DUPLICATE_EVENT",  # the retry, counted once
    ]
    invoice = http.get(f"/invoices/{out['invoice']['invoice']}").json()
    assert (invoice["ownerId"], invoice["status"], invoice["pricePlanId"]) == (account, "DRAFT", out["plan"]["plan"])
    assert invoice["startDate"] == f"{start}T00:00:00Z"
    # 100 calls x 1.00 + 70 x 0.50 (README: D4's tiered example)
    assert Decimal(str(invoice["totalAmount"])) == Decimal(out["invoice"]["total"]) == Decimal("135.00")


def test_the_quickstart_runs_as_written_any_number_of_times(tenant: Tenant) -> None:
    env = {"METERLINE_URL": tenant.base_url, "METERLINE_TOKEN": tenant.token}
    runs = []
    for _ in range(2):  # the second run on the same server and organization collides with nothing of the first
        before = datetime.now(timezone.utc)
        done = run_example(env)
        after = datetime.now(timezone.utc)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stderr == ""
        out = parse(done.stdout)
        assert out["header"]["host"] == tenant.base_url
        with tenant.http() as http:
            check_run(http, out, before, after)
        runs.append(out)
    assert runs[0]["header"]["run"] != runs[1]["header"]["run"]
    assert runs[0]["customer"]["account"] != runs[1]["customer"]["account"]

    # and the README's sample output reads as this output does (the same lines, in order)
    [sample] = [code for section, lang, code in blocks(README.read_text()) if lang == "text" and section in FIRST_HOUR]
    shown = parse(sample)
    assert shown["header"]["host"] == "http://127.0.0.1:8000" and shown["usage"]["calls"] == "170"
    assert shown["invoice"]["total"] == "135.00"


def test_the_quickstart_says_what_is_missing(tenant: Tenant) -> None:
    no_token = run_example({"METERLINE_URL": tenant.base_url, "METERLINE_TOKEN": ""})
    assert no_token.returncode == 1 and "Set METERLINE_TOKEN" in no_token.stderr
    refused = run_example({"METERLINE_URL": tenant.base_url, "METERLINE_TOKEN": "mlk_nope"})
    assert refused.returncode == 1 and "refused METERLINE_TOKEN (401)" in refused.stderr
    with tenant.http() as http:
        assert http.get("/customers").json()["data"] == []  # nothing was made


def test_the_readmes_python_is_the_example() -> None:
    """Each ```python block of README.md appears in examples/quickstart.py (whitespace aside), so the README cannot
    drift from the script the tests run."""
    example = squeeze(EXAMPLE.read_text())
    python = [(section, code) for section, lang, code in blocks(README.read_text()) if lang == "python"]
    assert {section for section, _ in python} == set(FIRST_HOUR)
    for section, code in python:
        assert squeeze(code) in example, f"README.md, {section}: this block is not in examples/quickstart.py:\n{code}"


def test_ci_runs_the_readmes_test_command() -> None:
    commands = [code for section, lang, code in blocks(README.read_text()) if section == "Two commands"]
    assert "bash scripts/run.sh" in commands and "bash scripts/test.sh" in commands
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "bash scripts/test.sh"


@pytest.fixture(params=ENGINES)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has set up yet (a SQLite file that does not exist; an empty PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'meterline.db'}"
        return
    name = f"meterline_readme_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def json_documents(text: str) -> list[Any]:
    """The JSON answers of curls run one after the other (printed without newlines between them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def test_the_readmes_first_hour_in_a_shell(new_database: str, tmp_path: Path) -> None:
    # Given a new database set up as scripts/run.sh does it (meterline init, then a server), and a directory laid out
    # as a clone whose .venv is this test environment
    base = {k: v for k, v in os.environ.items() if not k.startswith("METERLINE_")}
    init = subprocess.run(
        [sys.executable, "-m", "meterline.cli", "init", "--database-url", new_database],
        capture_output=True,
        text=True,
        timeout=120,
        env=base,
    )
    assert init.returncode == 0, init.stderr
    [export] = [line.strip() for line in init.stderr.splitlines() if line.strip().startswith("export METERLINE_TOKEN=")]
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (clone / "examples").symlink_to(ROOT / "examples")
    process, base_url = start_server(new_database, tmp_path / "server.log")
    try:
        env = {**base, "METERLINE_URL": base_url, "METERLINE_DATABASE_URL": new_database}
        sections = [(s, code) for s, lang, code in blocks(README.read_text()) if lang == "bash"]
        assert {s for s, _ in sections} - set(FIRST_HOUR) == NOT_RUN_HERE
        shell = [(s, code) for s, code in sections if s in FIRST_HOUR]
        left_out: list[str] = []
        exports = [export]  # the line `meterline init` printed, as a user pastes it
        outputs = []
        # When each shell block of the first hour runs, in order, as written (the host aside)
        for section, code in shell:
            lines = []
            for line in code.splitlines():
                if line.strip() in LEFT_OUT:
                    left_out.append(line.strip())
                else:
                    lines.append(line.replace("http://127.0.0.1:8000", base_url))
            script = "\n".join([*exports, *lines])
            done = subprocess.run(
                [BASH, "-euo", "pipefail", "-c", script],
                cwd=clone,
                capture_output=True,
                text=True,
                timeout=180,
                env=env,
            )
            assert done.returncode == 0, f"README.md, {section}:\n{script}\n{done.stdout}\n{done.stderr}"
            outputs.append((section, done))
            if "examples/quickstart.py" in code:  # the user pastes the line the example prints last
                exports.append(parse(done.stdout)["next"]["export"])
        assert sorted(left_out) == sorted(LEFT_OUT)

        # Then every block did what the README says
        by_section: dict[str, list[subprocess.CompletedProcess[str]]] = {}
        for section, done in outputs:
            by_section.setdefault(section, []).append(done)
        first_calls, example = by_section["First calls"]
        [customers] = json_documents(first_calls.stdout)
        assert customers["data"] == [], first_calls.stdout  # a new database
        out = parse(example.stdout)
        [events] = by_section["Your first events"]
        usage, event = json_documents(events.stdout)
        assert [(m["name"], m["usage"], m["events"]) for m in usage["meters"]] == [(out["usage"]["meter"], 170, 3)]
        assert event["events"][0]["eventPayload"]["id"] == out["next"]["event"]
        [billed] = by_section["Your first invoice"]
        assert "1 invoice finalized" in billed.stdout, billed.stdout
        assert "note: --as-of" in billed.stderr and "is after now" in billed.stderr
        assert (clone / "invoice.pdf").read_bytes().startswith(b"%PDF")
        token = export.split("=", 1)[1]
        invoice = httpx.get(
            f"{base_url}/api/invoices/{out['invoice']['invoice']}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert (invoice["status"], invoice["sequenceId"], Decimal(str(invoice["totalAmount"]))) == (
            "DUE",
            "INV-000001",
            Decimal("135.00"),
        )
    finally:
        stop_server(process)
