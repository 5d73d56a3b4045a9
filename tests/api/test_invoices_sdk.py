"""InvoicesApi and PaymentsApi through the official SDK against a live server, and the PDF (billing-rules D11,
D12). The server runs on the wall clock: dates are taken relative to the current month."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pypdf
import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException, NotFoundException

from tests.api.billing_setup import acme_invoices, month_start
from tests.api.conftest import Sdk, message_of
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant

UTC = timezone.utc


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_drafts_grow_with_usage_and_a_bill_run_numbers_them(tenant: Tenant, sdk: Sdk, billed: dict[str, str]) -> None:
    # Given acme on Growth since two months ago: an association makes the drafts of every cycle started so far
    now = datetime.now(UTC)
    drafts = acme_invoices(sdk)
    assert [(i.status, i.invoice_type, i.start_date.date()) for i in drafts] == [
        ("DRAFT", "STANDARD", month_start(now, back)) for back in (2, 1, 0)
    ]
    assert all(i.price_plan_id == billed["plan"] and i.owner_id == "acme" and i.customer_id == "acme" for i in drafts)
    # the two past cycles are due (no grace period); the current one is not
    eligible = sdk.invoices.list_invoices_for_bill_run().data
    assert sorted(i.id for i in eligible) == sorted(i.id for i in drafts[:2])

    # When 150 calls arrive this month, the current draft shows them (100 x 1.00 + 50 x 0.50 + the 50.00 fee)
    at = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    sdk_ingest = tc.EventIngestionApi(sdk.client)
    sdk_ingest.ingest_batch(tc.IngestBatchEventRequest(events=[ev("i1", "100", at=at), ev("i2", "50", at=at)]))
    current = sdk.invoices.get_invoice(drafts[2].id)
    assert (current.status, current.total_amount, current.sequence_id) == ("DRAFT", 175, None)
    assert current.revenue_info is None and current.usage_info is None  # the SDK cannot parse line trees
    assert current.invoice_details.account.invoice_currency == "USD"
    assert current.invoice_details.price_plan_name == "Growth"
    with tenant.http() as http:
        raw = http.get(f"/invoices/{current.id}").json()
    sub = next(
        line
        for line in raw["revenueInfo"]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"]
        if line["id"] == billed["sum"]
    )
    assert (sub["type"], sub["value"], sub["quantity"]) == ("USAGE_RATE_CARD_AMOUNT", 125, 150)
    assert [(s["quantity"], s["valuePerQuantity"], s["value"]) for s in sub["lineItems"]] == [
        (100, 1, 100),
        (50, 0.5, 25),
    ]
    assert raw["usageInfo"] == [
        {
            "id": billed["sum"],
            "description": "us_calls",
            "type": "USAGE_METER_USAGE",
            "quantity": 150,
            "value": 150,
            "lineItems": [],
        }
    ]

    # When a bill run is made, the two past cycles are finalized with gapless numbers
    assert sdk.invoices.create_invoice_bill_run().success is True
    done = acme_invoices(sdk)
    assert [(i.status, i.sequence_id, i.total_amount) for i in done] == [
        ("DUE", "INV-000001", 50),
        ("DUE", "INV-000002", 50),
        ("DRAFT", None, 175),
    ]
    assert done[0].invoice_date == datetime.combine(month_start(now, 1), datetime.min.time(), UTC)
    assert done[0].due_date == done[0].invoice_date  # net terms 0
    assert sdk.invoices.list_invoices_for_bill_run().data == []
    assert sdk.invoices.create_invoice_bill_run().success is True  # nothing left: numbers unchanged
    assert [i.sequence_id for i in acme_invoices(sdk)] == ["INV-000001", "INV-000002", None]

    # Then the finalized ones are frozen: no charges, no schedule change over their periods
    with pytest.raises(BadRequestException) as refused:
        sdk.invoices.manage_miscellaneous_charges_in_invoice(
            done[0].id, tc.ManageMiscellaneousChargesRequest(items=[tc.MiscellaneousCharge(name="Fee", value="5")])
        )
    assert "DUE" in message_of(refused.value) and "DRAFT" in message_of(refused.value)
    with pytest.raises(BadRequestException) as refused:
        sdk.accounts.update_pricing_schedule("acme", associate(billed["plan"], month_start(now, 2), OPEN))
    assert f"invoiced up to {month_start(now)}" in message_of(refused.value)

    # And the PDF reads back with the number, the parties and the lines
    with tenant.http() as http:
        pdf = http.get(f"/invoices/{done[0].id}/pdf")
        draft_pdf = http.get(f"/invoices/{done[2].id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "INV-000001" in text and "Acme Inc" in text and "USD 50.00" in text
    assert "DRAFT" in pdf_text(draft_pdf.content) and "USD 175.00" in pdf_text(draft_pdf.content)


def test_charges_status_changes_and_payments(tenant: Tenant, sdk: Sdk, billed: dict[str, str]) -> None:
    sdk.invoices.create_invoice_bill_run()
    first, second, current = acme_invoices(sdk)

    # Charges go on the ongoing invoice: value, rate x quantity, a share of a line (jsonLogic over line ids)
    items = [
        tc.MiscellaneousCharge(name="Setup", value="20"),
        tc.MiscellaneousCharge(name="Hours", rate=80, quantity=1.5),
        tc.MiscellaneousCharge(name="Support", value=f'{{"*": [{{"var": "{billed["fee"]}"}}, 0.1]}}'),
    ]
    answer = sdk.invoices.manage_miscellaneous_charges_in_account(
        "acme", tc.ManageMiscellaneousChargesRequest(items=items)
    )
    assert [c.name for c in answer.data] == ["Setup", "Hours", "Support"]
    assert sdk.invoices.get_invoice(current.id).total_amount == 50 + 20 + 120 + 5
    for bad, says in (
        (tc.MiscellaneousCharge(name="X", value="lots"), "neither a number nor jsonLogic"),
        (tc.MiscellaneousCharge(name="X", rate=3), "rate and quantity"),
        (tc.MiscellaneousCharge(name="X", value="1e20"), "value: '1e20' must be below 10^15"),
    ):
        with pytest.raises(BadRequestException) as refused:
            sdk.invoices.manage_miscellaneous_charges_in_account(
                "acme", tc.ManageMiscellaneousChargesRequest(items=[bad])
            )
        assert says in message_of(refused.value)
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.invoices.manage_miscellaneous_charges_in_account("nobody", tc.ManageMiscellaneousChargesRequest(items=[]))

    # Status changes (D12): DUE -> PAID; PAID is final
    paid = sdk.invoices.update_invoice(first.id, tc.UpdateInvoiceRequest(status="PAID"))
    assert (paid.status, paid.paid_amount) == ("PAID", 50)
    for status in ("VOID", "DUE"):
        with pytest.raises(BadRequestException) as refused:
            sdk.invoices.update_invoice(first.id, tc.UpdateInvoiceRequest(status=status))
        assert "final" in message_of(refused.value)
    with pytest.raises(BadRequestException) as refused:
        sdk.invoices.update_invoice(second.id, tc.UpdateInvoiceRequest(start_date=datetime(2024, 1, 1, tzinfo=UTC)))
    assert "only a DRAFT CUSTOM invoice" in message_of(refused.value)

    # A payment spread over the second invoice: 20.00 then 30.00
    payments = tc.PaymentsApi(sdk.client)

    def pay(amount: float, invoice_id: str = second.id) -> tc.Payment:
        return payments.create_payments(
            tc.CreatePaymentRequest(
                account_id="acme",
                currency="USD",
                total_amount=amount,
                external_payment_reference=tc.ExternalPaymentReference(
                    source_name="bank", source_type="BANK_TRANSFER", transaction_number=f"tx-{amount}"
                ),
                line_item_records=[
                    tc.PaymentLineItemRecord(type="INVOICE", togai_id=invoice_id, amount=amount, order=1)
                ],
            )
        )

    made = pay(20)
    assert (made.account_id, made.total_amount, made.currency, made.version) == ("acme", 20, "USD", 1)
    assert made.external_payment_references.transaction_number == "tx-20"
    after = sdk.invoices.get_invoice(second.id)
    assert (after.status, after.paid_amount) == ("PARTIALLY_PAID", 20)
    with pytest.raises(BadRequestException) as refused:
        pay(30.01)
    assert "more than the 30.00 still owed" in message_of(refused.value)
    pay(30)
    assert sdk.invoices.get_invoice(second.id).status == "PAID"
    with pytest.raises(BadRequestException) as refused:
        pay(1, current.id)
    assert "DRAFT" in message_of(refused.value)
    assert payments.get_payment(made.id).total_amount == 20
    assert [p.id for p in payments.list_payments().data][:1] == [made.id]
    with pytest.raises(NotFoundException, match=r"Payment pay\.nothing not found"):
        payments.get_payment("pay.nothing")


def test_custom_invoices(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    lines = [
        tc.CustomInvoiceLineItem(description="Consulting", value=10),
        tc.CustomInvoiceLineItem(description="Training", quantity=2, value_per_quantity=7.5),
    ]
    draft = sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(
            account_id="acme", start_date=start, end_date=end, status="DRAFT", line_items=lines, idempotency_key="k1"
        )
    )
    assert (draft.invoice_type, draft.status, draft.total_amount, draft.sequence_id) == ("CUSTOM", "DRAFT", 25, None)
    again = sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(
            account_id="acme",
            start_date=start,
            end_date=end,
            status="DRAFT",
            line_items=lines[:1],
            idempotency_key="k1",
        )
    )
    assert again.id == draft.id and again.total_amount == 25  # the same key gives the first invoice back
    edited = sdk.invoices.update_invoice(draft.id, tc.UpdateInvoiceRequest(line_items=lines[:1]))
    assert edited.total_amount == 10
    assert sdk.invoices.delete_custom_invoice(draft.id).success is True
    with pytest.raises(NotFoundException, match=f"Invoice {draft.id} not found"):
        sdk.invoices.get_invoice(draft.id)

    due = sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(account_id="acme", start_date=start, end_date=end, status="DUE", line_items=lines)
    )
    assert (due.status, due.sequence_id, due.total_amount) == ("DUE", "INV-000001", 25)
    with pytest.raises(BadRequestException) as refused:
        sdk.invoices.delete_custom_invoice(due.id)
    assert "only DRAFT CUSTOM invoices can be deleted" in message_of(refused.value)
    for body, says in (
        (
            {
                "accountId": "acme",
                "startDate": end.isoformat(),
                "endDate": start.isoformat(),
                "status": "DRAFT",
                "lineItems": [{"value": 1}],
            },
            "endDate must be after startDate",
        ),
        (
            {
                "accountId": "acme",
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "status": "DRAFT",
                "lineItems": [{"quantity": 1}],
            },
            "give value, or quantity and valuePerQuantity",
        ),
        (
            {
                "accountId": "acme",
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "status": "DRAFT",
                "lineItems": [],
            },
            "lineItems",
        ),
        (
            {
                "accountId": "acme",
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "status": "DRAFT",
                "lineItems": [{"quantity": 1e300, "valuePerQuantity": 1e300}],
            },
            "below 10^15",
        ),
    ):
        with tenant.http() as http:
            r = http.post("/invoices", json=body)
        assert r.status_code == 400 and says in r.json()["message"], r.text
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.invoices.create_custom_invoice(
            tc.CreateCustomInvoiceRequest(
                account_id="nobody", start_date=start, end_date=end, status="DRAFT", line_items=lines
            )
        )
    assert sdk.invoices.list_pricing_rule_logs(due.id).data == []


def test_a_bill_run_can_wait_for_confirmation(sdk: Sdk, billed: dict[str, str]) -> None:
    sdk.invoices.create_invoice_bill_run(require_confirmation=True)
    [job] = [j for j in sdk.jobs.get_jobs().data if j.type == "BILL_RUN"]
    assert job.status == "WAITING_FOR_CONFIRMATION"
    assert [i.status for i in acme_invoices(sdk)] == ["DRAFT"] * 3
    sdk.jobs.confirm_job(job.id)
    assert [i.sequence_id for i in acme_invoices(sdk)] == ["INV-000001", "INV-000002", None]


def test_other_organizations_see_no_invoices(sdk: Sdk, other_sdk: Sdk, billed: dict[str, str]) -> None:
    sdk.invoices.create_invoice_bill_run()
    [first, *_] = acme_invoices(sdk)
    with pytest.raises(NotFoundException, match=f"Invoice {first.id} not found"):
        other_sdk.invoices.get_invoice(first.id)
    assert other_sdk.invoices.list_invoices().data == []
    other_sdk.invoices.create_invoice_bill_run()
    assert sdk.invoices.get_invoice(first.id).sequence_id == "INV-000001"
    assert Decimal(str(sdk.invoices.get_invoice(first.id).total_amount)) == Decimal("50")
