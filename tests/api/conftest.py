from __future__ import annotations

from collections.abc import Iterator

import json

import pytest
import togai_client
from togai_client.exceptions import ApiException

from tests.conftest import Tenant


def message_of(error: ApiException) -> str:
    """The `message` of an error body, read from the raw body (the SDK parses it only for codes it maps)."""
    return str(json.loads(error.body)["message"])


class Sdk:
    """The official togai-client SDK, unmodified, pointed at a live Meterline server."""

    def __init__(self, tenant: Tenant) -> None:
        config = togai_client.Configuration(host=f"{tenant.base_url}/api", access_token=tenant.token)
        self.client = togai_client.ApiClient(config)
        self.customers = togai_client.CustomersApi(self.client)
        self.accounts = togai_client.AccountsApi(self.client)
        self.aliases = togai_client.AliasesApi(self.client)
        self.settings = togai_client.SettingsApi(self.client)
        self.event_schemas = togai_client.EventSchemasApi(self.client)
        self.usage_meters = togai_client.UsageMetersApi(self.client)
        self.auth = togai_client.AuthenticationApi(self.client)

    def close(self) -> None:
        self.client.rest_client.pool_manager.clear()


@pytest.fixture
def sdk(tenant: Tenant) -> Iterator[Sdk]:
    client = Sdk(tenant)
    yield client
    client.close()


@pytest.fixture
def other_sdk(other_tenant: Tenant) -> Iterator[Sdk]:
    client = Sdk(other_tenant)
    yield client
    client.close()
