"""Issue 14, defect 7 ("smaller ones"), through the official SDK and raw HTTP against live servers, on both engines.

Each test failed before its fix: corrections of a closed cycle, wallet entry pages with holds, aliases effective at an
instant, the pipeline view recorded at ingestion, `.`/`..` ids, enum query parameters, country codes and line lengths.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException

from meterline.core.pagination import encode_token
from tests.api.conftest import Sdk, message_of
from tests.api.test_event_corrections_sdk import correct, stored
from tests.api.test_ingestion_sdk import ev, usage
from tests.api.test_schedules_sdk import associate, plan
from tests.conftest import Tenant

UTC = timezone.utc
MARCH_2024 = datetime(2024, 3, 1, 10, tzinfo=UTC)


# -- 1. corrections of a closed cycle -----------------------------------------------------------------------------
def test_no_correction_of_an_event_in_a_closed_cycle(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    now = datetime.now(UTC)
    ingestion = tc.EventIngestionApi(sdk.client)
    ingestion.ingest_batch(
        tc.IngestBatchEventRequest(
            events=[ev("closed-1", calls="7", at=MARCH_2024), ev("open-1", calls="2", at=now - timedelta(minutes=5))]
        )
    )
    # acme goes on a plan (MONTHLY, 3 days of grace) for March 2024, whose invoice is then finalized
    plan_id = plan(sdk, catalog["sum"])
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 3, 1), date(2024, 4, 1)))
    sdk.invoices.create_invoice_bill_run()
    [march] = [i for i in sdk.invoices.list_invoices(owner_id="acme").data if i.start_date.year == 2024]
    assert march.status == "DUE"
    window = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    before, refs = usage(tenant, *window), stored(sdk, "closed-1")
    assert before["us_calls"] == (Decimal(7), 1)

    for action in ("UNDO", "REDO", "REDO_EVENT"):
        with pytest.raises(BadRequestException) as refused:
            correct(sdk, action, ev("closed-1", calls="1", at=MARCH_2024))
        message = message_of(refused.value)
        assert "closed" in message and "grace period has ended" in message and action in message, message
    assert usage(tenant, *window) == before and stored(sdk, "closed-1") == refs  # still accepted, still counted
    assert refs == [(refs[0][0], "INGESTION_COMPLETED_EVENT_NOT_METERED")]
    # an event of an open cycle (here: no plan at all) can still be corrected
    assert correct(sdk, "UNDO", ev("open-1")).status == "REVERTED"


def test_no_correction_of_an_event_on_an_invoice_finalized_early(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str]
) -> None:
    """Finalizing early ("Finalize now", DRAFT -> DUE inside the grace period) closes the cycle to corrections too:
    before, an UNDO went through and the cycle's usage drifted from the issued invoice."""
    now = datetime.now(UTC)
    month = date(now.year, now.month, 1)
    plan_id = plan(sdk, catalog["sum"])
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, month, date(9999, 1, 1)))
    tc.EventIngestionApi(sdk.client).ingest_batch(
        tc.IngestBatchEventRequest(events=[ev("early-1", calls="7", at=now - timedelta(minutes=5))])
    )
    [draft] = [i for i in sdk.invoices.list_invoices(owner_id="acme").data if i.status == "DRAFT"]
    assert sdk.invoices.update_invoice(draft.id, tc.UpdateInvoiceRequest(status="DUE")).status == "DUE"
    for action in ("UNDO", "REDO", "REDO_EVENT"):
        with pytest.raises(BadRequestException) as refused:
            correct(sdk, action, ev("early-1", calls="1", at=now - timedelta(minutes=5)))
        assert "finalized early" in message_of(refused.value), message_of(refused.value)
    assert stored(sdk, "early-1")[0][1] == "INGESTION_COMPLETED_EVENT_METERED"


# -- 5. ids `.` and `..` ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [".", ".."])
def test_dot_ids_are_refused_for_customers_and_accounts(tenant: Tenant, bad: str) -> None:
    with tenant.http() as http:
        r = http.post("/customers", json={"id": bad, "name": "Dots Inc", "primaryEmail": "d@dots.test", "address": {}})
        assert r.status_code == 400 and "id" in r.json()["message"] and ". or .." in r.json()["message"], r.text
        r = http.post(
            "/customers",
            json={
                "id": "dots",
                "name": "Dots Inc",
                "primaryEmail": "d@dots.test",
                "address": {},
                "account": {"id": bad, "name": "Dots main"},
            },
        )
        assert r.status_code == 400 and "account.id" in r.json()["message"], r.text
        r = http.post(
            "/customers", json={"id": "dots", "name": "Dots Inc", "primaryEmail": "d@dots.test", "address": {}}
        )
        assert r.status_code == 201, r.text
        r = http.post("/accounts", json={"id": bad, "name": "Dots two", "customerId": "dots"})
        assert r.status_code == 400 and ". or .." in r.json()["message"], r.text
        assert [a["id"] for a in http.get("/accounts").json()["data"]] == ["dots"]
        # ids with dots inside stay fine
        r = http.post("/accounts", json={"id": "..a.", "name": "Dots three", "customerId": "dots"})
        assert r.status_code == 201, r.text
        assert http.get("/accounts/..a.").json()["id"] == "..a."


# -- 6. enum query parameters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/events", "status"),
        ("/credits", "status"),
        ("/settings", "entity_type"),
        ("/invoices", "status"),
        ("/event_schema", "status"),
        ("/usage_meters", "status"),
        ("/usage_meters", "aggregations"),
        ("/addons", "status"),
    ],
)
def test_an_unknown_enum_value_in_a_list_query_is_a_400_naming_it(tenant: Tenant, path: str, param: str) -> None:
    with tenant.http() as http:
        r = http.get(path, params={param: "BOGUS"})
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert param in r.json()["message"], r.text


def test_known_enum_values_still_filter(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    ingestion = tc.EventIngestionApi(sdk.client)
    ingestion.ingest_batch(tc.IngestBatchEventRequest(events=[ev("s1"), ev("s2", account="nobody")]))
    events = tc.EventManagementApi(sdk.client)
    failed = events.get_events(status="INGESTION_FAILED_ACCOUNT_NOT_FOUND").events
    assert [e.event_payload.id for e in failed] == ["s2"]
    with tenant.http() as http:
        assert http.get("/events", params={"status": "REVERTED"}).json()["events"] == []
        assert http.get("/credits", params={"status": "ACTIVE"}).status_code == 200
        assert http.get("/settings", params={"entity_type": "account"}).status_code == 200


# -- 7. addresses -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({"country": "USA"}, "address.country"),
        ({"country": "United States"}, "address.country"),
        ({"country": "XX"}, "address.country"),
        ({"country": ""}, "address.country"),
        ({"line1": "x" * 256}, "address.line1"),
        ({"line2": "x" * 256}, "address.line2"),
        ({"city": "x" * 256}, "address.city"),
        ({"state": "x" * 256}, "address.state"),
        ({"postalCode": "x" * 256}, "address.postalCode"),
        ({"phoneNumber": "x" * 256}, "address.phoneNumber"),
    ],
)
def test_address_country_and_line_lengths_are_checked(tenant: Tenant, address: dict[str, str], field: str) -> None:
    with tenant.http() as http:
        body = {"id": "addr", "name": "Address Inc", "primaryEmail": "a@addr.test", "address": address}
        r = http.post("/customers", json=body)
        assert r.status_code == 400 and field in r.json()["message"], r.text
        assert http.get("/customers/addr").status_code == 404  # nothing stored
        r = http.post(
            "/customers", json={**body, "address": {}, "account": {"id": "addr-1", "name": "Main", "address": address}}
        )
        assert r.status_code == 400 and f"account.{field}" in r.json()["message"], r.text
        assert http.post("/customers", json={**body, "address": {}}).status_code == 201
        r = http.patch("/customers/addr", json={"address": address})
        assert r.status_code == 400 and field in r.json()["message"], r.text
        r = http.patch("/accounts/addr", json={"address": address})
        assert r.status_code == 400 and field in r.json()["message"], r.text


def test_a_valid_address_is_kept_with_its_country_in_capitals(sdk: Sdk) -> None:
    line = "y" * 255
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(
            id="addr-ok",
            name="Address Inc",
            primary_email="a@addr.test",
            address=tc.Address(line1=line, line2=line, city="Berlin", state=line, postal_code="10115", country="de"),
        )
    )
    customer = sdk.customers.get_customer("addr-ok")
    assert (customer.address.country, customer.address.line1) == ("DE", line)


# -- 3. aliases effective at an instant ---------------------------------------------------------------------------
def test_an_account_shows_every_alias_effective_at_an_instant(sdk: Sdk) -> None:
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(
            id="al",
            name="Alias Inc",
            primary_email="a@alias.test",
            address=tc.Address(),
            account=tc.CreateAccountRequestWithoutCustomerId(id="al-main", name="Alias main"),
        )
    )
    january = [
        tc.CreateAccountAliasRequest(
            value=f"jan-{n}",
            effective_from=datetime(2024, 1, 1, tzinfo=UTC),
            effective_until=datetime(2024, 2, 1, tzinfo=UTC),
        )
        for n in range(10)
    ]
    sdk.accounts.add_aliases("al-main", tc.AddAccountAliasesRequest(account_aliases=january))
    # an 11th alias effective in January (long ended, so no "current or future" limit applies) is refused
    with pytest.raises(BadRequestException) as refused:
        sdk.accounts.add_aliases(
            "al-main",
            tc.AddAccountAliasesRequest(
                account_aliases=[
                    tc.CreateAccountAliasRequest(
                        value="jan-extra",
                        effective_from=datetime(2024, 1, 10, tzinfo=UTC),
                        effective_until=datetime(2024, 1, 20, tzinfo=UTC),
                    )
                ]
            ),
        )
    assert "at most 10 aliases effective at one instant" in message_of(refused.value)
    assert "2024-01-10T00:00:00Z" in message_of(refused.value)
    # February starts where January's aliases end: ten more fit there
    february = [
        tc.CreateAccountAliasRequest(
            value=f"feb-{n}",
            effective_from=datetime(2024, 2, 1, tzinfo=UTC),
            effective_until=datetime(2024, 3, 1, tzinfo=UTC),
        )
        for n in range(10)
    ]
    sdk.accounts.add_aliases("al-main", tc.AddAccountAliasesRequest(account_aliases=february))

    def effective(at: datetime) -> list[str]:
        account = sdk.accounts.get_account("al-main", effective_on=at)
        return sorted(a.alias for a in account.aliases or [])

    assert effective(datetime(2024, 1, 15, tzinfo=UTC)) == sorted(f"jan-{n}" for n in range(10))
    assert effective(datetime(2024, 2, 1, tzinfo=UTC)) == sorted(f"feb-{n}" for n in range(10))
    assert effective(datetime(2024, 3, 1, tzinfo=UTC)) == []
    assert len(sdk.accounts.list_account_aliases("al-main").data) == 20


# -- 2. wallet entries: pageSize counts the holds -----------------------------------------------------------------
def test_wallet_entry_pages_hold_page_size_across_holds_and_entries(sdk: Sdk, billed: dict[str, str]) -> None:
    api = tc.WalletApi(sdk.client)
    for amount in (100, 20, 10, 5):  # 135.00: the three drafts of 50.00 hold 50.00, 50.00 and 35.00
        api.top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=amount))
    whole = api.wallet_entries_for_account("acme").data
    assert [(e.status, e.amount) for e in whole] == [
        ("ON_HOLD", 50),
        ("ON_HOLD", 50),
        ("ON_HOLD", 35),
        ("COMPLETED", 100),
        ("COMPLETED", 20),
        ("COMPLETED", 10),
        ("COMPLETED", 5),
    ]
    assert api.wallet_entries_for_account("acme").next_token is None

    for size in (1, 2, 3, 4, 6, 7):
        pages, token = [], None
        while True:
            page = api.wallet_entries_for_account("acme", next_token=token, page_size=size)
            assert 1 <= len(page.data) <= size, (size, len(page.data))
            pages.append(page.data)
            token = page.next_token
            if token is None:
                break
        walked = [e for p in pages for e in p]
        assert [(e.id, e.status, e.amount, e.closing_balance) for e in walked] == [
            (e.id, e.status, e.amount, e.closing_balance) for e in whole
        ], size
        assert len(pages) == -(-len(whole) // size), size  # no empty page at the end
    with pytest.raises(
        BadRequestException, match="nextToken is not valid: pass the nextToken of a previous page unchanged"
    ):
        api.wallet_entries_for_account("acme", next_token=encode_token("hold:x"))


# -- 4. the pipeline view is what happened at ingestion -----------------------------------------------------------
def test_the_pipeline_view_is_recorded_at_ingestion(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    ingestion = tc.EventIngestionApi(sdk.client)
    events = tc.EventManagementApi(sdk.client)
    ingestion.ingest(tc.IngestEventRequest(event=ev("p1", calls="4", region="eu")))

    def view(event_id: str) -> list[set[tuple[str, str, str, float | None]]]:
        return [
            {(m.id, m.name, m.status, m.units) for m in e.event_pipeline_info.usage_meters}
            for e in events.get_single_event(event_id).events
        ]

    at_ingestion = {
        (catalog["sum"], "us_calls", "PROCESSED_FILTERED_OUT", None),
        (catalog["count"], "requests", "PROCESSED_UNITS_COMPUTED", 1),
    }
    assert view("p1") == [at_ingestion]
    # the meters change afterwards: the view of p1 does not
    sdk.usage_meters.deactivate_usage_meter(catalog["count"])
    later = sdk.usage_meters.create_usage_meter(
        tc.CreateUsageMeterRequest(
            name="all_calls",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="api_calls",
            computations=[tc.Computation(order=1, computation='{"*":[{"var":"attribute.calls"},1]}')],
        )
    )
    sdk.usage_meters.activate_usage_meter(later.id)
    assert view("p1") == [at_ingestion]
    # a rejected duplicate never reached the meters: it lists none (and the original is unchanged)
    with pytest.raises(tc.exceptions.ApiException, match="Event 'p1' was already ingested"):
        ingestion.ingest(tc.IngestEventRequest(event=ev("p1", calls="4", region="us")))
    assert view("p1") == [at_ingestion, set()]
    # a new event meets today's meters
    ingestion.ingest(tc.IngestEventRequest(event=ev("p2", calls="3", region="us")))
    assert view("p2") == [
        {
            (catalog["sum"], "us_calls", "PROCESSED_UNITS_COMPUTED", 3),
            (later.id, "all_calls", "PROCESSED_UNITS_COMPUTED", 3),
        }
    ]
