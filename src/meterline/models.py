"""Every ORM model, imported once so that `Base.metadata` knows all tables (migrations, tests)."""

from meterline.accounts.models import Account, AccountAlias, Alias
from meterline.core.db import Base
from meterline.customers.models import Customer, CustomerContact
from meterline.events.models import Event, EventId, UsageRollup
from meterline.metering.models import EventSchema, UsageMeter
from meterline.settings.models import EntitySetting
from meterline.tenancy.models import ApiKey, InstanceSecret, Organization, User

__all__ = [
    "Account", "AccountAlias", "Alias", "ApiKey", "Base", "Customer", "CustomerContact", "EntitySetting",
    "Event", "EventId", "EventSchema", "InstanceSecret", "Organization", "UsageMeter", "UsageRollup", "User",
]
