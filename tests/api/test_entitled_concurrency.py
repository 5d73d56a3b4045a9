"""Never overdraw: simultaneous `POST /entitled` calls against one account's feature credits, through several live
server processes (SQLite: two processes on one database file; PostgreSQL: three, one of them with two workers),
released together from 16 threads. Exactly as many succeed as the credits cover, the others get 422 and store nothing;
afterwards the balances, the entries, the consumptions and the event log agree (docs/entitlements.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import togai_client as tc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.entitlements.models import FeatureConsumption, FeatureCreditEntry
from meterline.schedules.models import PricingSchedule
from tests.api.conftest import Sdk, create_metering_catalog
from tests.conftest import Tenant, new_tenant, start_server, stop_server
from tests.stored_events import stored_events

CALLS = 16
UTC = timezone.utc
D = Decimal


@pytest.fixture(scope="module")
def urls(db_url: str, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The session's server and another process on the same database (on PostgreSQL, one with two workers)."""
    log = tmp_path_factory.mktemp("entitled-servers") / "server.log"
    process, second = start_server(db_url, log, workers=2 if db_url.startswith("postgresql") else 1)
    yield [server, second]
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the second server logged errors:\n{log.read_text()}"


def setup(tenant: Tenant, grants: list[dict[str, Any]]) -> str:
    """acme, the metering catalog, a feature reading api_calls.calls, and these grants; the feature's id."""
    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme", primary_email="a@acme.test", address=tc.Address())
        )
        create_metering_catalog(sdk)
        feature = sdk.features.create_feature(
            tc.CreateFeatureRequest(
                name="Calls",
                schema_associations=[tc.EventSchemasForFeature(schema_name="api_calls", attribute_name="calls")],
            )
        )
    finally:
        sdk.close()
    with tenant.http() as http:
        for body in grants:
            r = http.post(f"/accounts/acme/features/{feature.id}/entries", json=body)
            assert r.status_code == 201, r.text
    return str(feature.id)


def entitled(event_id: str, calls: int) -> dict[str, Any]:
    return {
        "event": {
            "schemaName": "api_calls",
            "id": event_id,
            "timestamp": datetime.now(UTC).isoformat(),
            "accountId": "acme",
            "attributes": [{"name": "calls", "value": str(calls)}],
            "dimensions": {"region": "us"},
        }
    }


def fire(urls: list[str], tenant: Tenant, requests: list[tuple[Any, ...]]) -> list[httpx.Response]:
    """Send the requests (method, path, body[, seconds to wait after the release]) at once from one thread and
    client each, alternating servers; never a 5xx."""
    clients = [httpx.Client(base_url=f"{urls[n % len(urls)]}/api", timeout=60) for n in range(len(requests))]
    try:
        for client in clients:  # connected before the barrier, so the requests really leave together
            client.get("/openapi.json")
        barrier = threading.Barrier(len(requests))
        answers: list[Any] = [None] * len(requests)

        def send(n: int) -> None:
            method, path, body, *wait = requests[n]
            barrier.wait()
            if wait:
                time.sleep(wait[0])
            try:
                answers[n] = clients[n].request(method, path, json=body, headers=tenant.headers)
            except BaseException as exc:  # noqa: BLE001 - reported below
                answers[n] = exc

        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for client in clients:
            client.close()
    for request, answer in zip(requests, answers, strict=True):
        assert isinstance(answer, httpx.Response), (request, answer)
        assert answer.status_code < 500, (request, answer.status_code, answer.text)
    return answers


def ledger(factory: sessionmaker[Session], tenant: Tenant) -> tuple[list[Any], list[Any], list[Any]]:
    """The organization's entries, consumptions and stored events, read where they are kept."""
    with unit_of_work(factory, write=False) as s:
        org = tenant.org.id
        entries = list(s.scalars(select(FeatureCreditEntry).where(FeatureCreditEntry.org_id == org)))
        consumed = list(s.scalars(select(FeatureConsumption).where(FeatureConsumption.org_id == org)))
        events = stored_events(s, org)
    return entries, consumed, events


def agree(factory: sessionmaker[Session], tenant: Tenant, feature_id: str, accepted: dict[str, int]) -> None:
    """Balances, entries, consumptions and the event log tell the same story: the accepted events (id -> units) are
    stored, each consumed exactly its units, each entry used what was consumed from it, and nothing else is."""
    entries, consumed, events = ledger(factory, tenant)
    assert sorted(e.event_id for e in events) == sorted(accepted)
    assert all(e.status == "INGESTION_COMPLETED_EVENT_NOT_METERED" for e in events)
    by_event = {e.pk: e.event_id for e in events}
    for pk, event_id in by_event.items():
        assert sum(c.units for c in consumed if c.event_pk == pk) == accepted[event_id]
    assert {c.event_pk for c in consumed} <= by_event.keys()
    for entry in entries:
        assert entry.used == sum((c.units for c in consumed if c.entry_pk == entry.pk), D(0))
        assert 0 <= entry.used <= entry.granted
    with tenant.http() as http:
        credits = http.get(f"/accounts/acme/features/{feature_id}").json()
        listed = http.get(f"/accounts/acme/features/{feature_id}/entries").json()["data"]
    granted = sum(e.granted for e in entries if e.status == "ACTIVE")
    assert D(str(credits["granted"])) == granted
    assert D(str(credits["balance"])) == granted - sum(e.used for e in entries if e.status == "ACTIVE")
    assert {e["id"]: D(str(e["used"])) for e in listed} == {e.entry_id: e.used for e in entries}


def test_sixteen_calls_against_ten_credits_give_exactly_ten_successes(
    urls: list[str], session_factory: sessionmaker[Session]
) -> None:
    tenant = new_tenant(session_factory, urls[0])
    feature_id = setup(tenant, [{"granted": 10}])
    answers = fire(urls, tenant, [("POST", "/entitled", entitled(f"e{n}", 1)) for n in range(CALLS)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 10 + [422] * 6, [(a.status_code, a.text) for a in answers]
    assert all(a.json() == {"success": True} for a in answers if a.status_code == 200)
    assert all("nothing was stored" in a.json()["message"] for a in answers if a.status_code == 422)
    accepted = {f"e{n}": 1 for n, a in enumerate(answers) if a.status_code == 200}
    agree(session_factory, tenant, feature_id, accepted)
    with tenant.http() as http:
        assert http.get(f"/accounts/acme/features/{feature_id}").json()["balance"] == 0


def test_units_across_entries_and_a_void_at_the_same_time(
    urls: list[str], session_factory: sessionmaker[Session]
) -> None:
    """Events of 3 units against 6 + 4 credits in two entries (3 fit), while the second entry is voided: at most 3,
    and what the voided entry paid is what was taken before its void; the ledger agrees either way."""
    tenant = new_tenant(session_factory, urls[0])
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    feature_id = setup(tenant, [{"granted": 6, "effectiveUntil": until}, {"granted": 4}])
    with tenant.http() as http:
        second = http.get(f"/accounts/acme/features/{feature_id}/entries").json()["data"][1]["id"]
    requests: list[tuple[str, str, Any]] = [("POST", "/entitled", entitled(f"u{n}", 3)) for n in range(CALLS - 2)]
    void = f"/accounts/acme/features/{feature_id}/entries/{second.replace('$', '%24')}/void"
    requests[5:5] = [("POST", void, None), ("POST", void, None)]
    answers = fire(urls, tenant, requests)
    voids = [a.status_code for a in answers if a.request.url.path.endswith("/void")]
    assert sorted(voids) == [200, 400], [a.text for a in answers]
    events = [(r[2]["event"]["id"], a) for r, a in zip(requests, answers, strict=True) if r[1] == "/entitled"]
    assert {a.status_code for _, a in events} <= {200, 422}
    accepted = {event_id: 3 for event_id, a in events if a.status_code == 200}
    assert 2 <= len(accepted) <= 3  # the first entry alone covers two; the second one more, if not voided first
    agree(session_factory, tenant, feature_id, accepted)
    entries, _, _ = ledger(session_factory, tenant)
    assert sorted(e.used for e in entries) == sorted([D(6), D(3 * len(accepted) - 6)])


def test_the_first_calls_of_a_cycle_grant_the_plan_s_entries_once_and_never_overdraw(
    urls: list[str], session_factory: sessionmaker[Session]
) -> None:
    """No read before: 16 simultaneous calls each find the cycle's entries owed (10 units, overage up to 3); one
    grants them, the others wait for it and find them; exactly 13 succeed."""
    from tests.api.billing_setup import month_start
    from tests.api.test_entitlement_cards_sdk import entitlement_card, gated_plan, overage_card
    from tests.api.test_schedules_sdk import OPEN, associate

    tenant = new_tenant(session_factory, urls[0])
    feature_id = setup(tenant, [])
    sdk = Sdk(tenant)
    try:
        plan_id = gated_plan(
            sdk, feature_id, entitlements=[entitlement_card(feature_id, 10)], overage=[overage_card(feature_id, 3)]
        )
        sdk.accounts.update_pricing_schedule("acme", associate(plan_id, month_start(datetime.now(UTC)), OPEN))
    finally:
        sdk.close()
    answers = fire(urls, tenant, [("POST", "/entitled", entitled(f"p{n}", 1)) for n in range(CALLS)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 13 + [422] * 3, [(a.status_code, a.text) for a in answers]
    entries, consumed, events = ledger(session_factory, tenant)
    assert sorted((e.source, e.granted, e.used) for e in entries) == [("OVERAGE", 3, 3), ("PRICE_PLAN", 10, 10)]
    assert len(events) == 13 and sum(c.units for c in consumed) == 13
    with tenant.http() as http:
        credits = http.get(f"/accounts/acme/features/{feature_id}").json()
    assert (credits["granted"], credits["balance"], credits["overageLimit"], credits["usedOverage"]) == (10, 0, 3, 3)


def test_calls_while_the_schedule_is_replaced_never_keep_credits_of_the_plan_that_is_gone(
    urls: list[str], session_factory: sessionmaker[Session]
) -> None:
    """Accounts on plan A (10 credits), their cycle's entries owed, not made; each account's schedule is replaced by
    plan B's (2 credits) while a call arrives during the edit, at a different moment of it for each account (one
    edit's time spread over the accounts: some land before the edit fits the entries, some between that and its
    commit). Whatever the order, no entry of A's schedule stays ACTIVE once the schedule is gone (a grant locks
    the account, as schedule edits do, and reads the schedules again), and each ledger agrees."""
    from tests.api.billing_setup import month_start
    from tests.api.test_entitlement_cards_sdk import entitlement_card, gated_plan
    from tests.api.test_schedules_sdk import OPEN, associate

    tenant = new_tenant(session_factory, urls[0])
    feature_id = setup(tenant, [])
    start = month_start(datetime.now(UTC))
    names = [f"acct{n}" for n in range(8)]
    sdk = Sdk(tenant)
    try:
        plan_a = gated_plan(sdk, feature_id, "A", entitlements=[entitlement_card(feature_id, 10)], overage=[])
        plan_b = gated_plan(sdk, feature_id, "B", entitlements=[entitlement_card(feature_id, 2)], overage=[])
        for name in [*names, "warmup"]:
            sdk.accounts.create_account(
                tc.CreateAccountRequest(id=name, name=name, customer_id="acme", invoice_currency="USD")
            )
            sdk.accounts.update_pricing_schedule(name, associate(plan_a, start, OPEN))
    finally:
        sdk.close()
    replace = {"mode": "ASSOCIATE", "pricePlanId": plan_b, "effectiveFrom": str(start), "effectiveUntil": str(OPEN)}
    with tenant.http() as http:  # how long one edit takes here, to spread the calls over it
        began = time.monotonic()
        assert http.post("/accounts/warmup/price_plans", json=replace).status_code == 200
        span = time.monotonic() - began
    requests: list[tuple[str, str, Any, float]] = []
    for n, name in enumerate(names):
        call = entitled(f"{name}-call", 1)
        call["event"]["accountId"] = name
        requests += [("POST", f"/accounts/{name}/price_plans", replace, 0), ("POST", "/entitled", call, span * n / 7)]
    answers = fire(urls, tenant, requests)
    assert all(a.status_code == 200 for r, a in zip(requests, answers, strict=True) if r[1] != "/entitled")
    assert {a.status_code for r, a in zip(requests, answers, strict=True) if r[1] == "/entitled"} <= {200, 422}
    with unit_of_work(session_factory, write=False) as s:
        schedules = {p.pk for p in s.scalars(select(PricingSchedule).where(PricingSchedule.org_id == tenant.org.id))}
    entries, consumed, events = ledger(session_factory, tenant)
    gone = [(e.entry_id, e.status) for e in entries if e.origin not in schedules and e.status != "VOIDED"]
    assert not gone, f"entries of a schedule that is gone: {gone}"
    assert sum(c.units for c in consumed) == len(events)
    for entry in entries:
        assert entry.used == sum((c.units for c in consumed if c.entry_pk == entry.pk), D(0)) <= entry.granted
