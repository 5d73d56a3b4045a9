"""The account pages' form translation, pure (console/account_forms.py): what each form says into a service's request,
and each service's refusal (its exact message) into words next to the field it is about: never an API path such as
`creditRequests[0].creditAmount`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterline.console import account_forms as forms
from meterline.console.account_forms import Refused
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.money import CURRENCIES

D = Decimal
API_WORDS = (
    "creditRequests",
    "creditAmount",
    "topupAmount",
    "pricePlanId",
    "effectiveFrom",
    "items[",
    "invoiceCurrency",
)


def refused(call: object, *args: object) -> dict[str, str]:
    with pytest.raises(Refused) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.errors


def no_api_words(errors: dict[str, str]) -> None:
    for text in errors.values():
        assert not any(w in text for w in API_WORDS), text


@pytest.mark.parametrize(
    ("first", "last", "words"),
    [
        (date(2026, 12, 1), date(2026, 12, 31), "Dec 1 – Dec 31, 2026"),
        (date(2026, 12, 15), date(2027, 1, 14), "Dec 15, 2026 – Jan 14, 2027"),
        (date(2026, 2, 1), date(2026, 2, 1), "Feb 1 – Feb 1, 2026"),
    ],
)
def test_periods_in_words(first: date, last: date, words: str) -> None:
    assert forms.period(first, last) == words


@pytest.mark.parametrize(
    ("label", "text", "currency", "discount", "words"),
    [
        ("Amount", "25", "USD", False, None),
        ("Amount", "1,250.5", "USD", False, None),
        ("Value", "-20", "USD", True, None),
        ("Value", "0", "USD", True, None),
        ("Amount", "0", "USD", False, "Amount: enter an amount above 0, such as 25.00 (USD)"),
        ("Amount", "-5", "EUR", False, "Amount: enter an amount above 0, such as 25.00 (EUR)"),
        ("Amount", "forty", "USD", False, "Amount: enter an amount, such as 25.00 (USD)"),
        ("Amount", "", "USD", False, "Amount: enter an amount, such as 25.00 (USD)"),
        (
            "Value",
            "forty",
            "USD",
            True,
            "Value: enter an amount, such as 25.00, or a negative amount for a discount (USD)",
        ),
        (
            "Top up",
            "100000000000000000000",
            "USD",
            False,
            "Top up: enter an amount below 10^15 (a thousand trillion), such as 25.00 (USD)",
        ),
        ("Amount", "12.345", "USD", False, "Amount: USD amounts have at most 2 decimals, such as 25.00 (USD)"),
        ("Amount", "12.5", "JPY", False, "Amount: JPY has no minor unit: enter a whole amount, such as 25 (JPY)"),
        ("Amount", "1.2345", "KWD", False, "Amount: KWD amounts have at most 3 decimals, such as 25.000 (KWD)"),
        ("Amount", "0.0000000000001", "USD", False, "Amount: USD amounts have at most 2 decimals, such as 25.00 (USD)"),
    ],
)
def test_amounts_in_words(label: str, text: str, currency: str, discount: bool, words: str | None) -> None:
    assert forms.amount_words(label, text, currency, discount=discount) == words


def test_a_charge_of_the_form() -> None:
    assert forms.charge_of(" Setup ", "1,200.50", "USD") == forms.Charge(name="Setup", value="1200.50")
    assert forms.charge_of("Goodwill", "-20", "USD").value == "-20"
    assert refused(forms.charge_of, " ", "forty", "USD") == {
        "name": "Name: give the charge a name, as the invoice will show it (such as Setup fee)",
        "value": "Value: enter an amount, such as 25.00, or a negative amount for a discount (USD)",
    }


@pytest.mark.parametrize(
    ("error", "errors"),
    [
        (
            BadRequest("Account acme has no ongoing invoice: it has no price plan with a pricing cycle on 2026-12-04"),
            {"form": forms.NO_PLAN},
        ),
        (
            BadRequest("Invoice inv.1 is DUE: charges change only on a DRAFT invoice"),
            {"form": "This invoice is no longer a draft (it is due): its charges cannot change"},
        ),
        (
            BadRequest("items: charge 'Phantom check': 1000000000000000.00 is out of range (at most 15 digits before "),
            {"value": "Value: enter an amount below 10^15 (a thousand trillion), such as 25.00 (USD)"},
        ),
        (
            Conflict("Invoice inv.1 has no charge 'Setup' at position 2: its charges changed meanwhile"),
            {"form": "The charges changed since this page was shown: nothing was removed; look again"},
        ),
    ],
)
def test_charge_refusals_in_words(error: Exception, errors: dict[str, str]) -> None:
    assert forms.charge_errors(error, "USD", "Phantom check") == errors


def test_a_charge_already_on_the_invoice_that_fails_now_is_named() -> None:
    error = BadRequest("items: charge 'Big': 1000000000000000.00 is out of range (at most 15 digits before the point)")
    assert forms.charge_errors(error, "USD", "Setup") == {
        "form": "The charge “Big” already on this invoice cannot be computed now (its amount reaches 10^15): nothing "
        "was added. Remove that charge first, or change it through the API"
    }


def test_a_credit_of_the_form() -> None:
    today = date(2026, 12, 4)
    grant = forms.credit_of(
        "acme", {"amount": "15", "purpose": " Welcome ", "priority": "", "start": "", "until": "", "scope": "m1, ,a2"},
        "USD", today,
    )  # fmt: skip
    assert (grant.amount, grant.purpose, grant.priority, grant.effective_from, grant.scope) == (
        D(15), "Welcome", 1, today, ("m1", "a2"),
    )  # fmt: skip
    errors = refused(
        forms.credit_of,
        "acme",
        {
            "amount": "0",
            "purpose": "x",
            "priority": "99999999999999999999",
            "start": "2026-12-10",
            "until": "2026-12-01",
        },
        "USD",
        today,
    )
    assert errors == {
        "amount": "Amount: enter an amount above 0, such as 25.00 (USD)",
        "priority": "Priority: a whole number from 0 to 1,000,000 (lower numbers apply first)",
        "until": "Until: pick 2026-12-10 or a later day (the credit's last day)",
    }
    assert refused(forms.credit_of, "acme", {"amount": "5", "start": "9999-12-31"}, "USD", today) == {
        "start": "Effective from: pick a day from 1970-01-01 to 9999-12-30"
    }


@pytest.mark.parametrize(
    ("message", "values", "errors"),
    [
        (
            "creditRequests[0].creditAmount: must be more than 0 and below 10^15, in whole USD minor units (a credit "
            "is in the account's invoice currency)",
            {"amount": "25"},
            {"amount": "Amount: enter an amount above 0, such as 25.00 (USD)"},
        ),
        (
            "creditRequests[0].creditAmount: must be more than 0 and below 10^15, in whole USD minor units",
            {"amount": "2.555"},
            {"amount": "Amount: USD amounts have at most 2 decimals, such as 25.00 (USD)"},
        ),
        (
            "creditRequests[0].applicableEntityIds: um.nope is not a usage meter, an add-on, "
            "ALL_USAGE_METER_RATE_CARDS or ALL_FIXED_FEE_RATE_CARDS",
            {},
            {
                "scope": "Scope: “um.nope” is not a usage meter or an add-on id; give their ids, comma separated, or "
                "leave it empty for every line"
            },
        ),
        (
            "creditRequests[0].effectiveUntil must not be before effectiveFrom",
            {},
            {"until": "Until: pick the first day or a later one (the credit's last day)"},
        ),
        (
            "Credit credit.1 is VOIDED: only an ACTIVE credit can be voided",
            {},
            {"form": "This credit is voided: only an active credit can be voided"},
        ),
    ],
)
def test_credit_refusals_in_words(message: str, values: dict[str, str], errors: dict[str, str]) -> None:
    assert forms.credit_errors(BadRequest(message), values, "USD") == errors


def test_top_ups() -> None:
    assert forms.top_up_of("500", "USD") == D(500)
    assert refused(forms.top_up_of, "-25", "USD") == {"amount": "Top up: enter an amount above 0, such as 25.00 (USD)"}
    error = BadRequest("topupAmount: must be more than 0 and below 10^15, in whole JPY minor units")
    assert forms.top_up_errors(error, "12.5", "JPY") == {
        "amount": "Top up: JPY has no minor unit: enter a whole amount, such as 25 (JPY)"
    }


def test_a_schedule_edit_of_the_form() -> None:
    edit = forms.schedule_of({"plan_id": "pp.1", "start": "2026-12-01", "until": "2026-12-31"}, "ASSOCIATE")
    assert (edit.mode, edit.price_plan_id, str(edit.effective_from), str(edit.effective_until)) == (
        "ASSOCIATE", "pp.1", "2026-12-01", "2027-01-01",
    )  # fmt: skip
    assert str(forms.schedule_of({"plan_id": "pp.1", "start": "2026-12-01"}, "ASSOCIATE").effective_until) == (
        "9999-01-01"
    )
    ended = forms.schedule_of({"plan_id": "pp.1", "start": "2026-12-01"}, "DISASSOCIATE")
    assert (ended.mode, ended.price_plan_id) == ("DISASSOCIATE", None)
    assert refused(forms.schedule_of, {"plan_id": "", "start": "2026-12-05", "until": "2026-12-01"}, "ASSOCIATE") == {
        "until": "Until: pick 2026-12-05 or a later day (the last day on the plan)",
        "plan_id": "Price plan: pick the plan to attach (only ACTIVE plans are listed)",
    }
    for last in ("9999-12-31", "9999-12-30"):
        assert refused(forms.schedule_of, {"plan_id": "p", "start": "2026-12-05", "until": last}, "ASSOCIATE") == {
            "until": "Until: pick a day up to 9999-12-29, or leave it empty for no end"
        }
    assert refused(forms.schedule_of, {"plan_id": "p", "start": "soon"}, "ASSOCIATE") == {
        "start": "From: pick a day from the calendar (YYYY-MM-DD), such as 2026-12-01"
    }


@pytest.mark.parametrize(
    ("message", "errors"),
    [
        (
            "effectiveFrom: account acme is invoiced up to 2026-12-01 (finalized invoices never change); change its "
            "schedule from that day on",
            {
                "start": "From: finalized invoices cover this account until 2026-12-01, and they never change: pick "
                "2026-12-01 or a later day"
            },
        ),
        (
            "pricePlanId: price plan pp.1 is DRAFT; activate it first",
            {"plan_id": "Price plan: it is draft: activate it first (Price Plans), or pick an active one"},
        ),
        (
            "Price plan pp.1 is not active in USD, the currency of account acme (active: EUR)",
            {
                "plan_id": "Price plan: it is not active in USD, this account's currency (active in EUR): activate it "
                "in USD first, or pick another plan"
            },
        ),
        (
            "Account acme has no price plan between 2026-12-01 and 9999-01-01",
            {"start": "From: no price plan runs on this account from that day: there is nothing to end"},
        ),
    ],
)
def test_schedule_refusals_in_words(message: str, errors: dict[str, str]) -> None:
    assert forms.schedule_errors(BadRequest(message), "USD") == errors


def test_every_iso_currency_is_offered_with_its_name_and_found_by_code_or_name() -> None:
    choices = forms.currency_choices()
    assert [code for code, _ in choices] == sorted(CURRENCIES)
    assert all(name != code for code, name in choices)  # every code has its name
    assert dict(choices)["EUR"] == "Euro" and dict(choices)["INR"] == "Indian Rupee"
    for typed, code in [("EUR", "EUR"), (" eur ", "EUR"), ("euro", "EUR"), ("EUR · Euro", "EUR"), ("Yen", "JPY")]:
        assert forms.currency_code(typed) == code
    for typed in ("", "XYZ", "dollar", "Bolívar Soberano"):  # no currency, or a name two currencies share
        assert forms.currency_code(typed) is None


def test_add_account_of_the_form() -> None:
    request = forms.account_of({"name": "Berlin EUR", "id": " berlin-eur ", "currency": "euro", "alias": "bln-1"})
    assert (request.id, request.name, request.invoice_currency, request.aliases) == (
        "berlin-eur", "Berlin EUR", "EUR", ["bln-1"],
    )  # fmt: skip
    errors = refused(forms.account_of, {"name": "B", "id": "a b", "currency": "XYZ", "alias": "x"})
    assert errors == {
        "currency": "Currency: “XYZ” is not an ISO 4217 currency: pick one from the list, such as USD, EUR or INR",
        "name": "Account Name: at least 3 characters",
        "id": "Account ID: 1 to 50 characters, with no spaces, slashes, ? or #, and not . or ..",
        "alias": "Alias: at least 3 characters",
    }
    assert refused(forms.account_of, {"name": "Berlin", "id": "b", "currency": ""})["currency"] == (
        "Currency: pick the currency the account is invoiced in, such as USD, EUR or INR"
    )


@pytest.mark.parametrize(
    ("error", "errors"),
    [
        (
            Conflict("An account with id acme already exists"),
            {"id": "Account ID: “acme” is the id of another account: pick another one"},
        ),
        (
            Conflict("Alias acme-prod is already used by account granite from 1970-01-01T00:00:00Z until 9999-"),
            {"alias": "Alias: “acme-prod” is taken: account granite uses it. An alias names one account at a time"},
        ),
        (
            Conflict("Alias acme is the id of another account"),
            {"alias": "Alias: “acme-prod” is the id of another account: pick another alias"},
        ),
        (
            BadRequest("Customer c1 is archived: it cannot get new accounts"),
            {"form": "This customer is archived: it cannot get new accounts"},
        ),
    ],
)
def test_add_account_refusals_in_words(error: Exception, errors: dict[str, str]) -> None:
    assert forms.account_errors(error, {"id": "acme", "alias": "acme-prod"}) == errors


def test_aliases() -> None:
    assert forms.alias_of(" acme-prod ").aliases == ["acme-prod"]
    assert refused(forms.alias_of, "") == {"alias": "Alias: type the alias to add, such as acme-prod-cluster"}
    assert refused(forms.alias_of, "a b") == {"alias": "Alias: 3 to 50 characters, with no spaces, slashes, ? or #"}
    assert forms.alias_errors(BadRequest("An account can hold at most 10 current or future aliases"), "x") == {
        "alias": "Alias: an account holds at most 10 current or future aliases: remove one first"
    }
    assert forms.alias_errors(NotFound("Account acme has no current or future alias 'old'"), "old") == {
        "alias": "Alias: “old” is not an alias of this account any more"
    }


def test_edit_customer_of_the_form() -> None:
    update = forms.customer_update_of(
        {"name": "Zed", "email": " z@zed.test ", "line1": "", "city": "Zürich", "postalCode": "", "country": "CH"}
    )
    assert (update.name, update.primary_email, update.address.city if update.address else None) == (
        "Zed", "z@zed.test", "Zürich",
    )  # fmt: skip
    errors = refused(forms.customer_update_of, {"name": "", "email": "nope", "country": "Switzerland"})
    assert errors == {
        "name": "Customer Name: at least 3 characters",
        "email": "Email ID: enter an email address, such as billing@company.com",
        "country": "Country: enter a two-letter ISO 3166-1 country code, such as US, DE or IN",
    }
    no_api_words(errors)
