"""The one number rule (core/numbers.py): what enters is finite, below 10^15, with at most 12 decimals; what leaves
is written in plain notation."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from pydantic import BaseModel, ValidationError

from meterline.api.responses import dumps
from meterline.catalog.plan_schemas import UsageRateCard
from meterline.catalog.rate_cards import CardError, slab_rate_plan
from meterline.console.metering_forms import RowError, condition_of
from meterline.console.pages import templates
from meterline.console.plan_forms import SlabRow, slab_plan
from meterline.core import numbers
from meterline.core.money import EXACT, round_money
from meterline.core.numbers import NumberError, bounded, check_days, parse, plain
from meterline.core.schemas import Days, NumberIn
from meterline.events import pipeline
from meterline.events.wire import Event, event_from
from meterline.invoicing.builder import ChargeError, check_charge_value
from meterline.invoicing.pdf import money_text, quantity_text, unit_price_text

LONG_FRACTION = "0." + "3" * 5000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("0", "0", id="zero"),
        pytest.param("-0", "0", id="minus-zero-is-zero"),
        pytest.param("0E+20", "0", id="zero-with-exponent"),
        pytest.param("0.000", "0", id="zero-with-decimals"),
        pytest.param("999999999999999.99", "999999999999999.99", id="1e15-minus-0.01"),
        pytest.param("-999999999999999.999999999999", "-999999999999999.999999999999", id="largest-negative"),
        pytest.param("1e2", "100", id="exponent-kept-plain"),
        pytest.param("1.5E+3", "1500", id="exponent-with-fraction"),
        pytest.param("0.000001", "0.000001", id="tiny-rate"),
        pytest.param("1e-12", "0.000000000001", id="twelve-decimals"),
        pytest.param("1.50000000000000000000", "1.500000000000", id="zeros-beyond-twelve-are-dropped"),
        pytest.param("12.50", "12.50", id="kept-as-written"),
    ],
)
def test_the_rule_keeps_what_it_accepts_exactly(value: str, expected: str) -> None:
    assert plain(bounded(D(value))) == expected
    assert bounded(D(value)) == D(value)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param("1e400", "below 10^15", id="1e400"),
        pytest.param("1e999999999999999999", "below 10^15", id="1e999999999999999999"),
        pytest.param("-1e999999999999999999", "below 10^15", id="minus-huge"),
        pytest.param("1000000000000000", "below 10^15", id="10^15"),
        pytest.param("-1000000000000000", "below 10^15", id="minus-10^15"),
        pytest.param("999999999999999.9999999999999", "12 digits after", id="just-below-10^15-with-13-decimals"),
        pytest.param("NaN", "finite", id="nan"),
        pytest.param("sNaN", "finite", id="signalling-nan"),
        pytest.param("Infinity", "finite", id="infinity"),
        pytest.param("-Infinity", "finite", id="minus-infinity"),
        pytest.param("1e-13", "12 digits after", id="1e-13"),
        pytest.param(LONG_FRACTION, "12 digits after", id="very-long-fraction"),
        pytest.param("1." + "0" * 3000 + "1", "12 digits after", id="long-fraction-ending-in-a-digit"),
    ],
)
def test_the_rule_refuses_the_rest(value: str, words: str) -> None:
    with pytest.raises(NumberError, match=re.escape(words)):
        bounded(D(value))


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (10**15 - 1, True), (-(10**15) + 1, True), (10**15, False), (10**400, False), (True, False)],
)
def test_the_rule_for_json_integers(value: int, ok: bool) -> None:
    if ok:
        assert bounded(value) == D(value)
    else:
        words = "must be a number" if isinstance(value, bool) else "must be below 10^15 in magnitude"
        with pytest.raises(NumberError, match=re.escape(words)):
            bounded(value)


class _Body(BaseModel):
    rate: NumberIn
    days: Days | None = None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param({"rate": D("1e400")}, "rate: must be below 10^15 in magnitude", id="huge"),
        pytest.param({"rate": D("NaN")}, "rate: must be a finite number", id="nan"),
        pytest.param({"rate": D("1e-13")}, "rate: must have at most 12 digits after the decimal point", id="fraction"),
        pytest.param({"rate": "5"}, "rate: must be a JSON number", id="text"),
        pytest.param({"rate": True}, "rate: must be a JSON number", id="boolean"),
        pytest.param({"rate": 1, "days": 100000000000}, "days: Input should be less than or equal to 3650", id="days"),
    ],
)
def test_request_numbers_name_the_field(body: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate(body)
    error = caught.value.errors()[0]
    assert f"{error['loc'][0]}: {error['msg']}" == words


def test_a_request_number_is_kept_plain() -> None:
    assert str(_Body.model_validate({"rate": D("1E+2")}).rate) == "100"


@pytest.mark.parametrize(("text", "expected"), [("1,000.50", "1000.50"), (" 25 ", "25"), ("1E+3", "1000"), ("-0", "0")])
def test_typed_numbers(text: str, expected: str) -> None:
    assert plain(parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1e20", "below 10^15"),
        ("abc", "enter a number"),
        ("Infinity", "enter a number"),
        ("NaN", "enter a number"),
        ("", "enter a number"),
        ("0.0000000000001", "12 digits"),
    ],
)
def test_typed_numbers_refused(text: str, words: str) -> None:
    with pytest.raises(NumberError, match=re.escape(words)):
        parse(text)


@pytest.mark.parametrize(
    ("days", "ok"), [(0, True), (3650, True), (3651, False), (-1, False), (100000000000, False), (True, False)]
)
def test_days(days: int, ok: bool) -> None:
    if ok:
        assert check_days(days, "net term days") == days
    else:
        with pytest.raises(ValueError, match="net term days: must be a whole number of days from 0 to 3650"):
            check_days(days, "net term days")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1E+2", "100"),
        ("1.0E-7", "0.00000010"),
        ("1E-7", "0.0000001"),
        ("-0", "0"),
        ("-0.00", "0.00"),
        ("123.4500", "123.4500"),
        ("-5E+3", "-5000"),
    ],
)
def test_numbers_leave_in_plain_notation(value: str, expected: str) -> None:
    assert plain(D(value)) == expected
    assert dumps({"n": D(value)}) == b'{"n":' + expected.encode() + b"}"


def test_a_stored_value_past_the_rule_is_still_written_whole_or_not_at_all() -> None:
    assert plain(D("1E+400")) == "1" + "0" * 400  # kept before the rule: still exact, never 1E+400
    with pytest.raises(ValueError, match="cannot be written"):
        plain(D("1E+999999999999999999"))  # never megabytes of zeros


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("10", True),
        ("-2.5", True),
        ("999999999999999", True),
        ("0000000000000000001", True),
        ("1.000000000000000000", True),
        ("0.000000000001", True),
        ("1000000000000000", False),
        ("1" * 400, False),
        ("0.0000000000001", False),
        ("1e5", False),
        ("NaN", False),
        ("." + "1" * 5, False),
        ("1." + "1" * 13, False),
        ("1.", False),
    ],
)
def test_event_attributes_follow_the_rule_as_a_pattern(value: str, ok: bool) -> None:
    assert bool(numbers.DECIMAL_TEXT.fullmatch(value)) == ok
    if ok:
        assert bounded(D(value)) == D(value)


def _rule(computation: object) -> pipeline.SchemaRule:
    meter = pipeline.meter_rule(
        id="m1", name="tokens", aggregation="SUM", filters=[], computations=[{"computation": computation}]
    )
    return pipeline.SchemaRule(
        name="s", version=1, attributes=frozenset({"n"}), dimensions=frozenset(), meters=(meter,)
    )


def _event(value: str) -> Event:
    return event_from(
        {
            "schemaName": "s",
            "timestamp": "2024-01-01T00:00:00Z",
            "accountId": "a",
            "attributes": [{"name": "n", "value": value}],
            "dimensions": {},
        }
    )


def test_ingestion_refuses_an_attribute_past_the_rule() -> None:
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    outcome = pipeline.evaluate(_rule({"var": "attribute.n"}), _event("1" * 16), now)
    assert outcome.status == pipeline.FAILED and "below 10^15" in (outcome.message or "")
    ok = pipeline.evaluate(_rule({"var": "attribute.n"}), _event("999999999999999"), now)
    assert ok.units == {"m1": D("999999999999999")}


def test_computed_usage_stays_below_the_bound() -> None:
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    square = {"*": [{"var": "attribute.n"}, {"var": "attribute.n"}]}
    outcome = pipeline.evaluate(_rule(square), _event("99999999"), now)
    assert outcome.status == pipeline.UNITS_INVALID and "below 10^15" in (outcome.message or "")
    assert pipeline.evaluate(_rule(square), _event("9999999"), now).units == {"m1": D(9999999) * D(9999999)}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("1e400", "must be below 10^15 in magnitude"),
        ("NaN", "must be a finite number"),
        ("1e999999999999999999", "must be below 10^15 in magnitude"),
        ("0.0000000000001", "must have at most 12 digits after the decimal point"),
    ],
)
def test_charges_written_as_text_follow_the_rule(value: str, words: str) -> None:
    with pytest.raises(ChargeError, match=re.escape(f"value: '{value}' {words}")):
        check_charge_value(value)


def test_plan_configs_written_as_text_follow_the_rule() -> None:
    card = {
        "usageMeterId": "um.x",
        "ratePlan": {
            "pricingModel": "TIERED",
            "slabs": [{"order": 1, "startAfter": D(0), "priceType": "PACKAGE", "slabConfig": {"packageSize": "1e400"}}],
        },
        "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": D(1)}]}],
    }
    with pytest.raises(CardError, match=re.escape("packageSize: must be below 10^15")):
        slab_rate_plan(UsageRateCard.model_validate(card), "USD", "usageRateCards[0]")


def test_the_largest_priced_amount_fits_the_columns() -> None:
    """A rate at the bound times a usage total of a trillion events at the bound: 42 digits before the point,
    which NUMERIC (131,072 digits) and SQLite's text hold; rounding it to a currency works."""
    rate = D("999999999999999.999999999999")
    usage = EXACT.multiply(D("999999999999999.999999999999"), D(10**12))
    amount = round_money(EXACT.multiply(rate, usage), "USD")
    assert amount.adjusted() < 42 and plain(amount).endswith(".00")


def test_the_pdf_writes_any_stored_amount_without_int() -> None:
    """Issue 14: the PDF answered 500 once a line had 4,300 digits (Python refuses int() of longer text)."""
    assert quantity_text(D("1E+5000")) == "100" + ",000" * 1666  # 5,001 digits
    assert money_text(D("1E+4400"), "USD") == "USD 100" + ",000" * 1466 + ".00"
    assert money_text(D("1E+2"), "USD") == "USD 100.00"
    assert unit_price_text(D("1E-7"), "USD") == "USD 0.0000001"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("1E+2"), "100"), (D("1E-7"), "0.0000001"), (D("-0"), "0"), (D("12.50"), "12.50"), (7, "7"), ("1E+2", "1E+2")],
)
def test_console_templates_write_decimals_plain(value: object, expected: str) -> None:
    assert templates.env.from_string("{{ x }}").render(x=value) == expected


@pytest.mark.parametrize(
    ("rate", "error"),
    [
        ("1e20", "Must be below 10^15 in magnitude"),
        ("100,000,000,000,000,000,000", "Must be below 10^15 in magnitude"),
        ("0.0000000000001", "Must have at most 12 digits after the decimal point"),
        ("lots", "Enter a number, such as 0.05 or 12"),
    ],
)
def test_the_plan_builder_puts_the_rule_next_to_the_rate(rate: str, error: str) -> None:
    errors: dict[str, str] = {}
    slab_plan([SlabRow(start="0", rates={"USD": rate})], "TIERED", ["USD"], None, errors)
    assert errors == {"rate_0_USD": error}


def test_a_meter_filter_compares_with_a_number_within_the_rule() -> None:
    assert condition_of("attribute.tokens", "lt", "1e3") == {"<": [{"var": "attribute.tokens"}, D(1000)]}
    with pytest.raises(RowError, match=re.escape("tokens: must be below 10^15 in magnitude")):
        condition_of("attribute.tokens", "lt", "1e20")
