"""Event corrections (UNDO, REDO, REDO_EVENT) through the official SDK and raw HTTP, on both engines."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client
from togai_client import (
    Attribute,
    Computation,
    CreateUsageMeterRequest,
    Event,
    EventCorrectionRequest,
    IngestBatchEventRequest,
    IngestEventRequest,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.api.test_schedules_sdk import OPEN, associate, plan
from tests.conftest import Tenant

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
HOUR = (T0, T0 + timedelta(hours=1))


def ev(event_id: str | None, calls: str = "10", region: str = "us", account: str = "acme", at: datetime = T0) -> Event:
    return Event(
        schema_name="api_calls",
        id=event_id,
        timestamp=at,
        account_id=account,
        attributes=[Attribute(name="calls", value=calls)],
        dimensions={"region": region},
    )


def usage(
    tenant: Tenant, window: tuple[datetime, datetime] = HOUR, account: str = "acme"
) -> dict[str, tuple[Decimal, int]]:
    start, end = window
    with tenant.http() as http:
        r = http.get(f"/accounts/{account}/usage", params={"start": start.isoformat(), "end": end.isoformat()})
    assert r.status_code == 200, r.text
    return {m["name"]: (Decimal(str(m["usage"])), m["events"]) for m in r.json()["meters"]}


def correct(sdk: Sdk, action: str, event: Event, **kwargs: object) -> togai_client.EventCorrectionInfo:
    response = togai_client.EventManagementApi(sdk.client).event_correction(
        action=action, event_correction_request=EventCorrectionRequest(event=event), **kwargs
    )
    assert len(response.data) == 1
    return response.data[0]


def ingest(sdk: Sdk, *events: Event) -> None:
    togai_client.EventIngestionApi(sdk.client).ingest_batch(IngestBatchEventRequest(events=list(events)))


def stored(sdk: Sdk, event_id: str) -> list[tuple[str, str]]:
    return [
        (e.reference_id, e.ingestion_status.status)
        for e in togai_client.EventManagementApi(sdk.client).get_single_event(event_id).events
    ]


def test_undo_removes_exactly_the_event_usage_and_frees_its_id(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("u1", calls="10.125"), ev("u2", calls="3"), ev("u3", calls="7", region="eu"))
    assert usage(tenant) == {"us_calls": (Decimal("13.125"), 2), "requests": (Decimal(3), 3)}
    [(original_ref, _)] = stored(sdk, "u1")

    info = correct(sdk, "UNDO", ev("u1", calls="10.125"))
    assert (info.status, info.reason, info.reference_id) == ("REVERTED", "reverted", original_ref)
    assert info.ingestion_status.status == "REVERTED"
    assert "Reverted by UNDO" in info.ingestion_status.status_description
    assert "INGESTION_COMPLETED_EVENT_NOT_METERED" in info.ingestion_status.status_description
    assert info.event_payload.id == "u1" and info.event_payload.attributes[0].value == "10.125"
    assert usage(tenant) == {"us_calls": (Decimal(3), 1), "requests": (Decimal(2), 2)}
    assert stored(sdk, "u1") == [(original_ref, "REVERTED")]

    # the id is free again, and counts once more
    response = togai_client.EventIngestionApi(sdk.client).ingest_with_http_info(
        IngestEventRequest(event=ev("u1", calls="0.5"))
    )
    assert response.status_code == 202
    assert usage(tenant) == {"us_calls": (Decimal("3.5"), 2), "requests": (Decimal(3), 3)}
    assert [s for _, s in stored(sdk, "u1")] == ["REVERTED", "INGESTION_COMPLETED_EVENT_NOT_METERED"]


def test_undo_with_only_the_id_over_raw_http(tenant: Tenant, catalog: dict[str, str], sdk: Sdk) -> None:
    ingest(sdk, ev("h1", calls="4"))
    with tenant.http() as http:
        r = http.post("/events/correction", params={"action": "UNDO"}, json={"event": {"id": "h1"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(d["status"], d["reason"], d["ingestionStatus"]["status"]) for d in body["data"]] == [
        ("REVERTED", "reverted", "REVERTED")
    ]
    assert usage(tenant) == {"us_calls": (Decimal(0), 0), "requests": (Decimal(0), 0)}


def test_redo_keeps_usage_when_nothing_changed_and_applies_the_current_meters(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("r1", calls="2.5"), ev("r2", calls="1"))
    before = usage(tenant)
    [(first_ref, _)] = stored(sdk, "r1")

    info = correct(sdk, "REDO", ev("r1", calls="2.5"))
    assert info.status == "REVERTED_AND_REINGESTED" and first_ref in info.reason
    assert info.reference_id != first_ref and info.ingestion_status.status == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert usage(tenant) == before
    refs = stored(sdk, "r1")
    assert refs == [(first_ref, "REVERTED"), (info.reference_id, "INGESTION_COMPLETED_EVENT_NOT_METERED")]
    old = togai_client.EventManagementApi(sdk.client).get_single_event("r1").events[0]
    assert f"re-ingested as {info.reference_id}" in old.ingestion_status.status_description

    # the meters change: the COUNT meter is deactivated, a new SUM meter doubles calls in every region
    sdk.usage_meters.deactivate_usage_meter(catalog["count"])
    doubled = sdk.usage_meters.create_usage_meter(
        CreateUsageMeterRequest(
            name="double_calls",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="api_calls",
            computations=[Computation(order=1, computation='{"*":[{"var":"attribute.calls"},2]}')],
        )
    )
    sdk.usage_meters.activate_usage_meter(doubled.id)
    info = correct(sdk, "REDO", ev("r1", calls="2.5"))
    assert info.status == "REVERTED_AND_REINGESTED"
    assert usage(tenant) == {
        "us_calls": (Decimal("3.5"), 2),
        "requests": (Decimal(1), 1),  # only r2 still counts there
        "double_calls": (Decimal("5.0"), 1),
    }
    pipeline = togai_client.EventManagementApi(sdk.client).get_single_event("r1").events[-1].event_pipeline_info
    assert {m.id: m.units for m in pipeline.usage_meters if m.status == "PROCESSED_UNITS_COMPUTED"} == {
        catalog["sum"]: 2.5,
        doubled.id: 5,
    }


def test_redo_event_replaces_the_units_with_the_corrected_payload(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("x1", calls="10"), ev("x2", calls="1"))
    info = correct(sdk, "REDO_EVENT", ev("x1", calls="99.99"))
    assert info.status == "REVERTED_AND_REINGESTED"
    assert info.event_payload.attributes[0].value == "99.99"
    assert usage(tenant) == {"us_calls": (Decimal("100.99"), 2), "requests": (Decimal(2), 2)}

    # a corrected region and timestamp move the event out of the us meter and into another bucket
    later = T0 + timedelta(minutes=45)
    correct(sdk, "REDO_EVENT", ev("x1", calls="5", region="eu", at=later))
    assert usage(tenant) == {"us_calls": (Decimal(1), 1), "requests": (Decimal(2), 2)}
    assert usage(tenant, (T0 + timedelta(minutes=45), T0 + timedelta(hours=1))) == {
        "us_calls": (Decimal(0), 0),
        "requests": (Decimal(1), 1),
    }
    assert [s for _, s in stored(sdk, "x1")] == ["REVERTED", "REVERTED", "INGESTION_COMPLETED_EVENT_NOT_METERED"]


def test_a_rejected_reingestion_changes_nothing(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingest(sdk, ev("f1", calls="6"))
    before, refs = usage(tenant), stored(sdk, "f1")
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "REDO_EVENT", ev("f1", account="nobody"))
    assert "INGESTION_FAILED_ACCOUNT_NOT_FOUND" in message_of(raised.value) and "nothing was changed" in message_of(
        raised.value
    )
    assert usage(tenant) == before and stored(sdk, "f1") == refs
    with pytest.raises(ApiException) as raised:  # the id is still claimed
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("f1")))
    assert raised.value.status == 409
    refs = stored(sdk, "f1")  # the refused copy is stored too
    # REDO of an event whose schema is no longer active: the re-ingestion fails, the original stays
    for meter in catalog.values():
        sdk.usage_meters.deactivate_usage_meter(meter)
    sdk.event_schemas.deactivate_event_schema("api_calls")
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "REDO", ev("f1"))
    assert "INGESTION_FAILED_SCHEMA_NOT_DEFINED" in message_of(raised.value)
    assert usage(tenant) == before and stored(sdk, "f1") == refs
    # UNDO needs no ingestion, so it still works
    assert correct(sdk, "UNDO", ev("f1")).status == "REVERTED"
    assert usage(tenant) == {name: (Decimal(0), 0) for name in before}


def test_only_accepted_events_can_be_corrected(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    events = togai_client.EventManagementApi(sdk.client)
    with pytest.raises(NotFoundException, match="Event 'never' not found"):
        correct(sdk, "UNDO", ev("never"))
    # stored, as INGESTION_FAILED_ACCOUNT_NOT_FOUND
    with pytest.raises(BadRequestException, match=r"No account has id or alias 'nobody' at 2024-03-01T10:00:00\+00:00"):
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("bad", account="nobody")))
    assert [s for _, s in stored(sdk, "bad")] == ["INGESTION_FAILED_ACCOUNT_NOT_FOUND"]
    for action in ("UNDO", "REDO", "REDO_EVENT"):
        with pytest.raises(BadRequestException) as raised:
            correct(sdk, action, ev("bad"))
        assert "INGESTION_FAILED_ACCOUNT_NOT_FOUND" in message_of(raised.value)

    # a duplicate is never the corrected event: the accepted original is, once; then nothing is left to correct
    ingest(sdk, ev("dup", calls="2"))
    with pytest.raises(ApiException, match="Event 'dup' was already ingested"):
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("dup", calls="50")))
    info = correct(sdk, "UNDO", ev("dup"))
    assert info.status == "REVERTED" and info.event_payload.attributes[0].value == "2"
    assert usage(tenant) == {"us_calls": (Decimal(0), 0), "requests": (Decimal(0), 0)}
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "UNDO", ev("dup"))
    assert "REVERTED, INGESTION_FAILED_DUPLICATE_EVENT" in message_of(raised.value)
    assert usage(tenant) == {"us_calls": (Decimal(0), 0), "requests": (Decimal(0), 0)}
    assert [e.ingestion_status.status for e in events.get_single_event("dup").events] == [
        "REVERTED",
        "INGESTION_FAILED_DUPLICATE_EVENT",
    ]


def test_another_organization_cannot_correct_the_event(
    sdk: Sdk, other_sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("mine", calls="8"))
    for action in ("UNDO", "REDO", "REDO_EVENT"):
        with pytest.raises(NotFoundException, match="Event 'mine' not found"):
            correct(other_sdk, action, ev("mine"))
    assert usage(tenant) == {"us_calls": (Decimal(8), 1), "requests": (Decimal(1), 1)}


def test_malformed_requests(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingest(sdk, ev("c1"))
    assert correct(sdk, "UNDO", ev("c1"), require_confirmation=False).status == "REVERTED"
    ingest(sdk, ev("c1"))
    with tenant.http() as http:

        def post(params: dict[str, str], body: object = None) -> tuple[int, str]:
            r = http.post("/events/correction", params=params, json=body)
            return r.status_code, r.json()["message"]

        status, message = post({"action": "UNDO"})
        assert status == 400 and "event.id" in message
        status, message = post({"action": "UNDO"}, {})
        assert status == 400 and "event.id" in message
        status, message = post({"action": "UNDO"}, {"event": {"schemaName": "api_calls"}})
        assert status == 400 and "event.id" in message
        status, message = post({"action": "DELETE"}, {"event": {"id": "c1"}})
        assert status == 400 and message.startswith("action")
        status, message = post({}, {"event": {"id": "c1"}})
        assert status == 400 and "action" in message
        status, message = post({"action": "REDO_EVENT"}, {"event": {"id": "c1", "attributes": []}})
        assert status == 400 and "event.schemaName" in message and "event.timestamp" in message
        status, message = post({"action": "UNDO"}, {"event": {"id": "c1", "colour": "red"}})
        assert status == 400 and "event.colour" in message
    assert usage(tenant) == {"us_calls": (Decimal(10), 1), "requests": (Decimal(1), 1)}  # nothing was corrected


# -- corrections that wait for confirmation (EVENT_CORRECTIONS jobs) -------------------------------------------------
def pending(sdk: Sdk, action: str, event: Event) -> tuple[togai_client.EventCorrectionInfo, str]:
    """Request the correction with require_confirmation: the answer and the id of the job that waits."""
    info = correct(sdk, action, event, require_confirmation=True)
    found = re.search(r"job (job\.\S+) ", info.reason)
    assert found is not None and "waiting for confirmation" in info.reason, info.reason
    return info, found.group(1)


def jobs(sdk: Sdk) -> togai_client.JobsApi:
    return togai_client.JobsApi(sdk.client)


def draft_of(sdk: Sdk) -> togai_client.Invoice:
    [draft] = [i for i in sdk.invoices.list_invoices(owner_id="acme").data if i.status == "DRAFT"]
    return sdk.invoices.get_invoice(draft.id)


def test_a_correction_waits_for_confirmation_and_shows_what_it_changes(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    at = now - timedelta(minutes=5)
    hour = at.replace(minute=0, second=0, microsecond=0)
    window = (hour, hour + timedelta(hours=1))
    plan_id = plan(sdk, catalog["sum"])
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(now.year, now.month, 1), OPEN))
    ingest(sdk, ev("p1", calls="7", at=at), ev("p2", calls="2", at=at))
    before_usage, [(ref, status)] = usage(tenant, window), stored(sdk, "p1")
    draft = draft_of(sdk)
    meter = catalog["sum"]

    info, job_id = pending(sdk, "UNDO", ev("p1", at=at))
    # nothing changed yet: the answer describes the event as it stands, with the status the correction will have
    assert (info.reference_id, info.ingestion_status.status, info.status) == (ref, status, "REVERTED")
    assert usage(tenant, window) == before_usage and stored(sdk, "p1") == [(ref, status)]
    assert draft_of(sdk).total_amount == draft.total_amount
    job = jobs(sdk).get_job_status(job_id)
    assert (job.type, job.status, job.total_job_entries, job.pending_job_entries) == (
        "EVENT_CORRECTIONS",
        "WAITING_FOR_CONFIRMATION",
        1,
        1,
    )
    shown = job.metadata
    assert (shown["action"], shown["eventId"], shown["referenceId"], shown["accountId"]) == ("UNDO", "p1", ref, "acme")
    expires = datetime.fromisoformat(shown["expiresAt"])
    assert timedelta(days=6, hours=23) < expires - now <= timedelta(days=7, minutes=1)
    assert (shown[f"units.{meter}.before"], shown[f"units.{meter}.after"]) == ("7", "0")
    key = f"invoice.{draft.id}"
    assert Decimal(shown[f"{key}.totalBefore"]) == Decimal(str(draft.total_amount))
    assert shown[f"{key}.currency"] == "USD"
    assert (Decimal(shown[f"{key}.usage.{meter}.before"]), Decimal(shown[f"{key}.usage.{meter}.after"])) == (9, 2)
    [entry] = jobs(sdk).get_job_entries(job_id).data
    assert (entry.entity_id, entry.status) == (ref, "PENDING")

    done = jobs(sdk).confirm_job(job_id)
    assert (done.status, done.completed_job_entries, done.failed_job_entries) == ("COMPLETED", 1, 0)
    assert stored(sdk, "p1") == [(ref, "REVERTED")]
    assert usage(tenant, window)["us_calls"] == (Decimal(2), 1)
    assert Decimal(str(draft_of(sdk).total_amount)) == Decimal(shown[f"{key}.totalAfter"])  # the preview was right
    for verb in (jobs(sdk).confirm_job, jobs(sdk).reject_job):  # applied once: a second confirm or a reject is 400
        with pytest.raises(BadRequestException) as refused:
            verb(job_id)
        assert "is COMPLETED" in message_of(refused.value)
    assert stored(sdk, "p1") == [(ref, "REVERTED")]

    # REDO_EVENT shows the corrected units; rejected, it changes nothing and cannot be confirmed any more
    [(ref2, _)] = stored(sdk, "p2")
    info, job_id = pending(sdk, "REDO_EVENT", ev("p2", calls="5", at=at))
    assert (info.reference_id, info.status) == (ref2, "REVERTED_AND_REINGESTED")
    shown = jobs(sdk).get_job_status(job_id).metadata
    assert (shown[f"units.{meter}.before"], shown[f"units.{meter}.after"]) == ("2", "5")
    assert (shown[f"{key}.usage.{meter}.before"], shown[f"{key}.usage.{meter}.after"]) == ("2", "5")
    assert '"value":"5"' in shown["event"]
    assert jobs(sdk).reject_job(job_id).status == "CANCELLED"
    with pytest.raises(BadRequestException) as refused:
        jobs(sdk).confirm_job(job_id)
    assert "is CANCELLED" in message_of(refused.value)
    assert [e.status for e in jobs(sdk).get_job_entries(job_id).data] == ["CANCELLED"]
    assert usage(tenant, window)["us_calls"] == (Decimal(2), 1) and len(stored(sdk, "p2")) == 1

    # confirmed, it ingests the corrected payload then
    info, job_id = pending(sdk, "REDO_EVENT", ev("p2", calls="5", at=at))
    assert jobs(sdk).confirm_job(job_id).status == "COMPLETED"
    assert usage(tenant, window)["us_calls"] == (Decimal(5), 1)
    assert [s for _, s in stored(sdk, "p2")] == ["REVERTED", "INGESTION_COMPLETED_EVENT_METERED"]

    # a cycle closed between the request and the confirmation (finalized early): refused then, the job says why
    info, job_id = pending(sdk, "UNDO", ev("p2", at=at))
    assert sdk.invoices.update_invoice(draft.id, togai_client.UpdateInvoiceRequest(status="DUE")).status == "DUE"
    with pytest.raises(BadRequestException) as refused:
        jobs(sdk).confirm_job(job_id)
    assert "finalized early" in message_of(refused.value)
    job = jobs(sdk).get_job_status(job_id)
    assert (job.status, job.failed_job_entries) == ("FAILED", 1)
    [entry] = jobs(sdk).get_job_entries(job_id).data
    assert entry.status == "FAILED" and entry.metadata["reason"] == message_of(refused.value)
    assert usage(tenant, window)["us_calls"] == (Decimal(5), 1)


def test_a_confirmed_correction_is_checked_again(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    """What happened to the event between the request and the confirmation: reverted (400), or reverted and its id
    ingested again (409: the job applies only to the event it previewed). A refused request makes no job."""
    ingest(sdk, ev("k1", calls="4"), ev("k2", calls="6"))
    _, first = pending(sdk, "UNDO", ev("k1"))
    _, second = pending(sdk, "REDO", ev("k1"))
    assert correct(sdk, "UNDO", ev("k1")).status == "REVERTED"  # applied directly meanwhile
    with pytest.raises(BadRequestException) as refused:
        jobs(sdk).confirm_job(first)
    assert "stored statuses are REVERTED" in message_of(refused.value)
    assert jobs(sdk).get_job_status(first).status == "FAILED"

    ingest(sdk, ev("k1", calls="1"))  # the id, free again, is a new event
    with pytest.raises(ApiException) as raced:
        jobs(sdk).confirm_job(second)
    assert raced.value.status == 409
    assert "was corrected since you opened it (or since this correction was requested)" in message_of(raced.value)
    [entry] = jobs(sdk).get_job_entries(second).data
    assert (entry.status, entry.metadata["httpStatus"]) == ("FAILED", "409")
    assert usage(tenant) == {"us_calls": (Decimal(7), 2), "requests": (Decimal(2), 2)}

    long_id = "L" * 500  # longer than an entry's entity id: the entry names the stored event
    ingest(sdk, ev(long_id, calls="3"))
    _, job_id = pending(sdk, "UNDO", ev(long_id))
    assert jobs(sdk).confirm_job(job_id).status == "COMPLETED"

    count = len(jobs(sdk).get_jobs().data)
    with pytest.raises(NotFoundException, match="Event 'nobody' not found"):
        pending(sdk, "UNDO", ev("nobody"))
    with tenant.http() as http:
        r = http.post(
            "/events/correction",
            params={"action": "REDO_EVENT", "require_confirmation": "true"},
            json={"event": {"id": "k2"}},
        )
        assert r.status_code == 400 and "event.schemaName" in r.json()["message"]
        r = http.post("/events/correction", params={"action": "UNDO", "require_confirmation": "true"}, json={})
        assert r.status_code == 400 and "event.id" in r.json()["message"]
    assert len(jobs(sdk).get_jobs().data) == count  # no job for a refused request
    assert usage(tenant) == {"us_calls": (Decimal(7), 2), "requests": (Decimal(2), 2)}


def test_usage_never_lands_in_a_cycle_whose_invoice_was_finalized_early(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    """beta's invoice of this month is finalized early (DUE): a REDO_EVENT moving acme's event there is refused (the
    job confirmed after the finalization too, and the request with or without confirmation); an event of that cycle
    sent to /ingest or /ingestBatch is refused as past the grace period, saying why. Nothing reaches beta's usage."""
    now = datetime.now(UTC)
    at = now - timedelta(minutes=5)
    hour = at.replace(minute=0, second=0, microsecond=0)
    window = (hour, hour + timedelta(hours=1))
    sdk.customers.create_customer(
        togai_client.CreateCustomerRequest(
            id="beta", name="Beta", primary_email="b@beta.test", address=togai_client.Address()
        )
    )
    plan_id = plan(sdk, catalog["sum"])
    for account in ("acme", "beta"):
        sdk.accounts.update_pricing_schedule(account, associate(plan_id, date(now.year, now.month, 1), OPEN))
    ingest(sdk, ev("q1", calls="7", at=at), ev("b0", calls="1", account="beta", at=at))
    _, job_id = pending(sdk, "REDO_EVENT", ev("q1", calls="3", account="beta", at=at))  # before the finalization
    [beta_draft] = [i for i in sdk.invoices.list_invoices(owner_id="beta").data if i.status == "DRAFT"]
    assert sdk.invoices.update_invoice(beta_draft.id, togai_client.UpdateInvoiceRequest(status="DUE")).status == "DUE"
    beta_before = usage(tenant, window, account="beta")
    [(ref, status)] = stored(sdk, "q1")

    with pytest.raises(BadRequestException) as refused:
        jobs(sdk).confirm_job(job_id)
    assert "finalized early" in message_of(refused.value) and "INGESTION_FAILED_PAST_GRACE_PERIOD" in message_of(
        refused.value
    )
    for confirmation in (False, True):
        with pytest.raises(BadRequestException) as refused:
            correct(sdk, "REDO_EVENT", ev("q1", calls="3", account="beta", at=at), require_confirmation=confirmation)
        assert "finalized early" in message_of(refused.value), message_of(refused.value)
    assert stored(sdk, "q1") == [(ref, status)]
    assert usage(tenant, window)["us_calls"] == (Decimal(7), 1)

    with pytest.raises(BadRequestException) as refused:
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("b1", account="beta", at=at)))
    assert "finalized early" in message_of(refused.value)
    response = togai_client.EventIngestionApi(sdk.client).ingest_batch_with_http_info(
        IngestBatchEventRequest(events=[ev("b2", account="beta", at=at), ev("a2", calls="1", at=at)])
    )
    assert response.status_code == 207
    [error] = response.data.details["errors"]
    assert (error["index"], error["status"]) == (0, "INGESTION_FAILED_PAST_GRACE_PERIOD")
    assert "finalized early" in error["message"], error
    assert stored(sdk, "a2")[0][1] == "INGESTION_COMPLETED_EVENT_METERED"
    assert usage(tenant, window, account="beta") == beta_before
