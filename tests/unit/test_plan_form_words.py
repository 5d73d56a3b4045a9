"""The price plan forms' refusals go next to the field they name, in words (console/plan_forms.py, issue 15): the
API's paths and pydantic's sentences never reach the top of a form."""

from __future__ import annotations

import pytest

from meterline.console.plan_forms import card_error, detail_error

CARD_CASES = [
    # the builder's own check (pydantic's, already in words) and the service's, for the same fields
    (
        "Usage rate card 1.displayName: String should have at most 255 characters",
        "display_name",
        "At most 255 characters, please",
    ),
    (
        "pricePlanDetails.usageRateCards[0].displayName: String should have at most 255 characters",
        "display_name",
        "At most 255 characters, please",
    ),
    (
        "Minimum commitment.displayName: String should have at most 255 characters",
        "display_name",
        "At most 255 characters, please",
    ),
    (
        "pricePlanDetails.usageRateCards[0].rateValues (USD).rateConfig: minimumRate 5 is above maximumRate 2",
        "min_USD",
        "The minimum 5 is above the maximum 2",
    ),
    (
        "pricePlanDetails.fixedFeeRateCards[0].rateValues[0].rate: must be >= 0",
        "amount_USD",
        "Must be >= 0",
    ),
]


@pytest.mark.parametrize(("message", "field", "words"), CARD_CASES)
def test_a_card_refusal_goes_next_to_its_field_in_words(message: str, field: str, words: str) -> None:
    errors: dict[str, str] = {}
    card_error(message, ["USD"], errors)
    assert errors == {field: words}


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ("Grace period: Input should be less than or equal to 365", "grace", "At most 365"),
        (
            "pricePlanDetails.pricingCycleConfig.gracePeriod: Input should be greater than or equal to 0",
            "grace",
            "At least 0",
        ),
        (
            "pricePlanDetails.supportedCurrencies: USD is active and must stay",
            "currencies",
            "USD is active and must stay",
        ),
    ],
)
def test_a_plan_detail_refusal_goes_next_to_its_field_in_words(message: str, field: str, words: str) -> None:
    errors: dict[str, str] = {}
    detail_error(message, errors)
    assert errors == {field: words}
