"""The one number rule at the API's edge (core/numbers.py, docs/api.md "Numbers"), against a live server on both
engines: every amount, rate, quantity and usage that enters is finite, below 10^15 in magnitude, with at most 12
decimals, else a 400 naming the field that stores nothing; every number leaves in plain notation.

Raw HTTP carries the out-of-range values (the SDK's floats cannot even hold 1e400); the SDK reads what is stored.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import togai_client as tc
from togai_client import IngestBatchEventRequest

from tests.api.conftest import Sdk
from tests.api.test_ingestion_sdk import T0, ev, usage
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant

UTC = timezone.utc
JSON = {"Content-Type": "application/json"}
CYCLE = {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}
# (the number as the client writes it, what the 400 says)
OUT_OF_RULE = [
    ("1e400", "below 10^15"),
    ("1e999999999999999999", "below 10^15"),
    ("-1e400", "below 10^15"),
    ("1000000000000000", "below 10^15"),
    ("9" * 5000, "below 10^15"),  # longer than Python reads as an int
    ("0.0000000000001", "12 digits after the decimal point"),
]


def _plan(meter: str, rate: str = "1", start: str = "0", fee: str = "5", minimum: str = "1") -> str:
    return (
        json.dumps(
            {
                "name": "Bounded",
                "pricePlanDetails": {
                    "pricingCycleConfig": CYCLE,
                    "supportedCurrencies": ["USD"],
                    "usageRateCards": [
                        {
                            "usageMeterId": meter,
                            "ratePlan": {
                                "pricingModel": "TIERED",
                                "slabs": [{"order": 1, "startAfter": "START", "priceType": "PER_UNIT"}],
                            },
                            "rateValues": [
                                {
                                    "currency": "USD",
                                    "slabRates": [{"order": 1, "rate": "RATE"}],
                                    "rateConfig": {"minimumRate": "<MINIMUM>"},
                                }
                            ],
                        }
                    ],
                    "minimumCommitment": {"displayName": "Minimum", "rateValues": [{"currency": "USD", "rate": "FEE"}]},
                },
            }
        )
        .replace('"RATE"', rate)
        .replace('"START"', start)
        .replace('"FEE"', fee)
        .replace("<MINIMUM>", minimum)
    )


def _entry_points(catalog: dict[str, str], seats: str) -> list[tuple[str, str, Any, str]]:
    """(method, path, body, the field the 400 must name): every request body that carries an amount, a rate, a
    quantity or usage. In the body, "N" is where the number goes as a JSON number, <N> where it goes as text."""
    meter = catalog["sum"]
    payment_reference = {"sourceName": "bank", "sourceType": "CASH", "transactionNumber": "t1"}
    return [
        ("POST", "/price_plans", _plan(meter, rate='"N"'), "slabRates[0].rate:"),
        ("POST", "/price_plans", _plan(meter, start='"N"'), "slabs[0].startAfter:"),
        ("POST", "/price_plans", _plan(meter, fee='"N"'), "minimumCommitment.rateValues[0].rate:"),
        ("POST", "/price_plans", _plan(meter, minimum="<N>"), "minimumRate:"),  # a number written as text
        (
            "POST",
            "/license_updates",
            {
                "licenseId": seats,
                "accountId": "acme",
                "updateType": "ABSOLUTE",
                "quantity": "N",
                "effectiveFrom": "2024-01-01T00:00:00Z",
            },
            "quantity:",
        ),
        (
            "POST",
            "/revenue_calculator",
            {
                "currencyConfig": {"mode": "CUSTOM", "currency": "USD"},
                "pricePlanDetailsConfig": {
                    "mode": "CUSTOM",
                    "pricePlanDetails": json.loads(_plan(meter))["pricePlanDetails"],
                },
                "usageConfig": {"mode": "CUSTOM", "usageMap": {meter: "N"}},
                "licenseEntriesConfig": {"mode": "CUSTOM", "custom": []},
            },
            f"usageMap.{meter}:",
        ),
        (
            "POST",
            "/credits",
            {
                "creditRequests": [
                    {
                        "accountId": "acme",
                        "purpose": "p",
                        "creditAmount": "N",
                        "priority": 1,
                        "effectiveFrom": "2024-01-01",
                    }
                ]
            },
            "creditAmount:",
        ),
        ("POST", "/accounts/acme/wallet_topup", {"topupAmount": "N"}, "topupAmount:"),
        (
            "POST",
            "/payments",
            {
                "accountId": "acme",
                "currency": "USD",
                "totalAmount": "N",
                "externalPaymentReference": payment_reference,
                "lineItemRecords": [{"type": "WALLET_CREDIT", "amount": 1, "order": 1}],
            },
            "totalAmount:",
        ),
        (
            "POST",
            "/payments",
            {
                "accountId": "acme",
                "currency": "USD",
                "totalAmount": 1,
                "externalPaymentReference": payment_reference,
                "lineItemRecords": [{"type": "WALLET_CREDIT", "amount": "N", "order": 1}],
            },
            "lineItemRecords[0].amount:",
        ),
        (
            "POST",
            "/invoices",
            {
                "accountId": "acme",
                "startDate": "2024-01-01T00:00:00Z",
                "endDate": "2024-02-01T00:00:00Z",
                "status": "DRAFT",
                "lineItems": [{"value": "N"}],
            },
            "lineItems[0].value:",
        ),
        (
            "PUT",
            "/accounts/acme/miscellaneous_charges",
            {"items": [{"name": "c", "rate": "N", "quantity": 1}]},
            "items[0].rate:",
        ),
    ]


@pytest.fixture
def seats(sdk: Sdk, catalog: dict[str, str]) -> str:
    return sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Seats", type="LICENSE")).id


def test_every_number_that_enters_is_bounded_and_refusals_store_nothing(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str], seats: str
) -> None:
    with tenant.http() as http:
        for method, path, body, field in _entry_points(catalog, seats):
            text = body if isinstance(body, str) else json.dumps(body)
            for number, says in OUT_OF_RULE:
                sent = text.replace('"N"', number).replace("<N>", number)
                if "<N>" in text and len(number) > 100:
                    says = "at most 100 characters"  # a number written as text is first a bounded text
                r = http.request(method, path, content=sent, headers=JSON)
                assert r.status_code == 400, (path, number, r.text)
                message = r.json()["message"]
                assert field in message and says in message, (path, number, message)
                assert len(r.content) < 2000  # an answer about the number, never the number expanded
    assert sdk.price_plans.get_price_plans().data == []
    assert sdk.licenses.get_license_updates().data == []
    assert tc.CreditsApi(sdk.client).list_credits(account_id="acme").data == []
    assert tc.WalletApi(sdk.client).wallet_balance_for_account("acme").balance == 0
    assert sdk.invoices.list_invoices(owner_id="acme").data == []


def test_a_plan_rate_of_1e400_is_refused_and_nothing_bills_it(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str]
) -> None:
    """Issue 14, defect 3: `1e400` and `1e999999999999999999` were accepted and activated, then broke billing and
    `GET /invoices?owner_id=`. Now a 400 names the rate; the same plan with a bounded rate bills."""
    with tenant.http() as http:
        for rate in ("1e400", "1e999999999999999999"):
            refused = http.post("/price_plans", content=_plan(catalog["sum"], rate=rate), headers=JSON)
            assert refused.status_code == 400
            assert refused.json()["message"] == (
                "pricePlanDetails.usageRateCards[0].rateValues[0].slabRates[0].rate: must be below 10^15 in magnitude"
            )
        largest = "999999999999999.999999999999"
        made = http.post("/price_plans", content=_plan(catalog["sum"], rate=largest), headers=JSON)
        assert made.status_code == 200, made.text
        assert f'"rate":{largest}' in made.text
    plan_id = made.json()["id"]
    sdk.price_plans.activate_price_plan(plan_id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    start = datetime.now(UTC).date().replace(day=1) - timedelta(days=40)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, start, OPEN))
    at = datetime.now(UTC) - timedelta(minutes=5)
    tc.EventIngestionApi(sdk.client).ingest_batch(
        IngestBatchEventRequest(events=[ev("big", calls="999999999999999", at=at)])
    )
    # the largest rate times the largest usage is priced and written whole, in plain notation
    with tenant.http() as http:
        for number, says in OUT_OF_RULE:  # a charge's value is text: a number in it follows the same rule
            charge = http.put("/accounts/acme/miscellaneous_charges", json={"items": [{"name": "c", "value": number}]})
            assert charge.status_code == 400 and "items[0].value" in charge.text and says in charge.text, charge.text
        listed = http.get("/invoices", params={"owner_id": "acme"})
        assert listed.status_code == 200, listed.text
        assert not [n for n in _number_texts(listed.text) if "e" in n.lower()]
        totals = [i["totalAmount"] for i in json.loads(listed.text, parse_float=Decimal)["data"]]
    assert max(totals) >= Decimal("999999999999999") * Decimal("999999999999999")


def _number_texts(body: str) -> list[str]:
    """Every JSON number of `body` as written (integers and decimals alike)."""
    found: list[str] = []

    def keep(text: str) -> Decimal:
        found.append(text)
        return Decimal(text)

    json.loads(body, parse_float=keep, parse_int=keep)
    return found


def test_numbers_leave_in_plain_notation(tenant: Tenant, catalog: dict[str, str]) -> None:
    """A rate of 0.0000001 and one of 100 sent as `1E+2` are written back `0.0000001` and `100`, when made and when
    read back from storage (SQLite keeps decimals as text, which may hold an exponent): never `1E-7` or `1E+2`,
    which JSON readers decode as floats or Infinity."""
    body = _plan(catalog["sum"], rate="0.0000001", start="0E+3", fee="1E+2")
    with tenant.http() as http:
        made = http.post("/price_plans", content=body, headers=JSON)
        assert made.status_code == 200, made.text
        again = http.get(f"/price_plans/{made.json()['id']}")
        listed = http.get("/price_plans")
    for answer in (made, again, listed):
        numbers = _number_texts(answer.text)
        assert numbers and not [n for n in numbers if "e" in n.lower()], numbers
        assert '"rate":0.0000001' in answer.text and '"rate":100' in answer.text and '"startAfter":0' in answer.text
        assert "Infinity" not in answer.text


def test_an_event_attribute_past_the_rule_fails_that_event_only(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str]
) -> None:
    response = tc.EventIngestionApi(sdk.client).ingest_batch_with_http_info(
        IngestBatchEventRequest(
            events=[
                ev("huge", calls="1" * 16),
                ev("fine", calls="999999999999999.5"),
                ev("long", calls="1.0000000000001"),
                ev("arabic", calls="\u0661\u0662\u0663"),  # Arabic-Indic digits: Decimal reads 123, JSON means text
                ev("bold", calls="\U0001d7d7"),  # MATHEMATICAL BOLD DIGIT NINE
            ]
        )
    )
    assert response.status_code == 207
    errors = response.data.details["errors"]
    assert [(e["index"], e["status"]) for e in errors] == [
        (0, "INGESTION_FAILED"),
        (2, "INGESTION_FAILED"),
        (3, "INGESTION_FAILED"),
        (4, "INGESTION_FAILED"),
    ]
    assert "below 10^15" in errors[0]["message"] and "12 digits" in errors[1]["message"]
    assert usage(tenant, T0, T0 + timedelta(minutes=15))["us_calls"] == (Decimal("999999999999999.5"), 1)


def test_net_term_days_are_bounded(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    with tenant.http() as http:
        for days in ("100000000000", "3651", "-1", "1e3", "true"):
            r = http.patch("/accounts/acme", content=f'{{"netTermDays": {days}}}', headers=JSON)
            assert r.status_code == 400 and "netTermDays" in r.json()["message"], (days, r.text)
        assert http.patch("/accounts/acme", json={"netTermDays": 3650}).status_code == 200
    assert sdk.accounts.get_account("acme").net_term_days == 3650


def test_a_payment_record_order_is_bounded(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    reference = {"sourceName": "bank", "sourceType": "BANK_TRANSFER", "transactionNumber": "t-1"}

    def pay(order: str) -> Any:
        body = (
            '{"accountId": "acme", "currency": "USD", "totalAmount": 1, "externalPaymentReference": '
            + json.dumps(reference)
            + ', "lineItemRecords": [{"type": "WALLET_CREDIT", "amount": 1, "order": '
            + order
            + "}]}"
        )
        return http.post("/payments", content=body, headers=JSON)

    with tenant.http() as http:
        for order in (str(2**70), "1001", "-1", "1.5", '"1"'):
            r = pay(order)
            assert r.status_code == 400 and "lineItemRecords[0].order" in r.json()["message"], (order, r.text)
        assert http.get("/payments").json()["data"] == []
        assert pay("1000").status_code == 201
        assert pay("0").status_code == 201  # 0-based orders are fine too


def test_license_quantities_stay_within_the_rule_when_steps_add_up(tenant: Tenant, sdk: Sdk, seats: str) -> None:
    """Each RELATIVE step is bounded; their running total is held to the same bound."""
    jan = datetime(2024, 1, 1, tzinfo=UTC)
    sdk.licenses.add_license_update_entry(
        tc.LicenseUpdateRequest(
            license_id=seats, account_id="acme", update_type="ABSOLUTE", quantity=999999999999999, effective_from=jan
        )
    )
    with tenant.http() as http:
        step = http.post(
            "/license_updates",
            json={
                "licenseId": seats,
                "accountId": "acme",
                "updateType": "RELATIVE",
                "quantity": 1,
                "effectiveFrom": "2024-02-01T00:00:00Z",
            },
        )
        assert step.status_code == 400, step.text
        assert step.json()["message"].startswith("quantity: the license quantity would be 1000000000000000 from")
    assert [u.quantity for u in sdk.licenses.get_license_updates().data] == [999999999999999]
