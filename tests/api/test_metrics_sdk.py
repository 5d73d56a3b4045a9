"""MetricsApi through the official SDK (and raw HTTP where the SDK itself refuses the input), on both engines."""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import togai_client
import togai_client as tc
from sqlalchemy.orm import Session, sessionmaker
from togai_client import (
    Address,
    Attribute,
    CreateAccountAliasRequest,
    CreateAccountRequest,
    CreateCustomerRequest,
    Event,
    EventCorrectionRequest,
    GetMetricsRequest,
    IngestBatchEventRequest,
    MetricQuery,
    MetricQueryFilterEntry,
    MetricQueryResponse,
)
from togai_client.exceptions import BadRequestException

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.service import TenancyService
from tests.api.billing_setup import acme_invoices, growth_plan, month_start
from tests.api.conftest import Sdk, create_metering_catalog, message_of
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant, new_org

UTC = timezone.utc
D1 = datetime(2024, 3, 1, tzinfo=UTC)  # a Friday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def make_catalog(sdk: Sdk) -> dict[str, str]:
    """Customers acme (accounts acme, and acme-2 with alias acme-two) and beta; schema api_calls with a SUM meter
    us_calls (attribute calls, region us) and a COUNT meter requests."""
    for customer in ("acme", "beta"):
        sdk.customers.create_customer(
            CreateCustomerRequest(
                id=customer, name=f"{customer} Inc", primary_email=f"a@{customer}.test", address=Address()
            )
        )
    sdk.accounts.create_account(
        CreateAccountRequest(
            id="acme-2",
            name="Acme Two",
            customer_id="acme",
            account_aliases=[CreateAccountAliasRequest(value="acme-two", effective_from=datetime(2024, 1, 1))],
        )
    )
    ids = create_metering_catalog(sdk)
    return {"us_calls": ids["sum"], "requests": ids["count"]}


def ev(event_id: str, account: str, when: datetime, calls: str = "1", region: str = "us") -> Event:
    return Event(
        schema_name="api_calls",
        id=event_id,
        timestamp=when,
        account_id=account,
        attributes=[Attribute(name="calls", value=calls)],
        dimensions={"region": region},
    )


def ingest(sdk: Sdk, events: list[Event]) -> None:
    togai_client.EventIngestionApi(sdk.client).ingest_batch_with_http_info(IngestBatchEventRequest(events=events))


@pytest.fixture
def catalog(sdk: Sdk) -> dict[str, str]:
    """The catalog and a known set of events, from 2024-03-01 (UTC organization):

    | event | account    | time (UTC)     | calls | region | status                          |
    | e1    | acme       | 03-01 10:05    | 10    | us     | completed                       |
    | e2    | acme       | 03-01 10:20    | 2.5   | us     | completed                       |
    | e3    | acme       | 03-01 11:00    | 1     | eu     | completed (COUNT meter only)    |
    | e5    | nobody     | 03-01 10:30    | 1     | us     | INGESTION_FAILED_ACCOUNT_NOT_FOUND |
    | e1    | acme       | 03-01 10:05    | 99    | us     | INGESTION_FAILED_DUPLICATE_EVENT |
    | e4    | beta       | 03-02 09:00    | 4     | us     | completed                       |
    | e7    | acme-two   | 03-03 23:59    | 1     | us     | completed (account acme-2)      |
    """
    meters = make_catalog(sdk)
    ingest(
        sdk,
        [
            ev("e1", "acme", at(1, 10, 5), "10"),
            ev("e2", "acme", at(1, 10, 20), "2.5"),
            ev("e3", "acme", at(1, 11), "1", region="eu"),
            ev("e5", "nobody", at(1, 10, 30)),
            ev("e1", "acme", at(1, 10, 5), "99"),
            ev("e4", "beta", at(2, 9), "4"),
            ev("e7", "acme-two", at(3, 23, 59)),
        ],
    )
    return meters


def metrics_api(sdk: Sdk) -> togai_client.MetricsApi:
    return togai_client.MetricsApi(sdk.client)


def q(
    name: str = "EVENTS", period: str = "DAY", group_by: str | None = None, query_id: str = "q", **filters: list[str]
) -> MetricQuery:
    entries = [MetricQueryFilterEntry(field_name=k, field_values=v) for k, v in filters.items()]
    return MetricQuery(id=query_id, name=name, aggregation_period=period, group_by=group_by, filters=entries or None)


def run(sdk: Sdk, start: datetime, end: datetime, *queries: MetricQuery) -> list[MetricQueryResponse]:
    return (
        metrics_api(sdk)
        .get_metrics(GetMetricsRequest(start_time=start, end_time=end, metric_queries=list(queries)))
        .results
    )


def one(sdk: Sdk, start: datetime, end: datetime, query: MetricQuery) -> tuple[list[datetime], dict[Any, list[Any]]]:
    """(timestamps, values per group value; key None without groupBy) of a single query."""
    [result] = run(sdk, start, end, query)
    assert result.id == query.id and result.name == query.name
    timestamps = result.data[0].timestamps if result.data else []
    values = {}
    for series in result.data:
        assert series.timestamps == timestamps and len(series.metric_values) == len(timestamps)
        if query.group_by is None:
            assert series.grouped_by is None
            key = None
        else:
            assert series.grouped_by.field_name == query.group_by
            key = series.grouped_by.field_value
        values[key] = series.metric_values
    return timestamps, values


def days(first: datetime, n: int) -> list[datetime]:
    return [first + timedelta(days=i) for i in range(n)]


# -- EVENTS ----------------------------------------------------------------------------------------------------
def test_events_per_day_with_empty_days_as_zero(sdk: Sdk, catalog: dict[str, str]) -> None:
    timestamps, values = one(sdk, D1, D1 + timedelta(days=4), q())
    assert timestamps == days(D1, 4)
    assert values == {None: [4, 1, 1, 0]}  # not the rejected duplicate of e1
    assert all(isinstance(v, int) for v in values[None])


def test_events_grouped(sdk: Sdk, catalog: dict[str, str]) -> None:
    end = D1 + timedelta(days=4)
    assert one(sdk, D1, end, q(group_by="ACCOUNT_ID"))[1] == {
        "acme": [3, 0, 0, 0],  # e1, e2, e3; not the duplicate of e1
        "acme-2": [0, 0, 1, 0],  # sent under its alias acme-two
        "beta": [0, 1, 0, 0],
        "nobody": [1, 0, 0, 0],  # no account: the accountId as sent
    }
    assert one(sdk, D1, end, q(group_by="EVENT_STATUS"))[1] == {
        "PROCESSED": [3, 1, 1, 0],
        "UNPROCESSED": [1, 0, 0, 0],
    }
    assert one(sdk, D1, end, q(group_by="RAW_EVENT_STATUS"))[1] == {
        "INGESTION_COMPLETED_EVENT_NOT_METERED": [3, 1, 1, 0],
        "INGESTION_FAILED_ACCOUNT_NOT_FOUND": [1, 0, 0, 0],
    }
    assert one(sdk, D1, end, q(group_by="SCHEMA_NAME"))[1] == {"api_calls": [4, 1, 1, 0]}


def test_rejected_duplicates_are_left_out_unless_asked_for(sdk: Sdk, catalog: dict[str, str]) -> None:
    """A client retrying an event that was ingested gets a rejected duplicate per retry: by default EVENTS does not
    count them (else retries inflate it); EVENT_STATUS INGESTION_FAILED_DUPLICATE_EVENT (or UNPROCESSED) asks."""
    end = D1 + timedelta(days=4)
    ingest(sdk, [ev("e4", "beta", at(2, 9), "4") for _ in range(3)])  # three retries of e4
    assert one(sdk, D1, end, q())[1] == {None: [4, 1, 1, 0]}
    assert one(sdk, D1, end, q(ACCOUNT_ID=["beta"]))[1] == {None: [0, 1, 0, 0]}
    assert one(sdk, D1, end, q(EVENT_STATUS=["INGESTION_FAILED_DUPLICATE_EVENT"]))[1] == {None: [1, 3, 0, 0]}
    assert one(sdk, D1, end, q(group_by="EVENT_STATUS", EVENT_STATUS=["UNPROCESSED", "PROCESSED"]))[1] == {
        "PROCESSED": [3, 1, 1, 0],
        "UNPROCESSED": [2, 3, 0, 0],
    }


def test_events_filtered(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    end = D1 + timedelta(days=4)
    assert one(sdk, D1, end, q(ACCOUNT_ID=["acme", "beta"]))[1] == {None: [3, 1, 0, 0]}
    assert one(sdk, D1, end, q(ACCOUNT_ID=["acme-two"]))[1] == {None: [0, 0, 0, 0]}  # ids, not aliases
    assert one(sdk, D1, end, q(CUSTOMER_ID=["acme"]))[1] == {None: [3, 0, 1, 0]}
    assert one(sdk, D1, end, q(CUSTOMER_ID=["acme", "beta", "nobody"]))[1] == {None: [3, 1, 1, 0]}
    # an event that reached no account is grouped under its accountId as sent, and that filter finds it
    assert one(sdk, D1, end, q(ACCOUNT_ID=["nobody"]))[1] == {None: [1, 0, 0, 0]}
    assert one(sdk, D1, end, q(group_by="ACCOUNT_ID", ACCOUNT_ID=["nobody", "beta"]))[1] == {
        "beta": [0, 1, 0, 0],
        "nobody": [1, 0, 0, 0],
    }
    assert one(sdk, D1, end, q(ACCOUNT_ID=["nobody"], CUSTOMER_ID=["acme"]))[1] == {None: [0, 0, 0, 0]}
    assert one(sdk, D1, end, q(CUSTOMER_ID=["acme"], ACCOUNT_ID=["acme-2", "beta"]))[1] == {None: [0, 0, 1, 0]}
    assert one(sdk, D1, end, q(EVENT_STATUS=["PROCESSED"]))[1] == {None: [3, 1, 1, 0]}
    assert one(sdk, D1, end, q(EVENT_STATUS=["INGESTION_FAILED_DUPLICATE_EVENT", "IN_PROGRESS"]))[1] == {
        None: [1, 0, 0, 0]
    }
    assert one(sdk, D1, end, q(group_by="ACCOUNT_ID", EVENT_STATUS=["UNPROCESSED"]))[1] == {
        "acme": [1, 0, 0, 0],
        "nobody": [1, 0, 0, 0],
    }
    assert one(sdk, D1, end, q(SCHEMA_NAME=["api_calls"]))[1] == {None: [4, 1, 1, 0]}
    assert one(sdk, D1, end, q(SCHEMA_NAME=["other"]))[1] == {None: [0, 0, 0, 0]}
    assert one(sdk, D1, end, q(ORGANIZATION_ID=[tenant.org.id]))[1] == {None: [4, 1, 1, 0]}
    assert one(sdk, D1, end, q(ORGANIZATION_ID=["org.someone-else"]))[1] == {None: [0, 0, 0, 0]}
    # a grouped query where nothing matches has no series
    assert run(sdk, D1, end, q(group_by="ACCOUNT_ID", ACCOUNT_ID=["unknown"]))[0].data == []


def test_events_per_hour_week_month_and_a_partial_first_period(sdk: Sdk, catalog: dict[str, str]) -> None:
    timestamps, values = one(sdk, at(1, 10), at(1, 12), q(period="HOUR"))
    assert timestamps == [at(1, 10), at(1, 11)] and values == {None: [3, 1]}
    # weeks start on Monday: 2024-02-26 and 2024-03-04
    timestamps, values = one(
        sdk, datetime(2024, 2, 26, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC), q(period="WEEK")
    )
    assert timestamps == [datetime(2024, 2, 26, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC)]
    assert values == {None: [6, 0]}
    timestamps, values = one(sdk, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC), q(period="MONTH"))
    assert timestamps == [datetime(2024, 2, 1, tzinfo=UTC), D1] and values == {None: [0, 6]}
    # a start inside a period: the point is labelled with the period's start, and counts from startTime only
    timestamps, values = one(sdk, at(1, 10, 10), at(2, 0), q())
    assert timestamps == [D1] and values == {None: [3]}  # e2, e5, e3; not e1 nor its duplicate (10:05)
    timestamps, values = one(sdk, at(1, 0), at(1, 10, 20), q())  # the end is excluded: e2 at 10:20 is not counted
    assert values == {None: [1]}


# -- USAGE -----------------------------------------------------------------------------------------------------
def test_usage_per_day_and_grouped(sdk: Sdk, catalog: dict[str, str]) -> None:
    end = D1 + timedelta(days=4)
    timestamps, values = one(sdk, D1, end, q("USAGE"))
    assert timestamps == days(D1, 4)
    assert values == {None: [15.5, 5, 2, 0]}  # us_calls 10 + 2.5 and 3 requests; 4 + 1; 1 + 1
    assert one(sdk, D1, end, q("USAGE", group_by="USAGE_METER_ID"))[1] == {
        catalog["us_calls"]: [12.5, 4, 1, 0],
        catalog["requests"]: [3, 1, 1, 0],
    }
    assert one(sdk, D1, end, q("USAGE", group_by="ACCOUNT_ID", USAGE_METER_ID=[catalog["us_calls"]]))[1] == {
        "acme": [12.5, 0, 0, 0],
        "acme-2": [0, 0, 1, 0],
        "beta": [0, 4, 0, 0],
    }
    assert one(sdk, D1, end, q("USAGE", group_by="CUSTOMER_ID"))[1] == {"acme": [15.5, 0, 2, 0], "beta": [0, 5, 0, 0]}
    # meters by id or by name; METER_USAGE is what USAGE stands for
    assert one(sdk, D1, end, q("USAGE", USAGE_METER_ID=["requests"]))[1] == {None: [3, 1, 1, 0]}
    assert one(sdk, D1, end, q("METER_USAGE", CUSTOMER_ID=["beta"]))[1] == {None: [0, 5, 0, 0]}
    # usage's billables are its meters: BILLABLE_ID groups and filters as USAGE_METER_ID does
    assert one(sdk, D1, end, q("USAGE", group_by="BILLABLE_ID", BILLABLE_ID=["us_calls"]))[1] == {
        catalog["us_calls"]: [12.5, 4, 1, 0]
    }
    assert one(sdk, D1, end, q("USAGE", ACCOUNT_ID=["acme"], USAGE_METER_ID=["nope"]))[1] == {None: [0, 0, 0, 0]}
    timestamps, values = one(sdk, at(1, 10), at(1, 12), q("USAGE", period="HOUR", ACCOUNT_ID=["acme"]))
    assert timestamps == [at(1, 10), at(1, 11)] and values == {None: [14.5, 1]}


def test_several_queries_in_one_request(sdk: Sdk, catalog: dict[str, str]) -> None:
    results = run(
        sdk,
        D1,
        D1 + timedelta(days=2),
        q(query_id="a"),
        q("USAGE", query_id="b"),
        q(query_id="c", group_by="EVENT_STATUS"),
    )
    assert [(r.id, r.name) for r in results] == [("a", "EVENTS"), ("b", "USAGE"), ("c", "EVENTS")]
    assert [r.data[0].metric_values for r in results[:2]] == [[4, 1], [15.5, 5]]


# -- time zones ----------------------------------------------------------------------------------------------------
@pytest.fixture
def kolkata_sdk(session_factory: sessionmaker[Session], server: str) -> Any:
    org = new_org(session_factory, name=f"Kolkata {secrets.token_hex(3)}", timezone="Asia/Kolkata")
    with unit_of_work(session_factory) as s:
        created = TenancyService(s).create_api_key(org=org, now=utc_now(), name="tests")
    client = Sdk(Tenant(org=org, token=created.token, base_url=server))
    yield client
    client.close()


def test_periods_follow_the_organization_time_zone(kolkata_sdk: Sdk) -> None:
    make_catalog(kolkata_sdk)
    ingest(
        kolkata_sdk,
        [
            ev("k1", "acme", at(1, 18, 29), "1"),  # 23:59 on 03-01 in Kolkata (+05:30)
            ev("k2", "acme", at(1, 18, 30), "2"),  # 00:00 on 03-02
            ev("k3", "acme", at(2, 18, 44), "4"),  # 00:14 on 03-03
        ],
    )
    local_midnight = datetime(2024, 2, 29, 18, 30, tzinfo=UTC)  # 2024-03-01T00:00+05:30
    end = local_midnight + timedelta(days=3)
    timestamps, values = one(kolkata_sdk, local_midnight, end, q())
    assert timestamps == days(local_midnight, 3) and values == {None: [1, 1, 1]}
    timestamps, values = one(kolkata_sdk, local_midnight, end, q("USAGE", USAGE_METER_ID=["us_calls"]))
    assert timestamps == days(local_midnight, 3) and values == {None: [1, 2, 4]}
    # local hours start at HH:30 UTC; 18:00 UTC is 23:30 local, inside the hour that starts at 17:30 UTC
    timestamps, values = one(kolkata_sdk, at(1, 18), at(1, 19), q(period="HOUR"))
    assert timestamps == [at(1, 17, 30), at(1, 18, 30)] and values == {None: [1, 1]}
    # a UTC-midnight range: the first point is the local day that holds it, labelled with its local midnight
    timestamps, values = one(kolkata_sdk, D1, D1 + timedelta(days=1), q("USAGE", USAGE_METER_ID=["us_calls"]))
    assert timestamps == [local_midnight, local_midnight + timedelta(days=1)] and values == {None: [1, 2]}


# -- tenancy and limits ----------------------------------------------------------------------------------------
def test_another_organization_sees_nothing(sdk: Sdk, other_sdk: Sdk, catalog: dict[str, str]) -> None:
    end = D1 + timedelta(days=4)
    assert one(other_sdk, D1, end, q())[1] == {None: [0, 0, 0, 0]}
    assert one(other_sdk, D1, end, q("USAGE"))[1] == {None: [0, 0, 0, 0]}
    assert one(other_sdk, D1, end, q(ACCOUNT_ID=["acme"]))[1] == {None: [0, 0, 0, 0]}
    assert run(other_sdk, D1, end, q(group_by="ACCOUNT_ID"), q("USAGE", group_by="USAGE_METER_ID"))[0].data == []
    # and the owner still sees its own
    assert one(sdk, D1, end, q())[1] == {None: [4, 1, 1, 0]}


def bad(sdk: Sdk, start: datetime, end: datetime, *queries: MetricQuery) -> str:
    with pytest.raises(BadRequestException) as raised:
        run(sdk, start, end, *queries)
    return message_of(raised.value)


def test_limits_and_bad_queries_are_400(sdk: Sdk, catalog: dict[str, str]) -> None:
    assert "at most 5" in bad(sdk, D1, at(2, 0), *[q(query_id=str(i)) for i in range(6)])
    assert "300" in bad(sdk, D1, D1 + timedelta(hours=301), q(period="HOUR"))
    assert len(run(sdk, D1, D1 + timedelta(hours=300), q(period="HOUR"))[0].data[0].timestamps) == 300
    assert "startTime must be before endTime" in bad(sdk, at(2, 0), D1, q())
    assert "startTime must be before endTime" in bad(sdk, D1, D1, q())
    revenue_in = MetricQuery(id="q", name="REVENUE", aggregation_period="DAY", configs={"CURRENCY": "LOCAL"})
    assert "configs.CURRENCY must be BASE or INVOICE" in bad(sdk, D1, at(2, 0), revenue_in)
    assert "config 'CURRENCY' is not used by USAGE" in bad(
        sdk, D1, at(2, 0), MetricQuery(id="q", name="USAGE", aggregation_period="DAY", configs={"CURRENCY": "BASE"})
    )
    assert "groupBy FOO" in bad(sdk, D1, at(2, 0), q(group_by="FOO"))
    assert "groupBy USAGE_METER_ID" in bad(sdk, D1, at(2, 0), q(group_by="USAGE_METER_ID"))  # not for EVENTS
    assert "groupBy BILLABLE_ID is not supported for EVENTS" in bad(sdk, D1, at(2, 0), q(group_by="BILLABLE_ID"))
    assert "groupBy USAGE_METER_ID" in bad(sdk, D1, at(2, 0), q("NAMED_LICENSE_USAGE", group_by="USAGE_METER_ID"))
    assert "filter USAGE_METER_ID" in bad(sdk, D1, at(2, 0), q("NAMED_LICENSE_USAGE", USAGE_METER_ID=["x"]))
    assert "filter FOO" in bad(sdk, D1, at(2, 0), q(FOO=["x"]))
    assert "filter SCHEMA_NAME" in bad(sdk, D1, at(2, 0), q("USAGE", SCHEMA_NAME=["api_calls"]))
    assert "EVENT_STATUS 'BOGUS'" in bad(sdk, D1, at(2, 0), q(EVENT_STATUS=["BOGUS"]))
    long_status = bad(sdk, D1, at(2, 0), q(EVENT_STATUS=["X" * 500]))
    assert "X" * 40 in long_status and "X" * 41 not in long_status  # a value is echoed cut, as the others
    assert "15-minute" in bad(sdk, at(1, 10, 5), at(2, 0), q("USAGE"))
    assert "15-minute" in bad(sdk, D1, at(2, 0, 1), q("USAGE"))


def test_shapes_the_sdk_refuses_itself_are_400_too(tenant: Tenant, catalog: dict[str, str]) -> None:
    base = {"id": "q", "name": "EVENTS", "aggregationPeriod": "DAY"}
    with tenant.http() as http:

        def post(body: dict[str, Any]) -> tuple[int, str]:
            r = http.post("/metrics", json=body)
            return r.status_code, r.json().get("message", "") if r.status_code != 200 else ""

        window = {"startTime": "2024-03-01T00:00:00Z", "endTime": "2024-03-02T00:00:00Z"}
        six = [{"fieldName": "SCHEMA_NAME", "fieldValues": ["api_calls"]}] * 6
        status, message = post({**window, "metricQueries": [{**base, "filters": six}]})
        assert status == 400 and "filters" in message and "at most 5" in message
        status, message = post({**window, "metricQueries": [{**base, "aggregationPeriod": "YEAR"}]})
        assert status == 400 and "aggregationPeriod" in message
        status, message = post({**window, "metricQueries": [{**base, "configs": {"CURRENCY": "BASE"}}]})
        assert status == 400 and "configs" in message
        many = {f"K{n}": "x" for n in range(6)}
        status, message = post({**window, "metricQueries": [{**base, "name": "REVENUE", "configs": many}]})
        assert status == 400 and "configs" in message
        status, message = post(
            {**window, "metricQueries": [{**base, "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": []}]}]}
        )
        assert status == 400 and "fieldValues" in message
        status, message = post({"endTime": window["endTime"], "metricQueries": [base]})
        assert status == 400 and "startTime" in message
        nul = [{"fieldName": "SCHEMA_NAME", "fieldValues": ["ok", "a\u0000b"]}]
        status, message = post({**window, "metricQueries": [{**base, "filters": nul}]})
        assert status == 400 and message.startswith("metricQueries[0].filters[0].fieldValues[1]: text may not")
        # every limit at its maximum at once (5 x 5 x 100 values of 512 characters) is more than the body limit
        # (1 MiB by default): the documented 413, before the limits are read
        widest = [{"fieldName": "SCHEMA_NAME", "fieldValues": ["x" * 512] * 100}] * 5
        r = http.post(
            "/metrics", json={**window, "metricQueries": [{**base, "id": str(i), "filters": widest} for i in range(5)]}
        )
        assert (r.status_code, r.json()["message"]) == (
            413,
            "The request body is larger than this operation accepts (1048576 bytes)",
        ), r.text
        ok = http.post("/metrics", json={**window, "metricQueries": []})
        assert ok.status_code == 200 and ok.json() == {"results": []}
        raw = http.post("/metrics", json={**window, "metricQueries": [{**base, "name": "USAGE"}]}).json()
        # exact JSON numbers, parallel lists, UTC timestamps
        assert raw == {
            "results": [
                {"id": "q", "name": "USAGE", "data": [{"timestamps": ["2024-03-01T00:00:00Z"], "metricValues": [15.5]}]}
            ]
        }


def test_usage_sums_are_exact_beyond_28_digits(sdk: Sdk, tenant: Tenant) -> None:
    make_catalog(sdk)
    # each value within the number rule (below 10^15, 12 decimals); their sum has 29 significant digits
    big, small = "999999999999999.999999999999", "0.000000000001"
    bigs = [ev(f"b{i}", "acme", at(1, 10, i), big) for i in range(11)]
    ingest(sdk, [*bigs, ev("x2", "acme", at(1, 10, 30), small), ev("x3", "beta", at(1, 11), "-0.3")])
    with tenant.http() as http:
        r = http.post(
            "/metrics",
            json={
                "startTime": "2024-03-01T00:00:00Z",
                "endTime": "2024-03-02T00:00:00Z",
                "metricQueries": [
                    {
                        "id": "u",
                        "name": "USAGE",
                        "aggregationPeriod": "DAY",
                        "filters": [{"fieldName": "USAGE_METER_ID", "fieldValues": ["us_calls"]}],
                    }
                ],
            },
        )
    assert r.status_code == 200, r.text
    # the JSON number carries every digit (parsed here as a Decimal, not a float)
    [value] = json.loads(r.text, parse_float=Decimal)["results"][0]["data"][0]["metricValues"]
    assert str(value) == "10999999999999999.699999999990"


def test_a_corrected_event_counts_once(sdk: Sdk, catalog: dict[str, str]) -> None:
    """REDO_EVENT marks the original REVERTED and ingests the corrected copy: EVENTS counts the copy only (REVERTED is
    outside the default PROCESSED + UNPROCESSED, and can be asked for), USAGE has the corrected units."""
    togai_client.EventManagementApi(sdk.client).event_correction(
        action="REDO_EVENT", event_correction_request=EventCorrectionRequest(event=ev("e4", "beta", at(2, 9), "40"))
    )
    end = D1 + timedelta(days=4)
    assert one(sdk, D1, end, q(ACCOUNT_ID=["beta"]))[1] == {None: [0, 1, 0, 0]}
    assert one(sdk, D1, end, q(group_by="EVENT_STATUS", EVENT_STATUS=["REVERTED", "PROCESSED"], ACCOUNT_ID=["beta"]))[
        1
    ] == {
        "PROCESSED": [0, 1, 0, 0],
        "REVERTED": [0, 1, 0, 0],
    }
    assert one(sdk, D1, end, q("USAGE", ACCOUNT_ID=["beta"], USAGE_METER_ID=["us_calls"]))[1] == {None: [0, 40, 0, 0]}


# -- revenue, cycles and licenses -------------------------------------------------------------------------------
def months_from(first: date, n: int) -> list[datetime]:
    out = []
    for i in range(n):
        year, month = divmod(first.year * 12 + first.month - 1 + i, 12)
        out.append(datetime(year, month + 1, 1, tzinfo=UTC))
    return out


def rq(name: str, group_by: str | None = None, currency: str | None = None, **filters: list[str]) -> MetricQuery:
    query = q(name, "MONTH", group_by, **filters)
    if currency is not None:
        query.configs = {"CURRENCY": currency}
    return query


def exact(values: list[Any]) -> list[Decimal]:
    """The SDK reads JSON numbers as floats; each one is the float of the exact decimal the server wrote."""
    return [Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for v in values]


def test_revenue_metrics_equal_the_invoices_to_the_cent(tenant: Tenant, sdk: Sdk) -> None:
    """Hand-computed: acme on Growth (MONTHLY from the 1st, no grace; D4's tiered card on us_calls, a 50.00 fee)
    since the month before last: two past cycles (50.00 each, finalized by a bill run, dated the 1st of the next
    month) and the current one (150 calls: 100 x 1.00 + 50 x 0.50 = 125.00, the fee 50.00, a 7.25 charge = 182.25,
    still DRAFT). beta-eu (EUR) has a custom invoice of 33.33 EUR, finalized now; at 1.1 USD per EUR that is
    36.663 -> 36.66 USD."""
    meters = make_catalog(sdk)
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE")).id
    plan_id = growth_plan(sdk, meters["us_calls"], fee)
    now = datetime.now(UTC)
    first = month_start(now, 2)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, first, OPEN))
    when = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    ingest(sdk, [ev("r1", "acme", when, "100"), ev("r2", "acme", when, "50")])
    assert sdk.invoices.create_invoice_bill_run().success is True
    drafts = [i for i in acme_invoices(sdk) if i.status == "DRAFT"]
    assert len(drafts) == 1
    sdk.invoices.manage_miscellaneous_charges_in_invoice(
        drafts[0].id, tc.ManageMiscellaneousChargesRequest(items=[tc.MiscellaneousCharge(name="Setup", value="7.25")])
    )
    sdk.accounts.create_account(
        CreateAccountRequest(id="beta-eu", name="Beta EU", customer_id="beta", invoice_currency="EUR")
    )
    custom = sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(
            account_id="beta-eu",
            start_date=datetime.combine(month_start(now), datetime.min.time(), UTC),
            end_date=now,
            status="DUE",
            line_items=[tc.CustomInvoiceLineItem(description="Consulting", value=33.33)],
        )
    )
    invoices = acme_invoices(sdk)
    assert [(i.status, i.total_amount) for i in invoices] == [("DUE", 50), ("DUE", 50), ("DRAFT", 182.25)]
    assert (custom.status, custom.total_amount) == ("DUE", 33.33)

    start = datetime.combine(first, datetime.min.time(), UTC)
    months = months_from(first, 3)
    end = months_from(first, 4)[-1]

    def values(query: MetricQuery) -> dict[Any, list[Decimal]]:
        timestamps, found = one(sdk, start, end, query)
        assert timestamps == months
        return {k: exact(v) for k, v in found.items()}

    def refused(query: MetricQuery) -> str:
        return bad(sdk, start, end, query)

    D = Decimal
    # Without an exchange rate, the base currency (USD) cannot take the EUR invoice
    assert "exchange rate of EUR" in refused(rq("REVENUE"))
    assert "metrics.exchangeRates" in refused(rq("REVENUE"))
    # CURRENCY INVOICE adds one currency only
    assert "USD and EUR" in refused(rq("REVENUE", currency="INVOICE")) or "EUR and USD" in refused(
        rq("REVENUE", currency="INVOICE")
    )
    assert values(rq("REVENUE", currency="INVOICE", CUSTOMER_ID=["acme"])) == {None: [0, 50, 50]}
    assert values(rq("REVENUE", currency="INVOICE", ACCOUNT_ID=["beta-eu"])) == {None: [0, 0, D("33.33")]}
    assert values(rq("REVENUE", "ACCOUNT_ID", "INVOICE")) == {"acme": [0, 50, 50], "beta-eu": [0, 0, D("33.33")]}

    sdk.settings.insert_setting(
        tc.Setting(
            id="exchangeRates",
            value='{"EUR": 1.1}',
            entity_type="ORGANIZATION",
            entity_id=tenant.org.id,
            namespace="metrics",
            name="Exchange rates",
            data_type="JSON",
        )
    )
    full_id = f"setting.metrics.exchangeRates.ORGANIZATION.{tenant.org.id}"
    wrongs = ('{"EUR": -1}', '{"EUR": "abc"}', '{"XYZ": 1}', "[1.1]", '{"EUR": true}', '{"EUR": [1.1]}')
    # a string must be a number as JSON writes it: no underscores, other scripts' digits nor spaces
    texts = ('{"EUR": "1_0"}', '{"EUR": "\u0661"}', '{"EUR": " 1.1 "}', '{"EUR": "1.1e0 "}', '{"EUR": "NaN"}')
    for wrong in (*wrongs, *texts):
        sdk.settings.update_setting(full_id, tc.UpdateSettingRequest(value=wrong))
        message = refused(rq("REVENUE"))
        assert "setting metrics.exchangeRates" in message and "positive rate" in message or "JSON object" in message
    sdk.settings.update_setting(full_id, tc.UpdateSettingRequest(value='{"EUR": 1.1, "EUR": 2}'))
    assert "'EUR' is given twice" in refused(rq("REVENUE"))
    sdk.settings.update_setting(full_id, tc.UpdateSettingRequest(value='{"EUR": 1.1}', data_type="STRING"))
    assert "has dataType STRING; it must be JSON" in refused(rq("REVENUE"))
    sdk.settings.update_setting(full_id, tc.UpdateSettingRequest(data_type="JSON"))
    sdk.settings.update_setting(full_id, tc.UpdateSettingRequest(value='{"EUR": "1.1"}'))
    # REVENUE: finalized invoices by invoice date (the past cycles' on the 1st of the next month; the custom one now)
    assert values(rq("REVENUE")) == {None: [0, 50, D("86.66")]}
    assert values(rq("REVENUE", currency="BASE")) == {None: [0, 50, D("86.66")]}
    assert values(rq("REVENUE", "CUSTOMER_ID")) == {"acme": [0, 50, 50], "beta": [0, 0, D("36.66")]}
    assert values(rq("REVENUE", "BILLABLE_ID")) == {fee: [0, 50, 50], "CUSTOM": [0, 0, D("36.66")]}
    assert values(rq("REVENUE", USAGE_METER_ID=[meters["us_calls"]])) == {None: [0, 0, 0]}
    # a range that starts inside a period counts only what is inside it: here not the invoice dated on the 1st
    later = months[1] + timedelta(days=1)
    assert one(sdk, later, end, rq("REVENUE"))[1] == {None: [0, 86.66]}
    assert one(sdk, later, end, rq("REVENUE_FOR_CYCLE"))[1] == {None: [0, 182.25]}  # nor the cycle started then
    # ... which is what the invoices say, invoice by invoice
    by_month = [D(0)] * 3
    for i in invoices:
        if i.status != "DRAFT":
            by_month[months.index(datetime.combine(month_start(i.invoice_date), datetime.min.time(), UTC))] += D(
                repr(i.total_amount)
            )
    assert by_month == values(rq("REVENUE", currency="INVOICE", ACCOUNT_ID=["acme"]))[None]

    # REVENUE_FOR_CYCLE: each cycle's invoices at the cycle's start, the DRAFT as it stands now; no custom invoice
    cycles = values(rq("REVENUE_FOR_CYCLE"))
    assert cycles == {None: [50, 50, D("182.25")]}
    assert cycles[None] == exact([i.total_amount for i in invoices])
    assert values(rq("REVENUE_FOR_CYCLE", "BILLABLE_ID")) == {
        fee: [50, 50, 50],
        meters["us_calls"]: [0, 0, 125],
        "MISCELLANEOUS_CHARGES": [0, 0, D("7.25")],
    }
    assert values(rq("REVENUE_FOR_CYCLE", "USAGE_METER_ID")) == {meters["us_calls"]: [0, 0, 125]}
    assert values(rq("REVENUE_FOR_CYCLE", BILLABLE_ID=["us_calls", fee])) == {None: [50, 50, 175]}  # a meter's name
    assert values(rq("REVENUE_FOR_CYCLE", "ACCOUNT_ID", "INVOICE")) == {"acme": [50, 50, D("182.25")]}

    # USAGE_FOR_CYCLE: each cycle's usage at the cycle's start
    assert values(rq("USAGE_FOR_CYCLE", BILLABLE_ID=[meters["us_calls"]])) == {None: [0, 0, 150]}
    assert values(rq("USAGE_FOR_CYCLE", "USAGE_METER_ID", USAGE_METER_ID=["us_calls"])) == {
        meters["us_calls"]: [0, 0, 150]
    }
    assert one(sdk, start, end, rq("USAGE_FOR_CYCLE", "ACCOUNT_ID", ACCOUNT_ID=["beta-eu"]))[1] == {}

    # Exact JSON numbers, read without floats
    with tenant.http() as http:
        raw = http.post(
            "/metrics",
            json={
                "startTime": start.isoformat(),
                "endTime": end.isoformat(),
                "metricQueries": [{"id": "r", "name": "REVENUE", "aggregationPeriod": "MONTH"}],
            },
        )
    written = json.loads(raw.text, parse_float=Decimal)["results"][0]["data"][0]["metricValues"]
    assert [str(v) for v in written] == ["0.00", "50.00", "86.66"]  # at the base currency's scale, every one

    # a custom line whose billableId is a system part's name stays apart from it: CUSTOM:<billableId>
    sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(
            account_id="beta",
            start_date=datetime.combine(month_start(now), datetime.min.time(), UTC),
            end_date=now,
            status="DUE",
            line_items=[tc.CustomInvoiceLineItem(description="Odd", value=1, billable_id="TRUE_UP")],
        )
    )
    assert values(rq("REVENUE", "BILLABLE_ID")) == {
        fee: [0, 50, 50],
        "CUSTOM": [0, 0, D("36.66")],
        "CUSTOM:TRUE_UP": [0, 0, 1],
    }
    assert values(rq("REVENUE", BILLABLE_ID=["CUSTOM:TRUE_UP"])) == {None: [0, 0, 1]}
    assert values(rq("REVENUE", BILLABLE_ID=["TRUE_UP"])) == {None: [0, 0, 0]}
    # customer beta now invoices in USD (beta) and EUR (beta-eu): filtering by customer cannot help, the 400 says so
    mixed = refused(rq("REVENUE", "CUSTOMER_ID", "INVOICE"))
    assert "of CUSTOMER_ID beta" in mixed and "a customer's accounts may invoice in different currencies" in mixed
    assert "filter by ACCOUNT_ID or group by ACCOUNT_ID" in mixed and "or CUSTOMER_ID" not in mixed


def test_named_license_usage_is_the_largest_quantity_in_force(sdk: Sdk) -> None:
    """NAMED_LICENSE_USAGE reads license quantities, each period the largest in force per account and license,
    added up: a LICENSE's from its updates, a NAMED_LICENSE's the number of its named seats in force (from
    togai-named-license events: x from day 1, y from day 2, x removed on day 3)."""
    make_catalog(sdk)
    seats = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Seats", type="LICENSE")).id
    for account, quantity, when in (("acme", 3, at(2, 12)), ("acme", 1, at(3, 0)), ("beta", 4, at(1, 0))):
        sdk.licenses.add_license_update_entry(
            tc.LicenseUpdateRequest(
                license_id=seats, account_id=account, update_type="ABSOLUTE", quantity=quantity, effective_from=when
            )
        )
    end = at(5, 0)
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE"))[1] == {None: [4, 7, 5, 5]}
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE", group_by="ACCOUNT_ID"))[1] == {
        "acme": [0, 3, 1, 1],
        "beta": [4, 4, 4, 4],
    }
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE", group_by="BILLABLE_ID", CUSTOMER_ID=["acme"]))[1] == {
        seats: [0, 3, 1, 1]
    }
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE", BILLABLE_ID=["addon.none"]))[1] == {None: [0, 0, 0, 0]}

    named = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Named seats", type="NAMED_LICENSE")).id
    seat_events = [
        tc.Event(
            schema_name="togai-named-license",
            id=f"seat-{n}",
            timestamp=when,
            account_id="acme",
            attributes=[tc.Attribute(name="action", value=action)],
            dimensions={"license_id": named, "name": name},
        )
        for n, (name, action, when) in enumerate((("x", "1", at(1, 6)), ("y", "1", at(2, 6)), ("x", "-1", at(3, 6))))
    ]
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=seat_events))
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE", group_by="BILLABLE_ID"))[1] == {
        seats: [4, 7, 5, 5],
        named: [1, 2, 2, 1],
    }
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE", BILLABLE_ID=[named]))[1] == {None: [1, 2, 2, 1]}
    assert one(sdk, D1, end, q("NAMED_LICENSE_USAGE", group_by="ACCOUNT_ID", CUSTOMER_ID=["beta"]))[1] == {
        "beta": [4, 4, 4, 4]
    }


def test_series_and_values_are_bounded(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    """At most 100 series per query (counted in SQL before any series is built) and 30,000 values (series x
    periods) per response: beyond, 400 asking for a filter."""
    end = D1 + timedelta(days=4)
    # 96 more accountIds that reach no account: with acme, acme-2, beta and nobody, 100 series
    ingest(sdk, [ev(f"u{i}", f"stranger-{i:03}", at(1, 12)) for i in range(96)])
    grouped = one(sdk, D1, end, q(group_by="ACCOUNT_ID"))[1]
    assert len(grouped) == 100 and grouped["stranger-000"] == [1, 0, 0, 0]
    ingest(sdk, [ev("u-last", "stranger-last", at(1, 12))])
    message = bad(sdk, D1, end, q(group_by="ACCOUNT_ID"))
    assert "more than 100 series" in message and "filter" in message
    # a filter brings it back under the bound
    assert len(one(sdk, D1, end, q(group_by="ACCOUNT_ID", ACCOUNT_ID=["stranger-last", "acme"]))[1]) == 2
    # 100 series x 300 hours is the whole response's budget: one more query is refused
    hours = D1 + timedelta(hours=300)
    query = {"id": "g", "name": "EVENTS", "aggregationPeriod": "HOUR", "groupBy": "ACCOUNT_ID"}
    under = {"fieldName": "ACCOUNT_ID", "fieldValues": [f"stranger-{i:03}" for i in range(96)] + ["acme", "beta"]}
    body = {"startTime": D1.isoformat(), "endTime": hours.isoformat()}
    with tenant.http() as http:
        full = http.post("/metrics", json={**body, "metricQueries": [{**query, "filters": [under]}]})
        assert full.status_code == 200, full.text
        assert sum(len(s["metricValues"]) for s in full.json()["results"][0]["data"]) == 98 * 300
        two = {**body, "metricQueries": [{**query, "filters": [under]}, {**query, "id": "h", "groupBy": None}]}
        r = http.post("/metrics", json={**body, **two})
        assert r.status_code == 200, r.text  # 98 x 300 + 1 x 300 = 29,700
        # ... + 1 x 300 (SCHEMA_NAME) = 30,000 exactly; then one more series is one too many
        three = [
            *two["metricQueries"],
            {**query, "id": "i", "groupBy": "SCHEMA_NAME"},
            {**query, "id": "j", "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": ["acme"]}]},
        ]
        r = http.post("/metrics", json={**body, "metricQueries": three})
        assert r.status_code == 400 and "more than 30000 values" in r.json()["message"]
        assert "'j'" in r.json()["message"]
