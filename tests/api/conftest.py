from __future__ import annotations

import json
from collections.abc import Iterator

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
        self.price_plans = togai_client.PricePlansApi(self.client)
        self.add_ons = togai_client.AddOnsApi(self.client)
        self.calculator = togai_client.PriceExperimentationApi(self.client)
        self.licenses = togai_client.LicensesApi(self.client)
        self.jobs = togai_client.JobsApi(self.client)
        self.invoices = togai_client.InvoicesApi(self.client)
        self.invoice_groups = togai_client.InvoiceGroupsApi(self.client)
        self.features = togai_client.FeatureApi(self.client)
        self.entitlements = togai_client.EntitlementsApi(self.client)

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


def create_metering_catalog(sdk: Sdk) -> dict[str, str]:
    """Schema api_calls (attribute calls, dimension region), active, with an active SUM meter `us_calls` (calls of
    region us) and an active COUNT meter `requests`. Returns {"sum": id, "count": id}."""
    sdk.event_schemas.create_event_schema(
        togai_client.CreateEventSchemaRequest(
            name="api_calls",
            attributes=[togai_client.EventAttributeSchema(name="calls")],
            dimensions=[togai_client.DimensionsSchema(name="region")],
        )
    )
    sdk.event_schemas.activate_event_schema("api_calls")
    calls = sdk.usage_meters.create_usage_meter(
        togai_client.CreateUsageMeterRequest(
            name="us_calls",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="api_calls",
            filters=[togai_client.UsageMeterFilterEntry(var_field="region", value="us")],
            computations=[togai_client.Computation(order=1, computation='{"*":[{"var":"attribute.calls"},1]}')],
        )
    )
    count = sdk.usage_meters.create_usage_meter(
        togai_client.CreateUsageMeterRequest(
            name="requests", type="COUNTER", aggregation="COUNT", event_schema_name="api_calls"
        )
    )
    for meter in (calls, count):
        sdk.usage_meters.activate_usage_meter(meter.id)
    return {"sum": calls.id, "count": count.id}


@pytest.fixture
def catalog(sdk: Sdk) -> dict[str, str]:
    """Customer acme (with its default account) and the metering catalog of `create_metering_catalog`."""
    sdk.customers.create_customer(
        togai_client.CreateCustomerRequest(
            id="acme", name="Acme Inc", primary_email="a@acme.test", address=togai_client.Address()
        )
    )
    return create_metering_catalog(sdk)


@pytest.fixture
def billed(sdk: Sdk, catalog: dict[str, str]) -> dict[str, str]:
    """acme on Growth (MONTHLY, no grace: D4's tiered card and a 50.00 fee) from the 1st of the month two months ago:
    two past cycles and the current one (tests/api/billing_setup.py)."""
    from tests.api.billing_setup import bill_acme

    return bill_acme(sdk, catalog)
