"""Pure code: money, ids, pagination tokens, time, JSON encoding, error messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

from meterline.api.errors import validation_message
from meterline.api.responses import dumps
from meterline.core.clock import as_utc, isoformat_z
from meterline.core.errors import BadRequest
from meterline.core.ids import new_id, new_short_id
from meterline.core.money import divide, is_currency, minor_units, round_money, to_decimal
from meterline.core.pagination import MAX_PAGE_SIZE, encode_token, page_request
from meterline.core.schemas import format_address


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "USD", "2.35"),
        ("2.344", "USD", "2.34"),
        ("-2.345", "USD", "-2.35"),
        ("0.5", "JPY", "1"),
        ("1.0005", "KWD", "1.001"),
        ("7", "USD", "7.00"),
        ("0.00005", "CLF", "0.0001"),
    ],
    ids=["half-up", "down", "negative-half-away", "jpy-0", "kwd-3", "pads", "clf-4"],
)
def test_round_money_half_up_to_minor_unit(amount: str, currency: str, expected: str) -> None:
    assert str(round_money(Decimal(amount), currency)) == expected


def test_minor_units_and_unknown_currency() -> None:
    assert (minor_units("USD"), minor_units("JPY"), minor_units("BHD"), minor_units("EUR")) == (2, 0, 3, 2)
    with pytest.raises(ValueError, match="^unknown currency 'XYZ'$"):
        minor_units("XYZ")


# ISO 4217's currencies whose minor unit is not 2 (list one of the standard, as of 2024).
ISO_4217_NOT_2 = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


@pytest.mark.parametrize("code", sorted(ISO_4217_NOT_2))
def test_each_currency_rounds_to_its_own_minor_unit(code: str) -> None:
    places = ISO_4217_NOT_2[code]
    assert minor_units(code) == places
    assert round_money(Decimal("1234.56785"), code) == Decimal("1234.56785").quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
    )


def test_what_is_a_currency() -> None:
    assert all(is_currency(c) for c in ("USD", "EUR", "INR", "JPY", "KWD", "CLF"))
    assert not any(is_currency(c) for c in ("usd", "XYZ", "XAU", "", "US"))  # codes are upper case; no metals


def test_floats_never_become_amounts() -> None:
    assert to_decimal("0.1") + to_decimal(2) == Decimal("2.1")
    for bad in (0.1, True):
        with pytest.raises(TypeError, match=f"refusing {type(bad).__name__} for an exact amount: {bad}"):
            to_decimal(bad)


def test_a_decimal_stays_itself_and_anything_else_is_refused_by_type() -> None:
    exact = Decimal("12.345000")
    assert to_decimal(exact) is exact  # not rebuilt: every digit and the exponent kept
    # a tuple is one of Decimal's own constructors (sign, digits, exponent), a list is not: neither is an amount
    for bad in (None, (0, (1,), 0), [1], b"1", {"amount": "1"}):
        with pytest.raises(TypeError, match=f"cannot make an exact amount of {type(bad).__name__}"):
            to_decimal(bad)


def test_ids_have_a_prefix_and_sort_by_creation() -> None:
    ids = [new_id("customer", now_ms=ms) for ms in (1, 2, 1_000_000, 2**47)]
    assert all(i.startswith("customer.") and len(i) == len("customer.") + 26 for i in ids)
    assert ids == sorted(ids)
    burst = [new_id("x") for _ in range(1000)]  # many in one millisecond still come out in order
    assert len(set(burst)) == 1000 and burst == sorted(burst)
    short = new_short_id("um")
    assert short.startswith("um.") and len(short) <= 20


def test_page_tokens_round_trip_and_bad_ones_are_400() -> None:
    request = page_request(encode_token("customer.01abc"), None)
    assert request.after == "customer.01abc"
    assert request.size == 50
    for bad in ("nonsense", "e30", encode_token("x")[:-3] + "!!!"):
        with pytest.raises(BadRequest, match="nextToken is not valid: pass the nextToken of a previous page unchanged"):
            page_request(bad, None)


@pytest.mark.parametrize("size", ["10.0", 10, Decimal("10"), "1", str(MAX_PAGE_SIZE)])
def test_page_size_accepts_whole_numbers(size: object) -> None:
    assert page_request(None, size).size == int(Decimal(str(size)))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", ["0", "51", "2.5", "-1", "abc", "NaN", "Infinity"])
def test_page_size_refuses_the_rest(size: str) -> None:
    with pytest.raises(BadRequest, match="pageSize"):
        page_request(None, size)


def test_time_is_utc() -> None:
    naive = datetime(2024, 1, 1, 12, 0)
    assert as_utc(naive) == datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)
    kolkata = datetime(2024, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert as_utc(kolkata) == datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert isoformat_z(kolkata) == "2024-01-01T00:00:00Z"
    assert isoformat_z(datetime(2024, 1, 1, 0, 0, 0, 1500, tzinfo=timezone.utc)) == "2024-01-01T00:00:00.001500Z"


def test_decimals_are_written_from_their_own_digits() -> None:
    body = dumps({"a": Decimal("0.1"), "b": Decimal("12345678901234567890.123456789"), "c": Decimal("100.00")})
    assert body == b'{"a":0.1,"b":12345678901234567890.123456789,"c":100.00}'
    assert json.loads(body, parse_float=Decimal)["b"] == Decimal("12345678901234567890.123456789")


def test_validation_messages_name_fields() -> None:
    errors = [
        {
            "loc": ("body", "account", "aliases", 2),
            "msg": "String should have at least 3 characters",
            "type": "string_too_short",
        },
        {"loc": ("body", "id"), "msg": "Field required", "type": "missing"},
        {"loc": ("query", "pageSize"), "msg": "Input should be a valid decimal", "type": "decimal_parsing"},
    ]
    assert validation_message(errors) == (
        "account.aliases[2]: String should have at least 3 characters; id: this field is required; "
        "pageSize: Input should be a valid decimal"
    )


def test_billing_address_is_one_line() -> None:
    assert format_address({"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}) == (
        "1 Main St, Springfield, 12345, US"
    )
    assert format_address({}) == ""
    assert len(format_address({"line1": "x" * 2000})) == 1000


def test_no_test_starts_near_the_turn_of_a_month() -> None:
    from tests.conftest import MONTH_EDGE, until_month_is_safe

    utc = timezone.utc
    edge = MONTH_EDGE.total_seconds()
    # the last minutes of a month: wait into the new one, and MONTH_EDGE more
    assert until_month_is_safe(datetime(2026, 12, 31, 23, 59, tzinfo=utc)) == 61.0 + edge  # into 1 January 2027
    assert until_month_is_safe(datetime(2024, 2, 29, 23, 58, 30, tzinfo=utc)) == 91.0 + edge
    assert until_month_is_safe(datetime(2026, 12, 31, 23, 59, tzinfo=utc) - MONTH_EDGE) == 0.0
    # the first minutes of a month: an event "5 minutes ago" would be in the month before
    assert until_month_is_safe(datetime(2026, 12, 1, 0, 0, tzinfo=utc)) == edge + 1
    assert until_month_is_safe(datetime(2027, 1, 1, 0, 1, tzinfo=utc)) == edge - 60 + 1
    assert until_month_is_safe(datetime(2026, 12, 1, tzinfo=utc) + MONTH_EDGE) == 0.0
    for start in (datetime(2026, 12, 31, 23, 59, 59, tzinfo=utc), datetime(2027, 1, 1, 0, 0, 1, tzinfo=utc)):
        runs_at = start + timedelta(seconds=until_month_is_safe(start))
        assert runs_at - MONTH_EDGE >= datetime(2027, 1, 1, tzinfo=utc) and until_month_is_safe(runs_at) == 0.0


def test_a_quotient_is_exact_enough_to_round_whatever_the_divisor_s_digits() -> None:
    # 1000.005 over a divisor a hair below 1 (51 digits) is a hair above the half cent: it rounds up; a hair above
    # 1, below the half: it rounds down. Deciding needs more digits than the operands have together.
    amount = Decimal("1000.00500000000")
    assert round_money(divide(amount, Decimal("0." + "9" * 51)), "USD") == Decimal("1000.01")
    assert round_money(divide(amount, Decimal("1." + "0" * 50 + "1")), "USD") == Decimal("1000.00")
