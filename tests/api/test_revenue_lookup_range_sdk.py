"""The revenue calculator's lookupRange (usage, licenses, named licenses) is a range: an `end` that is not after its
`start` is a 400 naming the field (licenses' and named licenses' were priced as an empty range, a 200; usage's was a
400 that did not name it; found by the review)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

CONFIGS = ["usageConfig", "licenseEntriesConfig", "namedLicenseEntriesConfig"]


def _request(config: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currencyConfig": {"mode": "CUSTOM", "currency": "USD"},
        "pricePlanDetailsConfig": {
            "mode": "CUSTOM",
            "pricePlanDetails": {
                "supportedCurrencies": ["USD"],
                "pricingCycleConfig": {
                    "interval": "MONTHLY",
                    "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                    "gracePeriod": 0,
                },
            },
        },
        "usageConfig": {"mode": "CUSTOM", "usageMap": {}},
        "licenseEntriesConfig": {"mode": "CUSTOM", "custom": []},
    }
    body[config] = {
        "mode": "LOOKUP_RANGE",
        "lookupRange": {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "accountId": "acme"},
    }
    return body


@pytest.mark.parametrize("config", CONFIGS)
def test_a_lookup_range_ending_before_it_starts_is_a_400(tenant: Tenant, config: str) -> None:
    with tenant.http() as http:
        http.post(
            "/customers", json={"id": "acme", "name": "Acme", "primaryEmail": "a@acme.test", "address": {}}
        ).raise_for_status()
        answer = http.post("/revenue_calculator", json=_request(config))
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"] == f"{config}.lookupRange: start must be before end"
        same = _request(config)
        same[config]["lookupRange"]["end"] = same[config]["lookupRange"]["start"]
        empty = http.post("/revenue_calculator", json=same)
        assert empty.status_code == 400, empty.text
        assert empty.json()["message"] == f"{config}.lookupRange: start must be before end"
