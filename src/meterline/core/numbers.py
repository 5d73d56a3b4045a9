"""The one rule for every number that enters Meterline, and how every number leaves it.

A number that enters (an amount, a rate, a slab start, a quantity, usage; through the API, the console, the CLI,
an event's attribute) is:

- finite (no NaN, no Infinity);
- below 10^15 in magnitude: |x| < 1,000,000,000,000,000 (a thousand trillion; `LIMIT`);
- written with at most 12 digits after the decimal point (`MAX_FRACTION_DIGITS`): a rate of 0.000000000001 per
  event is fine, 0.0000000000001 is refused. Zeros at the end of the fraction do not count (`1.50000000000000`
  is 1.5).

Anything else is refused with a message naming the field (a 400 through the API). What passes is kept exactly,
written without exponent (`1e2` is kept as 100, `-0` as 0), so storage and every writer see plain digits.

Whole numbers of days (net term days of accounts and organizations) are 0 to `MAX_DAYS`.

Why these bounds hold for storage (docs/pricing.md): an amount priced from bounded inputs is at most a rate
(< 10^15, 12 decimals) times a usage total (each event < 10^15; a cycle's total a sum of events) plus fixed
fees; even a trillion events at the limit give a total below 10^27, so a line stays below 10^42 with at most
24 + 40 decimals (proration divides to 40 more significant digits before rounding to the currency). PostgreSQL's
NUMERIC (no declared precision) holds 131,072 digits before the point and 16,383 after; SQLite stores the text.
So no product of bounded inputs can overflow a column, and rounding (which works to any precision) cannot fail.

Numbers leave in plain decimal notation (`plain`): never `1E+2` or `1E-7`, which JSON readers decode as floats
or as Infinity.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictInt, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_DIGITS = 15  # digits before the point
LIMIT = Decimal(10) ** MAX_DIGITS  # |x| < LIMIT
MAX_FRACTION_DIGITS = 12
MAX_DAYS = 3650  # ten years of days
# The longest plain text `plain` writes: a value stored before the rule held (1E+400, say) is still written whole
# up to this many digits; a longer one is a corrupt row, refused rather than written as megabytes.
MAX_TEXT_DIGITS = 4300

RULE = (
    f"must be a finite number below 10^{MAX_DIGITS} in magnitude with at most {MAX_FRACTION_DIGITS} digits "
    "after the decimal point"
)
# Event attribute values are text: the same rule as a pattern, checked per event on the ingestion hot path
# (optional minus, at most 15 digits before the point after leading zeros, at most 12 after it before zeros at
# the end).
DECIMAL_TEXT = re.compile(rf"-?0*[0-9]{{1,{MAX_DIGITS}}}(\.[0-9]{{1,{MAX_FRACTION_DIGITS}}}0*)?")
_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def is_decimal_text(value: str) -> bool:
    """Is `value` a number written in ASCII digits (an optional sign, a fraction, an exponent), as JSON writes them?
    (Decimal() alone also reads other scripts' digits, 'NaN' and 'Infinity'.)"""
    return _TEXT.fullmatch(value) is not None


class NumberError(ValueError):
    """A number the rule refuses; the message says why (without the field, which the caller names)."""


def bounded(value: Decimal | int) -> Decimal:
    """`value` if the rule holds, exactly, in plain form (exponent from -12 to 0); else NumberError."""
    if isinstance(value, bool):
        raise NumberError("must be a number")
    if isinstance(value, int):
        if -LIMIT < value < LIMIT:
            return Decimal(value)
        raise NumberError(f"must be below 10^{MAX_DIGITS} in magnitude")
    if not value.is_finite():
        raise NumberError("must be a finite number")
    if value.is_zero():
        return Decimal(0)  # -0, 0E+7, 0.000: all are 0
    if value.adjusted() >= MAX_DIGITS:  # the exponent is read, never expanded: 1e999999999999999999 is cheap
        raise NumberError(f"must be below 10^{MAX_DIGITS} in magnitude")
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - a finite Decimal's exponent is a number
        raise NumberError("must be a finite number")
    if exponent > 0:
        return Decimal((sign, digits + (0,) * exponent, 0))
    if exponent < -MAX_FRACTION_DIGITS:
        extra = -MAX_FRACTION_DIGITS - exponent  # fraction digits beyond the bound: they may only be zeros
        if any(digits[-extra:]):
            raise NumberError(f"must have at most {MAX_FRACTION_DIGITS} digits after the decimal point")
        return Decimal((sign, digits[:-extra], -MAX_FRACTION_DIGITS))
    return value


def parse(text: str) -> Decimal:
    """A number typed by a person (console, CLI): digits with an optional point, sign and exponent, commas as
    thousands separators allowed; then the rule. NumberError says what is wrong."""
    cleaned = text.strip().replace(",", "")
    if not _TEXT.fullmatch(cleaned):
        raise NumberError("enter a number, such as 25 or 19.99")
    try:
        return bounded(Decimal(cleaned))
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        raise NumberError("enter a number, such as 25 or 19.99") from None


def check_days(value: int, field: str) -> int:
    """Whole days from 0 to MAX_DAYS (ValueError naming `field`)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ValueError(f"{field}: must be a whole number of days from 0 to {MAX_DAYS}")
    return value


def plain(value: Decimal) -> str:
    """The exact value in plain decimal notation: `100` for 1E+2, `0.0000001` for 1E-7, `0` for -0."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number and cannot be written")
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - a finite Decimal's exponent is a number
        raise ValueError(f"{value} is not a finite number and cannot be written")
    if max(len(digits) + exponent, -exponent) > MAX_TEXT_DIGITS:
        raise ValueError(f"a number with more than {MAX_TEXT_DIGITS} digits cannot be written")
    return format(value.copy_abs() if value.is_zero() else value, "f")


def grouped(value: Decimal | int, min_digits: int = 0) -> str:
    """Exact, for people: thousands grouped, the sign on the number, every digit after the point the value has
    (at least `min_digits`), no exponent: `1,536,150`, `0.00025`, `-1,234.50` (min_digits 2). Never rounded, and
    never through int() (Python refuses to read an int of more than 4,300 digits)."""
    number = Decimal(value)
    sign = "-" if number < 0 else ""
    whole, _, fraction = format(number.copy_abs(), ",f").partition(".")
    fraction = fraction.rstrip("0").ljust(min_digits, "0")
    return f"{sign}{whole}" + (f".{fraction}" if fraction else "")


STORED = "stored"  # validation context key: the data was stored earlier (numbers kept as stored)


def _json_number(value: Any, info: ValidationInfo) -> Decimal:
    # The request parser reads JSON numbers as int or Decimal (never float); text and booleans are refused.
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise PydanticCustomError("number", "must be a JSON number")
    if info.context and info.context.get(STORED):
        # Read back from storage (catalog/plan_model.py): the number passed the rule of the day it was stored,
        # and is read exactly as it was (a rate stored before the rule fails where it is priced, as it always did).
        return Decimal(value)
    try:
        return bounded(value)
    except NumberError as exc:
        raise PydanticCustomError("number", str(exc)) from None


# An amount, rate, quantity or usage in a request: a JSON number within the rule, kept as the Decimal of its digits.
BoundedNumber = Annotated[Decimal, BeforeValidator(_json_number), WithJsonSchema({"type": "number"})]
# A whole quantity (license seats) in a request: the same bound, as a JSON integer.
BoundedInt = Annotated[StrictInt, Field(gt=-(10**MAX_DIGITS), lt=10**MAX_DIGITS)]
# Whole days (net terms): `true` or `"30"` is refused rather than read as 1 or 30.
BoundedDays = Annotated[StrictInt, Field(ge=0, le=MAX_DAYS)]
