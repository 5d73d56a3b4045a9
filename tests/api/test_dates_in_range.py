"""Every calendar day a request names is from 1970-01-01 to 9999-12-30 (core/schemas.IsoDate), as every date-time
is: a schedule from year 1 answered 500 (more pricing cycles than any bill run takes) and made drafts dated in years
the invoice API refuses; a credit until 9999-12-31 answered 500 (its end is the day after). Both are 400 now,
naming the field, and nothing is stored."""

from __future__ import annotations

from tests.api.conftest import Sdk
from tests.api.test_schedules_sdk import plan
from tests.conftest import Tenant


def _credit(until: str, start: str = "2024-01-01") -> dict[str, object]:
    return {
        "creditRequests": [
            {
                "accountId": "acme",
                "purpose": "p",
                "creditAmount": 1,
                "priority": 1,
                "effectiveFrom": start,
                "effectiveUntil": until,
            }
        ]
    }


def test_days_outside_the_stored_range_are_refused(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"], "Dated")
    with tenant.http() as http:
        for body, field in (
            (_credit("9999-12-31"), "effectiveUntil"),
            (_credit("2025-01-01", start="1969-12-31"), "effectiveFrom"),
        ):
            r = http.post("/credits", json=body)
            assert r.status_code == 400 and field in r.json()["message"], r.text
        assert http.get("/credits").json()["data"] == []
        for start, until in (("0001-01-01", "2026-01-01"), ("1780-01-01", "1800-01-01"), ("2024-01-01", "9999-12-31")):
            r = http.post(
                "/accounts/acme/price_plans",
                json={"mode": "ASSOCIATE", "pricePlanId": plan_id, "effectiveFrom": start, "effectiveUntil": until},
            )
            assert r.status_code == 400 and "9999-12-30" in r.json()["message"], (start, r.text)
        assert http.get("/accounts/acme/pricing_schedules").json()["data"] == []
        assert http.post("/credits", json=_credit("9999-12-30")).status_code in (200, 201)
