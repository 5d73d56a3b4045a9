"""Currencies and exact amounts (billing-rules D1).

The ISO 4217 table is written here by hand: it is small and static, and the libraries that carry it either lack
minor units (pycountry) or use CLDR's display precision instead of ISO's minor unit (babel), which differ for a few
currencies. Amounts are `decimal.Decimal`; a float is refused wherever an amount enters.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal

from meterline.core.numbers import grouped

# Minor units that are not 2.
_MINOR_UNITS_EXCEPTIONS = {
    # 0 decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # 3 decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # 4 decimals
    "CLF": 4,
    "UYW": 4,
}

# Active ISO 4217 codes for money (no precious metals, testing or fund-only codes beyond those used in billing).
_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF
GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD
LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""

CURRENCIES: dict[str, int] = {code: _MINOR_UNITS_EXCEPTIONS.get(code, 2) for code in _CODES.split()}


def is_currency(code: str) -> bool:
    return code in CURRENCIES


def minor_units(currency: str) -> int:
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None


def display(amount: Decimal, currency: str) -> str:
    """How Meterline writes an amount for people, on every console page and on the PDF: the ISO code, then the
    amount with its sign, thousands grouped, with the currency's minor unit or every digit it has if more:
    `USD 1,234.50`, `USD -25.00`, `JPY 1,234`, `KWD 0.500`, `USD 0.00025` (a unit price). Exact, never rounded: a
    value shown is the value stored (amounts are rounded once where they are made, D1, so an invoice's amounts show
    their minor unit). A code that is not ISO 4217's gets two decimals rather than no text."""
    return f"{currency} {grouped(amount, CURRENCIES.get(currency, 2))}"


def to_decimal(value: object) -> Decimal:
    """Exact conversion of what a client or a column gives; floats never carry money."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"refusing {type(value).__name__} for an exact amount: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        return Decimal(value)
    raise TypeError(f"cannot make an exact amount of {type(value).__name__}")


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round once, ROUND_HALF_UP, to the currency's minor unit (D1), however many digits the amount has."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP, context=EXACT)


def divide(numerator: Decimal, denominator: Decimal, extra_digits: int = 40) -> Decimal:
    """numerator / denominator to the operands' digits plus `extra_digits` significant digits: enough to round the
    quotient to any currency exactly (an exact quotient is kept whole; a repeating one cannot sit on a half)."""
    digits = len(numerator.as_tuple().digits) + len(denominator.as_tuple().digits) + extra_digits
    return Context(prec=digits, Emax=MAX_EMAX, Emin=MIN_EMIN).divide(numerator, denominator)


# Addition under this context is exact whatever the digits (the default context keeps 28 and would round).
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of quantities (usage can carry more than 28 significant digits)."""
    total = Decimal(0)
    for value in values:
        total = EXACT.add(total, value)
    return total
