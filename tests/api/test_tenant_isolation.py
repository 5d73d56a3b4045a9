"""Tenant isolation, generated from the live server's route table (its OpenAPI document), so that a new route is
covered without anyone remembering: organization B's key on organization A's objects gets 404 (400 where the body is
checked first) and no data, and changes nothing of A's; B's lists show nothing of A's.

A new path parameter fails this test until OBJECTS says which of A's objects it names.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

import httpx
import togai_client as tc
from sqlalchemy.orm import Session, sessionmaker

from meterline.usecases import alerts
from tests.api.conftest import Sdk
from tests.api.test_files_reports_sdk import finished
from tests.api.test_schedules_sdk import OPEN, associate, plan
from tests.conftest import Tenant

# Values for required query parameters, so that a read reaches its lookup.
QUERY = {"start": "2024-01-01T00:00:00Z", "end": "2024-02-01T00:00:00Z", "action": "UNDO", "mode": "DRAFT"}
# Words that exist only in organization A's data: none may appear in an answer to organization B.
SECRETS = (
    "Isolated Corp",
    "a@iso.test",
    "IsoPlan",
    "Iso seats",
    "iso-evt-1",
    "iso-alias",
    "iso-secret-value",
    "Iso work",
    "Iso promo",
    "Iso feature",
    "iso-entitled-1",
    "Iso alert",
    "iso-seat-holder",
)
# Path parameters naming what every organization shares (Meterline's shipped alert templates): B reads them too,
# so their reads answer 200, with nothing of A's.
SHARED = {"alert_template_id": "usage_threshold"}


def _objects(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str], factory: sessionmaker[Session] | None = None
) -> dict[str, str]:
    """One of everything in organization A; returns path parameter -> the id of A's object it names."""
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="isocorp", name="Isolated Corp", primary_email="a@iso.test", address=tc.Address())
    )
    sdk.accounts.add_aliases("isocorp", tc.AddAccountAliasesRequest(aliases=["iso-alias"]))
    sdk.settings.insert_setting(
        tc.Setting(
            id="secret",
            value="iso-secret-value",
            entity_type="ACCOUNT",
            entity_id="isocorp",
            namespace="USER",
            name="Secret",
            data_type="STRING",
        )
    )
    seats = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Iso seats", type="LICENSE")).id
    plan_id = plan(sdk, catalog["sum"], "IsoPlan")
    sdk.accounts.update_pricing_schedule("isocorp", associate(plan_id, date(2024, 1, 1), OPEN))
    staged = tc.UpdateAccountScheduleV2Request(  # a staged v2 edit, which B may neither read, finalize nor discard
        mode="DISASSOCIATE", effective_from=date(2024, 6, 1), effective_until=OPEN
    )
    tc.SchedulesApi(sdk.client).bulk_edit_schedules("isocorp", tc.EditAccountScheduleRequest(edits=[staged]))
    sdk.licenses.add_license_update_entry(
        tc.LicenseUpdateRequest(
            license_id=seats,
            account_id="isocorp",
            update_type="ABSOLUTE",
            quantity=3,
            effective_from=datetime(2024, 1, 1, tzinfo=timezone.utc),
        )
    )
    tc.EventIngestionApi(sdk.client).ingest(
        tc.IngestEventRequest(
            event=tc.Event(
                schema_name="api_calls",
                id="iso-evt-1",
                timestamp=datetime.now(timezone.utc),
                account_id="isocorp",
                attributes=[tc.Attribute(name="calls", value="5")],
                dimensions={"region": "us"},
            )
        )
    )
    named = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Iso named seats", type="NAMED_LICENSE")).id
    tc.EventIngestionApi(sdk.client).ingest(  # a named seat (GET /named_license_updates)
        tc.IngestEventRequest(
            event=tc.Event(
                schema_name="togai-named-license",
                id="iso-seat-1",
                timestamp=datetime.now(timezone.utc),
                account_id="isocorp",
                attributes=[tc.Attribute(name="action", value="1")],
                dimensions={"license_id": named, "name": "iso-seat-holder"},
            )
        )
    )
    other = plan(sdk, catalog["sum"], "IsoPlan two")
    sdk.price_plans.price_plan_migration(
        tc.CreatePricePlanMigrationRequest(
            source_id=plan_id, source_version=1, target_id=other, migration_mode="IMMEDIATE", require_confirmation=True
        )
    )
    job_id = sdk.jobs.get_jobs().data[0].id
    with tenant.http() as http:  # a webhook endpoint (Meterline's extension) that the invoice below gives a delivery
        endpoint = http.post(
            "/webhooks/endpoints", json={"url": "http://127.0.0.1:9/iso", "eventTypes": ["invoice.created"]}
        ).json()["id"]
    invoice = sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(
            account_id="isocorp",
            start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
            end_date=datetime(2024, 2, 1, tzinfo=timezone.utc),
            status="DUE",
            line_items=[tc.CustomInvoiceLineItem(description="Iso work", value=40)],
        )
    )
    payment = tc.PaymentsApi(sdk.client).create_payments(
        tc.CreatePaymentRequest(
            account_id="isocorp",
            currency="USD",
            total_amount=10,
            external_payment_reference=tc.ExternalPaymentReference(
                source_name="bank", source_type="CASH", transaction_number="iso-1"
            ),
            line_item_records=[tc.PaymentLineItemRecord(type="INVOICE", togai_id=invoice.id, amount=10, order=1)],
        )
    )
    credit = tc.CreditsApi(sdk.client).create_credit(
        tc.CreateCreditRequest(
            credit_requests=[
                tc.CreditRequest(
                    account_id="isocorp",
                    purpose="Iso promo",
                    credit_amount=5,
                    priority=1,
                    effective_from=date(2024, 1, 1),
                )
            ]
        )
    )
    tc.WalletApi(sdk.client).top_up_wallet_for_account("isocorp", tc.TopupWalletRequest(topup_amount=7))
    feature = sdk.features.create_feature(
        tc.CreateFeatureRequest(
            name="Iso feature",
            schema_associations=[tc.EventSchemasForFeature(schema_name="api_calls", attribute_name="calls")],
        )
    )
    with tenant.http() as http:  # Meterline's grant extension (no SDK method)
        entry = http.post(f"/accounts/isocorp/features/{feature.id}/entries", json={"granted": 20}).json()["id"]
    sdk.entitlements.ingest_entitled_event(
        tc.IngestEventRequest(
            event=tc.Event(
                schema_name="api_calls",
                id="iso-entitled-1",
                timestamp=datetime.now(timezone.utc),
                account_id="isocorp",
                attributes=[tc.Attribute(name="calls", value="3")],
                dimensions={"region": "eu"},  # outside the plan's meter: the invoices stay as they were
            )
        )
    )
    alerts_api = tc.AlertsApi(sdk.client)
    alert = alerts_api.create_alert(
        tc.CreateAlertRequest(
            alert_template_id="wallet_balance_below",
            interval=60,
            description="Iso alert",
            entity_details={"account": {"id": "isocorp"}},
            parameters={"threshold": {"levels": [100]}},
            status="ACTIVE",
        )
    )
    if factory is not None:  # the evaluation the worker makes: 7.00 in the wallet, at or below 100
        assert alerts.run(factory, datetime.now(timezone.utc), org_id=tenant.org.id).opened == 1
    [incident] = alerts_api.get_incidents().data
    with tenant.http() as http:
        [delivery] = http.get(f"/webhooks/endpoints/{endpoint}/deliveries").json()["data"]
    group = tc.InvoiceGroupsApi(sdk.client).create_invoice_group(
        tc.CreateInvoiceGroupRequest(
            name="Iso group",
            email="ap@iso.test",
            daily_invoice_consolidation=False,
            account_ids=["isocorp"],
            address=tc.Address(line1="Iso Rd"),
        )
    )
    with tenant.http() as http:  # a report (Meterline's POST /reports) and its CSV file
        report = http.post(
            "/reports",
            json={
                "type": "TEMPLATE",
                "reportTemplateId": "invoices_per_period",
                "fromDate": "2000-01-01",
                "toDate": "2100-01-01",
            },
        ).json()
        report = finished(http, report["id"])  # run by the server's report runner: its file is made then
    purchase = sdk.accounts.initiate_one_time_entitlement_plan(
        "isocorp",
        tc.CreatePurchaseRequest(type="WALLET_TOPUP", wallet_topup_details=tc.WalletTopupDetails(topup_amount=12)),
    )
    proposal = sdk.accounts.create_proposal(
        "isocorp",
        tc.CreateProposalRequest(
            type="WALLET_TOPUP", payment_mode="PREPAID", wallet_topup_details=tc.WalletTopupDetails(topup_amount=5)
        ),
    )
    return {
        "purchase_id": purchase.id,
        "purchase_proposal_id": proposal.id,
        "invoice_group_id": group.id,
        "report_id": report["id"],
        "file_id": report["fileId"],
        "endpoint_id": endpoint,
        "delivery_id": delivery["id"],
        "alert_id": alert.id,
        "incident_id": incident.id,
        **SHARED,
        "feature_id": feature.id,
        "entry_id": entry,
        "credit_id": credit.credits[0].id,
        "customer_id": "isocorp",
        "account_id": "isocorp",
        "alias": "iso-alias",
        "setting_id_str": "setting.USER.secret.ACCOUNT.isocorp",
        "event_schema_name": "api_calls",
        "usage_meter_id": catalog["sum"],
        "event_id": "iso-evt-1",
        "addon_id": seats,
        "price_plan_id": plan_id,
        "schedule_id": sdk.accounts.get_pricing_schedules("isocorp").data[0].id,
        "pricing_schedule_id": sdk.price_plans.get_price_plan(plan_id).pricing_schedule[0].id,
        "license_id": seats,
        "job_id": job_id,
        "invoice_id": invoice.id,
        "payment_id": payment.id,
    }


def _snapshot(tenant: Tenant, ids: dict[str, str]) -> dict[str, Any]:
    """What organization A reads of its objects."""
    reads = {
        "customer": "/customers/{customer_id}",
        "invoice_group": "/invoice_groups/{invoice_group_id}",
        "purchase": "/purchases/{purchase_id}",
        "purchases": "/accounts/{account_id}/purchases",
        "proposal": "/purchase_proposals/{purchase_proposal_id}",
        "proposals": "/accounts/{account_id}/purchase_proposals",
        "account": "/accounts/{account_id}",
        "aliases": "/accounts/{account_id}/account_aliases",
        "setting": "/settings/{setting_id_str}",
        "schema": "/event_schema/{event_schema_name}",
        "meter": "/usage_meters/{usage_meter_id}",
        "event": "/events/{event_id}",
        "addon": "/addons/{addon_id}",
        "plan": "/price_plans/{price_plan_id}",
        "plan_v2": "/v2/price_plans/{price_plan_id}",
        "plan_v2_cards": "/v2/price_plans/{price_plan_id}/rate_cards",
        "schedules": "/accounts/{account_id}/pricing_schedules",
        "schedules_v2": "/v2/accounts/{account_id}/schedules?mode=ACTIVE",
        "schedules_v2_draft": "/v2/accounts/{account_id}/schedules?mode=DRAFT",
        "schedule_cards": "/v2/schedules/{schedule_id}/rate_cards?mode=DRAFT",
        "schedule_rules": "/v2/schedules/{schedule_id}/pricing_rules?mode=DRAFT",
        "schedule_errors": "/v2/schedules/{schedule_id}/errors",
        "job": "/jobs/{job_id}",
        "licenses": "/license_updates",
        "named_licenses": "/named_license_updates",
        "invoice": "/invoices/{invoice_id}",
        "invoices": "/invoices?owner_id={account_id}",
        "payment": "/payments/{payment_id}",
        "credit": "/credits/{credit_id}",
        "balance": "/accounts/{account_id}/credit_balance",
        "wallet": "/accounts/{account_id}/wallet",
        "entries": "/accounts/{account_id}/wallet/entries",
        "feature": "/features/{feature_id}",
        "entitlements": "/accounts/{account_id}/entitlements",
        "feature_credits": "/accounts/{account_id}/features/{feature_id}",
        "feature_entries": "/accounts/{account_id}/features/{feature_id}/entries",
        "alerts": "/alerts",
        "incident": "/incidents/{incident_id}",
    }
    with tenant.http() as http:
        out = {}
        for name, path in reads.items():
            response = http.get(path.format(**ids))
            assert response.status_code == 200, (name, response.text)
            out[name] = response.json()
        return out


def test_another_organization_reaches_nothing(
    tenant: Tenant,
    other_tenant: Tenant,
    sdk: Sdk,
    catalog: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    ids = _objects(sdk, tenant, catalog, session_factory)
    before = _snapshot(tenant, ids)
    with other_tenant.http() as http:
        document = http.get("/openapi.json").json()
        checked = 0
        for path, operations in document["paths"].items():
            names = re.findall(r"{(\w+)}", path)
            missing = [n for n in names if n not in ids]
            assert not missing, f"{path}: no organization-A object for path parameter {missing}; add one to _objects"
            for method in operations:
                if not names:
                    if method == "get":  # lists and searches: nothing of A's
                        response = http.get(path)
                        assert response.status_code in (200, 400), (path, response.text)
                        assert not any(s in response.text for s in SECRETS), (path, response.text)
                        checked += 1
                    continue
                url = path.format(**ids)
                if set(names) <= SHARED.keys():
                    response = http.get(url)
                    assert response.status_code == 200, (url, response.text)
                    assert not any(s in response.text for s in SECRETS), (url, response.text)
                    checked += 1
                    continue
                required = [
                    p["name"]
                    for p in operations[method].get("parameters", [])
                    if p["in"] == "query" and p.get("required")
                ]
                assert all(q in QUERY for q in required), f"{path}: add a value for {required} to QUERY"
                body = None if method in ("get", "delete") else {}
                response = http.request(method.upper(), url, json=body, params={q: QUERY[q] for q in required})
                allowed = (404,) if method in ("get", "delete") else (400, 404)
                assert response.status_code in allowed, (method, url, response.status_code, response.text)
                # (an id B sent may be echoed in the message: that tells B nothing)
                assert not any(s in response.text and s not in url for s in SECRETS), (method, url, response.text)
                checked += 1
        # ids in bodies: B cannot price A's plan, correct A's event or read A's usage
        for url, body, says in (
            (
                "/revenue_calculator",
                {
                    "currencyConfig": {"mode": "CUSTOM", "currency": "USD"},
                    "pricePlanDetailsConfig": {"mode": "PRICE_PLAN", "pricePlanId": ids["price_plan_id"]},
                    "usageConfig": {"mode": "CUSTOM", "usageMap": {}},
                    "licenseEntriesConfig": {"mode": "CUSTOM", "custom": []},
                },
                f"Price plan {ids['price_plan_id']} not found",
            ),
            ("/events/correction?action=UNDO", {"event": {"id": "iso-evt-1"}}, "Event 'iso-evt-1' not found"),
            ("/portal/token", {"customerId": "isocorp", "allAccountsAccess": True}, "Customer isocorp not found"),
            ("/portal/token", {"customerId": "isocorp", "accountIds": ["isocorp"]}, "Customer isocorp not found"),
            (
                "/price_plans/migration",
                {"sourceId": ids["price_plan_id"], "sourceVersion": 1, "migrationMode": "IMMEDIATE"},
                f"Price plan {ids['price_plan_id']} not found",
            ),
            (
                "/v2/price_plans/migration",
                {"sourceId": ids["price_plan_id"], "sourceVersion": 1, "migrationMode": "IMMEDIATE"},
                f"Price plan {ids['price_plan_id']} not found",
            ),
            (
                "/credits",
                {
                    "creditRequests": [
                        {
                            "accountId": "isocorp",
                            "purpose": "x",
                            "creditAmount": 1,
                            "priority": 1,
                            "effectiveFrom": "2024-01-01",
                        }
                    ]
                },
                "Account isocorp not found",
            ),
            (
                "/invoices",
                {
                    "accountId": "isocorp",
                    "startDate": "2024-01-01T00:00:00Z",
                    "endDate": "2024-02-01T00:00:00Z",
                    "status": "DUE",
                    "lineItems": [{"value": 1}],
                },
                "Account isocorp not found",
            ),
            (
                "/payments",
                {
                    "accountId": "isocorp",
                    "currency": "USD",
                    "totalAmount": 1,
                    "externalPaymentReference": {"sourceName": "x", "sourceType": "CASH", "transactionNumber": "1"},
                    "lineItemRecords": [{"type": "INVOICE", "togaiId": ids["invoice_id"], "amount": 1, "order": 1}],
                },
                "Account isocorp not found",
            ),
        ):
            response = http.post(url, json=body)
            assert (response.status_code, response.json()["message"]) == (404, says), (url, response.text)
        # B's event naming A's account: B has no feature for the schema (400); A's credits are untouched (snapshot)
        event = {
            "schemaName": "api_calls",
            "id": "b-1",
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "accountId": "isocorp",
            "attributes": [{"name": "calls", "value": "1"}],
            "dimensions": {"region": "us"},
        }
        response = http.post("/entitled", json={"event": event})
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith("event.schemaName: no feature reads event schema 'api_calls'")
        assert not any(s in response.text for s in SECRETS), response.text
        # B's customer portal (a token of B's own customer) reaches nothing of A's: A's invoice and PDF are 404
        http.post("/customers", json={"id": "b-corp", "name": "B corp", "primaryEmail": "b@b.test", "address": {}})
        portal_token = http.post("/portal/token", json={"customerId": "b-corp", "allAccountsAccess": True}).json()
    with httpx.Client(base_url=other_tenant.base_url, timeout=30) as browser:
        assert browser.get("/portal", params={"token": portal_token["token"]}).status_code == 303
        for path in ("/portal", f"/portal/invoices/{ids['invoice_id']}", f"/portal/invoices/{ids['invoice_id']}/pdf"):
            response = browser.get(path)
            assert response.status_code == (200 if path == "/portal" else 404), (path, response.text)
            assert not any(s in response.text for s in SECRETS), (path, response.text)
    assert checked > 40  # the document was read (54 operations today)
    assert _snapshot(tenant, ids) == before  # nothing of A's changed
