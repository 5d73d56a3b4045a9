"""The invoice page in real headless Chromium, on both engines, at desktop and phone widths (docs/console.md).

- The page reads like the PDF: a realistic invoice (tiered usage with a sub-cent rate, a fixed fee, a charge, a
  credit, a wallet top-up) is made through the official SDK and the API; its page and its PDF (downloaded from the
  page, read back with pypdf) show the same lines, quantities, unit prices and totals in the same order, as a draft
  and once finalized.
- Every action asks first: Finalize now, Mark uncollectible, Void and Mark paid each open a confirmation page that
  says what will happen; Cancel changes nothing; the action then does what it said, and the API reads it back. Mark
  paid asks the amount and the day: mistakes are said next to their fields, a part pays it partly, the rest fully.

Screenshots go to test-results/console/ (`invoice-*`).
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import togai_client as tc
from playwright.sync_api import Locator, Page, expect

from tests.api.billing_setup import bill_acme, month_start
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, server_judges, shot, sign_in

D = Decimal


# -- helpers -------------------------------------------------------------------------------------------------------
def api_invoice(tenant: Tenant, invoice_id: str) -> dict[str, Any]:
    with tenant.http() as http:
        answer = http.get(f"/invoices/{invoice_id}")
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text, parse_float=Decimal)


def acme_invoices(tenant: Tenant) -> list[dict[str, Any]]:
    with tenant.http() as http:
        answer = http.get("/invoices", params={"owner_id": "acme"})
    assert answer.status_code == 200, answer.text
    return sorted(json.loads(answer.text, parse_float=Decimal)["data"], key=lambda i: i["startDate"])


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def download_pdf(page: Page) -> str:
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    return pdf_text(data)


def cells(row: Locator) -> list[str]:
    return [" ".join((c.text_content() or "").split()) for c in row.locator("td, th").all()]


def page_lines(page: Page) -> list[list[str]]:
    """The lines' table as a person reads it: description, quantity, unit price, amount (headings as one cell)."""
    return [cells(r) for r in page.get_by_role("table", name="Lines").locator("tbody tr").all()]


def page_totals(page: Page) -> list[list[str]]:
    return [cells(r) for r in page.get_by_role("table", name="Totals").locator("tbody tr").all()]


def fact(page: Page, label: str) -> str:
    """The value next to `label` in the page's facts (the invoice's header, a confirmation's facts)."""
    value = page.locator(f"xpath=//dt[normalize-space(.)='{label}']/following-sibling::dd[1]")
    expect(value).to_have_count(1)
    return " ".join((value.text_content() or "").split())


def in_order(text: str, parts: list[str]) -> None:
    """Each part is in `text`, each after the one before: the same rows, in the same order."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} is not in the PDF after position {at}:\n{text}"
        at = found + len(part)


def same_as_pdf(page: Page, text: str) -> None:
    """Every row of the page's lines and totals is a row of the PDF, with the same text, in the same order; and the
    header's facts too."""
    rows = [" ".join(c for c in row if c) for row in page_lines(page)]
    totals = [" ".join(row) for row in page_totals(page)]
    assert rows and totals
    in_order(text, rows + totals)
    for label in ("Number", "Invoice date", "Period", "Status"):
        assert f"{label} {fact(page, label)}" in text, label


def overdue_label(due: datetime, before: datetime, after: datetime) -> list[str]:
    """What the page may say of an invoice due at `due`, read between `before` and `after` (the day may turn)."""
    return [
        f"Overdue · {n} day{'s' if n > 1 else ''}"
        for n in {(before.date() - due.date()).days, (after.date() - due.date()).days}
    ]


# -- the page and the PDF ------------------------------------------------------------------------------------------
def realistic_invoice(tenant: Tenant) -> str:
    """acme on "Metered" since the 1st of this month: API calls in two tiers (0.00025, then 0.00015 past 1,000,000;
    1,536,150 calls), a platform fee of 49.00; a charge of 40.00, a credit of 20.00, a wallet top-up of 100.00 that
    the draft holds. Returns the draft's id."""
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="ap@acme.test", address=tc.Address())
    )
    meters = create_metering_catalog(sdk)
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE")).id
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Metered",
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                    grace_period=0,
                ),
                supported_currencies=["USD"],
                usage_rate_cards=[
                    tc.UsageRateCard(
                        usage_meter_id=meters["sum"],
                        rate_plan=tc.RatePlan(
                            pricing_model="TIERED",
                            slabs=[
                                tc.Slab(order=1, start_after=0, price_type="PER_UNIT"),
                                tc.Slab(order=2, start_after=1000000, price_type="PER_UNIT"),
                            ],
                        ),
                        rate_values=[
                            tc.RateValue(
                                currency="USD",
                                slab_rates=[tc.SlabRate(order=1, rate=0.00025), tc.SlabRate(order=2, rate=0.00015)],
                            )
                        ],
                    )
                ],
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=fee, rate_values=[tc.CurrencyRateValue(currency="USD", rate=49)], enable_proration=False
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    now = datetime.now(UTC)
    sdk.accounts.update_pricing_schedule("acme", associate(plan.id, month_start(now), OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(
        tc.IngestBatchEventRequest(events=[ev("e1", "1000000", at=at), ev("e2", "536150", at=at)])
    )
    tc.CreditsApi(sdk.client).create_credit(
        tc.CreateCreditRequest(
            credit_requests=[
                tc.CreditRequest(
                    account_id="acme", purpose="Welcome", credit_amount=20, priority=1, effective_from=month_start(now)
                )
            ]
        )
    )
    tc.WalletApi(sdk.client).top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=100))
    with tenant.http() as http:
        charged = http.put(
            "/accounts/acme/miscellaneous_charges", json={"items": [{"name": "Onboarding", "value": "40"}]}
        )
        assert charged.status_code == 200, charged.text
    sdk.close()
    [draft] = [i for i in acme_invoices(tenant) if i["status"] == "DRAFT"]
    return str(draft["id"])


LINES = [
    ["us_calls", "1,536,150", "", "USD 330.42"],
    ["us_calls: slab 1 (above 0)", "1,000,000", "USD 0.00025", "USD 250.00"],
    ["us_calls: slab 2 (above 1000000)", "536,150", "USD 0.00015", "USD 80.42"],
    ["Platform fee", "1", "USD 49.00", "USD 49.00"],
    ["Welcome", "", "", "USD -20.00"],
    ["Charges"],
    ["Onboarding", "", "", "USD 40.00"],
]


def test_the_page_and_the_pdf_show_the_same_numbers(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine, page = engine_of(db_url), any_page
    draft = realistic_invoice(tenant)
    sign_in(page, *person)
    page.goto(f"/invoices/{draft}")

    # The draft reads like an invoice: who bills whom, the lines (the sub-cent rate whole), then the totals
    expect(page.get_by_role("heading", level=1)).to_have_text("Draft invoice Draft")
    assert fact(page, "Number") == "Draft" and fact(page, "Status") == "Draft"
    expect(page.get_by_role("region", name="From")).to_contain_text(tenant.org.name)
    bill_to = page.get_by_role("region", name="Bill to")
    expect(bill_to).to_contain_text("Acme Inc")
    expect(bill_to).to_contain_text("Price plan: Metered")
    assert "Account:" not in (bill_to.text_content() or "")  # the default account is the customer's name: once
    assert page_lines(page) == LINES
    assert page_totals(page) == [
        ["Subtotal", "USD 379.42"],
        ["Credits", "USD -20.00"],
        ["Charges", "USD 40.00"],
        ["Total", "USD 399.42"],
        ["Wallet (on hold)", "USD 100.00"],
        ["Other payments", "USD 0.00"],
        ["Amount due", "USD 299.42"],
    ]
    expect(page.get_by_role("table", name="Usage")).to_contain_text("1,536,150")
    fits(page)
    shot(page, f"invoice-draft-{screen}", engine)

    # The PDF (from the page) says the same, row for row; the API's PDF too
    text = download_pdf(page)
    same_as_pdf(page, text)
    assert "USD 0.00025" in text and "1,536,150" in text and "Wallet (on hold) USD 100.00" in text
    with tenant.http() as http:
        assert pdf_text(http.get(f"/invoices/{draft}/pdf").content) == text

    # Finalized: numbered, the wallet paid 100.00 of it, partly paid; the page and the PDF still agree
    page.get_by_role("link", name="Finalize now").click()
    page.get_by_role("button", name="Finalize invoice").click()
    expect(page.get_by_role("status")).to_contain_text("Invoice INV-000001 finalized: USD 399.42")
    expect(page.get_by_role("heading", level=1)).to_have_text("INV-000001 Partially paid")
    assert page_lines(page) == LINES
    assert page_totals(page)[-4:] == [
        ["Total", "USD 399.42"],
        ["Paid from wallet", "USD 100.00"],
        ["Other payments", "USD 0.00"],
        ["Amount due", "USD 299.42"],
    ]
    fits(page)
    shot(page, f"invoice-finalized-{screen}", engine)
    text = download_pdf(page)
    same_as_pdf(page, text)
    assert "Status Partially paid" in text and "Paid from wallet USD 100.00" in text
    invoice = api_invoice(tenant, draft)
    assert (invoice["status"], invoice["totalAmount"], invoice["paidAmount"]) == ("PARTIALLY_PAID", D("399.42"), 100)


# -- the actions ---------------------------------------------------------------------------------------------------
def two_overdue_and_a_draft(tenant: Tenant) -> list[dict[str, Any]]:
    """acme on Growth since two months ago (a platform fee of 50.00, no usage), no grace and no net terms: the bill run
    finalizes the two past months (due when each ended: overdue now); this month's invoice is a draft."""
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="ap@acme.test", address=tc.Address())
    )
    bill_acme(sdk, create_metering_catalog(sdk))
    sdk.invoices.create_invoice_bill_run()
    sdk.close()
    invoices = acme_invoices(tenant)
    assert [(i["status"], i.get("sequenceId")) for i in invoices] == [
        ("DUE", "INV-000001"),
        ("DUE", "INV-000002"),
        ("DRAFT", None),
    ]
    return invoices


def confirmation(page: Page, title: str, *said: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    for words in said:
        expect(page.locator(".consequence")).to_contain_text(words)


def cancel(page: Page, tenant: Tenant, invoice: dict[str, Any]) -> None:
    """Cancel goes back to the invoice, and the API reads it as it was."""
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(f"/invoices/{re.escape(invoice['id'])}$"))
    after = api_invoice(tenant, invoice["id"])
    assert (after["status"], after["paidAmount"], after.get("sequenceId")) == (
        invoice["status"],
        invoice["paidAmount"],
        invoice.get("sequenceId"),
    )


def test_each_action_asks_first_and_cancel_changes_nothing(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine, page = engine_of(db_url), any_page
    before = datetime.now(UTC)
    first, _second, draft = two_overdue_and_a_draft(tenant)
    sign_in(page, *person)
    today = datetime.now(UTC).date()

    # Overdue shows on the page and on each confirmation
    page.goto(f"/invoices/{first['id']}")
    due = datetime.fromisoformat(first["dueDate"].replace("Z", "+00:00"))
    labels = overdue_label(due, before, datetime.now(UTC))
    badge = page.get_by_role("heading", level=1).locator(".badge")
    expect(badge).to_have_text(re.compile("|".join(map(re.escape, labels))))
    assert fact(page, "Status") in labels
    actions = page.get_by_role("navigation", name="Invoice actions")
    expect(actions.get_by_role("link")).to_have_text(["Mark paid", "Mark uncollectible", "Void"])
    expect(page.get_by_role("button", name=re.compile("Mark|Void|Finalize"))).to_have_count(0)  # links, not buttons

    # Finalize now: what it does, Cancel, then for real
    page.goto(f"/invoices/{draft['id']}")
    page.get_by_role("link", name="Finalize now").click()
    confirmation(
        page,
        "Finalize this draft invoice?",
        "next invoice number",
        "freezes its lines",
        "cannot go back to draft",
        f"It will be due on {today.isoformat()} (0 days' net terms).",
    )
    assert fact(page, "Total") == "USD 50.00" and fact(page, "Due date") == today.isoformat()
    fits(page)
    shot(page, f"invoice-confirm-finalize-{screen}", engine)
    cancel(page, tenant, draft)
    page.get_by_role("link", name="Finalize now").click()
    token = page.locator("form.card input[name=csrf]").input_value()
    page.get_by_role("button", name="Finalize invoice").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Invoice INV-000003 finalized: USD 50.00, due on {today.isoformat()}. It is due."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("INV-000003 Due")  # due today: not overdue yet
    finalized = api_invoice(tenant, draft["id"])
    assert (finalized["status"], finalized["sequenceId"], finalized["totalAmount"]) == ("DUE", "INV-000003", 50)
    # the confirmation posted again (a stale tab, a double click): refused in words, nothing more is numbered
    again = page.request.post(f"/invoices/{draft['id']}/finalize", form={"csrf": token}, max_redirects=0)
    assert again.status == 409 and "Invoice INV-000003 is finalized already: nothing was changed." in again.text()
    page.goto(f"/invoices/{draft['id']}/finalize")
    expect(page.get_by_role("alert")).to_have_text("Invoice INV-000003 is finalized already: nothing was changed.")
    assert [i.get("sequenceId") for i in acme_invoices(tenant)] == ["INV-000001", "INV-000002", "INV-000003"]

    # Mark uncollectible: no longer overdue nor outstanding, still takes a payment
    page.goto(f"/invoices/{first['id']}")
    page.get_by_role("link", name="Mark uncollectible").click()
    confirmation(page, "Mark invoice INV-000001 uncollectible?", "USD 50.00 still due is not expected to be paid")
    assert fact(page, "Status") in labels  # overdue, on the confirmation too
    shot(page, f"invoice-confirm-uncollectible-{screen}", engine)
    cancel(page, tenant, first)
    page.get_by_role("link", name="Mark uncollectible").click()
    page.get_by_role("button", name="Mark uncollectible").click()
    expect(page.get_by_role("status")).to_have_text(
        "Invoice INV-000001 marked uncollectible: USD 50.00 will not be asked for."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("INV-000001 Uncollectible")
    expect(actions.get_by_role("link")).to_have_text(["Mark paid", "Void"])
    assert api_invoice(tenant, first["id"])["status"] == "UN_COLLECTIBLE"

    # Void: says what goes back and that it is for good
    page.get_by_role("link", name="Void").click()
    confirmation(page, "Void invoice INV-000001?", "cancels invoice INV-000001 for good", "cannot be undone")
    shot(page, f"invoice-confirm-void-{screen}", engine)
    cancel(page, tenant, api_invoice(tenant, first["id"]))
    page.get_by_role("link", name="Void").click()
    page.get_by_role("button", name="Void invoice").click()
    expect(page.get_by_role("status")).to_have_text("Invoice INV-000001 voided: nobody owes it any more.")
    expect(page.get_by_role("heading", level=1)).to_have_text("INV-000001 Void")
    expect(page.get_by_role("navigation", name="Invoice actions")).to_have_count(0)  # VOID is final (D12)
    assert page_totals(page)[-1] == ["Amount due", "USD 0.00"]
    assert api_invoice(tenant, first["id"])["status"] == "VOID"
    page.goto(f"/invoices/{first['id']}/void")  # a stale link: refused in words, nothing changes
    expect(page.get_by_role("alert")).to_have_text("Invoice INV-000001 is void, which is final: nothing was changed.")


def test_mark_paid_asks_the_amount_and_the_day_partly_then_fully(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine, page = engine_of(db_url), any_page
    overdue, _second, _draft = two_overdue_and_a_draft(tenant)  # due when its month ended: overdue for weeks
    sign_in(page, *person)
    today = datetime.now(UTC).date()
    page.goto(f"/invoices/{overdue['id']}")
    page.get_by_role("link", name="Mark paid").click()

    # The form: the amount due and today, filled in
    confirmation(page, "Record a payment of invoice INV-000001", "makes it paid, which is final", "partially paid")
    expect(page.get_by_label("Amount received (USD)")).to_have_value("50.00")
    expect(page.get_by_label("Received on")).to_have_value(today.isoformat())
    assert fact(page, "Amount due") == "USD 50.00"
    fits(page)
    shot(page, f"invoice-pay-{screen}", engine)
    cancel(page, tenant, overdue)
    page.get_by_role("link", name="Mark paid").click()

    # Mistakes, each next to its field, in words; what was typed stays; nothing recorded
    server_judges(page, page.get_by_role("button", name="Record payment"))
    page.get_by_label("Amount received (USD)").fill("20.005")
    page.get_by_label("Received on").fill((today + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Record payment").click()
    amount = page.locator("label", has=page.get_by_label("Amount received (USD)"))
    expect(amount.get_by_role("alert")).to_have_text("USD has 2 decimals: enter at most 2 digits after the point")
    expect(page.locator("label", has=page.get_by_label("Received on")).get_by_role("alert")).to_have_text(
        f"A payment cannot be received in the future: pick today ({today.isoformat()}) or an earlier day"
    )
    expect(page.get_by_label("Amount received (USD)")).to_have_value("20.005")
    shot(page, f"invoice-pay-mistakes-{screen}", engine)
    server_judges(page, page.get_by_role("button", name="Record payment"))
    page.get_by_label("Amount received (USD)").fill("50.01")
    page.get_by_label("Received on").fill(today.isoformat())
    page.get_by_role("button", name="Record payment").click()
    expect(amount.get_by_role("alert")).to_have_text("At most USD 50.00 is due on this invoice")
    assert api_invoice(tenant, overdue["id"])["paidAmount"] == 0

    # A part: partially paid, the rest still due (and still overdue)
    paid_on = today - timedelta(days=3)
    page.get_by_label("Amount received (USD)").fill("20")
    page.get_by_label("Received on").fill(paid_on.isoformat())
    page.get_by_label("Paid by").select_option(label="Cheque")
    page.get_by_label("Reference").fill("CHQ-0042")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment of USD 20.00 received on {paid_on.isoformat()} recorded: invoice INV-000001 is partially paid, "
        "USD 30.00 still due."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Partially paid · Overdue")
    assert page_totals(page)[-2:] == [["Paid", "USD 20.00"], ["Amount due", "USD 30.00"]]
    shot(page, f"invoice-partly-paid-{screen}", engine)
    invoice = api_invoice(tenant, overdue["id"])
    assert (invoice["status"], invoice["paidAmount"]) == ("PARTIALLY_PAID", 20)

    # The rest: the form offers what is left; paid in full, final
    page.get_by_role("link", name="Mark paid").click()
    expect(page.get_by_label("Amount received (USD)")).to_have_value("30.00")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment of USD 30.00 received on {today.isoformat()} recorded: invoice INV-000001 is paid in full."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("INV-000001 Paid")
    expect(page.get_by_role("navigation", name="Invoice actions")).to_have_count(0)
    shot(page, f"invoice-paid-{screen}", engine)
    invoice = api_invoice(tenant, overdue["id"])
    assert (invoice["status"], invoice["paidAmount"]) == ("PAID", 50)

    # Both payments are the API's payments, with the day received and the reference
    with tenant.http() as http:
        payments = json.loads(http.get("/payments").text, parse_float=Decimal)["data"]
    recorded = sorted(
        (
            p["totalAmount"],
            p["externalPaymentReferences"]["sourceType"],
            p["externalPaymentReferences"]["transactionNumber"],
            p["externalPaymentReferences"]["metadata"]["paidOn"],
            [(r["type"], r["togaiId"], r["amount"]) for r in p["lineItemRecords"]],
        )
        for p in payments
    )
    assert recorded == [
        (20, "CHEQUE", "CHQ-0042", paid_on.isoformat(), [("INVOICE", overdue["id"], 20)]),
        (30, "BANK_TRANSFER", f"INV-000001 {today.isoformat()}", today.isoformat(), [("INVOICE", overdue["id"], 30)]),
    ]
    page.goto(f"/invoices/{overdue['id']}/pay")  # a stale link: refused in words
    expect(page.get_by_role("alert")).to_have_text("Invoice INV-000001 is paid, which is final: nothing was changed.")
