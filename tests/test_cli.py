"""The `meterline` command's contract, run as a user runs it (subprocesses on real databases)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server, stop_server


def meterline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meterline.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
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
        r = httpx.get(f"{base_url}/api/customers", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "revoked" in r.json()["message"]
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
    created = meterline("api-key", "create", env={"METERLINE_DATABASE_URL": url})
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "env.db").exists()


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["api-key", "create"], ["org", "create"]], ids=lambda c: " ".join(c) or "top"
)
def test_help_reads_well(command: list[str]) -> None:
    result = meterline(*command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout
    if not command:
        for name in ("serve", "migrate", "org", "user", "api-key", "init"):
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
    today = dt.date.today()
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
