"""The forms of the customer and account pages (console/account_pages.py): pure functions that turn what a form
says into the services' requests, and the services' refusals (BadRequest messages, pydantic errors) into words a
billing operator reads next to the field they are about. No routes and no database here.

Each form has a reader (`charge_of`, `credit_of`, `top_up_of`, `schedule_of`, `account_of`, `customer_update_of`,
`alias_of`), which raises `Refused` (every mistake it finds, by field) before a service is called, and one function
from a service's refusal to fields (`charge_errors`, `credit_errors`, ...). The key "form" holds what no field owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from meterline.accounts.schemas import AddAccountAliasesRequest, CreateAccountRequestWithoutCustomerId
from meterline.core import numbers
from meterline.core.clock import FIRST_DAY, LAST_DAY
from meterline.core.errors import MeterlineError
from meterline.core.money import CURRENCIES, minor_units
from meterline.core.schemas import Address, error_text
from meterline.core.text import ascii_digits
from meterline.credits.service import MAX_PRIORITY, Grant
from meterline.customers.schemas import UpdateCustomerRequest
from meterline.invoicing.builder import Charge
from meterline.schedules.schemas import UpdatePricingScheduleRequest

Errors = dict[str, str]
OPEN_END = "9999-01-01"  # a schedule with no end (the API's effectiveUntil for "open")


class Refused(ValueError):
    """A form refused before any service saw it: the mistakes by field."""

    def __init__(self, errors: Errors) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# -- words -------------------------------------------------------------------------------------------------------
def period(first: date, last: date) -> str:
    """Days from `first` to `last` (both included): "Dec 1 – Dec 31, 2026", "Dec 15, 2026 – Jan 14, 2027"."""
    if first.year == last.year:
        return f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}"
    return f"{first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}"


def day_words(day: date) -> str:
    """ "Dec 4, 2026"."""
    return f"{day:%b} {day.day}, {day.year}"


def example(currency: str) -> str:
    """25 written with the currency's minor unit: 25.00 (USD), 25 (JPY), 25.000 (KWD)."""
    return f"{Decimal(25):.{minor_units(currency) if currency in CURRENCIES else 2}f}"


def _quoted(text: str, limit: int = 40) -> str:
    return f"“{text[:limit]}{'…' if len(text) > limit else ''}”"


def amount_words(label: str, text: str, currency: str, *, discount: bool = False) -> str | None:
    """Why `text` is not an amount in `currency` this form takes (None when it is one). `discount`: a negative
    amount is allowed (a charge's discount), 0 too; otherwise the amount must be above 0."""
    such_as = f"such as {example(currency)}{', or a negative amount for a discount' if discount else ''}"
    try:
        value = numbers.parse(text)
    except numbers.NumberError as exc:
        if "10^" in str(exc):
            return f"{label}: enter an amount below 10^15 (a thousand trillion), {such_as} ({currency})"
        if "decimal point" in str(exc):
            return _decimals_words(label, currency)
        return f"{label}: enter an amount, {such_as} ({currency})"
    if not discount and value <= 0:
        return f"{label}: enter an amount above 0, {such_as} ({currency})"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > minor_units(currency):
        return _decimals_words(label, currency)
    return None


def _decimals_words(label: str, currency: str) -> str:
    digits = minor_units(currency)
    if digits == 0:
        return f"{label}: {currency} has no minor unit: enter a whole amount, such as 25 ({currency})"
    return f"{label}: {currency} amounts have at most {digits} decimals, such as {example(currency)} ({currency})"


def _amount(label: str, text: str, currency: str, *, discount: bool = False) -> Decimal:
    why = amount_words(label, text, currency, discount=discount)
    if why is not None:
        raise Refused({"amount": why})
    return numbers.parse(text)


def _day(text: str, label: str, errors: Errors, key: str) -> date | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        errors[key] = f"{label}: pick a day from the calendar (YYYY-MM-DD), such as 2026-12-01"
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        errors[key] = f"{label}: pick a day from {FIRST_DAY} to {LAST_DAY}"
        return None
    return day


def _message(error: Exception) -> str:
    return error.message if isinstance(error, MeterlineError) else str(error)


def _pydantic_words(label: str, error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "string_too_short":
        return (
            f"{label}: required" if ctx.get("min_length") == 1 else f"{label}: at least {ctx['min_length']} characters"
        )
    if kind == "string_too_long":
        return f"{label}: at most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return f"{label}: no spaces, slashes, ? or #, please"
    message = error_text(error)
    return f"{label}: {message[:1].lower()}{message[1:]}"


def _pydantic_errors(exc: ValidationError, fields: dict[str, tuple[str, str]], words: dict[str, str]) -> Errors:
    """pydantic's errors by field: `fields` maps a location's first step to (field, label); `words` gives a field
    its own sentence for a pattern or a wrong value."""
    out: Errors = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        if loc[:1] == ["address"]:
            loc = loc[1:]
        field, label = fields.get(loc[0] if loc else "", ("form", "This form"))
        if field in words and error["type"] in ("string_pattern_mismatch", "value_error"):
            out.setdefault(field, words[field])
        else:
            out.setdefault(field, _pydantic_words(label, error))
    return out


# -- + Add Customer Charges --------------------------------------------------------------------------------------
NO_PLAN = "Charges go on the ongoing invoice, and this account has none today: attach a price plan first"


def charge_of(name: str, value: str, currency: str) -> Charge:
    """A charge of the form: a name and an amount in the account's currency (negative: a discount)."""
    errors: Errors = {}
    if not name.strip():
        errors["name"] = "Name: give the charge a name, as the invoice will show it (such as Setup fee)"
    elif len(name.strip()) > 255:
        errors["name"] = "Name: at most 255 characters"
    why = amount_words("Value", value, currency, discount=True)
    if why is not None:
        errors["value"] = why
    if errors:
        raise Refused(errors)
    return Charge(name=name.strip(), value=numbers.plain(numbers.parse(value)))


def charge_errors(error: Exception, currency: str, name: str = "") -> Errors:
    """InvoiceService's refusal of a charge (`name`, as typed), by field. Every charge of the invoice is computed
    again when one is added: one already there that fails now (jsonLogic over lines that grew) refuses the new one."""
    message = _message(error)
    other = re.search(r"charge '(.*?)': (.*)$", message)
    if other and other.group(1) != name.strip():
        why = "its amount reaches 10^15" if "out of range" in other.group(2) else other.group(2)
        return {
            "form": f"The charge {_quoted(other.group(1))} already on this invoice cannot be computed now ({why}): "
            "nothing was added. Remove that charge first, or change it through the API"
        }
    if "no ongoing invoice" in message:
        return {"form": NO_PLAN}
    if "charges change only on a DRAFT invoice" in message:
        status = re.search(r" is (\w+):", message)
        now = status.group(1).replace("_", " ").lower() if status else "finalized"
        return {"form": f"This invoice is no longer a draft (it is {now}): its charges cannot change"}
    if "in advance" in message:
        return {"form": "Charges go on the in-arrears invoice of the cycle, not on the one billed in advance"}
    if "out of range" in message or "10^" in message or "digits" in message:
        return {
            "value": f"Value: enter an amount below 10^15 (a thousand trillion), such as {example(currency)} "
            f"({currency})"
        }
    if "changed meanwhile" in message:
        return {"form": "The charges changed since this page was shown: nothing was removed; look again"}
    if message.startswith("items"):
        return {"value": f"Value: enter an amount, such as {example(currency)} ({currency})"}
    return {"form": message}


# -- Add Credits -------------------------------------------------------------------------------------------------
def credit_of(account_id: str, values: dict[str, str], currency: str, today: date) -> Grant:
    """A credit grant of the form: amount, purpose, priority (0 first), effective days, scope."""
    errors: Errors = {}
    why = amount_words("Amount", values.get("amount", ""), currency)
    if why is not None:
        errors["amount"] = why
    text = values.get("priority", "").strip() or "1"
    priority = int(text) if ascii_digits(text) and len(text) <= 7 else -1
    if not 0 <= priority <= MAX_PRIORITY:
        errors["priority"] = f"Priority: a whole number from 0 to {MAX_PRIORITY:,} (lower numbers apply first)"
    start = _day(values.get("start", ""), "Effective from", errors, "start")
    until = _day(values.get("until", ""), "Until", errors, "until")
    if start is not None and until is not None and until < start:
        errors["until"] = f"Until: pick {start.isoformat()} or a later day (the credit's last day)"
    purpose = values.get("purpose", "").strip()
    if len(purpose) > 255:
        errors["purpose"] = "Purpose: at most 255 characters"
    if errors:
        raise Refused(errors)
    return Grant(
        account_id=account_id,
        purpose=purpose or "Credit",
        amount=numbers.parse(values["amount"]),
        priority=priority,
        effective_from=start or today,
        effective_until=until,
        scope=tuple(s.strip() for s in values.get("scope", "").split(",") if s.strip()),
    )


def credit_errors(error: Exception, values: dict[str, str], currency: str) -> Errors:
    """CreditService's refusal of a grant (or of a void), by field."""
    message = _message(error)
    if ".creditAmount" in message:
        why = amount_words("Amount", values.get("amount", ""), currency)
        return {"amount": why or f"Amount: enter an amount above 0, such as {example(currency)} ({currency})"}
    if ".priority" in message:
        return {"priority": f"Priority: a whole number from 0 to {MAX_PRIORITY:,} (lower numbers apply first)"}
    if ".effectiveFrom" in message:
        return {"start": f"Effective from: pick a day from {FIRST_DAY} to {LAST_DAY}"}
    if ".effectiveUntil must not be before" in message:
        return {"until": "Until: pick the first day or a later one (the credit's last day)"}
    if ".effectiveUntil" in message:
        return {"until": f"Until: pick a day from {FIRST_DAY} to {LAST_DAY}"}
    if ".applicableEntityIds" in message:
        unknown = re.search(r"applicableEntityIds: (\S+) is not", message)
        name = _quoted(unknown.group(1)) if unknown else "One of them"
        return {
            "scope": f"Scope: {name} is not a usage meter or an add-on id; give their ids, comma separated, or "
            "leave it empty for every line"
        }
    if "only an ACTIVE credit can be voided" in message:
        status = re.search(r" is (\w+):", message)
        return {
            "form": f"This credit is {(status.group(1) if status else 'not active').lower()}: only an active "
            "credit can be voided"
        }
    return {"form": message}


# -- Wallet: Top up ----------------------------------------------------------------------------------------------
def top_up_of(amount: str, currency: str) -> Decimal:
    return _amount("Top up", amount, currency)


def top_up_errors(error: Exception, amount: str, currency: str) -> Errors:
    message = _message(error)
    if message.startswith("topupAmount"):
        why = amount_words("Top up", amount, currency)
        return {"amount": why or f"Top up: enter an amount above 0, such as {example(currency)} ({currency})"}
    return {"form": message}


# -- Price Plan Schedule -----------------------------------------------------------------------------------------
def schedule_of(values: dict[str, str], mode: str) -> UpdatePricingScheduleRequest:
    """Attach a plan from a day (until a last day, or open), or end the schedule from a day. The form's "until" is
    the last day (inclusive); the schedule ends at the start of the next day."""
    errors: Errors = {}
    start = _day(values.get("start", ""), "From", errors, "start")
    if start is None and "start" not in errors:
        errors["start"] = "From: pick the first day, such as 2026-12-01"
    last = None
    try:
        last = date.fromisoformat(values.get("until", "").strip()) if values.get("until", "").strip() else None
    except ValueError:
        errors["until"] = "Until: pick a day from the calendar (YYYY-MM-DD), or leave it empty for no end"
    if last is not None and not FIRST_DAY <= last < LAST_DAY:  # the day after it ends the schedule: a stored day
        errors["until"] = f"Until: pick a day up to {LAST_DAY - timedelta(days=1)}, or leave it empty for no end"
        last = None
    elif last is not None and start is not None and last < start:
        errors["until"] = f"Until: pick {start.isoformat()} or a later day (the last day on the plan)"
    associate = mode != "DISASSOCIATE"
    if associate and not values.get("plan_id"):
        errors["plan_id"] = "Price plan: pick the plan to attach (only ACTIVE plans are listed)"
    if errors or start is None:
        raise Refused(errors)
    return UpdatePricingScheduleRequest.model_validate(
        {
            "mode": "ASSOCIATE" if associate else "DISASSOCIATE",
            "pricePlanId": values.get("plan_id") or None if associate else None,
            "effectiveFrom": start.isoformat(),
            "effectiveUntil": (last + timedelta(days=1)).isoformat() if last is not None else OPEN_END,
        }
    )


def schedule_errors(error: Exception, currency: str) -> Errors:
    """ScheduleService's refusal of an edit, by field."""
    message = _message(error)
    if "invoiced up to" in message:
        first = re.search(r"invoiced up to (\d{4}-\d{2}-\d{2})", message)
        day = first.group(1) if first else "the end of its last finalized invoice"
        return {
            "start": f"From: finalized invoices cover this account until {day}, and they never change: pick {day} "
            "or a later day"
        }
    if "is required to associate" in message:
        return {"plan_id": "Price plan: pick the plan to attach"}
    if "pricePlanId: no price plan" in message:
        return {"plan_id": "Price plan: this plan does not exist (any more): pick another one"}
    if "activate it first" in message:
        status = re.search(r" is (\w+); activate", message)
        state = (status.group(1) if status else "not active").lower()
        return {"plan_id": f"Price plan: it is {state}: activate it first (Price Plans), or pick an active one"}
    if f"is not active in {currency}" in message:
        active = re.search(r"\(active: ([^)]*)\)", message)
        return {
            "plan_id": f"Price plan: it is not active in {currency}, this account's currency (active in "
            f"{active.group(1) if active else 'none'}): activate it in {currency} first, or pick another plan"
        }
    if "has no price plan between" in message:
        return {"start": "From: no price plan runs on this account from that day: there is nothing to end"}
    if "effectiveUntil must be after" in message:
        return {"until": "Until: pick the first day or a later one (the last day on the plan)"}
    return {"form": message}


# -- Add Account -------------------------------------------------------------------------------------------------
_ACCOUNT_FIELDS = {
    "id": ("id", "Account ID"),
    "name": ("name", "Account Name"),
    "invoice_currency": ("currency", "Currency"),
    "invoiceCurrency": ("currency", "Currency"),
    "aliases": ("alias", "Alias"),
}
_ACCOUNT_WORDS = {
    "id": "Account ID: 1 to 50 characters, with no spaces, slashes, ? or #, and not . or ..",
    "alias": "Alias: 3 to 50 characters, with no spaces, slashes, ? or #",
    "currency": "Currency: pick an ISO 4217 currency from the list, such as USD, EUR or INR",
}


def currency_code(text: str) -> str | None:
    """The ISO 4217 code a person typed or picked: the code ("eur", "EUR"), "EUR · Euro" as the list shows it, or
    a currency's name ("euro"); None when it names none."""
    typed = text.strip()
    if not typed:
        return None
    code = typed.split()[0].upper()
    if code in CURRENCIES:
        return code
    named = [code for code, name in CURRENCY_NAMES.items() if name.lower() == typed.lower()]
    return named[0] if len(named) == 1 else None


def currency_choices() -> list[tuple[str, str]]:
    """Every ISO 4217 currency Meterline bills in (core/money.py), as (code, name), by code."""
    return [(code, CURRENCY_NAMES.get(code, code)) for code in sorted(CURRENCIES)]


def account_of(values: dict[str, str]) -> CreateAccountRequestWithoutCustomerId:
    """Add Account: name, id, currency (any ISO 4217 code), an optional alias."""
    errors: Errors = {}
    code = currency_code(values.get("currency", ""))
    if code is None:
        typed = values.get("currency", "").strip()
        errors["currency"] = (
            f"Currency: {_quoted(typed)} is not an ISO 4217 currency: pick one from the list, such as USD, EUR or INR"
            if typed
            else "Currency: pick the currency the account is invoiced in, such as USD, EUR or INR"
        )
    alias = values.get("alias", "").strip()
    try:
        request = CreateAccountRequestWithoutCustomerId(
            id=values.get("id", "").strip(),
            name=values.get("name", ""),
            invoice_currency=code or "USD",
            aliases=[alias] if alias else None,
        )
    except ValidationError as exc:
        errors = {**_pydantic_errors(exc, _ACCOUNT_FIELDS, _ACCOUNT_WORDS), **errors}
        raise Refused(errors) from None
    if errors:
        raise Refused(errors)
    return request


def account_errors(error: Exception, values: dict[str, str]) -> Errors:
    """AccountService's refusal of a new account, by field."""
    message = _message(error)
    typed_id = _quoted(values.get("id", "").strip())
    if "already exists" in message and "account with id" in message:
        return {"id": f"Account ID: {typed_id} is the id of another account: pick another one"}
    if "is already an alias of another account" in message:
        return {"id": f"Account ID: {typed_id} is an alias of another account: pick another id"}
    if "invoiceCurrency" in message:
        return {"currency": _ACCOUNT_WORDS["currency"]}
    if message.startswith("Alias"):
        return {"alias": alias_words(message, values.get("alias", "").strip())}
    if "archived" in message:
        return {"form": "This customer is archived: it cannot get new accounts"}
    return {"form": message}


# -- aliases -----------------------------------------------------------------------------------------------------
def alias_of(value: str) -> AddAccountAliasesRequest:
    """One alias to add: events may name the account by it (3 to 50 characters, no spaces, slashes, ? or #)."""
    if not value.strip():
        raise Refused({"alias": "Alias: type the alias to add, such as acme-prod-cluster"})
    try:
        return AddAccountAliasesRequest(aliases=[value.strip()])
    except ValidationError as exc:
        raise Refused(_pydantic_errors(exc, {"aliases": ("alias", "Alias")}, _ACCOUNT_WORDS)) from None


def alias_words(message: str, value: str) -> str:
    """AccountService's refusal of an alias, in words."""
    name = _quoted(value)
    taken = re.search(r"already used by account (\S+)", message)
    if taken:
        return f"Alias: {name} is taken: account {taken.group(1)} uses it. An alias names one account at a time"
    if "is the id of another account" in message:
        return f"Alias: {name} is the id of another account: pick another alias"
    if "given twice" in message:
        return f"Alias: {name} is given twice"
    if "at most" in message:
        limit = re.search(r"at most (\d+)", message)
        return (
            f"Alias: an account holds at most {limit.group(1) if limit else 10} current or future aliases: remove one "
            "first"
        )
    if "archived" in message:
        return "Alias: this account is archived: it cannot get aliases"
    if "has no current or future alias" in message:
        return f"Alias: {name} is not an alias of this account any more"
    return f"Alias: {message}"


def alias_errors(error: Exception, value: str) -> Errors:
    return {"alias": alias_words(_message(error), value)}


# -- Edit Customer -----------------------------------------------------------------------------------------------
_CUSTOMER_FIELDS = {
    "name": ("name", "Customer Name"),
    "primary_email": ("email", "Email ID"),
    "primaryEmail": ("email", "Email ID"),
    "line1": ("line1", "Street"),
    "city": ("city", "City"),
    "postal_code": ("postal_code", "Postal code"),
    "postalCode": ("postal_code", "Postal code"),
    "country": ("country", "Country"),
}
_CUSTOMER_WORDS = {
    "email": "Email ID: enter an email address, such as billing@company.com",
    "country": "Country: enter a two-letter ISO 3166-1 country code, such as US, DE or IN",
}


def customer_update_of(values: dict[str, str]) -> UpdateCustomerRequest:
    """Edit Customer: name, email and billing address (every mistake at once, the address's too)."""
    errors: Errors = {}
    address = None
    try:
        address = Address(
            line1=values.get("line1") or None,
            city=values.get("city") or None,
            postal_code=values.get("postalCode") or None,
            country=values.get("country") or None,
        )
    except ValidationError as exc:
        errors.update(_pydantic_errors(exc, _CUSTOMER_FIELDS, _CUSTOMER_WORDS))
    try:
        request = UpdateCustomerRequest(
            name=values.get("name", ""), primary_email=values.get("email", "").strip(), address=address
        )
    except ValidationError as exc:
        errors = {**_pydantic_errors(exc, _CUSTOMER_FIELDS, _CUSTOMER_WORDS), **errors}
    if errors:
        raise Refused(errors)
    return request


def customer_errors(error: Exception) -> Errors:
    message = _message(error)
    if "archived" in message:
        return {"form": "This customer is archived: it cannot be changed"}
    return {"form": message}


# -- the ongoing invoice's summary -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChargeRow:
    """A charge of the ongoing invoice as the summary lists it: its position (1 first, as its line id says)."""

    position: int
    name: str
    value: Decimal


def charge_rows(lines: list[Any]) -> list[ChargeRow]:
    """The MISCELLANEOUS_CHARGE lines of an invoice (ids `MISCELLANEOUS_CHARGE:<n>`) as rows."""
    rows = []
    for line in lines:
        _, _, n = line.id.partition(":")
        if ascii_digits(n):
            rows.append(ChargeRow(int(n), line.description, line.value))
    return rows


# ISO 4217 names (the English names of the standard's list), so that Add Account's list finds "euro" or "rupee".
CURRENCY_NAMES = {
    "AED": "UAE Dirham",
    "AFN": "Afghani",
    "ALL": "Lek",
    "AMD": "Armenian Dram",
    "ANG": "Netherlands Antillean Guilder",
    "AOA": "Kwanza",
    "ARS": "Argentine Peso",
    "AUD": "Australian Dollar",
    "AWG": "Aruban Florin",
    "AZN": "Azerbaijan Manat",
    "BAM": "Convertible Mark",
    "BBD": "Barbados Dollar",
    "BDT": "Taka",
    "BGN": "Bulgarian Lev",
    "BHD": "Bahraini Dinar",
    "BIF": "Burundi Franc",
    "BMD": "Bermudian Dollar",
    "BND": "Brunei Dollar",
    "BOB": "Boliviano",
    "BOV": "Mvdol",
    "BRL": "Brazilian Real",
    "BSD": "Bahamian Dollar",
    "BTN": "Ngultrum",
    "BWP": "Pula",
    "BYN": "Belarusian Ruble",
    "BZD": "Belize Dollar",
    "CAD": "Canadian Dollar",
    "CDF": "Congolese Franc",
    "CHE": "WIR Euro",
    "CHF": "Swiss Franc",
    "CHW": "WIR Franc",
    "CLF": "Unidad de Fomento",
    "CLP": "Chilean Peso",
    "CNY": "Yuan Renminbi",
    "COP": "Colombian Peso",
    "COU": "Unidad de Valor Real",
    "CRC": "Costa Rican Colon",
    "CUP": "Cuban Peso",
    "CVE": "Cabo Verde Escudo",
    "CZK": "Czech Koruna",
    "DJF": "Djibouti Franc",
    "DKK": "Danish Krone",
    "DOP": "Dominican Peso",
    "DZD": "Algerian Dinar",
    "EGP": "Egyptian Pound",
    "ERN": "Nakfa",
    "ETB": "Ethiopian Birr",
    "EUR": "Euro",
    "FJD": "Fiji Dollar",
    "FKP": "Falkland Islands Pound",
    "GBP": "Pound Sterling",
    "GEL": "Lari",
    "GHS": "Ghana Cedi",
    "GIP": "Gibraltar Pound",
    "GMD": "Dalasi",
    "GNF": "Guinean Franc",
    "GTQ": "Quetzal",
    "GYD": "Guyana Dollar",
    "HKD": "Hong Kong Dollar",
    "HNL": "Lempira",
    "HTG": "Gourde",
    "HUF": "Forint",
    "IDR": "Rupiah",
    "ILS": "New Israeli Sheqel",
    "INR": "Indian Rupee",
    "IQD": "Iraqi Dinar",
    "IRR": "Iranian Rial",
    "ISK": "Iceland Krona",
    "JMD": "Jamaican Dollar",
    "JOD": "Jordanian Dinar",
    "JPY": "Yen",
    "KES": "Kenyan Shilling",
    "KGS": "Som",
    "KHR": "Riel",
    "KMF": "Comorian Franc",
    "KPW": "North Korean Won",
    "KRW": "Won",
    "KWD": "Kuwaiti Dinar",
    "KYD": "Cayman Islands Dollar",
    "KZT": "Tenge",
    "LAK": "Lao Kip",
    "LBP": "Lebanese Pound",
    "LKR": "Sri Lanka Rupee",
    "LRD": "Liberian Dollar",
    "LSL": "Loti",
    "LYD": "Libyan Dinar",
    "MAD": "Moroccan Dirham",
    "MDL": "Moldovan Leu",
    "MGA": "Malagasy Ariary",
    "MKD": "Denar",
    "MMK": "Kyat",
    "MNT": "Tugrik",
    "MOP": "Pataca",
    "MRU": "Ouguiya",
    "MUR": "Mauritius Rupee",
    "MVR": "Rufiyaa",
    "MWK": "Malawi Kwacha",
    "MXN": "Mexican Peso",
    "MXV": "Mexican Unidad de Inversion (UDI)",
    "MYR": "Malaysian Ringgit",
    "MZN": "Mozambique Metical",
    "NAD": "Namibia Dollar",
    "NGN": "Naira",
    "NIO": "Cordoba Oro",
    "NOK": "Norwegian Krone",
    "NPR": "Nepalese Rupee",
    "NZD": "New Zealand Dollar",
    "OMR": "Rial Omani",
    "PAB": "Balboa",
    "PEN": "Sol",
    "PGK": "Kina",
    "PHP": "Philippine Peso",
    "PKR": "Pakistan Rupee",
    "PLN": "Zloty",
    "PYG": "Guarani",
    "QAR": "Qatari Rial",
    "RON": "Romanian Leu",
    "RSD": "Serbian Dinar",
    "RUB": "Russian Ruble",
    "RWF": "Rwanda Franc",
    "SAR": "Saudi Riyal",
    "SBD": "Solomon Islands Dollar",
    "SCR": "Seychelles Rupee",
    "SDG": "Sudanese Pound",
    "SEK": "Swedish Krona",
    "SGD": "Singapore Dollar",
    "SHP": "Saint Helena Pound",
    "SLE": "Leone",
    "SOS": "Somali Shilling",
    "SRD": "Surinam Dollar",
    "SSP": "South Sudanese Pound",
    "STN": "Dobra",
    "SVC": "El Salvador Colon",
    "SYP": "Syrian Pound",
    "SZL": "Lilangeni",
    "THB": "Baht",
    "TJS": "Somoni",
    "TMT": "Turkmenistan New Manat",
    "TND": "Tunisian Dinar",
    "TOP": "Pa’anga",
    "TRY": "Turkish Lira",
    "TTD": "Trinidad and Tobago Dollar",
    "TWD": "New Taiwan Dollar",
    "TZS": "Tanzanian Shilling",
    "UAH": "Hryvnia",
    "UGX": "Uganda Shilling",
    "USD": "US Dollar",
    "USN": "US Dollar (Next day)",
    "UYI": "Uruguay Peso en Unidades Indexadas (UI)",
    "UYU": "Peso Uruguayo",
    "UYW": "Unidad Previsional",
    "UZS": "Uzbekistan Sum",
    "VED": "Bolívar Soberano",
    "VES": "Bolívar Soberano",
    "VND": "Dong",
    "VUV": "Vatu",
    "WST": "Tala",
    "XAF": "CFA Franc BEAC",
    "XCD": "East Caribbean Dollar",
    "XCG": "Caribbean Guilder",
    "XOF": "CFA Franc BCEAO",
    "XPF": "CFP Franc",
    "YER": "Yemeni Rial",
    "ZAR": "Rand",
    "ZMW": "Zambian Kwacha",
    "ZWG": "Zimbabwe Gold",
}
