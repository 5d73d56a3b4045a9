"""The invoice PDF, read back with pypdf: what a customer must find on it is there."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pypdf

from meterline.console import words
from meterline.core.money import display
from meterline.invoicing.pdf import (
    Total,
    bill_to_lines,
    day_text,
    latin1,
    money_text,
    quantity_text,
    render_invoice_pdf,
    rows,
    table_rows,
    totals,
    unit_price_text,
)

UTC = timezone.utc
D = Decimal


def line(
    line_id: str,
    description: str,
    line_type: str,
    value: str,
    children: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": line_id,
        "description": description,
        "type": line_type,
        "value": D(value),
        "lineItems": children or [],
        **extra,
    }


def invoice_of(revenue: dict[str, Any], total: str, **changes: Any) -> dict[str, Any]:
    invoice = {
        "id": "inv.01test",
        "sequenceId": "INV-000042",
        "status": "DUE",
        "invoiceType": "STANDARD",
        "startDate": datetime(2024, 3, 1, tzinfo=UTC),
        "endDate": datetime(2024, 4, 1, tzinfo=UTC),
        "endDateInclusive": datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "invoiceDate": datetime(2024, 4, 6, tzinfo=UTC),
        "dueDate": datetime(2024, 4, 21, tzinfo=UTC),
        "totalAmount": D(total),
        "paidAmount": D("0"),
        "netTermDays": 15,
        "pricePlanId": "pp.1",
        "invoiceDetails": {
            "customer": {
                "name": "Acme Inc",
                "primaryEmail": "billing@acme.test",
                "billingAddress": "1 Road, Springfield",
            },
            "account": {
                "name": "Acme main",
                "invoiceCurrency": "USD",
                "primaryEmail": "ap@acme.test",
                "address": {"line1": "1 Road", "city": "Springfield", "zipcode": "12345", "country": "US"},
            },
            "pricePlanName": "Growth",
            "organization": {
                "businessName": "Meterline Demo Ltd",
                "primaryEmail": "ar@demo.test",
                "address": {
                    "line1": "9 Quay Street",
                    "postalCode": "D02 X285",
                    "city": "Dublin",
                    "state": None,
                    "country": "IE",
                },
            },
        },
        "revenueInfo": revenue,
        "usageInfo": [line("um.calls", "API calls", "USAGE_METER_USAGE", "150", quantity=D(150))],
    }
    invoice.update(changes)
    return invoice


def standard(**changes: Any) -> dict[str, Any]:
    """Tiered usage (2 slabs), a fixed fee, a true-up, a charge and a negative (discount) charge."""
    usage = line(
        "um.calls",
        "API calls",
        "USAGE_RATE_CARD_AMOUNT",
        "125.00",
        [
            line(
                "um.calls:slab:1",
                "API calls: slab 1 (above 0)",
                "USAGE_RATE_CARD_SLAB_AMOUNT",
                "100.00",
                quantity=D(100),
                valuePerQuantity=D("1.00"),
            ),
            line(
                "um.calls:slab:2",
                "API calls: slab 2 (above 100)",
                "USAGE_RATE_CARD_SLAB_AMOUNT",
                "25.00",
                quantity=D(50),
                valuePerQuantity=D("0.50"),
            ),
        ],
        quantity=D(150),
    )
    fee = line(
        "addon.fee", "Platform fee", "FIXED_FEE_RATE_CARD_AMOUNT", "300.00", quantity=D(1), valuePerQuantity=D("300.00")
    )
    sub = line("SUB_TOTAL_AMOUNT", "Subtotal", "SUB_TOTAL_AMOUNT", "425.00", [usage, fee])
    true_up = line("TRUE_UP_AMOUNT", "Monthly commitment", "TRUE_UP_AMOUNT", "75.00")
    plan = line("PRICE_PLAN_AMOUNT", "Price plan amount", "PRICE_PLAN_AMOUNT", "500.00", [sub, true_up])
    gross = line("GROSS_AMOUNT", "Gross", "GROSS_AMOUNT", "500.00", [plan])
    net = line("NET_AMOUNT", "Net", "NET_AMOUNT", "500.00", [gross])
    charges = line(
        "TOTAL_MISCELLANEOUS_CHARGES",
        "Charges",
        "TOTAL_MISCELLANEOUS_CHARGES",
        "1234.50",
        [
            line("MISCELLANEOUS_CHARGE:1", "Onboarding workshop", "MISCELLANEOUS_CHARGE", "1254.50"),
            line("MISCELLANEOUS_CHARGE:2", "Goodwill discount", "MISCELLANEOUS_CHARGE", "-20.00"),
        ],
    )
    return invoice_of(line("TOTAL_AMOUNT", "Total", "TOTAL_AMOUNT", "1734.50", [net, charges]), "1734.50", **changes)


def custom(**changes: Any) -> dict[str, Any]:
    items = [
        line(
            "CUSTOM_AMOUNT:1",
            "Implementation services, phase 1",
            "CUSTOM_AMOUNT",
            "12000.00",
            quantity=D(80),
            valuePerQuantity=D("150.00"),
        ),
        line("CUSTOM_AMOUNT:2", "Travel expenses", "CUSTOM_AMOUNT", "845.25"),
    ]
    gross = line("GROSS_AMOUNT", "Gross", "GROSS_AMOUNT", "12845.25", items)
    net = line("NET_AMOUNT", "Net", "NET_AMOUNT", "12845.25", [gross])
    invoice = invoice_of(
        line("TOTAL_AMOUNT", "Total", "TOTAL_AMOUNT", "12845.25", [net]),
        "12845.25",
        invoiceType="CUSTOM",
        pricePlanId=None,
        usageInfo=None,
        **changes,
    )
    invoice["invoiceDetails"]["pricePlanName"] = None
    invoice["invoiceDetails"]["account"]["invoiceCurrency"] = "EUR"
    return invoice


def text_of(data: bytes) -> tuple[str, list[str]]:
    """All the text, whitespace collapsed, and each page's."""
    pages = [" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(data)).pages]
    return " ".join(pages), pages


def descriptions(node: dict[str, Any]) -> list[str]:
    return [row["description"] for row, _depth in table_rows(node)]


def test_a_standard_invoice_shows_parties_period_lines_and_totals() -> None:
    invoice = standard()
    text, pages = text_of(render_invoice_pdf(invoice))
    assert len(pages) == 1
    for expected in (
        "INVOICE",
        "Number INV-000042",
        "Status Due",
        "Meterline Demo Ltd",
        "9 Quay Street",
        "D02 X285 Dublin",
        "ar@demo.test",
        "Acme Inc",
        "Account: Acme main",
        "ap@acme.test",
        "12345 Springfield",
        "Price plan: Growth",
        "Invoice date 2024-04-06",
        "Due date 2024-04-21",
        "Period 2024-03-01 to 2024-03-31",
        "Description Quantity Unit price Amount",
        "API calls 150 USD 125.00",
        "API calls: slab 2 (above 100) 50 USD 0.50 USD 25.00",
        "Platform fee 1 USD 300.00 USD 300.00",
        "Monthly commitment USD 75.00",
        "Charges Onboarding workshop USD 1,254.50",
        "Goodwill discount USD -20.00",
        "Subtotal USD 425.00",
        "Minimum commitment true-up USD 75.00",
        "Charges USD 1,234.50",
        "Total USD 1,734.50",
        "Paid USD 0.00",
        "Amount due USD 1,734.50",
        "USAGE API calls 150",
        "Invoice inv.01test",
        "Page 1/1",
    ):
        assert expected in text, expected
    for description in descriptions(invoice["revenueInfo"]):
        assert description in text, description
    # aggregates are totals, not rows
    assert "Price plan amount" not in text and "Gross" not in text and "Net" not in text


def test_credits_partial_payment_and_in_advance_fees() -> None:
    advanced = line(
        "TOTAL_ADVANCED_FEES",
        "Fees billed in advance",
        "TOTAL_ADVANCED_FEES",
        "1000.00",
        [
            line(
                "seats",
                "Seats",
                "ADVANCED_LICENSE_RATE_CARD_AMOUNT",
                "1000.00",
                [
                    line(
                        "seats:slab:1",
                        "Seats: slab 1",
                        "LICENSE_RATE_CARD_SLAB_AMOUNT",
                        "1000.00",
                        quantity=D(10),
                        valuePerQuantity=D("100"),
                    )
                ],
            )
        ],
    )
    sub = line("SUB_TOTAL_AMOUNT", "Subtotal", "SUB_TOTAL_AMOUNT", "1000.00", [advanced])
    plan = line(
        "PRICE_PLAN_AMOUNT",
        "Price plan amount",
        "PRICE_PLAN_AMOUNT",
        "1000.00",
        [sub, line("TRUE_UP_AMOUNT", "Commitment", "TRUE_UP_AMOUNT", "0.00")],
    )
    gross = line(
        "GROSS_AMOUNT",
        "Gross",
        "GROSS_AMOUNT",
        "0.00",
        [plan, line("INVOICED_IN_ADVANCE", "Invoiced in advance", "CUSTOM_AMOUNT", "-1000.00")],
    )
    credits = line(
        "TOTAL_CREDITS",
        "Credits",
        "TOTAL_CREDITS",
        "-0.00",
        [line("SUB_CREDITS:c1", "Welcome credit", "SUB_CREDITS", "-0.00")],
    )
    net = line("NET_AMOUNT", "Net", "NET_AMOUNT", "0.00", [gross, credits])
    usage = line(
        "um.calls", "API calls", "USAGE_RATE_CARD_AMOUNT", "37.50", quantity=D("25000"), valuePerQuantity=D("0.0015")
    )
    sub["lineItems"].insert(0, usage)
    text, _ = text_of(
        render_invoice_pdf(
            invoice_of(
                line("TOTAL_AMOUNT", "Total", "TOTAL_AMOUNT", "37.50", [net]),
                "37.50",
                paidAmount=D("12.5"),
                status="PARTIALLY_PAID",
            )
        )
    )
    for expected in (
        "Seats USD 1,000.00",
        "Seats: slab 1 10 USD 100.00 USD 1,000.00",
        "Invoiced in advance USD -1,000.00",
        "Welcome credit USD 0.00",
        "Credits USD 0.00",
        "API calls 25,000 USD 0.0015 USD 37.50",
        "Total USD 37.50",
        "Paid USD 12.50",
        "Amount due USD 25.00",
        "Status Partially paid",
    ):
        assert expected in text, expected
    assert "true-up" not in text  # a zero true-up is left out
    assert "Fees billed in advance" not in text


def test_a_credits_total_without_children_is_listed_itself() -> None:
    tree = line(
        "TOTAL_AMOUNT",
        "Total",
        "TOTAL_AMOUNT",
        "5",
        [
            line(
                "NET_AMOUNT",
                "Net",
                "NET_AMOUNT",
                "5",
                [
                    line(
                        "GROSS_AMOUNT",
                        "Gross",
                        "GROSS_AMOUNT",
                        "15",
                        [line("x", "Fee", "FIXED_FEE_RATE_CARD_AMOUNT", "15")],
                    ),
                    line("TOTAL_CREDITS", "Credits applied", "TOTAL_CREDITS", "-10"),
                ],
            )
        ],
    )
    assert descriptions(tree) == ["Fee", "Credits applied"]


def test_a_draft_says_so_and_the_same_invoice_gives_the_same_bytes() -> None:
    draft = standard(sequenceId=None, status="DRAFT", dueDate=None)
    data = render_invoice_pdf(draft)
    text, _ = text_of(data)
    assert "INVOICE (DRAFT)" in text and "Number Draft" in text and "INV-" not in text and "Due date" not in text
    assert pypdf.PdfReader(io.BytesIO(data)).metadata.title == "Invoice inv.01test"
    assert render_invoice_pdf(standard()) == render_invoice_pdf(standard())
    assert render_invoice_pdf(draft) == data


def test_a_custom_invoice_in_euros() -> None:
    data = render_invoice_pdf(custom())
    text, _ = text_of(data)
    for expected in (
        "Number INV-000042",
        "Implementation services, phase 1 80 EUR 150.00 EUR 12,000.00",
        "Travel expenses EUR 845.25",
        "Total EUR 12,845.25",
        "Amount due EUR 12,845.25",
    ):
        assert expected in text, expected
    assert "Subtotal" not in text and "USAGE" not in text and "Price plan" not in text and "USD" not in text
    metadata = pypdf.PdfReader(io.BytesIO(data)).metadata
    assert metadata.title == "Invoice INV-000042" and metadata.author == "Meterline Demo Ltd"


def test_long_invoices_continue_on_new_pages_with_every_line() -> None:
    slabs = [
        line(
            f"um.x:slab:{i}",
            f"Slab number {i}",
            "USAGE_RATE_CARD_SLAB_AMOUNT",
            "1.00",
            quantity=D(1),
            valuePerQuantity=D(1),
        )
        for i in range(1, 201)
    ]
    invoice = standard()
    invoice["revenueInfo"]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"][0]["lineItems"][0][
        "lineItems"
    ] = slabs
    text, pages = text_of(render_invoice_pdf(invoice))
    assert len(pages) > 2 and all(f"Page {n}/{len(pages)}" in page for n, page in enumerate(pages, 1))
    assert all(f"Slab number {i} 1 USD 1.00 USD 1.00" in text for i in range(1, 201))
    for page in pages:  # the header row on every page the table runs over
        if "Slab number" in page:
            assert page.count("Description Quantity Unit price Amount") == 1
    assert "Amount due USD 1,734.50" in pages[-1] or "Amount due USD 1,734.50" in pages[-2]


def test_long_descriptions_wrap_instead_of_being_cut() -> None:
    words = " ".join(f"word{i}" for i in range(40))
    invoice = custom()
    invoice["revenueInfo"]["lineItems"][0]["lineItems"][0]["lineItems"][1]["description"] = words
    text, _ = text_of(render_invoice_pdf(invoice))
    assert words in text and "EUR 845.25" in text


def test_text_outside_latin1_and_currencies_without_cents() -> None:
    invoice = standard()
    invoice["invoiceDetails"]["customer"]["name"] = "Zoë Łódź ☃ 株式会社"
    invoice["invoiceDetails"]["organization"]["businessName"] = "Café ☃ Ltd"
    invoice["revenueInfo"]["lineItems"][1]["lineItems"][0]["description"] = "Atelier Ørsted – “Noël” ✓"
    invoice["invoiceDetails"]["account"]["invoiceCurrency"] = "JPY"
    data = render_invoice_pdf(invoice)
    text, _ = text_of(data)
    assert "Zoë Lódz ? ????" in text and "Café ? Ltd" in text and 'Atelier Ørsted - "Noël" ?' in text
    # exact, as the console writes it: a yen amount shows no decimals unless it has some (the fixture's 1734.50
    # is not a real yen amount: amounts are rounded to the minor unit where they are made, D1)
    assert "Total JPY 1,734.5 " in text and "Platform fee 1 JPY 300 JPY 300" in text and "JPY 25 " in text
    assert pypdf.PdfReader(io.BytesIO(data)).metadata.author == "Café ? Ltd"
    assert latin1("Ça coûte 5 € – n’est-ce pas ✓") == "Ça coûte 5 EUR - n'est-ce pas ?" and latin1(None) == ""
    assert latin1("Ｆｕｌｌ ﬁ ½ Ǆ ١") == "Full fi ½ DZ ?"  # NFKD: compatibility forms, their Latin-1 part


def test_amount_quantity_and_date_formats() -> None:
    # one format with the console (core.money.display): the sign on the number, exact, never rounded
    assert money_text(D("-1234.5"), "KWD") == "KWD -1,234.500" and money_text(D("0.005"), "USD") == "USD 0.005"
    assert money_text(D("1200"), "JPY") == "JPY 1,200" and money_text(D("12"), "EUR") == "EUR 12.00"
    assert money_text(D("-0.001"), "USD") == "USD -0.001" and money_text(D("1E+3"), "USD") == "USD 1,000.00"
    assert money_text(D("-0.00"), "USD") == "USD 0.00" and money_text(None, "USD") == ""
    assert money_text(D("12345678901234567890123456789.995"), "USD") == "USD 12,345,678,901,234,567,890,123,456,789.995"
    for value, currency in ((D("-25"), "USD"), (D("0.00025"), "USD"), (D("1536150.5"), "EUR"), (D("7"), "JPY")):
        assert money_text(value, currency) == words.money(value, currency) == display(value, currency)
        assert unit_price_text(value, currency) == words.rate(value, currency)
        assert quantity_text(value) == words.quantity(value)
    assert money_text(D("5"), "XYZ") == "XYZ 5.00"  # unknown code: two decimals rather than no PDF
    assert unit_price_text(D("0.000125"), "USD") == "USD 0.000125" and unit_price_text(D("2.5"), "JPY") == "JPY 2.5"
    assert unit_price_text(D("3"), "USD") == "USD 3.00"
    assert quantity_text(D("1E+3")) == "1,000" and quantity_text(D("1234.5000")) == "1,234.5"
    assert quantity_text(D("-0.5")) == "-0.5" and quantity_text(D("-1234567")) == "-1,234,567"
    assert quantity_text(D("1E-7")) == "0.0000001" and quantity_text(D("0E+2")) == "0"
    long = "1234567890123456789012345678901234.5678"
    assert quantity_text(D(long)) == "1,234,567,890,123,456,789,012,345,678,901,234.5678"
    tokyo = timezone(timedelta(hours=9))
    assert day_text(datetime(2024, 4, 1, 5, tzinfo=tokyo)) == "2024-03-31" and day_text(None) == ""
    # in the organization's time zone: its cycles start at local midnights
    assert day_text(datetime(2024, 3, 31, 18, 30, tzinfo=timezone.utc), "Asia/Kolkata") == "2024-04-01"
    assert day_text(datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), "Asia/Kolkata") == "9999-12-31"


def test_rows_put_charges_under_their_heading_and_totals_follow_the_pdf() -> None:
    invoice = standard()
    listed = [(r.line["description"], r.depth, r.heading) for r in rows(invoice["revenueInfo"])]
    assert listed == [
        ("API calls", 0, None),
        ("API calls: slab 1 (above 0)", 1, None),
        ("API calls: slab 2 (above 100)", 1, None),
        ("Platform fee", 0, None),
        ("Monthly commitment", 0, None),
        ("Onboarding workshop", 0, "Charges"),
        ("Goodwill discount", 0, None),
    ]
    assert totals(invoice) == [
        Total("Subtotal", D("425.00")),
        Total("Minimum commitment true-up", D("75.00")),
        Total("Charges", D("1234.50")),
        Total("Total", D("1734.50"), True),
        Total("Paid", D("0")),
        Total("Amount due", D("1734.50"), True),
    ]


def test_the_wallet_is_its_own_total_line_and_a_void_invoice_owes_nothing() -> None:
    # finalized: the wallet paid 100.00 of the 130.00 paid; the rest came from a payment
    paid = standard(status="PARTIALLY_PAID", paidAmount=D("130.00"))
    assert [(t.label, t.amount) for t in totals(paid, D("100.00"))][-4:] == [
        ("Total", D("1734.50")),
        ("Paid from wallet", D("100.00")),
        ("Other payments", D("30.00")),
        ("Amount due", D("1604.50")),
    ]
    text, _ = text_of(render_invoice_pdf(paid, wallet=D("100.00")))
    assert "Total USD 1,734.50 Paid from wallet USD 100.00 Other payments USD 30.00 Amount due USD 1,604.50" in text
    # a draft: what the wallet holds for it is what finalizing takes; nothing is paid yet
    draft = standard(status="DRAFT", sequenceId=None)
    assert [(t.label, t.amount) for t in totals(draft, D("500"))][-3:] == [
        ("Wallet (on hold)", D("500")),
        ("Other payments", D("0")),
        ("Amount due", D("1234.50")),
    ]
    assert totals(standard(status="VOID", paidAmount=D("30.00")))[-1] == Total("Amount due", D("0"), True)


def test_bill_to_names_the_account_only_when_it_is_not_the_customer() -> None:
    details = standard()["invoiceDetails"]
    assert bill_to_lines(details)[:2] == ["Account: Acme main", "ap@acme.test"]
    details["account"]["name"] = "Acme Inc"
    assert bill_to_lines(details)[0] == "ap@acme.test"
    text, _ = text_of(render_invoice_pdf(standard(invoiceDetails=details)))
    assert "Account:" not in text and text.count("Acme Inc") == 1
