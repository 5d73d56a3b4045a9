"""The `meterline` command's contract, run as a user runs it (subprocesses on real databases)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import refused_within, start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]


def meterline(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`meterline ARGS` as a user runs it; METERLINE_DATABASE_URL only when `env` gives it."""
    inherited = {k: v for k, v in os.environ.items() if k != "METERLINE_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "meterline.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**inherited, "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def test_serve_on_an_empty_database_then_api_key_create(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    process, base_url = start_server(url, tmp_path / "server.log")
    try:
        created = meterline("api-key", "create", "--database-url", url)
        assert created.returncode == 0, created.stderr
        lines = created.stdout.splitlines()
        assert len(lines) == 1, created.stdout  # the token and nothing else
        token = lines[0]
        r = httpx.get(f"{base_url}/api/customers", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["data"] == []

        listed = meterline("api-key", "list", "--database-url", url)
        key_id = listed.stdout.split("\t", 1)[0]
        assert key_id.startswith("key.")
        revoked = meterline("api-key", "revoke", key_id, "--database-url", url)
        assert revoked.returncode == 0, revoked.stderr
        # (the server remembers a verified key for at most 0.5 s: refused within a second, tenancy/key_cache.py)
        r = refused_within(lambda: httpx.get(f"{base_url}/api/customers", headers={"Authorization": f"Bearer {token}"}))
        assert "revoked" in r.json()["message"]
    finally:
        stop_server(process)


def test_init_sets_up_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'init.db'}"
    first = meterline("init", "--database-url", url)
    assert first.returncode == 0, first.stderr
    assert "admin@meterline.local" in first.stderr and "mlk_" in first.stderr
    second = meterline("init", "--database-url", url)
    assert second.returncode == 0 and "already set up" in second.stderr
    orgs = meterline("org", "list", "--database-url", url)
    assert len(orgs.stdout.splitlines()) == 1


def test_org_and_user_create(db_url: str) -> None:
    org = meterline(
        "org",
        "create",
        "--name",
        "Globex",
        "--base-currency",
        "eur",
        "--timezone",
        "Asia/Kolkata",
        "--database-url",
        db_url,
    )
    assert org.returncode == 0, org.stderr
    org_id = org.stdout.strip()
    assert org_id.startswith("org.")
    assert f"{org_id}\tGlobex\tEUR\tAsia/Kolkata" in meterline("org", "list", "--database-url", db_url).stdout

    email = f"ops-{org_id[-6:]}@globex.test"
    user = meterline(
        "user", "create", "--email", email, "--password", "correct horse", "--org-id", org_id, "--database-url", db_url
    )
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip().startswith("user.")
    again = meterline(
        "user", "create", "--email", email, "--password", "correct horse", "--org-id", org_id, "--database-url", db_url
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    bad = meterline("org", "create", "--name", "Bad", "--timezone", "Mars/Olympus", "--database-url", db_url)
    assert bad.returncode == 1 and "IANA" in bad.stderr
    no_password = meterline("user", "create", "--email", "x@globex.test", "--database-url", db_url)
    assert no_password.returncode == 2 and "--password" in no_password.stderr


def test_org_net_term_days_follow_the_days_rule(db_url: str, server: str) -> None:
    """Issue 14: `org create --net-term-days 100000000000` was accepted, then every POST /api/invoices of that
    organization answered 500. Days are 0 to 3650 wherever they enter (core/numbers.py); nothing is created."""
    for days in ("100000000000", "3651", "-1"):
        refused = meterline("org", "create", "--name", f"Far {days}", "--net-term-days", days, "--database-url", db_url)
        assert refused.returncode == 1
        assert "net term days: must be a whole number of days from 0 to 3650" in refused.stderr
    assert "Far " not in meterline("org", "list", "--database-url", db_url).stdout
    made = meterline("org", "create", "--name", "Decade", "--net-term-days", "3650", "--database-url", db_url)
    assert made.returncode == 0, made.stderr
    key = meterline("api-key", "create", "--org-id", made.stdout.strip(), "--database-url", db_url)
    assert key.returncode == 0, key.stderr
    with httpx.Client(base_url=f"{server}/api", headers={"Authorization": f"Bearer {key.stdout.strip()}"}) as http:
        customer = http.post(
            "/customers", json={"id": "far", "name": "Far Away", "primaryEmail": "a@far.test", "address": {}}
        )
        assert customer.status_code == 201, customer.text
        invoice = http.post(
            "/invoices",
            json={
                "accountId": "far",
                "startDate": "2024-01-01T00:00:00Z",
                "endDate": "2024-02-01T00:00:00Z",
                "status": "DUE",
                "lineItems": [{"value": 10}],
            },
        )
        assert invoice.status_code == 201, invoice.text
        answer = invoice.json()
        due, issued = (datetime.fromisoformat(answer[k].replace("Z", "+00:00")) for k in ("dueDate", "invoiceDate"))
        assert answer["netTermDays"] == 3650 and due - issued == timedelta(days=3650)


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    assert meterline("migrate", env={"METERLINE_DATABASE_URL": url}).returncode == 0
    created = meterline("api-key", "create", env={"METERLINE_DATABASE_URL": url})
    assert created.returncode == 0, created.stderr
    assert len(meterline("api-key", "list", "--database-url", url).stdout.splitlines()) == 1


def test_every_command_uses_run_shs_database_and_never_makes_an_empty_one(tmp_path: Path) -> None:
    """Issue 15: `meterline api-key create` without --database-url made ./meterline.db, a new organization and a key
    the server (on scripts/run.sh's data/meterline.db) refused. Now every command's default is that database, and
    only serve/migrate/init create one; the others refuse, naming the database they looked at."""
    elsewhere, clone = tmp_path / "elsewhere", tmp_path / "clone"
    elsewhere.mkdir()
    clone.mkdir()
    # Given no database where a command looks
    for command in (  # one check (cli._database) serves every command: these run it from each kind of command
        ["api-key", "create"],
        ["user", "create", "--email", "a@b.test", "--password", "long enough"],
        ["bill-run"],
        ["worker"],
        ["demo", "--scale", "0.01"],
    ):
        refused = meterline(*command, cwd=elsewhere)
        # Then it refuses, says which database it looked at and how to name the right one, and makes nothing
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        message = " ".join(refused.stderr.split())
        assert f"no Meterline database at {elsewhere / 'data' / 'meterline.db'}" in message, (command, message)
        assert "sqlite:///data/meterline.db, the default" in message and "--database-url" in message
        assert refused.stdout == ""
        assert list(elsewhere.iterdir()) == []
    named = meterline("api-key", "create", "--database-url", f"sqlite:///{elsewhere / 'x.db'}")
    assert named.returncode == 1 and "from --database-url" in named.stderr and not (elsewhere / "x.db").exists()
    from_env = meterline("org", "list", env={"METERLINE_DATABASE_URL": "sqlite:///missing.db"}, cwd=elsewhere)
    assert from_env.returncode == 1 and "from METERLINE_DATABASE_URL" in from_env.stderr

    # When init runs as scripts/run.sh runs it (no URL, from the repository's root), it creates the default database
    made = meterline("init", cwd=clone)
    assert made.returncode == 0, made.stderr
    assert f"new SQLite database: {clone / 'data' / 'meterline.db'}" in made.stderr
    assert "export METERLINE_TOKEN=mlk_" in made.stderr
    # Then every command run there finds it: a key made by `api-key create` works on the server of that database
    token = meterline("api-key", "create", cwd=clone)
    assert token.returncode == 0, token.stderr
    process, base_url = start_server(f"sqlite:///{clone / 'data' / 'meterline.db'}", tmp_path / "server.log")
    try:
        r = httpx.get(f"{base_url}/api/customers", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert r.status_code == 200, r.text
    finally:
        stop_server(process)
    assert len(meterline("org", "list", cwd=clone).stdout.splitlines()) == 1  # init's, not a second one

    # And the default is written once (core/settings.py): scripts/run.sh relies on it, the README states it
    from meterline.core.settings import DEFAULT_DATABASE_URL

    assert DEFAULT_DATABASE_URL == "sqlite:///data/meterline.db"
    assert "sqlite://" not in (ROOT / "scripts" / "run.sh").read_text()
    readme = (ROOT / "README.md").read_text()
    assert f"| `METERLINE_DATABASE_URL` | `--database-url` | `{DEFAULT_DATABASE_URL}`" in readme


def test_a_database_without_meterlines_schema_is_refused(db_url: str, tmp_path: Path) -> None:
    """A database nobody migrated (an empty SQLite file, an empty PostgreSQL database) is not set up silently by
    `api-key create`: it names the database and the command that would set it up."""
    import secrets

    import psycopg

    from tests.conftest import PG_ADMIN_URL, _libpq

    name = f"meterline_empty_{secrets.token_hex(4)}"
    if db_url.startswith("sqlite"):
        (tmp_path / "empty.db").touch()
        empty = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        empty = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        refused = meterline("api-key", "create", "--database-url", empty)
        assert refused.returncode == 1 and refused.stdout == ""
        message = " ".join(refused.stderr.split())
        assert "has no Meterline schema" in message and "meterline migrate --database-url" in message
        if db_url.startswith("sqlite"):
            assert (tmp_path / "empty.db").stat().st_size == 0
        else:
            with psycopg.connect(_libpq(empty)) as conn:
                assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    finally:
        if not db_url.startswith("sqlite"):
            with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # and a database Meterline set up is found, on either engine
    assert meterline("org", "list", "--database-url", db_url).returncode == 0


def _commands() -> list[tuple[str, Any]]:
    import typer

    from meterline.cli import app

    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}".strip())
        else:
            yield path, command

    return list(walk(typer.main.get_command(app), ""))


def test_every_command_shows_its_defaults() -> None:
    commands = dict(_commands())
    assert {"serve", "migrate", "init", "demo", "bill-run", "worker", "api-key create", "org list"} <= set(commands)
    for path, command in commands.items():
        for option in (p for p in command.params if p.param_type_name == "option"):
            if option.required or option.is_flag or option.name == "help":
                continue
            shown = option.show_default and option.default is not None
            said = "default:" in (option.help or "") or "if not given" in (option.help or "")
            assert shown or said, f"meterline {path} {option.opts[0]} does not say its default"
        if "database_url" in {p.name for p in command.params}:
            database = next(p for p in command.params if p.name == "database_url")
            assert database.default == "sqlite:///data/meterline.db", path
    serve = " ".join(meterline("serve", "--help").stdout.split())
    for default in ("[default: 127.0.0.1]", "[default: 8000]", "[default: sqlite:///data/meterline.db]"):
        assert default in serve, serve
    assert "[default: sqlite:///data/meterline.db]" in " ".join(meterline("api-key", "create", "--help").stdout.split())


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["api-key", "create"], ["org", "create"]], ids=lambda c: " ".join(c) or "top"
)
def test_help_reads_well(command: list[str]) -> None:
    result = meterline(*command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout
    if not command:
        for name in ("serve", "migrate", "org", "user", "api-key", "init", "bill-run", "demo", "worker"):
            assert name in result.stdout


def _past_invoices(base_url: str, token: str) -> None:
    """acme on a plan (no grace) from the 1st of two months ago: two cycles are due for finalization now."""
    import datetime as dt

    import togai_client as tc

    from tests.api.conftest import Sdk, create_metering_catalog
    from tests.api.test_price_plans_sdk import tiered
    from tests.conftest import Tenant

    sdk = Sdk(Tenant(org=None, token=token, base_url=base_url))  # type: ignore[arg-type]
    client = sdk.client
    meters = create_metering_catalog(sdk)
    tc.CustomersApi(client).create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme", primary_email="a@acme.test", address=tc.Address())
    )
    plans = tc.PricePlansApi(client)
    plan = plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="P",
            price_plan_details=tc.CreatePricePlanDetails(
                supported_currencies=["USD"],
                usage_rate_cards=[tiered(meters["sum"], "USD")],
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    grace_period=0,
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                ),
            ),
        )
    )
    plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    today = dt.datetime.now(dt.timezone.utc).date()  # the server bills in UTC: a local date may be a day off
    start = dt.date(today.year - (today.month <= 2), (today.month - 3) % 12 + 1, 1)
    tc.AccountsApi(client).update_pricing_schedule(
        "acme",
        tc.UpdatePricingScheduleRequestWithActions(
            mode="ASSOCIATE", price_plan_id=plan.id, effective_from=start, effective_until=dt.date(9999, 1, 1)
        ),
    )


def _numbers(base_url: str, token: str) -> list[str | None]:
    r = httpx.get(f"{base_url}/api/invoices", headers={"Authorization": f"Bearer {token}"})
    return sorted((i.get("sequenceId") or "-") for i in r.json()["data"])


@pytest.mark.parametrize("where", ["serve", "worker"])
def test_the_billing_worker_finalizes_due_invoices_by_itself(tmp_path: Path, where: str) -> None:
    """The worker runs inside `meterline serve` by default, and alone as `meterline worker`."""
    import time

    url = f"sqlite:///{tmp_path / 'worker.db'}"
    interval = {"METERLINE_WORKER_INTERVAL": "0.5" if where == "serve" else "0"}
    process, base_url = start_server(url, tmp_path / "server.log", env=interval)
    worker = None
    try:
        token = meterline("api-key", "create", "--database-url", url).stdout.strip()
        _past_invoices(base_url, token)
        if where == "worker":
            time.sleep(1.5)
            assert _numbers(base_url, token) == ["-", "-", "-"]  # nobody finalizes them
            worker = subprocess.Popen(
                [sys.executable, "-m", "meterline.cli", "worker", "--interval", "0.5", "--database-url", url],
                stderr=subprocess.PIPE,
                text=True,
            )
        deadline = time.monotonic() + 30
        while _numbers(base_url, token) != ["-", "INV-000001", "INV-000002"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _numbers(base_url, token) == ["-", "INV-000001", "INV-000002"]
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=15)
        stop_server(process)


def test_user_set_password_ends_the_users_sessions(db_url: str) -> None:
    from meterline.core.clock import utc_now
    from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
    from meterline.tenancy.service import TenancyService
    from meterline.tenancy.sessions import ConsoleSessions

    org = meterline("org", "create", "--name", "Pw", "--database-url", db_url).stdout.strip()
    email = f"pw-{org[-6:].lower()}@cli.test"
    assert (
        meterline(
            "user", "create", "--email", email, "--password", "old password", "--org-id", org, "--database-url", db_url
        ).returncode
        == 0
    )
    engine = create_db_engine(db_url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as s:
        token = ConsoleSessions(s).start(TenancyService(s).user_by_email(email), utc_now()).token
    short = meterline("user", "set-password", "--email", email, "--password", "short", "--database-url", db_url)
    assert short.returncode == 1 and "at least 8" in short.stderr
    nobody = meterline(
        "user", "set-password", "--email", "nobody@cli.test", "--password", "long enough", "--database-url", db_url
    )
    assert nobody.returncode == 1 and "No user" in nobody.stderr
    done = meterline("user", "set-password", "--email", email, "--password", "new password", "--database-url", db_url)
    assert done.returncode == 0 and "sessions are ended" in done.stderr, done.stderr
    with unit_of_work(factory, write=False) as s:
        assert ConsoleSessions(s).live(token, utc_now()) is None
        assert TenancyService(s).check_password(email, "old password") is None
        assert TenancyService(s).check_password(email, "new password") is not None
    engine.dispose()


def test_bill_run_prints_a_readable_summary_and_json_on_request(tmp_path: Path) -> None:
    """Issue 15: `bill-run` printed a stray `1`, then raw JSON; now a summary by default, `--json` for scripts."""
    url = f"sqlite:///{tmp_path / 'bill.db'}"
    process, base_url = start_server(url, tmp_path / "server.log")
    try:
        token = meterline("api-key", "create", "--database-url", url).stdout.strip()
        _past_invoices(base_url, token)  # two past cycles due

        done = meterline("bill-run", "--database-url", url)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith("Bill run as of ") and lines[0].endswith(" UTC, every organization")
        assert lines[1:] == [
            "  1 account synced (drafts of every cycle started by then)",
            "  2 invoices finalized (numbered; DUE, or PAID when nothing to pay)",
            "  0 composite invoices made (invoice groups)",
            "  0 failures",
        ]
        assert "note:" not in done.stderr and "{" not in done.stdout
        assert _numbers(base_url, token) == ["-", "INV-000001", "INV-000002"]

        again = meterline("bill-run", "--json", "--database-url", url)
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)
        assert (summary["syncedAccounts"], summary["finalized"], summary["failures"]) == (1, 0, [])
        assert summary["composites"] == []
        assert "0 invoices finalized" in again.stderr  # the summary goes to stderr with --json

        # an instant after now finalizes early: allowed, and said
        org_id = meterline("org", "list", "--database-url", url).stdout.split("\t", 1)[0]
        later = (datetime.now(timezone.utc) + timedelta(days=70)).strftime("%Y-%m-%dT00:00:00Z")
        early = meterline("bill-run", "--as-of", later, "--org-id", org_id, "--database-url", url)
        assert early.returncode == 0, early.stderr
        assert f"note: --as-of {later} is after now" in " ".join(early.stderr.split())
        assert f"organization {org_id}" in early.stdout.splitlines()[0]
        bad = meterline("bill-run", "--as-of", "next tuesday", "--database-url", url)
        assert bad.returncode == 2 and "not an ISO-8601 instant" in bad.stderr
    finally:
        stop_server(process)


def test_bill_run_lists_the_composite_invoices_it_made(tmp_path: Path) -> None:
    """An invoice group's COMPOSITE invoices made by the run are in its summary, one line each, and in --json."""
    url = f"sqlite:///{tmp_path / 'groups.db'}"
    process, base_url = start_server(url, tmp_path / "server.log")
    try:
        token = meterline("api-key", "create", "--database-url", url).stdout.strip()
        _past_invoices(base_url, token)  # two past cycles of acme due (no usage: 0.00 each)
        made = httpx.post(
            f"{base_url}/api/invoice_groups",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": "Acme group",
                "email": "ap@acme.test",
                "dailyInvoiceConsolidation": False,
                "accountIds": ["acme"],
                "address": {"line1": "2 Group Rd"},
            },
        )
        assert made.status_code == 200, made.text
        group = made.json()["id"]

        done = meterline("bill-run", "--json", "--database-url", url)
        assert done.returncode == 0, done.stderr
        composites = json.loads(done.stdout)["composites"]
        assert [(c["sequenceId"], c["invoiceGroupId"], c["totalAmount"], c["currency"]) for c in composites] == [
            ("INV-000003", group, "0.00", "USD"),
            ("INV-000004", group, "0.00", "USD"),
        ]
        summary = " ".join(done.stderr.split())  # the summary goes to stderr with --json
        assert "2 invoices finalized" in summary and "2 composite invoices made (invoice groups)" in summary
        for c in composites:
            assert f"{c['sequenceId']}: invoice group {group}, USD 0.00 ({c['invoiceId']})" in summary
        assert sorted(_numbers(base_url, token)) == ["-", "INV-000001", "INV-000002", "INV-000003", "INV-000004"]

        again = meterline("bill-run", "--database-url", url)
        assert again.returncode == 0, again.stderr
        assert "  0 composite invoices made (invoice groups)" in again.stdout.splitlines()
    finally:
        stop_server(process)


def test_migrate_creates_a_postgresql_database_that_does_not_exist() -> None:
    """As for a SQLite file: `meterline migrate` on a PostgreSQL database that does not exist creates it, then
    migrates it; run again, it finds it."""
    import secrets

    import psycopg

    from tests.conftest import PG_ADMIN_URL, _libpq

    name = f"meterline_new_{secrets.token_hex(4)}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        made = meterline("migrate", "--database-url", url)
        assert made.returncode == 0, made.stderr
        assert f"new PostgreSQL database: {url}" in " ".join(made.stderr.split())
        again = meterline("migrate", "--database-url", url)
        assert again.returncode == 0 and "new PostgreSQL database" not in again.stderr
        assert meterline("org", "list", "--database-url", url).returncode == 0
    finally:
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
