"""Meterline's first hour as one script: the README's snippets are excerpts of this file (a test checks it).

    export METERLINE_TOKEN=mlk_...        # printed by `bash scripts/run.sh`, or `.venv/bin/meterline api-key create`
    .venv/bin/pip install togai-client    # the official SDK, unmodified
    .venv/bin/python examples/quickstart.py

It creates a customer, an event schema and a usage meter, sends events, prices the meter with a plan attached from
the first day of this month, then reads this month's usage and draft invoice, printing what it did. Dates are
relative to today and every id and name ends with the run's random suffix, so it runs on any day, any number of
times, against the same server. METERLINE_URL names another server (default http://127.0.0.1:8000).
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import date, datetime, time, timedelta, timezone

import togai_client as togai
import urllib3

# -- First calls --------------------------------------------------------------------------------------------------
HOST = os.environ.get("METERLINE_URL", "http://127.0.0.1:8000").rstrip("/")
TOKEN = os.environ.get("METERLINE_TOKEN") or sys.exit("Set METERLINE_TOKEN to an API key (scripts/run.sh prints one)")
client = togai.ApiClient(togai.Configuration(host=f"{HOST}/api", access_token=TOKEN))
run = secrets.token_hex(3)  # this run's suffix: its ids and names never collide with an earlier run's
print(f"Meterline at {HOST}, run {run}")

try:  # the server and the token, checked before anything is made
    togai.CustomersApi(client).get_customers(page_size=1)
except togai.exceptions.UnauthorizedException:
    sys.exit(f"{HOST} refused METERLINE_TOKEN (401): is it a key of this server's database?")
except urllib3.exceptions.MaxRetryError:
    sys.exit(f"No server answers at {HOST}: start one with `bash scripts/run.sh`, or set METERLINE_URL")

customer = togai.CustomersApi(client).create_customer(togai.CreateCustomerRequest(
    id=f"acme-{run}", name="Acme Inc", primary_email="billing@acme.test", address=togai.Address(country="US")))
account_id = customer.account.id  # every customer gets a default account, with the customer's id
print(f"customer  {customer.id} ({customer.name}), account {account_id} in {customer.account.invoice_currency}")

# -- Your first events --------------------------------------------------------------------------------------------
schema = f"api_calls_{run}"
schemas = togai.EventSchemasApi(client)
schemas.create_event_schema(togai.CreateEventSchemaRequest(
    name=schema, attributes=[togai.EventAttributeSchema(name="calls")],
    dimensions=[togai.DimensionsSchema(name="region")]))
schemas.activate_event_schema(schema)

meters = togai.UsageMetersApi(client)
meter = meters.create_usage_meter(togai.CreateUsageMeterRequest(
    name=f"calls_{run}", type="COUNTER", aggregation="SUM", event_schema_name=schema,
    computations=[togai.Computation(order=1, computation='{"var":"attribute.calls"}')]))
meters.activate_usage_meter(meter.id)

now = datetime.now(timezone.utc)
events = [
    togai.Event(schema_name=schema, id=f"evt-{run}-{n}", timestamp=now, account_id=account_id,
                attributes=[togai.Attribute(name="calls", value=calls)], dimensions={"region": region})
    for n, (calls, region) in enumerate([("120", "us"), ("30", "eu"), ("20", "us")], start=1)
]
ingestion = togai.EventIngestionApi(client)
ingestion.ingest_batch(togai.IngestBatchEventRequest(events=events))
ingestion.ingest_batch(togai.IngestBatchEventRequest(events=events[:1]))  # a retry: an event id counts once
print(f"events    {len(events)} sent for {account_id}, {events[0].id} to {events[-1].id} "
      f"({events[0].id} twice: counted once)")

# -- Your first price plan ----------------------------------------------------------------------------------------
cycle_start = now.date().replace(day=1)  # the cycle under way: this month (the organization's timezone is UTC)
cycle_end = (cycle_start + timedelta(days=32)).replace(day=1)  # the first day of next month, excluded

tiered = togai.RatePlan(pricing_model="TIERED", slabs=[
    togai.Slab(order=1, start_after=0, price_type="PER_UNIT"),  # calls 1 to 100: 1.00 each
    togai.Slab(order=2, start_after=100, price_type="PER_UNIT"),  # calls 101 to 1,000: 0.50 each
    togai.Slab(order=3, start_after=1000, price_type="FLAT")])  # from call 1,001 on: 200.00 once
usd = togai.RateValue(currency="USD", slab_rates=[
    togai.SlabRate(order=1, rate=1), togai.SlabRate(order=2, rate=0.5), togai.SlabRate(order=3, rate=200)])
monthly = togai.PricingCycleConfig(interval="MONTHLY", grace_period=3, start_offset=togai.PricingCycleConfigStartOffset(
    day_offset="1", month_offset="NIL"))  # cycles from the 1st of each month; 3 days' grace for late events

plans = togai.PricePlansApi(client)
plan = plans.create_price_plan(togai.CreatePricePlanRequest(name=f"Growth {run}", price_plan_details=(
    togai.CreatePricePlanDetails(supported_currencies=["USD"], pricing_cycle_config=monthly, usage_rate_cards=[
        togai.UsageRateCard(usage_meter_id=meter.id, rate_plan=tiered, rate_values=[usd])]))))
plans.activate_price_plan(plan.id, togai.ActivatePricePlanRequest(currencies=["USD"]))

togai.AccountsApi(client).update_pricing_schedule(account_id, togai.UpdatePricingScheduleRequestWithActions(
    mode="ASSOCIATE", price_plan_id=plan.id, effective_from=cycle_start, effective_until=date(9999, 1, 1)))
print(f"plan      {plan.name} ({plan.id}) on {account_id} from {cycle_start}")

# -- Your first invoice -------------------------------------------------------------------------------------------
start, end = (datetime.combine(day, time(), timezone.utc) for day in (cycle_start, cycle_end))
usage = togai.MetricsApi(client).get_metrics(togai.GetMetricsRequest(start_time=start, end_time=end, metric_queries=[
    togai.MetricQuery(id="calls", name="USAGE", aggregation_period="MONTH", filters=[
        togai.MetricQueryFilterEntry(field_name="ACCOUNT_ID", field_values=[account_id]),
        togai.MetricQueryFilterEntry(field_name="USAGE_METER_ID", field_values=[meter.id])])]))
calls = sum(value for series in usage.results[0].data for value in series.metric_values)
print(f"usage     {calls:g} calls on {meter.name} from {cycle_start} to {cycle_end} (excluded)")

invoices = togai.InvoicesApi(client)
[draft] = [i for i in invoices.list_invoices(owner_id=account_id).data if i.start_date == start]  # this cycle's
print(f"invoice   {draft.id}, {draft.status.value} from {draft.start_date:%Y-%m-%d} to {draft.end_date:%Y-%m-%d}: "
      f"USD {draft.total_amount:.2f} so far")  # 100 x 1.00 + 70 x 0.50; it grows as events arrive

print(f"\nNext, in your shell: export ACCOUNT_ID={account_id} EVENT_ID={events[0].id} INVOICE_ID={draft.id}")
