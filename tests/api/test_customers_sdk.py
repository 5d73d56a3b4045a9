"""CustomersApi through the official SDK against a live server, on both engines."""

from __future__ import annotations

import pytest
from togai_client import (
    Address,
    CreateAccountRequestWithoutCustomerId,
    CreateCustomerContactRequest,
    CreateCustomerRequest,
    CreateEntitySetting,
    UpdateCustomerRequest,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of


def acme(customer_id: str = "cust1", **kwargs: object) -> CreateCustomerRequest:
    return CreateCustomerRequest(
        id=customer_id,
        name=kwargs.pop("name", "Acme Inc"),
        primary_email="billing@acme.test",
        address=Address(line1="1 Main St", city="Springfield", country="US"),
        **kwargs,
    )


def test_create_customer_makes_a_default_account(sdk: Sdk) -> None:
    response = sdk.customers.create_customer_with_http_info(acme())
    assert response.status_code == 201
    created = response.data
    assert created.id == "cust1"
    assert created.togai_customer_id.startswith("customer.")
    assert created.account is not None
    assert created.account.id == "cust1"
    assert created.account.name == "Acme Inc"
    assert created.account.invoice_currency == "USD"
    assert created.account.status == "ACTIVE"
    assert created.account.customer_id == "cust1"
    assert created.account.togai_customer_id == created.togai_customer_id

    customer = sdk.customers.get_customer("cust1")
    assert customer.name == "Acme Inc"
    assert customer.billing_address == "1 Main St, Springfield, US"
    assert customer.address.country == "US"
    assert customer.status == "ACTIVE"
    assert customer.created_at == customer.updated_at
    assert sdk.accounts.get_account("cust1").name == "Acme Inc"


def test_create_customer_with_its_own_first_account_and_settings(sdk: Sdk) -> None:
    created = sdk.customers.create_customer(
        acme(
            "cust2",
            settings=[
                CreateEntitySetting(id="qb", value="QB-1", namespace="USER", name="QuickBooks id", data_type="STRING")
            ],
            account=CreateAccountRequestWithoutCustomerId(
                id="cust2-eu",
                name="Acme Europe",
                invoice_currency="EUR",
                aliases=["acme-eu"],
                tags=["Gold"],
                net_term_days=30,
                metadata={"vatn": "DE123"},
            ),
        )
    )
    assert created.account.id == "cust2-eu"
    assert created.account.invoice_currency == "EUR"
    assert [a.alias for a in created.account.aliases] == ["acme-eu"]
    assert created.account.tags == ["gold"]
    assert created.account.metadata == {"vatn": "DE123"}
    assert [s.id for s in created.settings] == ["qb"]
    with pytest.raises(NotFoundException, match="Account cust2 not found"):
        sdk.accounts.get_account("cust2")  # no default account when one is given


def test_duplicate_customer_id_is_409(sdk: Sdk) -> None:
    sdk.customers.create_customer(acme("dup"))
    with pytest.raises(ApiException) as raised:
        sdk.customers.create_customer(acme("dup"))
    assert raised.value.status == 409
    assert "dup" in message_of(raised.value)


def test_default_account_id_taken_by_another_account_is_409_and_creates_nothing(sdk: Sdk) -> None:
    sdk.customers.create_customer(
        acme("first", account=CreateAccountRequestWithoutCustomerId(id="shared", name="Shared"))
    )
    with pytest.raises(ApiException, match="An account with id shared already exists") as raised:
        sdk.customers.create_customer(acme("shared"))
    assert raised.value.status == 409
    with pytest.raises(NotFoundException, match="Customer shared not found"):
        sdk.customers.get_customer("shared")  # the failed request left nothing behind


def test_server_side_validation_names_the_field(sdk: Sdk) -> None:
    # model_construct skips the SDK's own checks, so the server's are what answer.
    bad = CreateCustomerRequest.model_construct(
        id="short", name="ab", primary_email="billing@acme.test", address=Address(), settings=None, account=None
    )
    with pytest.raises(BadRequestException) as raised:
        sdk.customers.create_customer(bad)
    assert message_of(raised.value).startswith("name:")
    too_long = CreateCustomerRequest.model_construct(
        id="x" * 51, name="Long id", primary_email="a@b.co", address=Address(), settings=None, account=None
    )
    with pytest.raises(BadRequestException) as raised:
        sdk.customers.create_customer(too_long)
    assert "id" in message_of(raised.value)


def test_get_unknown_customer_is_404(sdk: Sdk) -> None:
    with pytest.raises(NotFoundException) as raised:
        sdk.customers.get_customer("nobody")
    assert message_of(raised.value) == "Customer nobody not found"


def test_update_customer_keeps_its_id(sdk: Sdk) -> None:
    sdk.customers.create_customer(acme("upd"))
    updated = sdk.customers.update_customer(
        "upd", UpdateCustomerRequest(name="Acme Renamed", primary_email="ap@acme.test", address=Address(country="DE"))
    )
    assert updated.id == "upd"
    assert updated.name == "Acme Renamed"
    assert updated.primary_email == "ap@acme.test"
    assert updated.billing_address == "DE"
    assert updated.updated_at >= updated.created_at
    assert sdk.customers.get_customer("upd").name == "Acme Renamed"


def test_get_customers_pages_with_next_token(sdk: Sdk) -> None:
    for i in range(5):
        sdk.customers.create_customer(acme(f"page-{i}"))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = sdk.customers.get_customers(next_token=token, page_size=2.0)  # the SDK may send 2.0
        pages += 1
        seen.extend(c.id for c in page.data)
        token = page.next_token
        if not token:
            break
    assert seen == [f"page-{i}" for i in range(5)]
    assert pages == 3


def test_bad_page_size_and_token_are_400(sdk: Sdk) -> None:
    with pytest.raises(BadRequestException, match="pageSize: Input should be greater than or equal to 1"):
        sdk.customers.get_customers(page_size=0)
    with pytest.raises(BadRequestException, match="pageSize: Input should be less than or equal to 50"):
        sdk.customers.get_customers(page_size=51)
    with pytest.raises(BadRequestException) as raised:
        sdk.customers.get_customers(next_token="not-a-token")
    assert "nextToken" in message_of(raised.value)


def test_delete_customer_removes_it_and_its_accounts(sdk: Sdk) -> None:
    sdk.customers.create_customer(acme("gone"))
    assert sdk.customers.delete_customer("gone").success is True
    with pytest.raises(NotFoundException, match="Customer gone not found"):
        sdk.customers.get_customer("gone")
    with pytest.raises(NotFoundException, match="Account gone not found"):
        sdk.accounts.get_account("gone")
    with pytest.raises(NotFoundException, match="Customer gone not found"):
        sdk.customers.delete_customer("gone")
    # the id is free again
    assert sdk.customers.create_customer(acme("gone")).id == "gone"


def test_create_customer_contact(sdk: Sdk) -> None:
    sdk.customers.create_customer(acme("withcontact"))
    response = sdk.customers.create_customer_contact_with_http_info(
        "withcontact",
        CreateCustomerContactRequest(
            name="Jane Doe", email="jane@acme.test", preferred_username="jane01", phone="+15550100"
        ),
    )
    assert response.status_code == 201
    contact = response.data
    assert contact.username == "jane01"
    assert contact.email == "jane@acme.test"
    assert contact.login_access is False
    assert contact.verified is False
    generated = sdk.customers.create_customer_contact(
        "withcontact", CreateCustomerContactRequest(name="Bob", email="bob.smith@acme.test")
    )
    assert generated.username == "bobsmith"
    with pytest.raises(
        ApiException, match="Customer withcontact already has a contact with email jane@acme.test"
    ) as raised:
        sdk.customers.create_customer_contact(
            "withcontact", CreateCustomerContactRequest(name="J", email="jane@acme.test")
        )
    assert raised.value.status == 409
    with pytest.raises(NotFoundException, match="Customer nobody not found"):
        sdk.customers.create_customer_contact("nobody", CreateCustomerContactRequest(name="J", email="j@x.io"))


def test_another_organizations_key_sees_nothing(sdk: Sdk, other_sdk: Sdk) -> None:
    sdk.customers.create_customer(acme("private"))
    with pytest.raises(NotFoundException, match="Customer private not found"):
        other_sdk.customers.get_customer("private")
    with pytest.raises(NotFoundException, match="Customer private not found"):
        other_sdk.customers.update_customer("private", UpdateCustomerRequest(name="Stolen"))
    with pytest.raises(NotFoundException, match="Customer private not found"):
        other_sdk.customers.delete_customer("private")
    with pytest.raises(NotFoundException, match="Account private not found"):
        other_sdk.accounts.get_account("private")
    assert other_sdk.customers.get_customers().data == []
    # the same id is free in the other organization
    assert other_sdk.customers.create_customer(acme("private")).id == "private"
    assert sdk.customers.get_customer("private").name == "Acme Inc"
