"""AlertsApi (8 operations) through the official SDK against a live server, on both engines (docs/alerts.md).

The server's evaluator is off (tests/conftest.py): the test evaluates at instants it chooses, with the same run the
worker makes (usecases.alerts.run), on the server's database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import togai_client as tc
from sqlalchemy.orm import Session, sessionmaker
from togai_client.exceptions import BadRequestException, NotFoundException

from meterline.usecases import alerts
from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant

UTC = timezone.utc
TEMPLATES = {
    "usage_threshold",
    "spend_threshold",
    "credit_balance_below",
    "wallet_balance_below",
    "feature_credits_low",
    "invoice_overdue",
    "webhook_endpoint_disabled",
}


@pytest.fixture
def alerts_api(sdk: Sdk) -> tc.AlertsApi:
    return tc.AlertsApi(sdk.client)


def ingest(sdk: Sdk, event_id: str, calls: str) -> None:
    tc.EventIngestionApi(sdk.client).ingest(
        tc.IngestEventRequest(
            event=tc.Event(
                schema_name="api_calls",
                id=event_id,
                timestamp=datetime.now(UTC),
                account_id="acme",
                attributes=[tc.Attribute(name="calls", value=calls)],
                dimensions={"region": "us"},
            )
        )
    )


def test_templates_are_listed_with_their_schemas(alerts_api: tc.AlertsApi) -> None:
    listed = alerts_api.get_alert_templates()
    assert {t.id for t in listed.data} == TEMPLATES and listed.next_token is None
    usage = alerts_api.get_alert_template("usage_threshold")
    assert usage.name == "Usage above a threshold" and usage.interval == 60 and usage.entity_type == "ACCOUNT"
    parameters = json.loads(usage.parameters_schema or "")
    assert parameters["required"] == ["meter", "threshold"]
    assert parameters["properties"]["threshold"]["properties"]["basis"]["enum"] == [
        "ABSOLUTE",
        "PERCENT_OF_ENTITLEMENT",
        "PERCENT_OF_COMMITMENT",
    ]
    assert json.loads(usage.entity_schema or "")["properties"].keys() == {"account", "customer"}
    assert json.loads(usage.owner_schema or "")["properties"]["user"]["required"] == ["email"]
    with pytest.raises(NotFoundException) as missing:
        alerts_api.get_alert_template("nope")
    assert message_of(missing.value) == "Alert template nope not found"


def test_alerts_are_created_listed_updated_and_their_incidents_closed(
    sdk: Sdk,
    alerts_api: tc.AlertsApi,
    billed: dict[str, str],
    tenant: Tenant,
    session_factory: sessionmaker[Session],
) -> None:
    meter = billed["sum"]
    made = alerts_api.create_alert_with_http_info(
        tc.CreateAlertRequest(
            alert_template_id="usage_threshold",
            interval=60,
            validity=60 * 24 * 30,
            description="API calls this month",
            entity_details={"account": {"id": "acme"}},
            owner_details={"user": {"email": "ops@acme.test"}},
            parameters={"meter": {"id": meter}, "threshold": {"levels": [10, 20]}},
            status="ACTIVE",
        )
    )
    assert made.status_code == 200  # Togai's create answers 200
    alert = made.data
    assert (alert.version, alert.status, alert.interval, alert.validity) == (1, "ACTIVE", 60, 43200)
    assert alert.parameters == {"meter": {"id": meter}, "threshold": {"levels": [10, 20]}}
    assert alert.entity_details == {"account": {"id": "acme"}}

    # Refusals name the field, as the template's schema says
    bad = tc.CreateAlertRequest(
        alert_template_id="usage_threshold",
        interval=60,
        parameters={"meter": {"id": meter}, "threshold": {"levels": ["many"]}},
        status="ACTIVE",
    )
    with pytest.raises(BadRequestException) as refused:
        alerts_api.create_alert(bad)
    assert message_of(refused.value).startswith("parameters.threshold.levels[0]: must be a number")
    with pytest.raises(NotFoundException, match="Alert template nope not found"):
        alerts_api.create_alert(tc.CreateAlertRequest(alert_template_id="nope", interval=5, status="ACTIVE"))
    with pytest.raises(NotFoundException) as no_account:
        alerts_api.create_alert(
            tc.CreateAlertRequest(
                alert_template_id="wallet_balance_below",
                interval=5,
                entity_details={"account": {"id": "ghost"}},
                parameters={"threshold": {"levels": [5]}},
                status="ACTIVE",
            )
        )
    assert message_of(no_account.value) == "Account ghost not found"
    with pytest.raises(BadRequestException, match="interval"):
        alerts_api.create_alert(
            tc.CreateAlertRequest(alert_template_id="webhook_endpoint_disabled", interval=0, status="ACTIVE")
        )

    assert [a.id for a in alerts_api.list_alerts().data] == [alert.id]
    updated = alerts_api.update_alert(
        alert.id,
        tc.UpdateAlertRequest(
            description="Calls", parameters={"meter": {"id": meter}, "threshold": {"levels": [10, 20, 1000]}}
        ),
    )
    assert (updated.version, updated.description) == (2, "Calls")
    assert updated.parameters == {"meter": {"id": meter}, "threshold": {"levels": [10, 20, 1000]}}

    # 15 calls this cycle cross 10, not 20: one incident
    ingest(sdk, "a1", "15")
    now = datetime.now(UTC)
    result = alerts.run(session_factory, now, org_id=tenant.org.id)
    assert (result.evaluated, result.opened, result.failures) == (1, 1, [])
    [incident] = alerts_api.get_incidents().data
    assert (incident.alert_id, incident.alert_version, incident.alert_template_id, incident.status) == (
        alert.id,
        2,
        "usage_threshold",
        "OPEN",
    )
    report = incident.report_data or {}
    assert report["subject"] == {"type": "ACCOUNT", "id": "acme"}
    assert report["threshold"]["level"] == 10 and report["figures"]["value"] == 15
    assert report["figures"]["unit"] == "us_calls"
    assert alerts_api.get_incident(incident.id).id == incident.id
    assert incident.valid_until is not None

    closed = alerts_api.update_incident_status(incident.id, tc.UpdateIncidentStatusRequest(status="CLOSED"))
    assert closed.status == "CLOSED"
    # Still above 10 an hour later: the closed incident is not opened again
    result = alerts.run(session_factory, now + timedelta(hours=1, minutes=1), org_id=tenant.org.id)
    assert (result.evaluated, result.opened) == (1, 0)
    assert [i.status for i in alerts_api.get_incidents().data] == ["CLOSED"]
    with pytest.raises(NotFoundException, match="Incident incident.nope not found"):
        alerts_api.get_incident("incident.nope")

    paused = alerts_api.update_alert(alert.id, tc.UpdateAlertRequest(status="INACTIVE"))
    assert (paused.status, paused.version) == ("INACTIVE", 3)
    assert alerts.run(session_factory, now + timedelta(hours=3), org_id=tenant.org.id).evaluated == 0


def test_another_organizations_alerts_are_not_found(
    alerts_api: tc.AlertsApi, other_sdk: Sdk, billed: dict[str, str]
) -> None:
    made = alerts_api.create_alert(
        tc.CreateAlertRequest(alert_template_id="webhook_endpoint_disabled", interval=15, status="ACTIVE")
    )
    other = tc.AlertsApi(other_sdk.client)
    assert other.list_alerts().data == []
    with pytest.raises(NotFoundException, match=r"Alert alert\.\w+ not found"):
        other.update_alert(made.id, tc.UpdateAlertRequest(description="mine"))


def test_levels_that_are_not_numbers_are_refused_by_name(tenant: Tenant) -> None:
    """Python's JSON parser reads NaN and Infinity: a level written so is a 400 naming it, at creation and update,
    never a 500 (the schema check compared a Decimal NaN)."""
    body = (
        '{"alertTemplateId": "spend_threshold", "interval": 15, "status": "ACTIVE",'
        ' "parameters": {"threshold": {"levels": [%s]}}}'
    )
    headers = {"content-type": "application/json"}
    with tenant.http() as http:
        for level in ("NaN", "Infinity", "-Infinity"):
            answer = http.post("/alerts", content=body % level, headers=headers)
            assert answer.status_code == 400, answer.text
            assert answer.json()["message"].startswith("parameters.threshold.levels[0]: must be")
        answer = http.post("/alerts", content=body % "10, NaN", headers=headers)
        assert answer.status_code == 400 and "levels[1]" in answer.json()["message"]
        made = http.post("/alerts", content=body % "10", headers=headers)
        assert made.status_code == 200, made.text
        answer = http.patch(
            f"/alerts/{made.json()['id']}", content='{"parameters": {"threshold": {"levels": [NaN]}}}', headers=headers
        )
        assert answer.status_code == 400 and "levels[0]" in answer.json()["message"]
        assert http.get("/alerts").json()["data"][0]["parameters"] == {"threshold": {"levels": [10]}}
