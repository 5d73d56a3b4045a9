"""The invoice page's "Mark paid" form (console/invoice_pages.py), pure and without database: what was typed into a
payment (amount, day received, method, reference) or the mistakes in words, each for its field; and the payment
into the request the API's `POST /payments` takes, so the console records it through the same service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from meterline.core import numbers
from meterline.core.money import CURRENCIES, display
from meterline.payments.schemas import CreatePaymentRequest

METHODS = {
    "BANK_TRANSFER": "Bank transfer",
    "CARD": "Card",
    "CASH": "Cash",
    "CHEQUE": "Cheque",
    "GATEWAY": "Payment gateway",
}
SOURCE = "Meterline console"  # the payment's externalPaymentReference.sourceName
MAX_REFERENCE = 255


@dataclass(frozen=True)
class PaymentForm:
    amount: Decimal
    day: date
    method: str
    reference: str


def _amount(text: str, currency: str, due: Decimal) -> Decimal | str:
    if not text.strip():
        return f"Enter the amount received, up to the {display(due, currency)} due"
    try:
        amount = numbers.parse(text)
    except numbers.NumberError as exc:
        return str(exc)[:1].upper() + str(exc)[1:]
    digits = CURRENCIES.get(currency, 2)
    if amount <= 0:
        return "Enter an amount above 0"
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        return (
            f"{currency} has no decimals: enter a whole amount"
            if digits == 0
            else f"{currency} has {digits} decimals: enter at most {digits} digits after the point"
        )
    if amount > due:
        return f"At most {display(due, currency)} is due on this invoice"
    return amount


def _day(text: str, today: date) -> date | str:
    if not text.strip():
        return "Pick the day the payment was received"
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return f"Pick a day from the calendar (YYYY-MM-DD), not '{text.strip()[:20]}'"
    if day > today:
        return f"A payment cannot be received in the future: pick today ({today.isoformat()}) or an earlier day"
    return day


def read_payment(
    *, amount: str, day: str, method: str, reference: str, currency: str, due: Decimal, today: date
) -> tuple[PaymentForm | None, dict[str, str]]:
    """The payment typed, or None and {field: mistake in words}. `due`: what the invoice still waits for; `today`:
    the organization's day (a payment is never dated after it)."""
    errors: dict[str, str] = {}
    parsed_amount = _amount(amount, currency, due)
    if isinstance(parsed_amount, str):
        errors["amount"] = parsed_amount
    parsed_day = _day(day, today)
    if isinstance(parsed_day, str):
        errors["day"] = parsed_day
    if method not in METHODS:
        errors["method"] = "Pick how the payment was made"
    if len(reference.strip()) > MAX_REFERENCE:
        errors["reference"] = f"At most {MAX_REFERENCE} characters, please"
    if errors or isinstance(parsed_amount, str) or isinstance(parsed_day, str):
        return None, errors
    return PaymentForm(parsed_amount, parsed_day, method, reference.strip()), {}


def payment_request(
    form: PaymentForm, *, account_id: str, invoice_id: str, invoice_number: str, currency: str
) -> CreatePaymentRequest:
    """The body `POST /api/payments` takes for this payment of one invoice: the day it was received is kept in the
    reference's metadata (`paidOn`) and its description."""
    return CreatePaymentRequest.model_validate(
        {
            "accountId": account_id,
            "currency": currency,
            "totalAmount": form.amount,
            "description": f"Payment of {invoice_number}, received {form.day.isoformat()}",
            "externalPaymentReference": {
                "sourceName": SOURCE,
                "sourceType": form.method,
                "transactionNumber": form.reference or f"{invoice_number} {form.day.isoformat()}",
                "metadata": {"paidOn": form.day.isoformat(), "invoiceId": invoice_id},
            },
            "lineItemRecords": [{"type": "INVOICE", "togaiId": invoice_id, "amount": form.amount, "order": 1}],
        }
    )
