"""Console forms given what no calendar or field should send (a priority of 20 digits, the last day of year 9999,
JSON 1,100 levels deep): each answers the form again with the mistake in words, never a 500 (issue 14)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import Tenant
from tests.console.browsing import menu, sign_in, tab


def test_out_of_range_values_in_console_forms_are_answered_in_words(
    page: Page, person: tuple[str, str], tenant: Tenant
) -> None:
    with tenant.http() as http:
        r = http.post(
            "/customers", json={"id": "acme", "name": "Acme Inc", "primaryEmail": "a@acme.test", "address": {}}
        )
        assert r.status_code == 201, r.text
    sign_in(page, *person)
    page.goto("/accounts/acme?tab=credits")

    # Credits: a priority far past any integer column
    page.get_by_label("Amount (USD)").fill("15")
    page.get_by_label("Purpose").fill("Welcome")
    page.get_by_label("Priority").fill("99999999999999999999")
    page.get_by_role("button", name="Add Credits").click()
    expect(page.get_by_role("alert")).to_contain_text("Priority: a whole number from 0 to 1,000,000")
    page.get_by_label("Amount (USD)").fill("15")
    page.get_by_label("Purpose").fill("Welcome")
    page.get_by_label("Priority").fill("1000000")
    page.get_by_role("button", name="Add Credits").click()
    expect(page.get_by_role("cell", name="Welcome")).to_be_visible()

    # A schedule until the last day of year 9999 (the day after it does not exist)
    tab(page, "Price Plan Schedule")
    for last in ("9999-12-31", "9999-12-30"):  # the schedule ends the day after, which must be a day Meterline keeps
        page.get_by_label("Until, last day (optional)").fill(last)
        page.get_by_role("button", name="Attach").click()
        until = page.locator("label", has=page.get_by_label("Until, last day (optional)"))  # next to its field
        expect(until.get_by_role("alert")).to_contain_text("Until: pick a day up to 9999-12-29")

    # The events log up to 9999-12-31
    response = page.goto("/events?end=9999-12-31")
    assert response is not None and response.status == 400  # the log again, the mistake next to its field
    expect(page.get_by_text("Pick a day from 1970-01-01 to 9999-12-30")).to_be_visible()

    # A JSON setting 1,100 levels deep
    menu(page, "Settings")
    page.get_by_label("Namespace").fill("billing")
    page.get_by_label("Setting ID").fill("deep")
    page.get_by_label("Type").select_option("JSON")
    form = page.locator('form[action="/settings/values"]')
    form.get_by_label("Value").fill("[" * 1100 + "]" * 1100)
    page.get_by_role("button", name="Add setting").click()
    expect(page.get_by_role("alert")).to_contain_text("Setting deep: value[0]")
    expect(page.get_by_role("alert")).to_contain_text("JSON may be nested at most 32 levels deep")
    with tenant.http() as http:
        assert http.get("/settings", params={"entity_type": "ORGANIZATION"}).json()["data"] == []
