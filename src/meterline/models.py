"""Every ORM model, imported once so that `Base.metadata` knows all tables (migrations, tests)."""

from meterline.accounts.models import Account, AccountAlias, Alias
from meterline.alerts.models import Alert, Incident
from meterline.catalog.models import AddOn
from meterline.catalog.plan_models import PricePlan, PricePlanVersion
from meterline.core.db import Base
from meterline.credits.models import Credit, CreditTransaction
from meterline.customers.models import Customer, CustomerContact
from meterline.entitlements.models import Feature, FeatureConsumption, FeatureCreditEntry, FeatureSchema
from meterline.events.models import Event, EventId, Installation, UsageDaily, UsageOutbox, UsageRollup
from meterline.files.models import StoredFile
from meterline.invoice_groups.models import CompositeInvoice, CompositeMember, InvoiceGroup, InvoiceGroupMember
from meterline.invoicing.models import BillingFailure, BillingLease, Invoice, InvoiceSequence
from meterline.jobs.models import Job, JobEntry
from meterline.licenses.models import LicenseUpdate
from meterline.metering.models import EventSchema, UsageMeter
from meterline.payments.models import Payment
from meterline.portal.models import PortalToken
from meterline.purchases.models import Purchase
from meterline.reports.models import Report
from meterline.schedules.models import PricingSchedule, ScheduleDraft
from meterline.settings.models import EntitySetting
from meterline.tenancy.models import ApiKey, ConsoleSession, InstanceSecret, LoginFailure, Organization, User
from meterline.wallet.models import Wallet, WalletEntry
from meterline.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage

__all__ = [
    "Account",
    "AccountAlias",
    "AddOn",
    "Alert",
    "Alias",
    "ApiKey",
    "Base",
    "BillingFailure",
    "BillingLease",
    "Credit",
    "CreditTransaction",
    "Customer",
    "CustomerContact",
    "EntitySetting",
    "Event",
    "EventId",
    "Installation",
    "EventSchema",
    "Feature",
    "FeatureConsumption",
    "FeatureCreditEntry",
    "FeatureSchema",
    "Incident",
    "InstanceSecret",
    "CompositeInvoice",
    "CompositeMember",
    "Invoice",
    "InvoiceGroup",
    "InvoiceGroupMember",
    "InvoiceSequence",
    "Job",
    "JobEntry",
    "LicenseUpdate",
    "Organization",
    "Payment",
    "PortalToken",
    "PricePlan",
    "PricePlanVersion",
    "PricingSchedule",
    "Purchase",
    "Report",
    "ScheduleDraft",
    "StoredFile",
    "UsageDaily",
    "UsageOutbox",
    "UsageMeter",
    "UsageRollup",
    "User",
    "Wallet",
    "WalletEntry",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookMessage",
    "ConsoleSession",
    "LoginFailure",
]
