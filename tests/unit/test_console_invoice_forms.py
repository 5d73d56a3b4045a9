"""The invoice page's "Mark paid" form (console/invoice_forms.py): what was typed into a payment, or each mistake in
words next to its field; and the payment as the body POST /api/payments takes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from meterline.console.invoice_forms import payment_request, read_payment

TODAY = date(2026, 12, 2)


def read(amount: str = "30", day: str = "2026-12-01", method: str = "BANK_TRANSFER", reference: str = "", **kw: object):
    options = {"currency": "USD", "due": D("80.00"), "today": TODAY, **kw}
    return read_payment(amount=amount, day=day, method=method, reference=reference, **options)  # type: ignore[arg-type]


def test_a_payment_is_read_exactly() -> None:
    form, errors = read("1,234.5", due=D("5000.00"), reference="  TX-42  ")
    assert errors == {} and form is not None
    assert (form.amount, form.day, form.method, form.reference) == (
        D("1234.5"),
        date(2026, 12, 1),
        "BANK_TRANSFER",
        "TX-42",
    )
    assert read(amount="80.00", day="2026-12-02")[0] is not None  # the whole amount due, today


@pytest.mark.parametrize(
    ("typed", "field", "said"),
    [
        ({"amount": ""}, "amount", "Enter the amount received, up to the USD 80.00 due"),
        ({"amount": "thirty"}, "amount", "Enter a number, such as 25 or 19.99"),
        ({"amount": "0"}, "amount", "Enter an amount above 0"),
        ({"amount": "-5"}, "amount", "Enter an amount above 0"),
        ({"amount": "30.005"}, "amount", "USD has 2 decimals: enter at most 2 digits after the point"),
        ({"amount": "80.01"}, "amount", "At most USD 80.00 is due on this invoice"),
        ({"amount": "1e400"}, "amount", "Must be below 10^15 in magnitude"),
        ({"amount": "5.5", "currency": "JPY", "due": D("100")}, "amount", "JPY has no decimals: enter a whole amount"),
        ({"day": ""}, "day", "Pick the day the payment was received"),
        ({"day": "2026-02-30"}, "day", "Pick a day from the calendar (YYYY-MM-DD), not '2026-02-30'"),
        (
            {"day": "2026-12-03"},
            "day",
            "A payment cannot be received in the future: pick today (2026-12-02) or an earlier day",
        ),
        ({"method": "BITCOIN"}, "method", "Pick how the payment was made"),
        ({"reference": "x" * 256}, "reference", "At most 255 characters, please"),
    ],
)
def test_each_mistake_is_said_next_to_its_field(typed: dict[str, object], field: str, said: str) -> None:
    form, errors = read(**typed)  # type: ignore[arg-type]
    assert form is None and errors == {field: said}


def test_every_mistake_at_once() -> None:
    form, errors = read(amount="", day="tomorrow", method="", reference="y" * 300)
    assert form is None and set(errors) == {"amount", "day", "method", "reference"}


def test_the_payment_is_the_apis_body_for_one_invoice() -> None:
    form, _ = read(amount="30", reference="")
    assert form is not None
    body = payment_request(form, account_id="acme", invoice_id="inv.1", invoice_number="INV-000002", currency="USD")
    assert body.model_dump(by_alias=True, exclude_none=True) == {
        "accountId": "acme",
        "currency": "USD",
        "totalAmount": D("30"),
        "description": "Payment of INV-000002, received 2026-12-01",
        "externalPaymentReference": {
            "sourceName": "Meterline console",
            "sourceType": "BANK_TRANSFER",
            "transactionNumber": "INV-000002 2026-12-01",
            "metadata": {"paidOn": "2026-12-01", "invoiceId": "inv.1"},
        },
        "lineItemRecords": [{"type": "INVOICE", "togaiId": "inv.1", "amount": D("30"), "order": 1}],
    }
