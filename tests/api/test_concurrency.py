"""No lost update, generated from the live server's route table (its OpenAPI document), like the tenant isolation
test: every write operation (POST, PUT, PATCH, DELETE) has a scenario in SCENARIOS that fires 8 simultaneous
requests at one shared object (threads, one httpx client each, released together), then checks the invariants:
accepted payments = paidAmount <= total, a VOID racing payments ends consistent, quantities add up, limits hold,
exactly one success for a unique name, and never a 5xx. An operation that writes nothing shared is listed in
NOT_SHARED with the reason. A new write operation fails this test until it is in one of the two.

Runs on SQLite (one server) and on PostgreSQL against two server processes sharing the database, the requests
alternating between them (4 at once in each). Each scenario has an organization of its own.
"""

from __future__ import annotations

import base64
import hmac
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import togai_client as tc
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.settings import Settings
from meterline.webhooks.delivery import Deliverer
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_files_reports_sdk import finished
from tests.api.test_price_plans_sdk import monthly, tiered
from tests.api.test_schedules_sdk import plan as active_plan
from tests.conftest import new_tenant, start_server, stop_server
from tests.webhook_receiver import Received, Receiver, wait_for

N = 8
D = Decimal
OK = range(200, 300)
Request = tuple[str, str, Any]  # method, path (with its query), JSON body


# -- the environment of one scenario ---------------------------------------------------------------------------------
@dataclass
class Env:
    """An organization of its own on the servers under test: `call` sets up and reads on the first server, `fire`
    sends requests at once, alternating between the servers."""

    clients: list[httpx.Client]  # N, one per thread, alternating between the servers
    headers: dict[str, str]
    sdk: Sdk
    factory: sessionmaker[Session] | None = None  # the database, for what only the worker does (alerts' evaluation)
    org_id: str = ""

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202)) -> Any:
        response = self.clients[0].request(method, path, json=body, headers=self.headers)
        assert response.status_code in ok, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        return self.call("GET", path, ok=(200,))

    def fire(self, requests: list[Request]) -> list[httpx.Response]:
        """Send the requests at once, one thread and client each, alternating servers; their answers, in order. No
        answer may be a 5xx: a race the storage caught is 409, never a server error."""
        clients = self.clients
        barrier = threading.Barrier(len(requests))
        answers: list[httpx.Response | BaseException | None] = [None] * len(requests)

        def send(n: int) -> None:
            method, path, body = requests[n]
            barrier.wait()
            try:
                answers[n] = clients[n].request(method, path, json=body, headers=self.headers)
            except BaseException as exc:  # noqa: BLE001 - reported below
                answers[n] = exc

        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out = []
        for request, answer in zip(requests, answers, strict=True):
            assert isinstance(answer, httpx.Response), (request, answer)
            assert answer.status_code < 500, (request, answer.status_code, answer.text)
            out.append(answer)
        return out

    def same(self, method: str, path: str, body: Any = None) -> list[httpx.Response]:
        return self.fire([(method, path, body)] * N)


def successes(answers: list[httpx.Response], refused: tuple[int, ...]) -> list[httpx.Response]:
    """The 2xx answers; every other answer must be one of `refused`."""
    wrong = [(a.status_code, a.text) for a in answers if a.status_code not in OK and a.status_code not in refused]
    assert not wrong, wrong
    return [a for a in answers if a.status_code in OK]


def exactly_one(answers: list[httpx.Response], refused: tuple[int, ...] = (409,)) -> httpx.Response:
    ok = successes(answers, refused)
    assert len(ok) == 1, [(a.status_code, a.text) for a in answers]
    return ok[0]


def all_ok(answers: list[httpx.Response]) -> None:
    assert successes(answers, ()) == answers


# -- objects the scenarios start from --------------------------------------------------------------------------------
def customer(env: Env, customer_id: str) -> None:
    """A customer and its account, both with this id."""
    env.call(
        "POST",
        "/customers",
        {"id": customer_id, "name": f"Customer {customer_id}", "primaryEmail": "a@x.test", "address": {}},
    )


def due_invoice(env: Env, total: str, *, status: str = "DUE") -> str:
    customer(env, "acme")
    return str(
        env.call(
            "POST",
            "/invoices",
            {
                "accountId": "acme",
                "startDate": "2024-01-01T00:00:00Z",
                "endDate": "2024-02-01T00:00:00Z",
                "status": status,
                "lineItems": [{"description": "Work", "value": float(total)}],
            },
        )["id"]
    )


def payment(invoice_id: str, amount: str) -> Request:
    return (
        "POST",
        "/payments",
        {
            "accountId": "acme",
            "currency": "USD",
            "totalAmount": float(amount),
            "externalPaymentReference": {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "1"},
            "lineItemRecords": [{"type": "INVOICE", "togaiId": invoice_id, "amount": float(amount), "order": 1}],
        },
    )


def plan_details() -> dict[str, Any]:
    return {
        "supportedCurrencies": ["USD"],
        "pricingCycleConfig": {
            "interval": "MONTHLY",
            "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
            "gracePeriod": 0,
        },
    }


def metered(env: Env, account_id: str = "acme") -> dict[str, str]:
    """A metering catalog, an active plan on it, and an account on that plan since 2024-01-01."""
    catalog = create_metering_catalog(env.sdk)
    plan_id = active_plan(env.sdk, catalog["sum"], "Metered")
    customer(env, account_id)
    env.call(
        "POST",
        f"/accounts/{account_id}/price_plans",
        {"mode": "ASSOCIATE", "pricePlanId": plan_id, "effectiveFrom": "2024-01-01", "effectiveUntil": "9999-01-01"},
    )
    return {**catalog, "plan": plan_id}


def event(event_id: str) -> dict[str, Any]:
    return {
        "schemaName": "api_calls",
        "id": event_id,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "accountId": "acme",
        "attributes": [{"name": "calls", "value": "5"}],
        "dimensions": {"region": "us"},
    }


def no_overlap(env: Env, account_id: str) -> list[dict[str, Any]]:
    schedules = sorted(env.get(f"/accounts/{account_id}/pricing_schedules")["data"], key=lambda s: s["startDate"])
    for before, after in zip(schedules, schedules[1:], strict=False):
        assert before["endDate"] <= after["startDate"], schedules
    return schedules


# -- scenarios -------------------------------------------------------------------------------------------------------
def s_customer_create(env: Env) -> None:
    exactly_one(
        env.same("POST", "/customers", {"id": "c1", "name": "Customer 1", "primaryEmail": "a@x.test", "address": {}})
    )
    assert [c["id"] for c in env.get("/customers")["data"]] == ["c1"]


def s_customer_update(env: Env) -> None:
    customer(env, "c1")
    all_ok(env.fire([("PATCH", "/customers/c1", {"name": f"Name {n}"}) for n in range(N)]))
    assert env.get("/customers/c1")["name"] in {f"Name {n}" for n in range(N)}


def s_customer_delete(env: Env) -> None:
    customer(env, "c1")
    assert successes(env.same("DELETE", "/customers/c1"), (404,))
    env.call("GET", "/customers/c1", ok=(404,))


def s_contacts(env: Env) -> None:
    customer(env, "c1")
    exactly_one(env.same("POST", "/customers/c1/contacts", {"name": "Ann", "email": "ann@x.test"}))


def s_account_create(env: Env) -> None:
    customer(env, "c1")
    exactly_one(env.same("POST", "/accounts", {"id": "a1", "name": "Account 1", "customerId": "c1"}))


def s_account_update(env: Env) -> None:
    customer(env, "c1")
    all_ok(env.fire([("PATCH", "/accounts/c1", {"name": f"Name {n}"}) for n in range(N)]))
    assert env.get("/accounts/c1")["name"] in {f"Name {n}" for n in range(N)}


def s_account_delete(env: Env) -> None:
    customer(env, "c1")
    env.call("POST", "/accounts", {"id": "a1", "name": "Account 1", "customerId": "c1"})
    assert successes(env.same("DELETE", "/accounts/a1"), (404,))
    env.call("GET", "/accounts/a1", ok=(404,))


def s_add_aliases(env: Env) -> None:
    """The limit: at most 10 aliases that have not ended."""
    customer(env, "acme")
    env.call("POST", "/accounts/acme/add_aliases", {"aliases": [f"old-{n}" for n in range(9)]})
    exactly_one(env.fire([("POST", "/accounts/acme/add_aliases", {"aliases": [f"new-{n}"]}) for n in range(N)]), (400,))
    assert len(env.get("/accounts/acme/account_aliases")["data"]) == 10


def s_add_one_alias_value(env: Env) -> None:
    """An alias value names one account at a time: 8 accounts claiming it, one gets it."""
    for n in range(N):
        customer(env, f"acct{n}")
    exactly_one(env.fire([("POST", f"/accounts/acct{n}/add_aliases", {"aliases": ["shared"]}) for n in range(N)]))


def s_remove_aliases(env: Env) -> None:
    customer(env, "acme")
    env.call("POST", "/accounts/acme/add_aliases", {"aliases": ["gone"]})
    assert successes(env.same("POST", "/accounts/acme/remove_aliases", {"aliases": ["gone"]}), (404,))
    [row] = env.get("/accounts/acme/account_aliases")["data"]  # ended once, not split into several rows
    assert row["value"] == "gone" and row["effectiveUntil"] <= datetime.now(timezone.utc).isoformat(), row


def s_schedules(env: Env) -> None:
    """Associations of one account at once (both forms of the operation): its schedules never overlap."""
    made = metered(env)
    requests: list[Request] = []
    for n in range(N):
        edit = {
            "mode": "ASSOCIATE",
            "pricePlanId": made["plan"],
            "effectiveFrom": f"2024-0{n + 2}-01",
            "effectiveUntil": "9999-01-01",
        }
        requests.append(
            ("POST", "/accounts/acme/price_plans", edit)
            if n % 2
            else ("POST", "/accounts/acme/edit_schedules", {"edits": [edit]})
        )
    all_ok(env.fire(requests))
    schedules = no_overlap(env, "acme")
    assert schedules[0]["startDate"].startswith("2024-01-01") and schedules[-1]["endDate"].startswith("9999")


def s_account_charges(env: Env) -> None:
    metered(env)
    bodies = [{"items": [{"name": f"Charge {n}", "value": str(n + 1)}]} for n in range(N)]
    all_ok(env.fire([("PUT", "/accounts/acme/miscellaneous_charges", b) for b in bodies]))
    [draft] = [
        i
        for i in env.get("/invoices?owner_id=acme&status=DRAFT")["data"]
        if i["startDate"] <= datetime.now(timezone.utc).isoformat() < i["endDate"]
    ]
    # one write whole, not a mix: the draft (no usage) is worth exactly one of the charges
    assert D(str(env.get(f"/invoices/{draft['id']}")["totalAmount"])) in {D(n + 1) for n in range(N)}


def s_wallet_top_up(env: Env) -> None:
    customer(env, "acme")
    all_ok(env.same("POST", "/accounts/acme/wallet_topup", {"topupAmount": 5}))
    assert D(str(env.get("/accounts/acme/wallet")["balance"])) == 5 * N


def s_wallet_update(env: Env) -> None:
    customer(env, "acme")
    env.call("POST", "/accounts/acme/wallet_topup", {"topupAmount": 5})
    all_ok(env.fire([("PATCH", "/accounts/acme/wallet", {"status": ("ACTIVE", "INACTIVE")[n % 2]}) for n in range(N)]))
    wallet = env.get("/accounts/acme/wallet")
    assert wallet["status"] in ("ACTIVE", "INACTIVE") and D(str(wallet["balance"])) == 5


def s_addon_create(env: Env) -> None:
    exactly_one(env.same("POST", "/addons", {"name": "Seats", "type": "LICENSE"}))


def s_addon_rename(env: Env) -> None:
    ids = [env.call("POST", "/addons", {"name": f"Fee {n}", "type": "FIXED_FEE"})["id"] for n in range(N)]
    exactly_one(env.fire([("PATCH", f"/addons/{i}", {"name": "One name"}) for i in ids]))


def s_addon_delete(env: Env) -> None:
    addon = env.call("POST", "/addons", {"name": "Fee", "type": "FIXED_FEE"})["id"]
    all_ok(env.same("DELETE", f"/addons/{addon}"))
    assert env.get(f"/addons/{addon}")["status"] == "ARCHIVED"


def s_alias_register(env: Env) -> None:
    exactly_one(env.same("POST", "/aliases", {"aliases": [{"value": "one"}]}))


def s_alias_delete(env: Env) -> None:
    env.call("POST", "/aliases", {"aliases": [{"value": "one"}]})
    assert successes(env.same("DELETE", "/aliases/one"), (404,))
    env.call("GET", "/aliases/one", ok=(404,))


def s_credit_grant(env: Env) -> None:
    customer(env, "acme")
    grant = {
        "creditRequests": [
            {"accountId": "acme", "purpose": "Promo", "creditAmount": 5, "priority": 1, "effectiveFrom": "2024-01-01"}
        ]
    }
    all_ok(env.same("POST", "/credits", grant))
    assert D(str(env.get("/accounts/acme/credit_balance")["availableBalance"])) == 5 * N


def s_credit_void(env: Env) -> None:
    customer(env, "acme")
    credit = env.call(
        "POST",
        "/credits",
        {
            "creditRequests": [
                {
                    "accountId": "acme",
                    "purpose": "Promo",
                    "creditAmount": 5,
                    "priority": 1,
                    "effectiveFrom": "2024-01-01",
                }
            ]
        },
    )
    credit_id = credit["credits"][0]["id"]
    exactly_one(env.same("POST", f"/credits/{credit_id}/void"), (400,))
    assert env.get(f"/credits/{credit_id}")["status"] == "VOIDED"


def s_schema_create(env: Env) -> None:
    exactly_one(env.same("POST", "/event_schema", {"name": "calls", "attributes": [], "dimensions": []}))


def s_schema_update(env: Env) -> None:
    """Edits of an ACTIVE schema make versions one after the other: none lost, none twice."""
    env.call("POST", "/event_schema", {"name": "calls", "attributes": [], "dimensions": []})
    env.call("POST", "/event_schema/calls/activate")
    all_ok(env.fire([("PATCH", "/event_schema/calls", {"description": f"Edit {n}"}) for n in range(N)]))
    versions = [v["version"] for v in env.get("/event_schema/calls/versions")["data"]]
    assert sorted(versions) == list(range(1, len(versions) + 1))


def s_schema_status(env: Env) -> None:
    env.call("POST", "/event_schema", {"name": "calls", "attributes": [], "dimensions": []})
    env.call("POST", "/event_schema/calls/activate")
    requests: list[Request] = [
        ("POST", f"/event_schema/calls/{('activate', 'deactivate')[n % 2]}", None) for n in range(N)
    ]
    successes(env.fire(requests), (400,))
    assert env.get("/event_schema/calls")["status"] in ("ACTIVE", "INACTIVE")
    versions = [v["version"] for v in env.get("/event_schema/calls/versions")["data"]]
    assert sorted(versions) == list(range(1, len(versions) + 1))


def s_schema_delete(env: Env) -> None:
    env.call("POST", "/event_schema", {"name": "calls", "attributes": [], "dimensions": []})
    successes(env.same("DELETE", "/event_schema/calls"), (400, 404))
    assert env.get("/event_schema?status=ARCHIVED")["data"][0]["name"] == "calls"


def s_meter_create(env: Env) -> None:
    create_metering_catalog(env.sdk)
    exactly_one(
        env.same(
            "POST",
            "/usage_meters",
            {"name": "m", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": "api_calls"},
        )
    )


def s_meter_rename(env: Env) -> None:
    create_metering_catalog(env.sdk)
    ids = [
        env.call(
            "POST",
            "/usage_meters",
            {"name": f"m{n}", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": "api_calls"},
        )["id"]
        for n in range(N)
    ]
    exactly_one(env.fire([("PATCH", f"/usage_meters/{i}", {"name": "one"}) for i in ids]))


def s_meter_status(env: Env) -> None:
    meter = create_metering_catalog(env.sdk)["count"]
    requests: list[Request] = [
        ("POST", f"/usage_meters/{meter}/{('activate', 'deactivate')[n % 2]}", None) for n in range(N)
    ]
    successes(env.fire(requests), (400,))
    assert env.get(f"/usage_meters/{meter}")["status"] in ("ACTIVE", "INACTIVE")


def s_meter_delete(env: Env) -> None:
    create_metering_catalog(env.sdk)
    meter = env.call(
        "POST",
        "/usage_meters",
        {"name": "m", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": "api_calls"},
    )["id"]
    successes(env.same("DELETE", f"/usage_meters/{meter}"), (400, 404))
    assert env.get(f"/usage_meters/{meter}")["status"] == "ARCHIVED"


def s_ingest(env: Env) -> None:
    """One event id, 8 times at once: accepted once."""
    metered(env)
    exactly_one(env.same("POST", "/ingest", {"event": event("e1")}))


def s_ingest_batch(env: Env) -> None:
    metered(env)
    answers = successes(env.same("POST", "/ingestBatch", {"events": [event(f"e{n}") for n in range(3)]}), ())
    accepted = sum(3 - len(a.json().get("errors") or []) for a in answers)
    assert accepted == 3, [a.text for a in answers]


def s_predefined_events(env: Env) -> None:
    """A togai-usage and a togai-named-license event, each sent 8 times at once: each accepted once; one named seat,
    and the meter's usage counted once."""
    catalog = metered(env)
    seats = env.call("POST", "/addons", {"name": "Named seats", "type": "NAMED_LICENSE"})["id"]
    at = datetime.now(timezone.utc).isoformat()
    usage = {
        "schemaName": "togai-usage",
        "id": "u1",
        "timestamp": at,
        "accountId": "acme",
        "attributes": [{"name": "usage", "value": "7.5"}],
        "dimensions": {"usage_meter_id": catalog["sum"]},
    }
    seat = {
        "schemaName": "togai-named-license",
        "id": "s1",
        "timestamp": at,
        "accountId": "acme",
        "attributes": [{"name": "action", "value": "1"}],
        "dimensions": {"license_id": seats, "name": "alice"},
    }
    exactly_one(env.same("POST", "/ingest", {"event": usage}))
    exactly_one(env.same("POST", "/ingest", {"event": seat}))
    assert [u["name"] for u in env.get("/named_license_updates")["data"]] == ["alice"]
    statuses = [e["ingestionStatus"]["status"] for e in env.get("/events/u1")["events"]]
    assert statuses.count("INGESTION_COMPLETED_EVENT_METERED") == 1, statuses


def s_correction(env: Env) -> None:
    """8 UNDOs of one event: one takes effect."""
    metered(env)
    env.call("POST", "/ingest", {"event": event("e1")})
    exactly_one(env.same("POST", "/events/correction?action=UNDO", {"event": {"id": "e1"}}), (400, 404, 409))


def _correction_job(env: Env, action: str, event_id: str) -> str:
    answer = env.call(
        "POST", f"/events/correction?action={action}&require_confirmation=true", {"event": {"id": event_id}}
    )
    return str(answer["data"][0]["reason"].split("job ", 1)[1].split(" ", 1)[0])


def s_correction_jobs(env: Env) -> None:
    """One waiting correction confirmed (and rejected) 8 times at once: applied once. Then two waiting corrections of
    one event, each confirmed 4 times at once: exactly one takes effect, the other job fails (the event it previewed
    was corrected), and the event is reverted once."""
    metered(env)
    env.call("POST", "/ingest", {"event": event("e1")})
    job_id = _correction_job(env, "UNDO", "e1")
    exactly_one(
        env.fire([("POST", f"/jobs/{job_id}/{('confirm', 'reject')[n % 3 == 2]}", None) for n in range(N)]), (400,)
    )
    status = env.get(f"/jobs/{job_id}")["status"]
    assert status in ("COMPLETED", "CANCELLED")
    statuses = [e["ingestionStatus"]["status"] for e in env.get("/events/e1")["events"]]
    assert statuses == (["REVERTED"] if status == "COMPLETED" else ["INGESTION_COMPLETED_EVENT_METERED"]), statuses

    env.call("POST", "/ingest", {"event": event("e2")})
    first, second = _correction_job(env, "UNDO", "e2"), _correction_job(env, "REDO", "e2")
    exactly_one(env.fire([("POST", f"/jobs/{(first, second)[n % 2]}/confirm", None) for n in range(N)]), (400, 409))
    jobs = sorted(env.get(f"/jobs/{j}")["status"] for j in (first, second))
    assert jobs == ["COMPLETED", "FAILED"], jobs
    events = [e["ingestionStatus"]["status"] for e in env.get("/events/e2")["events"]]
    assert events.count("REVERTED") == 1 and len(events) <= 2, events


def s_setting_create(env: Env) -> None:
    customer(env, "acme")
    exactly_one(
        env.same(
            "POST",
            "/settings",
            {
                "id": "s",
                "value": "v",
                "entityType": "ACCOUNT",
                "entityId": "acme",
                "namespace": "USER",
                "name": "S",
                "dataType": "STRING",
            },
        )
    )


def s_setting_update(env: Env) -> None:
    customer(env, "acme")
    env.call(
        "POST",
        "/settings",
        {
            "id": "s",
            "value": "v",
            "entityType": "ACCOUNT",
            "entityId": "acme",
            "namespace": "USER",
            "name": "S",
            "dataType": "STRING",
        },
    )
    path = "/settings/setting.USER.s.ACCOUNT.acme"
    all_ok(env.fire([("PATCH", path, {"value": f"v{n}"}) for n in range(N)]))
    assert env.get(path)["value"] in {f"v{n}" for n in range(N)}


def s_plan_create(env: Env) -> None:
    exactly_one(env.same("POST", "/price_plans", {"name": "Pro", "pricePlanDetails": plan_details()}))
    assert [p["name"] for p in env.get("/price_plans")["data"]] == ["Pro"]


def s_plan_update(env: Env) -> None:
    """Edits of an ACTIVE plan make versions 2..9, one each."""
    catalog = create_metering_catalog(env.sdk)
    plan_id = active_plan(env.sdk, catalog["sum"], "Pro")
    all_ok(
        env.fire(
            [
                (
                    "PATCH",
                    f"/price_plans/{plan_id}",
                    {
                        "pricePlanDetails": {
                            "pricingCycleConfig": {
                                "interval": "MONTHLY",
                                "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                                "gracePeriod": n,
                            }
                        }
                    },
                )
                for n in range(N)
            ]
        )
    )
    versions = [v["version"] for v in env.get(f"/price_plans/{plan_id}")["pricingSchedule"]]
    assert sorted(versions) == list(range(1, N + 2))


def s_plan_activate(env: Env) -> None:
    catalog = create_metering_catalog(env.sdk)
    plan_id = env.sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Pro",
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=monthly(),
                supported_currencies=["USD"],
                usage_rate_cards=[tiered(catalog["sum"], "USD")],
            ),
        )
    ).id
    all_ok(env.same("POST", f"/price_plans/{plan_id}/activate", {"currencies": ["USD"]}))
    assert env.get(f"/price_plans/{plan_id}")["status"] == "ACTIVE"


def s_plan_archive(env: Env) -> None:
    plan_id = env.call("POST", "/price_plans", {"name": "Pro", "pricePlanDetails": plan_details()})["id"]
    all_ok(env.same("DELETE", f"/price_plans/{plan_id}"))
    assert env.get(f"/price_plans/{plan_id}")["status"] == "ARCHIVED"


def s_migration(env: Env) -> None:
    """8 migrations of one plan's schedules at once: each schedule moves once, none overlap."""
    made = metered(env)
    target = active_plan(env.sdk, made["sum"], "Target")
    successes(
        env.same(
            "POST",
            "/price_plans/migration",
            {"sourceId": made["plan"], "sourceVersion": 1, "targetId": target, "migrationMode": "IMMEDIATE"},
        ),
        (400,),
    )
    schedules = no_overlap(env, "acme")
    assert schedules[-1]["pricePlanId"] == target, schedules


def v2_fee_card(addon: str, amount: int) -> dict[str, Any]:
    return {
        "billableId": addon,
        "type": "FIXED_FEE",
        "invoiceTiming": "IN_ARREARS",
        "rateCardDetails": {
            "fixedFeeRateCard": {
                "id": addon,
                "rateValues": [{"currency": "USD", "rate": amount}],
                "enableProration": False,
            }
        },
    }


def v2_plan(env: Env) -> tuple[str, str]:
    """An ACTIVE plan made through v2 with one fee card `fee`; (plan id, add-on id)."""
    addon = env.call("POST", "/addons", {"name": "Fee", "type": "FIXED_FEE"})["id"]
    plan_id = env.call("POST", "/v2/price_plans", {"name": "Pro", "type": "BILLING", **plan_details()})["id"]
    operation = {"actionType": "CREATE", "rateCardName": "fee", "rateCard": v2_fee_card(addon, 10)}
    env.call("POST", f"/v2/price_plans/{plan_id}/rate_cards", {"operations": [operation]})
    env.call("POST", f"/v2/price_plans/{plan_id}/finalize", {})
    return plan_id, addon


def s_v2_create(env: Env) -> None:
    exactly_one(env.same("POST", "/v2/price_plans", {"name": "Pro", "type": "BILLING", **plan_details()}))
    assert [p["name"] for p in env.get("/v2/price_plans")["data"]] == ["Pro"]


def s_v2_update(env: Env) -> None:
    """8 first edits of an ACTIVE plan at once make one draft, version 2."""
    plan_id, _ = v2_plan(env)
    all_ok(env.fire([("PATCH", f"/v2/price_plans/{plan_id}", {"supportedCurrencies": ["USD"]}) for _ in range(N)]))
    versions = [(v["version"], v["status"]) for v in env.get(f"/v2/price_plans/{plan_id}/versions")["data"]]
    assert versions == [(1, "ACTIVE"), (2, "DRAFT")]


def s_v2_rate_cards(env: Env) -> None:
    """8 cards created at once on one draft: all 8 there."""
    plan_id, addon = v2_plan(env)
    all_ok(
        env.fire(
            [
                (
                    "POST",
                    f"/v2/price_plans/{plan_id}/rate_cards",
                    {
                        "operations": [
                            {"actionType": "CREATE", "rateCardName": f"c{n}", "rateCard": v2_fee_card(addon, n)}
                        ]
                    },
                )
                for n in range(N)
            ]
        )
    )
    names = sorted(c["name"] for c in env.get(f"/v2/price_plans/{plan_id}/rate_cards")["data"])
    assert names == sorted(["fee", *(f"c{n}" for n in range(N))])


def s_v2_pricing_rules(env: Env) -> None:
    plan_id, _ = v2_plan(env)
    rule = {"order": 1, "computation": "1", "action": {"type": "ADD"}}
    all_ok(
        env.fire(
            [
                ("PUT", f"/v2/price_plans/{plan_id}/pricing_rules", {"pricingRules": [{**rule, "name": f"r{n}"}]})
                for n in range(N)
            ]
        )
    )
    [kept] = env.get(f"/v2/price_plans/{plan_id}/pricing_rules")["data"]
    assert kept["name"] in {f"r{n}" for n in range(N)} and kept["version"] == 2


def s_v2_finalize(env: Env) -> None:
    """One draft finalized 8 times at once: once (the others find no draft)."""
    plan_id, _ = v2_plan(env)
    env.call("PATCH", f"/v2/price_plans/{plan_id}", {"supportedCurrencies": ["USD"]})
    exactly_one(env.same("POST", f"/v2/price_plans/{plan_id}/finalize", {"migrationMode": "IMMEDIATE"}), (400,))
    versions = [(v["version"], v["status"]) for v in env.get(f"/v2/price_plans/{plan_id}/versions")["data"]]
    assert versions == [(1, "ACTIVE"), (2, "ACTIVE")]


def s_v2_discard(env: Env) -> None:
    plan_id, _ = v2_plan(env)
    env.call("PATCH", f"/v2/price_plans/{plan_id}", {"supportedCurrencies": ["USD"]})
    exactly_one(env.same("DELETE", f"/v2/price_plans/{plan_id}/discard"), (400,))
    assert [v["version"] for v in env.get(f"/v2/price_plans/{plan_id}/versions")["data"]] == [1]


def s_v2_migration(env: Env) -> None:
    made = metered(env)
    target = active_plan(env.sdk, made["sum"], "Target")
    successes(
        env.same(
            "POST",
            "/v2/price_plans/migration",
            {"sourceId": made["plan"], "sourceVersion": 1, "targetId": target, "migrationMode": "IMMEDIATE"},
        ),
        (400,),
    )
    schedules = no_overlap(env, "acme")
    assert schedules[-1]["pricePlanId"] == target, schedules


def _staged_window(plan_id: str, n: int) -> dict[str, Any]:
    month = f"2024-{n + 2:02d}"
    return {
        "mode": "ASSOCIATE",
        "effectiveFrom": f"{month}-01",
        "effectiveUntil": f"{month}-15",
        "associationConfig": {"pricePlanId": plan_id},
    }


def s_v2_schedules_stage(env: Env) -> None:
    """8 edits staged on one account at once (disjoint windows): all 8 are kept (none lost), in some order."""
    made = metered(env)
    all_ok(
        env.fire(
            [
                ("POST", "/v2/accounts/acme/edit_schedules", {"edits": [_staged_window(made["plan"], n)]})
                for n in range(N)
            ]
        )
    )
    assert len(env.get("/v2/accounts/acme/schedules?mode=ACTIVE")["data"]) == 1  # staged only
    drafted = env.get("/v2/accounts/acme/schedules?mode=DRAFT")["data"]
    assert len(drafted) == 1 + 2 * N, drafted  # each window splits the schedule once: every edit is there


def s_v2_schedules_finalize(env: Env) -> None:
    """The staged edits finalized 8 times at once: applied once (the others find nothing staged)."""
    made = metered(env)
    env.call("POST", "/v2/accounts/acme/edit_schedules", {"edits": [_staged_window(made["plan"], 0)]})
    exactly_one(env.same("POST", "/v2/accounts/acme/finalize_schedules", {}), (400,))
    assert len(no_overlap(env, "acme")) == 3


def s_v2_schedules_discard(env: Env) -> None:
    made = metered(env)
    env.call("POST", "/v2/accounts/acme/edit_schedules", {"edits": [_staged_window(made["plan"], 0)]})
    exactly_one(env.same("DELETE", "/v2/accounts/acme/discard_schedules"), (400,))
    assert len(env.get("/v2/accounts/acme/schedules?mode=DRAFT")["data"]) == 1


def _v2_schedule(env: Env) -> tuple[str, str]:
    """acme on a v2 plan with one fee card since 2024-01-01: (its schedule id, the add-on)."""
    plan_id, addon = v2_plan(env)
    customer(env, "acme")
    edit = {"mode": "ASSOCIATE", "pricePlanId": plan_id, "effectiveFrom": "2024-01-01", "effectiveUntil": "9999-01-01"}
    env.call("POST", "/accounts/acme/price_plans", edit)
    [schedule] = env.get("/v2/accounts/acme/schedules?mode=ACTIVE")["data"]
    return schedule["id"], addon


def s_v2_schedule_rate_cards(env: Env) -> None:
    """8 cards staged on one schedule at once: all 8 in its draft."""
    schedule_id, addon = _v2_schedule(env)
    all_ok(
        env.fire(
            [
                (
                    "POST",
                    f"/v2/schedules/{schedule_id}/rate_cards",
                    {
                        "operations": [
                            {"actionType": "CREATE", "rateCardName": f"c{n}", "rateCard": v2_fee_card(addon, n)}
                        ]
                    },
                )
                for n in range(N)
            ]
        )
    )
    names = sorted(c["name"] for c in env.get(f"/v2/schedules/{schedule_id}/rate_cards?mode=DRAFT")["data"])
    assert names == sorted(["fee", *(f"c{n}" for n in range(N))])
    assert [c["name"] for c in env.get(f"/v2/schedules/{schedule_id}/rate_cards?mode=ACTIVE")["data"]] == ["fee"]


def s_v2_schedule_pricing_rules(env: Env) -> None:
    schedule_id, _ = _v2_schedule(env)
    rule = {"order": 1, "computation": "1", "action": {"type": "ADD"}}
    all_ok(
        env.fire(
            [
                ("PUT", f"/v2/schedules/{schedule_id}/pricing_rules", {"pricingRules": [{**rule, "name": f"r{n}"}]})
                for n in range(N)
            ]
        )
    )
    [kept] = env.get(f"/v2/schedules/{schedule_id}/pricing_rules?mode=DRAFT")["data"]
    assert kept["name"] in {f"r{n}" for n in range(N)}


def s_jobs(env: Env) -> None:
    """A job waiting for confirmation, confirmed and rejected at once: one of them wins."""
    made = metered(env)
    target = active_plan(env.sdk, made["sum"], "Target")
    env.call(
        "POST",
        "/price_plans/migration",
        {
            "sourceId": made["plan"],
            "sourceVersion": 1,
            "targetId": target,
            "migrationMode": "IMMEDIATE",
            "requireConfirmation": True,
        },
    )
    job_id = env.get("/jobs")["data"][0]["id"]
    exactly_one(env.fire([("POST", f"/jobs/{job_id}/{('confirm', 'reject')[n % 2]}", None) for n in range(N)]), (400,))
    assert env.get(f"/jobs/{job_id}")["status"] in ("COMPLETED", "CANCELLED")
    no_overlap(env, "acme")


def s_invoice_create(env: Env) -> None:
    """One idempotencyKey: one invoice, the same answer to every request."""
    customer(env, "acme")
    answers = successes(
        env.same(
            "POST",
            "/invoices",
            {
                "accountId": "acme",
                "startDate": "2024-01-01T00:00:00Z",
                "endDate": "2024-02-01T00:00:00Z",
                "status": "DUE",
                "idempotencyKey": "k1",
                "lineItems": [{"value": 5}],
            },
        ),
        (),
    )
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(env.get("/invoices?owner_id=acme")["data"]) == 1


def s_bill_runs(env: Env) -> None:
    """8 bill runs at once: each due invoice finalized once, numbers 1..3 without a gap."""
    customer(env, "acme")
    drafts = [
        str(
            env.call(
                "POST",
                "/invoices",
                {  # finalized when their period ends, long past: due now
                    "accountId": "acme",
                    "startDate": f"2024-01-0{n + 1}T00:00:00Z",
                    "endDate": "2024-02-01T00:00:00Z",
                    "status": "DRAFT",
                    "autoAdvance": True,
                    "lineItems": [{"value": 5}],
                },
            )["id"]
        )
        for n in range(3)
    ]
    all_ok(env.same("POST", "/invoices/bill_runs"))
    numbers = sorted(int(env.get(f"/invoices/{i}")["sequenceId"].split("-")[-1]) for i in drafts)
    assert numbers == [1, 2, 3]


def s_reports(env: Env) -> None:
    """8 reports at once (the first files of the organization, on two processes with PostgreSQL): each COMPLETED with
    a file of its own, every link (signed by whichever process answered) downloads the same rows."""
    customer(env, "acme")
    body = {"type": "TEMPLATE", "reportTemplateId": "wallet_ledger", "fromDate": "2000-01-01", "toDate": "2100-01-01"}
    answers = env.same("POST", "/reports", body)
    all_ok(answers)
    with httpx.Client(base_url=env.clients[0].base_url, headers=env.headers, timeout=60) as http:
        reports = [finished(http, a.json()["id"]) for a in answers]  # each run once, by one of the runners
    assert {r["status"] for r in reports} == {"COMPLETED"} and len({r["fileId"] for r in reports}) == N
    contents = {httpx.get(r["preSignedUrl"], timeout=30).text for r in reports}
    assert len(contents) == 1 and next(iter(contents)).startswith("createdAt,id,accountId")


def s_invoice_delete(env: Env) -> None:
    invoice_id = due_invoice(env, "5.00", status="DRAFT")
    assert successes(env.same("DELETE", f"/invoices/{invoice_id}"), (404,))
    env.call("GET", f"/invoices/{invoice_id}", ok=(404,))


def s_invoice_charges(env: Env) -> None:
    invoice_id = due_invoice(env, "5.00", status="DRAFT")
    bodies = [{"items": [{"name": f"Charge {n}", "value": str(n + 1)}]} for n in range(N)]
    all_ok(env.fire([("PUT", f"/invoices/{invoice_id}/miscellaneous_charges", b) for b in bodies]))
    # one write whole, not a mix: the invoice is worth its line and exactly one of the charges
    assert D(str(env.get(f"/invoices/{invoice_id}")["totalAmount"])) in {D(5 + n + 1) for n in range(N)}


def _paid(env: Env, invoice_id: str, answers: list[httpx.Response]) -> tuple[dict[str, Any], Decimal]:
    accepted = sum(
        (
            D(str(a.json()["totalAmount"]))
            for a in answers
            if a.request.url.path.endswith("/payments") and a.status_code == 201
        ),
        D(0),
    )
    return env.get(f"/invoices/{invoice_id}"), accepted


def s_payments(env: Env) -> None:
    """8 full payments of an invoice of 50: one accepted; 8 of 10: five accepted. Accepted = paidAmount <= total."""
    full = due_invoice(env, "50.00")
    exactly_one(env.fire([payment(full, "50.00")] * N), (400,))
    invoice, _ = _paid(env, full, [])
    assert (invoice["status"], D(str(invoice["paidAmount"]))) == ("PAID", 50)
    partial = str(
        env.call(
            "POST",
            "/invoices",
            {
                "accountId": "acme",
                "startDate": "2024-02-01T00:00:00Z",
                "endDate": "2024-03-01T00:00:00Z",
                "status": "DUE",
                "lineItems": [{"value": 50}],
            },
        )["id"]
    )
    answers = env.fire([payment(partial, "10.00")] * N)
    assert len(successes(answers, (400,))) == 5
    invoice, accepted = _paid(env, partial, answers)
    assert (invoice["status"], D(str(invoice["paidAmount"])), accepted) == ("PAID", 50, 50)


def s_payments_with_credit(env: Env) -> None:
    """8 payments at once of 25.00 of an invoice of 50 plus a CREDIT record of 10: two accepted, and exactly their
    two credits granted (a refused payment grants nothing: the grant is in the payment's transaction)."""
    invoice_id = due_invoice(env, "50.00")
    method, path, body = payment(invoice_id, "25.00")
    body = {**body, "totalAmount": 35.0}
    body["lineItemRecords"] = [*body["lineItemRecords"], {"type": "CREDIT", "amount": 10.0, "order": 2}]
    answers = env.same(method, path, body)
    accepted = successes(answers, (400,))
    assert len(accepted) == 2, [a.text for a in answers]
    granted = {r["togaiId"] for a in accepted for r in a.json()["lineItemRecords"] if r["type"] == "CREDIT"}
    credits = env.get("/credits?account_id=acme")["data"]
    assert {c["id"] for c in credits} == granted and len(granted) == 2
    assert D(str(env.get("/accounts/acme/credit_balance")["activeCredits"])) == 20
    invoice, _ = _paid(env, invoice_id, [])
    assert (invoice["status"], D(str(invoice["paidAmount"]))) == ("PAID", 50)


def s_void_and_payments(env: Env) -> None:
    """A VOID racing payments: either VOID (no payment taken after it) or PAID with the VOID refused."""
    invoice_id = due_invoice(env, "50.00")
    requests = [
        payment(invoice_id, "25.00") if n % 4 else ("PATCH", f"/invoices/{invoice_id}", {"status": "VOID"})
        for n in range(N)
    ]
    answers = env.fire(requests)
    successes(answers, (400,))
    invoice, accepted = _paid(env, invoice_id, answers)
    voided = any(a.status_code == 200 for a in answers if a.request.method == "PATCH")
    assert D(str(invoice["paidAmount"])) == accepted <= 50
    assert invoice["status"] == ("VOID" if voided else "PAID"), (invoice["status"], [a.text for a in answers])


def s_license_update(env: Env) -> None:
    """8 RELATIVE +1 at one instant: quantities 1..8, one each."""
    customer(env, "acme")
    seats = env.call("POST", "/addons", {"name": "Seats", "type": "LICENSE"})["id"]
    answers = env.same(
        "POST",
        "/license_updates",
        {
            "licenseId": seats,
            "accountId": "acme",
            "updateType": "RELATIVE",
            "quantity": 1,
            "effectiveFrom": "2024-01-01T00:00:00Z",
        },
    )
    all_ok(answers)
    assert sorted(D(str(a.json()["quantity"])) for a in answers) == list(range(1, N + 1))


def s_license_details(env: Env) -> None:
    customer(env, "acme")
    seats = env.call("POST", "/addons", {"name": "Seats", "type": "LICENSE"})["id"]
    at = "2024-01-01T00:00:00Z"
    env.call(
        "POST",
        "/license_updates",
        {"licenseId": seats, "accountId": "acme", "updateType": "ABSOLUTE", "quantity": 3, "effectiveFrom": at},
    )
    all_ok(
        env.fire(
            [
                (
                    "PATCH",
                    f"/license_updates/{seats}?licenseId={seats}",
                    {"accountId": "acme", "effectiveFrom": at, "metadata": {"n": str(n)}},
                )
                for n in range(N)
            ]
        )
    )
    [entry] = env.get(f"/license_updates?account_id=acme&license_id={seats}")["data"]
    assert D(str(entry["quantity"])) == 3


def feature_with_credits(env: Env, granted: int | None = 5) -> str:
    """acme, the metering catalog, a feature reading api_calls.calls and (unless None) an entry of `granted` units."""
    customer(env, "acme")
    create_metering_catalog(env.sdk)
    association = {"schemaName": "api_calls", "attributeName": "calls"}
    feature_id = str(env.call("POST", "/features", {"name": "Calls", "schemaAssociations": [association]})["id"])
    if granted is not None:
        env.call("POST", f"/accounts/acme/features/{feature_id}/entries", {"granted": granted})
    return feature_id


def entitled_event(event_id: str, calls: int = 1) -> dict[str, Any]:
    body = event(event_id)
    body["attributes"] = [{"name": "calls", "value": str(calls)}]
    return {"event": body}


def credits_of(env: Env, feature_id: str) -> tuple[Decimal, Decimal, list[dict[str, Any]]]:
    credits = env.get(f"/accounts/acme/features/{feature_id}")
    entries = env.get(f"/accounts/acme/features/{feature_id}/entries")["data"]
    return D(str(credits["granted"])), D(str(credits["balance"])), entries


def s_feature_create(env: Env) -> None:
    """8 features claiming one schema: one gets it (a schema feeds one feature)."""
    customer(env, "acme")
    create_metering_catalog(env.sdk)
    association = {"schemaName": "api_calls", "attributeName": "calls"}
    exactly_one(env.same("POST", "/features", {"name": "Calls", "schemaAssociations": [association]}))
    assert [f["schemaCount"] for f in env.get("/features")["data"]] == [1]


def s_feature_update(env: Env) -> None:
    create_metering_catalog(env.sdk)
    ids = [env.call("POST", "/features", {"name": f"F{n}", "schemaAssociations": []})["id"] for n in range(N)]
    association = {"schemaName": "api_calls", "attributeName": "calls"}
    exactly_one(env.fire([("PATCH", f"/features/{i}", {"schemaAssociations": [association]}) for i in ids]))
    assert sorted(f["schemaCount"] for f in env.get("/features")["data"]) == [0] * (N - 1) + [1]


def s_entitled(env: Env) -> None:
    """8 events of 1 unit against 5 credits: exactly 5 pass, the others 422 and store nothing."""
    feature_id = feature_with_credits(env)
    answers = env.fire([("POST", "/entitled", entitled_event(f"e{n}")) for n in range(N)])
    assert len(successes(answers, (422,))) == 5
    granted, balance, entries = credits_of(env, feature_id)
    assert (granted, balance, D(str(entries[0]["used"]))) == (5, 0, 5)
    assert len(env.get("/events?account_id=acme")["events"]) == 5


def s_feature_grant(env: Env) -> None:
    """8 grants add up; 8 grants with one idempotencyKey make one entry."""
    feature_id = feature_with_credits(env, None)
    path = f"/accounts/acme/features/{feature_id}/entries"
    all_ok(env.same("POST", path, {"granted": 5}))
    answers = successes(env.same("POST", path, {"granted": 2, "idempotencyKey": "k"}), ())
    assert len({a.json()["id"] for a in answers}) == 1
    granted, balance, entries = credits_of(env, feature_id)
    assert (granted, balance, len(entries)) == (5 * N + 2, 5 * N + 2, N + 1)


def s_feature_entry_update(env: Env) -> None:
    """Changes of `granted` racing consumption: granted never drops below used, balance = granted - used."""
    feature_id = feature_with_credits(env, 8)
    entry = credits_of(env, feature_id)[2][0]["id"]
    requests: list[Request] = [
        ("PATCH", f"/accounts/acme/features/{feature_id}/entries/{entry}", {"granted": 2 + n})
        if n % 2
        else ("POST", "/entitled", entitled_event(f"e{n}"))
        for n in range(N)
    ]
    answers = env.fire(requests)
    successes(answers, (400, 422))
    granted, balance, [row] = credits_of(env, feature_id)
    used = D(str(row["used"]))
    consumed = sum(1 for r, a in zip(requests, answers, strict=True) if r[1] == "/entitled" and a.status_code == 200)
    assert used == consumed <= granted and balance == granted - used


def s_feature_entry_void(env: Env) -> None:
    """8 voids of one entry: one takes effect; nothing is consumed after it."""
    feature_id = feature_with_credits(env)
    entry = credits_of(env, feature_id)[2][0]["id"]
    exactly_one(env.same("POST", f"/accounts/acme/features/{feature_id}/entries/{entry}/void"), (400,))
    granted, balance, [row] = credits_of(env, feature_id)
    assert (granted, balance, row["status"]) == (0, 0, "VOIDED")
    env.call("POST", "/entitled", entitled_event("late"), ok=(422,))


# -- webhooks (a Meterline extension: raw HTTP) ------------------------------------------------------------------------
CLOSED = "http://127.0.0.1:9/hooks"  # the discard port, closed here: every attempt fails (a refused connection)


def webhook_endpoint(env: Env, url: str = CLOSED, types: tuple[str, ...] = ("invoice.created",)) -> dict[str, Any]:
    return dict(env.call("POST", "/webhooks/endpoints", {"url": url, "eventTypes": list(types)}))


def webhook_log(env: Env, endpoint_id: str) -> list[dict[str, Any]]:
    return list(env.get(f"/webhooks/endpoints/{endpoint_id}/deliveries?pageSize=50")["data"])


def delivered_once(env: Env) -> tuple[str, dict[str, Any]]:
    """An endpoint on a closed port subscribed to invoice.created, and the one delivery a custom invoice made."""
    endpoint = webhook_endpoint(env)
    due_invoice(env, "10")
    [delivery] = webhook_log(env, endpoint["id"])
    return endpoint["id"], delivery


def signers(received: Received, candidates: list[str]) -> set[str]:
    """Which of the candidate secrets made the delivery's signatures (Standard Webhooks: v1, HMAC-SHA256 of
    `id.timestamp.body` with the secret's bytes)."""
    signed = f"{received.webhook_id}.{received.timestamp}.".encode() + received.raw
    sent = set(received.signature.split(" "))
    return {
        secret
        for secret in candidates
        if "v1," + base64.b64encode(hmac.digest(base64.b64decode(secret[len("whsec_") :]), signed, "sha256")).decode()
        in sent
    }


def s_webhook_create(env: Env) -> None:
    """8 endpoints with different URLs: 8 endpoints, 8 different secrets."""
    answers = env.fire(
        [("POST", "/webhooks/endpoints", {"url": f"{CLOSED}/{n}", "eventTypes": ["invoice.paid"]}) for n in range(N)]
    )
    all_ok(answers)
    assert len({a.json()["secret"] for a in answers}) == N
    listed = env.get("/webhooks/endpoints")["data"]
    assert sorted(e["url"] for e in listed) == sorted(f"{CLOSED}/{n}" for n in range(N))
    # the organization's first endpoints, at once, bring one alert watching them (usecases/webhooks.py)
    templates = [a["alertTemplateId"] for a in env.get("/alerts")["data"]]
    assert templates == ["webhook_endpoint_disabled"]


def s_webhook_update(env: Env) -> None:
    """New URLs racing disables: one of the URLs, DISABLED by hand, the event types untouched."""
    endpoint_id = webhook_endpoint(env)["id"]
    path = f"/webhooks/endpoints/{endpoint_id}"
    all_ok(env.fire([("PATCH", path, {"url": f"{CLOSED}/{n}"} if n % 2 else {"enabled": False}) for n in range(N)]))
    final = env.get(path)
    assert final["url"] in {f"{CLOSED}/{n}" for n in range(1, N, 2)}
    assert (final["status"], final["disabledReason"], final["eventTypes"]) == (
        "DISABLED",
        "disabled by hand",
        ["invoice.created"],
    )
    all_ok(env.same("PATCH", path, {"enabled": True}))
    final = env.get(path)
    assert (final["status"], final.get("disabledReason")) == ("ENABLED", None)


def s_webhook_delete(env: Env) -> None:
    """8 deletes of one endpoint: one takes it, the others find it gone; changes racing a delete end gone too."""
    endpoint_id = webhook_endpoint(env)["id"]
    exactly_one(env.same("DELETE", f"/webhooks/endpoints/{endpoint_id}"), (404,))
    env.call("GET", f"/webhooks/endpoints/{endpoint_id}", ok=(404,))
    endpoint_id = webhook_endpoint(env)["id"]
    path = f"/webhooks/endpoints/{endpoint_id}"
    patches: list[Request] = [("PATCH", path, {"url": f"{CLOSED}/{n}"}) for n in range(N - 1)]
    answers = env.fire([("DELETE", path, None), *patches])
    successes(answers, (404,))
    assert answers[0].json() == {"success": True}
    env.call("GET", path, ok=(404,))
    assert env.get("/webhooks/endpoints")["data"] == []


def s_webhook_rotate(env: Env) -> None:
    """8 rotations of one secret: they follow one another, so the endpoint signs with exactly two of the 8 new
    secrets (the last one given and the one before it, which overlaps), never with the first secret: a rotation
    that lost another's update would leave the first secret signing."""
    receiver = Receiver().start()
    try:
        first = webhook_endpoint(env, receiver.url)
        answers = env.same("POST", f"/webhooks/endpoints/{first['id']}/rotate_secret")
        all_ok(answers)
        given = [a.json()["secret"] for a in answers]
        assert len(set(given)) == N and all(a.json()["secretRotatedUntil"] for a in answers)
        receiver.secrets = [first["secret"], *given]
        due_invoice(env, "10")
        assert env.factory is not None  # the servers under test do not deliver (tests/conftest.py): a worker does
        sender = Deliverer(env.factory, Settings())
        try:
            wait_for(lambda: len(receiver.accepted) == 1, sender.tick)
        finally:
            sender.close()
        [received] = receiver.accepted
        assert len(received.signature.split(" ")) == 2
        assert len(signers(received, given)) == 2 and not signers(received, [first["secret"]])
    finally:
        receiver.stop()


def s_webhook_replay(env: Env) -> None:
    """8 replays of one delivery: 8 new deliveries of the same message (each replay sends it again)."""
    endpoint_id, delivery = delivered_once(env)
    answers = env.same("POST", f"/webhooks/deliveries/{delivery['id']}/replay")
    all_ok(answers)
    made = {a.json()["id"] for a in answers}
    log = webhook_log(env, endpoint_id)
    assert len(made) == N and {d["id"] for d in log} == made | {delivery["id"]}
    assert {d["messageId"] for d in log} == {delivery["messageId"]}


def s_webhook_replay_range(env: Env) -> None:
    """8 replays of a range holding one never delivered message: each sends it again (a replay is not delivered
    until it succeeds), and the log holds exactly the deliveries they counted."""
    endpoint_id, delivery = delivered_once(env)
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    answers = env.same("POST", f"/webhooks/endpoints/{endpoint_id}/replay", {"since": since})
    all_ok(answers)
    assert [a.json()["replayed"] for a in answers] == [1] * N
    assert len(webhook_log(env, endpoint_id)) == 1 + N


def s_webhook_replay_and_delete(env: Env) -> None:
    """Replays racing the endpoint's removal: each replay is made before it (201) or finds it gone (404)."""
    endpoint_id, delivery = delivered_once(env)
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    requests: list[Request] = [("DELETE", f"/webhooks/endpoints/{endpoint_id}", None)] + [
        ("POST", f"/webhooks/deliveries/{delivery['id']}/replay", None)
        if n % 2
        else ("POST", f"/webhooks/endpoints/{endpoint_id}/replay", {"since": since})
        for n in range(N - 1)
    ]
    answers = env.fire(requests)
    successes(answers, (404,))
    assert answers[0].status_code == 200
    env.call("GET", f"/webhooks/endpoints/{endpoint_id}", ok=(404,))


def wallet_alert(env: Env, levels: list[int]) -> str:
    customer(env, "acme")
    env.call("POST", "/accounts/acme/wallet_topup", {"topupAmount": 5})
    body = {
        "alertTemplateId": "wallet_balance_below",
        "interval": 5,
        "status": "ACTIVE",
        "entityDetails": {"account": {"id": "acme"}},
        "parameters": {"threshold": {"levels": levels}},
    }
    return str(env.call("POST", "/alerts", body)["id"])


def s_alert_create(env: Env) -> None:
    """8 alerts at once: 8 made, each listed once."""
    customer(env, "acme")
    body = {"alertTemplateId": "wallet_balance_below", "interval": 5, "status": "ACTIVE"}
    answers = env.same("POST", "/alerts", {**body, "parameters": {"threshold": {"levels": [10]}}})
    all_ok(answers)
    made = {a.json()["id"] for a in answers}
    assert len(made) == N and {a["id"] for a in env.get("/alerts")["data"]} == made


def s_alert_update(env: Env) -> None:
    """8 updates of one alert: each is a version of its own (the row is locked), none lost."""
    alert_id = wallet_alert(env, [10])
    answers = env.fire([("PATCH", f"/alerts/{alert_id}", {"description": f"d{n}"}) for n in range(N)])
    all_ok(answers)
    assert sorted(a.json()["version"] for a in answers) == list(range(2, N + 2))
    [alert] = env.get("/alerts")["data"]
    assert alert["version"] == N + 1 and alert["description"] in {f"d{n}" for n in range(N)}


def s_incident_close(env: Env) -> None:
    """8 closes of one incident: all answer CLOSED, and alert.resolved is written once."""
    from meterline.usecases import alerts

    endpoint = env.call(
        "POST", "/webhooks/endpoints", {"url": "http://127.0.0.1:9/x", "eventTypes": ["alert.resolved"]}
    )
    wallet_alert(env, [10])
    assert env.factory is not None
    assert alerts.run(env.factory, datetime.now(timezone.utc), org_id=env.org_id).opened == 1
    [incident] = env.get("/incidents")["data"]
    answers = env.same("PUT", f"/incidents/{incident['id']}/status", {"status": "CLOSED"})
    all_ok(answers)
    assert {a.json()["status"] for a in answers} == {"CLOSED"}
    deliveries = env.get(f"/webhooks/endpoints/{endpoint['id']}/deliveries")["data"]
    assert [d["eventType"] for d in deliveries] == ["alert.resolved"]


def s_portal_token(env: Env) -> None:
    """8 portal tokens for one customer at once: 8 different tokens, each opening the customer's portal."""
    customer(env, "acme")
    answers = env.same("POST", "/portal/token", {"customerId": "acme", "accountIds": ["acme"], "expiry": 600})
    all_ok(answers)
    tokens = {a.json()["token"] for a in answers}
    assert len(tokens) == N
    base = str(env.clients[0].base_url).removesuffix("/api/").removesuffix("/api")
    for token in tokens:
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as browser:
            page = browser.get("/portal", params={"token": token})
            assert page.status_code == 200 and "Customer acme" in page.text, page.text


def group_body(account_ids: list[str]) -> dict[str, Any]:
    return {
        "name": "Group",
        "email": "ap@x.test",
        "dailyInvoiceConsolidation": False,
        "accountIds": account_ids,
        "address": {"line1": "1 Road"},
    }


def s_invoice_group_create(env: Env) -> None:
    """8 groups of one account at once: the account is in exactly one (the others are refused, 400)."""
    customer(env, "acme")
    made = exactly_one(env.same("POST", "/invoice_groups", group_body(["acme"])), (400,))
    assert [g["id"] for g in env.get("/invoice_groups")["data"]] == [made.json()["id"]]


def s_invoice_group_add(env: Env) -> None:
    """8 adds of different accounts to one group (the row is locked): none lost; then 8 groups taking one account:
    it ends in exactly one."""
    customer(env, "acme")
    for n in range(N):
        env.call("POST", "/accounts", {"id": f"a{n}", "name": f"Account {n}", "customerId": "acme"})
    group = env.call("POST", "/invoice_groups", group_body(["acme"]))["id"]
    all_ok(env.fire([("POST", f"/invoice_groups/{group}/add_accounts", {"accountIds": [f"a{n}"]}) for n in range(N)]))
    assert env.get(f"/invoice_groups/{group}")["accountsCount"] == N + 1
    env.call("POST", "/accounts", {"id": "lone", "name": "Lone account", "customerId": "acme"})
    groups = [group]
    for n in range(N - 1):
        env.call("POST", "/accounts", {"id": f"b{n}", "name": f"Account b{n}", "customerId": "acme"})
        groups.append(env.call("POST", "/invoice_groups", group_body([f"b{n}"]))["id"])
    answers = env.fire([("POST", f"/invoice_groups/{g}/add_accounts", {"accountIds": ["lone"]}) for g in groups])
    exactly_one(answers, (400,))
    assert sum("lone" in env.get(f"/invoice_groups/{g}")["accounts"] for g in groups) == 1


def s_invoice_group_remove(env: Env) -> None:
    """8 removals of a group's two accounts at once: the group is deleted once, the others are refused or 404."""
    customer(env, "acme")
    env.call("POST", "/accounts", {"id": "a1", "name": "Account 1", "customerId": "acme"})
    group = env.call("POST", "/invoice_groups", group_body(["acme", "a1"]))["id"]
    answers = env.same("POST", f"/invoice_groups/{group}/remove_accounts", {"accountIds": ["acme", "a1"]})
    exactly_one(answers, (400, 404))
    env.call("GET", f"/invoice_groups/{group}", ok=(404,))
    assert env.get("/invoice_groups")["data"] == []


Scenario = Callable[[Env], None]


def topup_body(amount: int, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "WALLET_TOPUP", "walletTopupDetails": {"topupAmount": amount}}
    if key is not None:
        body["idempotencyKey"] = key
    return body


def s_purchase_create(env: Env) -> None:
    """8 purchases with one idempotencyKey at once: one purchase, credited and billed once; then 8 different ones
    (the account row is locked): none lost."""
    customer(env, "acme")
    answers = env.same("POST", "/accounts/acme/purchases", topup_body(10, "same"))
    all_ok(answers)
    assert len({a.json()["id"] for a in answers}) == 1
    all_ok(env.fire([("POST", "/accounts/acme/purchases", topup_body(1)) for _ in range(N)]))
    assert Decimal(str(env.get("/accounts/acme/wallet")["balance"])) == 10 + N
    assert len(env.get("/accounts/acme/purchases")["data"]) == N + 1


def s_proposal_create(env: Env) -> None:
    """8 proposals with one idempotencyKey at once: one proposal."""
    customer(env, "acme")
    body = topup_body(10, "same") | {"paymentMode": "PREPAID"}
    answers = env.same("POST", "/accounts/acme/purchase_proposals", body)
    all_ok(answers)
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(env.get("/accounts/acme/purchase_proposals")["data"]) == 1


def s_proposal_decide(env: Env) -> None:
    """8 approvals of one proposal at once: one purchase is made, the others are refused (409)."""
    customer(env, "acme")
    proposal = env.call("POST", "/accounts/acme/purchase_proposals", topup_body(10) | {"paymentMode": "POSTPAID"})
    exactly_one(env.same("POST", f"/purchase_proposals/{proposal['id']}/update_status", {"status": "APPROVE"}))
    assert Decimal(str(env.get("/accounts/acme/wallet")["balance"])) == 10
    assert len(env.get("/accounts/acme/purchases")["data"]) == 1


SCENARIOS: dict[tuple[str, str], list[Scenario]] = {
    ("POST", "/v2/accounts/{account_id}/edit_schedules"): [s_v2_schedules_stage],
    ("POST", "/v2/accounts/{account_id}/finalize_schedules"): [s_v2_schedules_finalize],
    ("DELETE", "/v2/accounts/{account_id}/discard_schedules"): [s_v2_schedules_discard],
    ("POST", "/v2/schedules/{schedule_id}/rate_cards"): [s_v2_schedule_rate_cards],
    ("PUT", "/v2/schedules/{schedule_id}/pricing_rules"): [s_v2_schedule_pricing_rules],
    ("POST", "/customers"): [s_customer_create],
    ("POST", "/reports"): [s_reports],
    ("PATCH", "/customers/{customer_id}"): [s_customer_update],
    ("DELETE", "/customers/{customer_id}"): [s_customer_delete],
    ("POST", "/customers/{customer_id}/contacts"): [s_contacts],
    ("POST", "/accounts"): [s_account_create],
    ("PATCH", "/accounts/{account_id}"): [s_account_update],
    ("DELETE", "/accounts/{account_id}"): [s_account_delete],
    ("POST", "/accounts/{account_id}/add_aliases"): [s_add_aliases, s_add_one_alias_value],
    ("POST", "/accounts/{account_id}/remove_aliases"): [s_remove_aliases],
    ("POST", "/accounts/{account_id}/edit_schedules"): [s_schedules],
    ("POST", "/accounts/{account_id}/price_plans"): [s_schedules],
    ("PUT", "/accounts/{account_id}/miscellaneous_charges"): [s_account_charges],
    ("PATCH", "/accounts/{account_id}/wallet"): [s_wallet_update],
    ("POST", "/accounts/{account_id}/wallet_topup"): [s_wallet_top_up],
    ("POST", "/addons"): [s_addon_create],
    ("PATCH", "/addons/{addon_id}"): [s_addon_rename],
    ("DELETE", "/addons/{addon_id}"): [s_addon_delete],
    ("POST", "/aliases"): [s_alias_register],
    ("DELETE", "/aliases/{alias}"): [s_alias_delete],
    ("POST", "/credits"): [s_credit_grant],
    ("POST", "/credits/{credit_id}/void"): [s_credit_void],
    ("POST", "/event_schema"): [s_schema_create],
    ("PATCH", "/event_schema/{event_schema_name}"): [s_schema_update],
    ("DELETE", "/event_schema/{event_schema_name}"): [s_schema_delete],
    ("POST", "/event_schema/{event_schema_name}/activate"): [s_schema_status],
    ("POST", "/event_schema/{event_schema_name}/deactivate"): [s_schema_status],
    ("POST", "/usage_meters"): [s_meter_create],
    ("PATCH", "/usage_meters/{usage_meter_id}"): [s_meter_rename],
    ("DELETE", "/usage_meters/{usage_meter_id}"): [s_meter_delete],
    ("POST", "/usage_meters/{usage_meter_id}/activate"): [s_meter_status],
    ("POST", "/usage_meters/{usage_meter_id}/deactivate"): [s_meter_status],
    ("POST", "/ingest"): [s_ingest, s_predefined_events],
    ("POST", "/ingestBatch"): [s_ingest_batch],
    ("POST", "/events/correction"): [s_correction, s_correction_jobs],
    ("POST", "/settings"): [s_setting_create],
    ("PATCH", "/settings/{setting_id_str}"): [s_setting_update],
    ("POST", "/price_plans"): [s_plan_create],
    ("PATCH", "/price_plans/{price_plan_id}"): [s_plan_update],
    ("DELETE", "/price_plans/{price_plan_id}"): [s_plan_archive],
    ("POST", "/price_plans/{price_plan_id}/activate"): [s_plan_activate],
    ("POST", "/price_plans/migration"): [s_migration],
    ("POST", "/v2/price_plans"): [s_v2_create],
    ("PATCH", "/v2/price_plans/{price_plan_id}"): [s_v2_update],
    ("POST", "/v2/price_plans/{price_plan_id}/rate_cards"): [s_v2_rate_cards],
    ("PUT", "/v2/price_plans/{price_plan_id}/pricing_rules"): [s_v2_pricing_rules],
    ("POST", "/v2/price_plans/{price_plan_id}/finalize"): [s_v2_finalize],
    ("DELETE", "/v2/price_plans/{price_plan_id}/discard"): [s_v2_discard],
    ("POST", "/v2/price_plans/migration"): [s_v2_migration],
    ("POST", "/jobs/{job_id}/confirm"): [s_jobs, s_correction_jobs],
    ("POST", "/jobs/{job_id}/reject"): [s_jobs, s_correction_jobs],
    ("POST", "/invoices"): [s_invoice_create],
    ("POST", "/invoices/bill_runs"): [s_bill_runs],
    ("PATCH", "/invoices/{invoice_id}"): [s_void_and_payments],
    ("DELETE", "/invoices/{invoice_id}"): [s_invoice_delete],
    ("PUT", "/invoices/{invoice_id}/miscellaneous_charges"): [s_invoice_charges],
    ("POST", "/payments"): [s_payments, s_void_and_payments, s_payments_with_credit],
    ("POST", "/license_updates"): [s_license_update],
    ("PATCH", "/license_updates/{license_id}"): [s_license_details],
    ("POST", "/features"): [s_feature_create],
    ("PATCH", "/features/{feature_id}"): [s_feature_update],
    ("POST", "/entitled"): [s_entitled, s_feature_entry_update],
    ("POST", "/accounts/{account_id}/features/{feature_id}/entries"): [s_feature_grant],
    ("PATCH", "/accounts/{account_id}/features/{feature_id}/entries/{entry_id}"): [s_feature_entry_update],
    ("POST", "/accounts/{account_id}/features/{feature_id}/entries/{entry_id}/void"): [s_feature_entry_void],
    ("POST", "/webhooks/endpoints"): [s_webhook_create],
    ("PATCH", "/webhooks/endpoints/{endpoint_id}"): [s_webhook_update, s_webhook_delete],
    ("DELETE", "/webhooks/endpoints/{endpoint_id}"): [s_webhook_delete, s_webhook_replay_and_delete],
    ("POST", "/webhooks/endpoints/{endpoint_id}/rotate_secret"): [s_webhook_rotate],
    ("POST", "/webhooks/endpoints/{endpoint_id}/replay"): [s_webhook_replay_range, s_webhook_replay_and_delete],
    ("POST", "/webhooks/deliveries/{delivery_id}/replay"): [s_webhook_replay, s_webhook_replay_and_delete],
    ("POST", "/alerts"): [s_alert_create],
    ("PATCH", "/alerts/{alert_id}"): [s_alert_update],
    ("PUT", "/incidents/{incident_id}/status"): [s_incident_close],
    ("POST", "/portal/token"): [s_portal_token],
    ("POST", "/invoice_groups"): [s_invoice_group_create],
    ("POST", "/accounts/{account_id}/purchases"): [s_purchase_create],
    ("POST", "/accounts/{account_id}/purchase_proposals"): [s_proposal_create],
    ("POST", "/purchase_proposals/{purchase_proposal_id}/update_status"): [s_proposal_decide],
    ("POST", "/invoice_groups/{invoice_group_id}/add_accounts"): [s_invoice_group_add],
    ("POST", "/invoice_groups/{invoice_group_id}/remove_accounts"): [s_invoice_group_remove],
}
NOT_SHARED: dict[tuple[str, str], str] = {
    ("POST", "/authenticate"): "exchanges an API key for a token: reads the key, writes nothing",
    ("POST", "/metrics"): "a query sent as POST (ReadOnlyRoute): writes nothing",
    ("POST", "/revenue_calculator"): "computes a plan's revenue for given inputs: writes nothing",
    ("POST", "/v2/revenue_calculator"): "computes a plan's revenue for given inputs: writes nothing",
    ("POST", "/accounts/{account_id}/entitlements/{feature_id}"): "checks a value (ReadOnlyRoute): writes nothing",
}
WRITES = ("post", "put", "patch", "delete")


def test_every_write_operation_has_a_scenario(server: str) -> None:
    document = httpx.get(f"{server}/api/openapi.json", timeout=30).json()
    operations = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops if m in WRITES}
    missing = sorted(operations - SCENARIOS.keys() - NOT_SHARED.keys())
    assert not missing, (
        f"write operations without a concurrency scenario: {missing}; add a scenario to SCENARIOS in "
        "tests/api/test_concurrency.py (8 simultaneous requests, then the invariants), or list the "
        "operation in NOT_SHARED with the reason it writes nothing shared"
    )
    assert not (SCENARIOS.keys() | NOT_SHARED.keys()) - operations, "SCENARIOS or NOT_SHARED name a gone operation"
    assert len(operations) > 50  # the document was read


ALL = sorted({s for scenarios in SCENARIOS.values() for s in scenarios}, key=lambda s: s.__name__)


@pytest.fixture(scope="module")
def urls(db_url: str, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The servers the requests alternate between: on SQLite the one server; on PostgreSQL two processes on one
    database (each then also takes 4 requests at once, so races within a process are run too)."""
    if not db_url.startswith("postgresql"):
        yield [server]
        return
    log = tmp_path_factory.mktemp("second-server") / "server.log"
    process, second = start_server(db_url, log)
    yield [server, second]
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the second server logged errors:\n{log.read_text()}"


@pytest.fixture(scope="module")
def clients(urls: list[str]) -> Iterator[list[httpx.Client]]:
    """N clients, alternating between the servers, made once (making one costs more than a request) and connected
    before the first scenario, so that the requests of `fire` really leave together."""
    made = [httpx.Client(base_url=f"{urls[n % len(urls)]}/api", timeout=60) for n in range(N)]
    for client in made:
        client.get("/openapi.json")
    yield made
    for client in made:
        client.close()


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.__name__[2:])
def test_simultaneous_writes_keep_the_invariants(
    scenario: Scenario, urls: list[str], clients: list[httpx.Client], session_factory: sessionmaker[Session]
) -> None:
    tenant = new_tenant(session_factory, urls[0])
    sdk = Sdk(tenant)
    try:
        scenario(Env(clients=clients, headers=tenant.headers, sdk=sdk, factory=session_factory, org_id=tenant.org.id))
    finally:
        sdk.close()
