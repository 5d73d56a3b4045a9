"""The invoice PDF, read back with pypdf: what a customer must find on it is there."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pypdf

from meterline.invoicing.pdf import latin1, money_text, quantity_text, render_invoice_pdf

UTC = timezone.utc
D = Decimal


def line(line_id: str, description: str, line_type: str, value: str, children: list[dict[str, Any]] | None = None,
         **extra: Any) -> dict[str, Any]:
    return {"id": line_id, "description": description, "type": line_type, "value": D(value),
            "lineItems": children or [], **extra}


def standard(**changes: Any) -> dict[str, Any]:
    usage = line("um.calls", "API calls", "USAGE_RATE_CARD_AMOUNT", "125.00", [
        line("um.calls:slab:1", "API calls: slab 1 (above 0)", "USAGE_RATE_CARD_SLAB_AMOUNT", "100.00",
             quantity=D(100), valuePerQuantity=D("1.00")),
        line("um.calls:slab:2", "API calls: slab 2 (above 100)", "USAGE_RATE_CARD_SLAB_AMOUNT", "25.00",
             quantity=D(50), valuePerQuantity=D("0.50"))], quantity=D(150))
    fee = line("addon.fee", "Platform fee", "FIXED_FEE_RATE_CARD_AMOUNT", "300.00", quantity=D(1), valuePerQuantity=D("300.00"))
    sub = line("SUB_TOTAL_AMOUNT", "Subtotal", "SUB_TOTAL_AMOUNT", "425.00", [usage, fee])
    true_up = line("TRUE_UP_AMOUNT", "Monthly commitment", "TRUE_UP_AMOUNT", "75.00")
    plan = line("PRICE_PLAN_AMOUNT", "Price plan amount", "PRICE_PLAN_AMOUNT", "500.00", [sub, true_up])
    gross = line("GROSS_AMOUNT", "Gross", "GROSS_AMOUNT", "500.00", [plan])
    net = line("NET_AMOUNT", "Net", "NET_AMOUNT", "500.00", [gross])
    charges = line("TOTAL_MISCELLANEOUS_CHARGES", "Charges", "TOTAL_MISCELLANEOUS_CHARGES", "1234.50", [
        line("MISCELLANEOUS_CHARGE:1", "Onboarding workshop", "MISCELLANEOUS_CHARGE", "1254.50"),
        line("MISCELLANEOUS_CHARGE:2", "Goodwill discount", "MISCELLANEOUS_CHARGE", "-20.00")])
    invoice = {
        "id": "inv.01test", "sequenceId": "INV-000042", "status": "DUE", "invoiceType": "STANDARD",
        "startDate": datetime(2024, 3, 1, tzinfo=UTC), "endDate": datetime(2024, 4, 1, tzinfo=UTC),
        "endDateInclusive": datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC),
        "invoiceDate": datetime(2024, 4, 6, tzinfo=UTC), "dueDate": datetime(2024, 4, 21, tzinfo=UTC),
        "totalAmount": D("1734.50"), "paidAmount": D("0"), "netTermDays": 15, "pricePlanId": "pp.1",
        "invoiceDetails": {
            "customer": {"name": "Acme Inc", "primaryEmail": "billing@acme.test", "billingAddress": "1 Road, Springfield"},
            "account": {"name": "Acme main", "invoiceCurrency": "USD", "primaryEmail": "billing@acme.test",
                        "address": {"line1": "1 Road", "city": "Springfield", "country": "US"}},
            "pricePlanName": "Growth",
            "organization": {"businessName": "Meterline Demo Ltd", "primaryEmail": "ar@demo.test", "address": {}},
        },
        "revenueInfo": line("TOTAL_AMOUNT", "Total", "TOTAL_AMOUNT", "1734.50", [net, charges]),
        "usageInfo": [line("um.calls", "API calls", "USAGE_METER_USAGE", "150", quantity=D(150))],
    }
    invoice.update(changes)
    return invoice


def text_of(data: bytes) -> tuple[str, int]:
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(p.extract_text().split()) for p in pages), len(pages)


def test_a_standard_invoice_shows_parties_period_lines_and_totals() -> None:
    text, pages = text_of(render_invoice_pdf(standard()))
    assert pages == 1
    for expected in ("INVOICE", "INV-000042", "Meterline Demo Ltd", "Acme Inc", "Account: Acme main", "Growth",
                     "2024-03-01 to 2024-03-31", "2024-04-06", "2024-04-21", "API calls: slab 2 (above 100)",
                     "USD 0.50", "USD 25.00", "Platform fee", "USD 300.00", "Monthly commitment", "USD 75.00",
                     "Onboarding workshop", "USD 1,254.50", "Goodwill discount", "-USD 20.00", "Subtotal", "USD 425.00",
                     "Minimum commitment true-up", "Amount due", "USD 1,734.50", "USAGE"):
        assert expected in text, expected


def test_a_draft_says_so_and_the_same_invoice_gives_the_same_bytes() -> None:
    draft = standard(sequenceId=None, status="DRAFT")
    text, _ = text_of(render_invoice_pdf(draft))
    assert "INVOICE (DRAFT)" in text and "INV-" not in text
    assert render_invoice_pdf(standard()) == render_invoice_pdf(standard())


def test_long_invoices_continue_on_new_pages_with_every_line() -> None:
    slabs = [line(f"um.x:slab:{i}", f"Slab number {i}", "USAGE_RATE_CARD_SLAB_AMOUNT", "1.00", quantity=D(1),
                  valuePerQuantity=D(1)) for i in range(1, 201)]
    invoice = standard()
    invoice["revenueInfo"]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"] = slabs
    text, pages = text_of(render_invoice_pdf(invoice))
    assert pages > 2 and f"Page {pages}/{pages}" in text
    assert all(f"Slab number {i} " in text + " " for i in range(1, 201))
    assert text.count("Unit price") == pages  # the header row on every page the table runs over


def test_text_outside_latin1_and_currencies_without_cents() -> None:
    invoice = standard()
    invoice["invoiceDetails"]["customer"]["name"] = "Zoë Łódź ☃ 株式会社"
    invoice["invoiceDetails"]["account"]["invoiceCurrency"] = "JPY"
    text, _ = text_of(render_invoice_pdf(invoice))
    assert "Zoë ?ódz ? ????" in text and "JPY 1,735" in text and "JPY 300 " in text + " "
    assert latin1("Ça coûte 5 €") == "Ça coûte 5 ?"
    assert money_text(D("-1234.5"), "KWD") == "-KWD 1,234.500" and money_text(D("0.005"), "USD") == "USD 0.01"
    assert quantity_text(D("1E+3")) == "1,000" and quantity_text(D("1234.5000")) == "1,234.5"
