"""AliasesApi, SettingsApi and AuthenticationApi through the official SDK against a live server."""

from __future__ import annotations

import pytest
import togai_client
from togai_client import (
    AddAccountAliasesRequest,
    Address,
    CreateAliasRequest,
    CreateBulkAliasRequest,
    CreateCustomerRequest,
    CreateEntitySetting,
    RemoveAccountAliasesRequest,
    Setting,
    UpdateSettingRequest,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException, UnauthorizedException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant


def test_alias_registry(sdk: Sdk) -> None:
    response = sdk.aliases.create_alias_with_http_info(
        CreateBulkAliasRequest(aliases=[CreateAliasRequest(value="alpha"), CreateAliasRequest(value="beta")])
    )
    assert response.status_code == 201
    assert [a.value for a in response.data.data] == ["alpha", "beta"]
    assert sdk.aliases.get_alias("alpha").value == "alpha"
    with pytest.raises(ApiException, match="Alias 'alpha' already exists") as raised:
        sdk.aliases.create_alias(CreateBulkAliasRequest(aliases=[CreateAliasRequest(value="alpha")]))
    assert raised.value.status == 409
    page = sdk.aliases.list_aliases(page_size=1)
    assert [a.value for a in page.data] == ["alpha"]
    assert [a.value for a in sdk.aliases.list_aliases(next_token=page.next_token).data] == ["beta"]
    assert sdk.aliases.delete_alias("beta").success is True
    with pytest.raises(NotFoundException, match="Alias beta not found"):
        sdk.aliases.get_alias("beta")


def test_account_aliases_register_and_block_deletion(sdk: Sdk) -> None:
    sdk.customers.create_customer(
        CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=Address())
    )
    sdk.accounts.add_aliases("acme", AddAccountAliasesRequest(aliases=["acme-alias"]))
    assert sdk.aliases.get_alias("acme-alias").value == "acme-alias"
    with pytest.raises(BadRequestException) as raised:
        sdk.aliases.delete_alias("acme-alias")
    assert "assigned to account acme" in message_of(raised.value)
    sdk.accounts.remove_aliases("acme", RemoveAccountAliasesRequest(aliases=["acme-alias"]))
    assert sdk.aliases.delete_alias("acme-alias").success is True


def test_settings(sdk: Sdk, tenant: Tenant) -> None:
    sdk.customers.create_customer(
        CreateCustomerRequest(
            id="acme",
            name="Acme Inc",
            primary_email="a@acme.test",
            address=Address(),
            settings=[
                CreateEntitySetting(id="qb", value="QB-1", namespace="USER", name="QuickBooks id", data_type="STRING")
            ],
        )
    )
    response = sdk.settings.insert_setting_with_http_info(
        Setting(
            id="threshold",
            value="0.95",
            entity_type="ACCOUNT",
            entity_id="acme",
            namespace="USER",
            name="Success threshold",
            data_type="NUMERIC",
        )
    )
    assert response.status_code == 201
    assert response.data.value == "0.95"
    org_setting = sdk.settings.insert_setting(
        Setting(
            id="threshold",
            value="1",
            entity_type="ORGANIZATION",
            entity_id=tenant.org.id,
            namespace="USER",
            name="Org threshold",
            data_type="NUMERIC",
        )
    )
    assert org_setting.entity_id == tenant.org.id

    full_id = "setting.USER.threshold.ACCOUNT.acme"
    assert sdk.settings.get_setting(full_id).name == "Success threshold"
    assert sdk.settings.get_setting("qb").value == "QB-1"  # a plain id works while it is unique
    with pytest.raises(BadRequestException, match="Several settings have id threshold: use the full id"):
        sdk.settings.get_setting("threshold")  # two settings have that plain id

    updated = sdk.settings.update_setting_with_http_info(full_id, UpdateSettingRequest(value="0.99", name="Renamed"))
    assert updated.status_code == 201
    assert (updated.data.value, updated.data.name) == ("0.99", "Renamed")

    listed = sdk.settings.list_setting(entity_type="ACCOUNT", entity_id="acme")
    assert [(s.id, s.value) for s in listed.data] == [("threshold", "0.99")]
    assert {s.id for s in sdk.settings.list_setting(namespace="USER").data} == {"qb", "threshold"}
    assert len(sdk.settings.list_setting(setting_id="threshold").data) == 2
    assert sdk.accounts.get_account("acme").settings[0].value == "0.99"

    with pytest.raises(ApiException, match="Setting setting.USER.threshold.ACCOUNT.acme already exists") as raised:
        sdk.settings.insert_setting(
            Setting(
                id="threshold",
                value="2",
                entity_type="ACCOUNT",
                entity_id="acme",
                namespace="USER",
                name="Again",
                data_type="NUMERIC",
            )
        )
    assert raised.value.status == 409
    with pytest.raises(BadRequestException) as bad:
        sdk.settings.update_setting(full_id, UpdateSettingRequest(value="not a number"))
    assert "NUMERIC" in bad.value.data.message
    with pytest.raises(BadRequestException, match="a JSON value must be valid JSON"):
        sdk.settings.insert_setting(
            Setting(
                id="cfg",
                value="{broken",
                entity_type="ACCOUNT",
                entity_id="acme",
                namespace="USER",
                name="Cfg",
                data_type="JSON",
            )
        )
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.settings.insert_setting(
            Setting(
                id="x",
                value="1",
                entity_type="ACCOUNT",
                entity_id="nobody",
                namespace="USER",
                name="X",
                data_type="STRING",
            )
        )
    with pytest.raises(BadRequestException, match="entityType must be one of .*, got 'PLANET'"):
        sdk.settings.insert_setting(
            Setting(
                id="x",
                value="1",
                entity_type="PLANET",
                entity_id="acme",
                namespace="USER",
                name="X",
                data_type="STRING",
            )
        )
    with pytest.raises(NotFoundException, match=r"Setting setting\.USER\.nothing\.ACCOUNT\.acme not found"):
        sdk.settings.get_setting("setting.USER.nothing.ACCOUNT.acme")


def test_settings_of_another_organization_are_invisible(sdk: Sdk, other_sdk: Sdk, tenant: Tenant) -> None:
    sdk.settings.insert_setting(
        Setting(
            id="secret",
            value="s",
            entity_type="ORGANIZATION",
            entity_id=tenant.org.id,
            namespace="USER",
            name="Secret",
            data_type="STRING",
        )
    )
    with pytest.raises(NotFoundException, match="Setting secret not found"):
        other_sdk.settings.get_setting("secret")
    with pytest.raises(NotFoundException, match="Setting secret not found"):
        other_sdk.settings.update_setting("secret", UpdateSettingRequest(value="x"))
    assert other_sdk.settings.list_setting().data == []
    with pytest.raises(BadRequestException, match="entityId of an ORGANIZATION setting must be this organization's id"):
        # and it cannot write settings of our organization
        other_sdk.settings.insert_setting(
            Setting(
                id="x",
                value="1",
                entity_type="ORGANIZATION",
                entity_id=tenant.org.id,
                namespace="USER",
                name="X",
                data_type="STRING",
            )
        )


def test_authenticate_exchanges_the_key_for_a_jwt(sdk: Sdk, tenant: Tenant) -> None:
    token = sdk.auth.authenticate().token
    assert token.count(".") == 2
    config = togai_client.Configuration(host=f"{tenant.base_url}/api", access_token=token)
    with togai_client.ApiClient(config) as client:
        assert togai_client.CustomersApi(client).get_customers().data == []
        # a JWT sent to /authenticate comes back as it is
        assert togai_client.AuthenticationApi(client).authenticate().token == token


def test_bad_credentials_are_401(tenant: Tenant) -> None:
    for token in (None, "nonsense", tenant.token + "x", "mlk_000000000000_forged", "eyJhbGciOiJIUzI1NiJ9.e30.bad"):
        config = togai_client.Configuration(host=f"{tenant.base_url}/api", access_token=token)
        with togai_client.ApiClient(config) as client:
            with pytest.raises(UnauthorizedException) as raised:
                togai_client.CustomersApi(client).get_customers()
            assert raised.value.data.message
