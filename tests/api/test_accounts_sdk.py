"""AccountsApi (accounts and aliases) through the official SDK against a live server, on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from togai_client import (
    AccountsBillingInformation,
    AddAccountAliasesRequest,
    Address,
    CreateAccountAliasRequest,
    CreateAccountRequest,
    CreateCustomerRequest,
    RemoveAccountAliasesRequest,
    RemoveAccountAliasRequest,
    UpdateAccountRequest,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of

UTC = timezone.utc


@pytest.fixture
def customer(sdk: Sdk) -> str:
    sdk.customers.create_customer(
        CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="billing@acme.test", address=Address())
    )
    return "acme"


def test_create_account_with_every_field(sdk: Sdk, customer: str) -> None:
    response = sdk.accounts.create_account_with_http_info(
        CreateAccountRequest(
            id="acme-eu",
            name="Acme Europe",
            customer_id=customer,
            invoice_currency="EUR",
            aliases=["acme-eu-alias"],
            account_aliases=[CreateAccountAliasRequest(value="acme-eu-2024", effective_from=datetime(2024, 1, 1))],
            address=Address(line1="Hauptstr. 1", country="DE"),
            primary_email="eu@acme.test",
            billing_information=AccountsBillingInformation(email_recipients=["ap@acme.test"]),
            net_term_days=14,
            metadata={"vatn": "DE1"},
            tags=["Gold", "EU"],
            status="DRAFT",
        )
    )
    assert response.status_code == 201
    account = response.data
    assert account.id == "acme-eu"
    assert account.togai_account_id.startswith("account.")
    assert account.customer_id == customer
    assert account.invoice_currency == "EUR"
    assert sorted(a.alias for a in account.aliases) == ["acme-eu-2024", "acme-eu-alias"]
    assert account.address.country == "DE"
    assert account.billing_information.email_recipients == ["ap@acme.test"]
    assert account.net_term_days == 14
    assert account.metadata == {"vatn": "DE1"}
    assert account.tags == ["gold", "eu"]
    assert account.status == "DRAFT"
    assert sdk.accounts.get_account("acme-eu") == account


def test_account_currency_defaults_to_the_organization_and_never_changes(sdk: Sdk, customer: str) -> None:
    account = sdk.accounts.create_account(CreateAccountRequest(id="acme-2", name="Second", customer_id=customer))
    assert account.invoice_currency == "USD"
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.update_account("acme-2", UpdateAccountRequest(invoice_currency="EUR"))
    assert "invoiceCurrency cannot be changed" in raised.value.data.message
    assert sdk.accounts.get_account("acme-2").invoice_currency == "USD"
    # sending the same currency is not a change
    assert sdk.accounts.update_account("acme-2", UpdateAccountRequest(invoice_currency="USD")).invoice_currency == "USD"


def test_unknown_currency_is_400(sdk: Sdk, customer: str) -> None:
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.create_account(
            CreateAccountRequest(id="acme-x", name="Bad", customer_id=customer, invoice_currency="XYZ")
        )
    assert "ISO 4217" in raised.value.data.message


def test_update_account_replaces_metadata_and_tags(sdk: Sdk, customer: str) -> None:
    sdk.accounts.create_account(
        CreateAccountRequest(id="acme-m", name="Meta", customer_id=customer, metadata={"a": "1", "b": "2"}, tags=["x"])
    )
    updated = sdk.accounts.update_account(
        "acme-m",
        UpdateAccountRequest(name="Meta renamed", metadata={"c": "3"}, tags=["Y"], net_term_days=45, status="DRAFT"),
    )
    assert updated.name == "Meta renamed"
    assert updated.metadata == {"c": "3"}
    assert updated.tags == ["y"]
    assert updated.net_term_days == 45
    assert updated.status == "DRAFT"
    cleared = sdk.accounts.update_account("acme-m", UpdateAccountRequest(metadata={}))
    assert not cleared.metadata
    assert cleared.name == "Meta renamed"  # fields not sent stay as they were


def test_create_account_failures(sdk: Sdk, customer: str) -> None:
    with pytest.raises(NotFoundException) as raised:
        sdk.accounts.create_account(CreateAccountRequest(id="orphan", name="Orphan", customer_id="nobody"))
    assert "Customer nobody" in raised.value.data.message
    with pytest.raises(ApiException, match="An account with id acme already exists") as conflict:
        sdk.accounts.create_account(CreateAccountRequest(id=customer, name="Again", customer_id=customer))
    assert conflict.value.status == 409
    bad = CreateAccountRequest.model_construct(
        id="ok-id", name="Account", customer_id=customer, invoice_currency="EURO"
    )
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.create_account(bad)
    assert raised.value.data.message.startswith("invoiceCurrency:")


def test_get_accounts_pages(sdk: Sdk, customer: str) -> None:
    for i in range(3):
        sdk.accounts.create_account(CreateAccountRequest(id=f"acc-{i}", name=f"Account {i}", customer_id=customer))
    first = sdk.accounts.get_accounts(page_size=2)
    second = sdk.accounts.get_accounts(page_size=2, next_token=first.next_token)
    assert [a.id for a in first.data + second.data] == [customer, "acc-0", "acc-1", "acc-2"]
    assert second.next_token is None


def test_delete_account(sdk: Sdk, customer: str) -> None:
    sdk.accounts.create_account(
        CreateAccountRequest(id="temp", name="Temporary", customer_id=customer, aliases=["tmp-alias"])
    )
    assert sdk.accounts.delete_account("temp").success is True
    with pytest.raises(NotFoundException, match="Account temp not found"):
        sdk.accounts.get_account("temp")
    # its alias is free for another account
    sdk.accounts.add_aliases(customer, AddAccountAliasesRequest(aliases=["tmp-alias"]))


def test_add_list_and_remove_aliases(sdk: Sdk, customer: str) -> None:
    now = datetime.now(UTC)
    account = sdk.accounts.add_aliases(
        customer,
        AddAccountAliasesRequest(
            aliases=["acme@acme.test"],
            account_aliases=[
                CreateAccountAliasRequest(
                    value="+15550100", effective_from=datetime(2024, 1, 1), effective_until=datetime(2025, 1, 1)
                ),
                CreateAccountAliasRequest(value="future-alias", effective_from=now + timedelta(days=30)),
            ],
        ),
    )
    # only the alias effective now is listed on the account
    assert [a.alias for a in account.aliases] == ["acme@acme.test"]
    in_2024 = sdk.accounts.get_account(customer, effective_on=datetime(2024, 6, 1, tzinfo=UTC))
    assert sorted(a.alias for a in in_2024.aliases) == ["+15550100", "acme@acme.test"]

    rows = {r.value: r for r in sdk.accounts.list_account_aliases(customer).data}
    assert set(rows) == {"acme@acme.test", "+15550100", "future-alias"}
    assert rows["+15550100"].effective_from == datetime(2024, 1, 1, tzinfo=UTC)
    assert rows["+15550100"].effective_until == datetime(2025, 1, 1, tzinfo=UTC)
    assert rows["acme@acme.test"].effective_from.year == 1970  # open ends are concrete sentinels
    assert rows["acme@acme.test"].effective_until.year == 9999

    # remove by value: ends now; remove a future alias by id: it never applies, so it goes
    removed = sdk.accounts.remove_aliases(
        customer,
        RemoveAccountAliasesRequest(
            aliases=["acme@acme.test"], account_aliases=[RemoveAccountAliasRequest(id=rows["future-alias"].id)]
        ),
    )
    assert removed.aliases == []
    after = {r.value: r for r in sdk.accounts.list_account_aliases(customer).data}
    assert set(after) == {"acme@acme.test", "+15550100"}
    assert after["acme@acme.test"].effective_until <= datetime.now(UTC)
    # the value is free again from now on, but not before: its past still names this account
    later = datetime.now(UTC) + timedelta(seconds=1)
    with pytest.raises(
        ApiException, match="Alias acme@acme.test is already used by account acme from 1970-01-01T00:00:00Z until "
    ) as raised:
        sdk.accounts.create_account(
            CreateAccountRequest(id="other", name="Other", customer_id=customer, aliases=["acme@acme.test"])
        )
    assert raised.value.status == 409
    other = sdk.accounts.create_account(
        CreateAccountRequest(
            id="other",
            name="Other",
            customer_id=customer,
            account_aliases=[CreateAccountAliasRequest(value="acme@acme.test", effective_from=later)],
        )
    )
    assert sdk.accounts.list_account_aliases(other.id).data[0].effective_from == later


def test_alias_is_unique_at_every_instant(sdk: Sdk, customer: str) -> None:
    sdk.accounts.create_account(CreateAccountRequest(id="b", name="Bravo", customer_id=customer))
    sdk.accounts.add_aliases(
        customer,
        AddAccountAliasesRequest(
            account_aliases=[
                CreateAccountAliasRequest(
                    value="shared", effective_from=datetime(2024, 1, 1), effective_until=datetime(2024, 7, 1)
                )
            ]
        ),
    )
    with pytest.raises(ApiException) as raised:
        sdk.accounts.add_aliases(
            "b",
            AddAccountAliasesRequest(
                account_aliases=[CreateAccountAliasRequest(value="shared", effective_from=datetime(2024, 6, 1))]
            ),
        )
    assert raised.value.status == 409
    assert f"already used by account {customer}" in message_of(raised.value)
    # a range that starts where the other ends does not overlap ([from, until) is half-open)
    account = sdk.accounts.add_aliases(
        "b",
        AddAccountAliasesRequest(
            account_aliases=[CreateAccountAliasRequest(value="shared", effective_from=datetime(2024, 7, 1))]
        ),
    )
    assert [a.alias for a in account.aliases] == ["shared"]
    # an alias may not be another account's id
    with pytest.raises(ApiException, match="Alias acme is the id of another account") as raised:
        sdk.accounts.add_aliases("b", AddAccountAliasesRequest(aliases=[customer]))
    assert raised.value.status == 409


def test_alias_failures(sdk: Sdk, customer: str) -> None:
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.add_aliases(
            customer,
            AddAccountAliasesRequest(
                account_aliases=[
                    CreateAccountAliasRequest(
                        value="backwards", effective_from=datetime(2025, 1, 1), effective_until=datetime(2024, 1, 1)
                    )
                ]
            ),
        )
    assert "effectiveFrom must be before effectiveUntil" in raised.value.data.message
    with pytest.raises(BadRequestException, match="aliases\\[0\\]: String should have at least 3 characters"):
        sdk.accounts.add_aliases(
            customer, AddAccountAliasesRequest.model_construct(aliases=["ab"], account_aliases=None)
        )
    with pytest.raises(BadRequestException, match="Give at least one alias in aliases or accountAliases"):
        sdk.accounts.add_aliases(customer, AddAccountAliasesRequest.model_construct(aliases=None, account_aliases=None))
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.add_aliases(customer, AddAccountAliasesRequest(aliases=[f"alias-{i}" for i in range(10)]))
        sdk.accounts.add_aliases(customer, AddAccountAliasesRequest(aliases=["one-too-many"]))
    assert "at most 10" in raised.value.data.message
    with pytest.raises(NotFoundException, match="has no current or future alias 'never-had'"):
        sdk.accounts.remove_aliases(customer, RemoveAccountAliasesRequest(aliases=["never-had"]))
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.accounts.add_aliases("nobody", AddAccountAliasesRequest(aliases=["whatever"]))
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.accounts.list_account_aliases("nobody")


def test_another_organizations_key_cannot_touch_accounts(sdk: Sdk, other_sdk: Sdk, customer: str) -> None:
    sdk.accounts.add_aliases(customer, AddAccountAliasesRequest(aliases=["mine"]))
    account, owner = f"Account {customer} not found", f"Customer {customer} not found"
    for call, words in (
        (lambda: other_sdk.accounts.get_account(customer), account),
        (lambda: other_sdk.accounts.update_account(customer, UpdateAccountRequest(name="Stolen")), account),
        (lambda: other_sdk.accounts.delete_account(customer), account),
        (lambda: other_sdk.accounts.add_aliases(customer, AddAccountAliasesRequest(aliases=["theirs"])), account),
        (lambda: other_sdk.accounts.remove_aliases(customer, RemoveAccountAliasesRequest(aliases=["mine"])), account),
        (lambda: other_sdk.accounts.list_account_aliases(customer), account),
        (
            lambda: other_sdk.accounts.create_account(
                CreateAccountRequest(id="sneaky", name="Sneaky", customer_id=customer)
            ),
            owner,
        ),
        (lambda: other_sdk.aliases.get_alias("mine"), "Alias mine not found"),
    ):
        with pytest.raises(NotFoundException, match=words):
            call()
    assert other_sdk.accounts.get_accounts().data == []
    assert sdk.accounts.get_account(customer).name == "Acme Inc"
    assert [a.alias for a in sdk.accounts.get_account(customer).aliases] == ["mine"]
    # aliases are unique per organization, not across them
    other_sdk.customers.create_customer(
        CreateCustomerRequest(id="acme", name="Other Acme", primary_email="x@y.io", address=Address())
    )
    other_sdk.accounts.add_aliases("acme", AddAccountAliasesRequest(aliases=["mine"]))
