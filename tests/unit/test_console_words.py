"""How the console writes values (console/words.py): exact money and rates, grouped quantities, statuses in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from meterline.console import words

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (D("1234.5"), "USD", "USD 1,234.50"),
        (D("-25"), "USD", "USD -25.00"),
        (D("1234"), "JPY", "JPY 1,234"),
        (D("0.00025"), "USD", "USD 0.00025"),
        (D("-1234.5"), "KWD", "KWD -1,234.500"),
        (D("0E-12"), "USD", "USD 0.00"),
        (None, "USD", "—"),
        (0, "USD", "USD 0.00"),
    ],
)
def test_money_is_exact_with_the_sign_on_the_number(value: D | int | None, currency: str, text: str) -> None:
    assert words.money(value, currency) == text


@pytest.mark.parametrize(
    ("value", "text"), [(D("1536150"), "1,536,150"), (D("0.5"), "0.5"), (D("12000.125"), "12,000.125"), (7, "7")]
)
def test_quantities_are_grouped_and_keep_every_digit(value: D | int, text: str) -> None:
    assert words.quantity(value) == text


@pytest.mark.parametrize(
    ("status", "due", "label", "tone"),
    [
        ("DRAFT", None, "Draft", "draft"),
        ("DUE", NOW + timedelta(days=3), "Due", "open"),
        ("DUE", NOW - timedelta(days=12), "Overdue · 12 days", "overdue"),
        ("DUE", NOW - timedelta(hours=2), "Due", "open"),  # due today: due all day, overdue tomorrow
        ("DUE", NOW - timedelta(hours=13), "Overdue · 1 day", "overdue"),  # due yesterday at 23:00
        ("PARTIALLY_PAID", NOW - timedelta(days=2), "Partially paid · Overdue · 2 days", "overdue"),
        ("PARTIALLY_PAID", NOW + timedelta(days=2), "Partially paid", "open"),
        ("PAID", NOW - timedelta(days=30), "Paid", "paid"),
        ("VOID", NOW - timedelta(days=30), "Void", "closed"),
        ("UN_COLLECTIBLE", NOW - timedelta(days=30), "Uncollectible", "closed"),
    ],
)
def test_statuses_read_in_words_and_overdue_shows(status: str, due: datetime | None, label: str, tone: str) -> None:
    said = words.invoice_status(SimpleNamespace(status=status, due_date=due), NOW)
    assert (said.label, said.tone) == (label, tone)


def test_instants_say_utc() -> None:
    assert words.when(NOW) == "2026-12-02 12:00 UTC" and words.when(None) == "—"


def test_overdue_counts_the_organizations_days() -> None:
    due = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 2026-12-02 in Kolkata
    invoice = SimpleNamespace(status="DUE", due_date=due)
    assert words.invoice_status(invoice, NOW).label == "Overdue · 1 day"
    assert words.invoice_status(invoice, NOW, "Asia/Kolkata").label == "Due"
    assert words.overdue_days("DUE", due, NOW + timedelta(days=11), "Asia/Kolkata") == 11


def test_statuses_never_read_as_codes() -> None:
    assert [
        words.invoice_status(SimpleNamespace(status=s, due_date=None), NOW).label for s in words.INVOICE_STATUSES
    ] == [
        "Draft",
        "Due",
        "Partially paid",
        "Paid",
        "Uncollectible",
        "Void",
    ]
    assert words.invoice_status(SimpleNamespace(status="REFUND_INITIATED", due_date=None), NOW).label == (
        "Refund initiated"
    )
