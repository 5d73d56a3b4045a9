"""FeatureApi (4) and EntitlementsApi (8) through the official SDK against a live server, on both engines; Meterline's
grant extension through raw HTTP (the SDK has no such operation). docs/entitlements.md is the contract."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import togai_client as tc
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant

UTC = timezone.utc
D = Decimal


def feature(sdk: Sdk, name: str = "API calls", *pairs: tuple[str, str]) -> tc.Feature:
    """A feature reading the given (schema, attribute) pairs (default: api_calls.calls)."""
    associations = [
        tc.EventSchemasForFeature(schema_name=s, attribute_name=a) for s, a in pairs or [("api_calls", "calls")]
    ]
    return sdk.features.create_feature(tc.CreateFeatureRequest(name=name, schema_associations=associations))


def grant(tenant: Tenant, feature_id: str, granted: Any, account: str = "acme", **window: str) -> dict[str, Any]:
    """Meterline's extension: an ENTITLEMENT entry (201)."""
    with tenant.http() as http:
        r = http.post(f"/accounts/{account}/features/{feature_id}/entries", json={"granted": granted, **window})
    assert r.status_code == 201, r.text
    return dict(r.json())


def event(event_id: str, calls: str = "1", at: datetime | None = None, account: str = "acme") -> tc.IngestEventRequest:
    return tc.IngestEventRequest(
        event=tc.Event(
            schema_name="api_calls",
            id=event_id,
            timestamp=at or datetime.now(UTC),
            account_id=account,
            attributes=[tc.Attribute(name="calls", value=calls)],
            dimensions={"region": "us"},
        )
    )


def entries(sdk: Sdk, feature_id: str, account: str = "acme") -> dict[str, tc.FeatureCreditEntry]:
    return {e.id: e for e in sdk.entitlements.list_feature_credit_entries(account, feature_id).data or []}


def iso(moment: datetime) -> str:
    return moment.isoformat()


# -- FeatureApi --------------------------------------------------------------------------------------------------
def test_features_are_created_read_listed_and_updated(sdk: Sdk, catalog: dict[str, str]) -> None:
    made = sdk.features.create_feature_with_http_info(
        tc.CreateFeatureRequest(
            name="API calls",
            schema_associations=[tc.EventSchemasForFeature(schema_name="api_calls", attribute_name="calls")],
        )
    )
    assert made.status_code == 200  # 200, as Togai (not 201)
    f = made.data
    assert f.id.startswith("feature.") and len(f.id) == 34
    assert (f.name, f.billable_name, f.display_name) == ("API calls", None, "API calls")
    assert [(a.schema_name, a.attribute_name) for a in f.schema_associations] == [("api_calls", "calls")]
    assert f.created_at.tzinfo is not None and f.updated_at == f.created_at
    assert sdk.features.get_feature(f.id) == f

    others = [
        sdk.features.create_feature(tc.CreateFeatureRequest(name=f"Flag {n}", schema_associations=[])) for n in range(3)
    ]
    first = sdk.features.get_features(page_size=2)
    assert [x.id for x in first.data] == [f.id, others[0].id] and first.next_token
    assert first.context.page_size == 2
    second = sdk.features.get_features(next_token=first.next_token, page_size=2)
    assert [x.id for x in second.data] == [others[1].id, others[2].id] and second.next_token is None
    assert [x.schema_count for x in first.data + second.data] == [1, 0, 0, 0]
    assert first.data[0].display_name == "API calls"

    renamed = sdk.features.update_feature(f.id, tc.UpdateFeatureRequest(billable_name="Calls"))
    assert (renamed.name, renamed.billable_name, renamed.display_name) == ("API calls", "Calls", "Calls")
    assert renamed.schema_associations == f.schema_associations  # left out: kept
    assert renamed.updated_at > f.updated_at
    moved = sdk.features.update_feature(others[0].id, tc.UpdateFeatureRequest(schema_associations=[]))
    assert moved.schema_associations == []
    # the schema moves from one feature to another: first freed, then taken
    sdk.features.update_feature(f.id, tc.UpdateFeatureRequest(schema_associations=[]))
    taken = sdk.features.update_feature(
        others[0].id,
        tc.UpdateFeatureRequest(
            schema_associations=[tc.EventSchemasForFeature(schema_name="api_calls", attribute_name="calls")]
        ),
    )
    assert taken.schema_associations[0].schema_name == "api_calls"


def test_feature_associations_name_existing_schemas_and_attributes(sdk: Sdk, catalog: dict[str, str]) -> None:
    def refused(*pairs: tuple[str, str]) -> ApiException:
        with pytest.raises(ApiException) as caught:
            feature(sdk, "Bad", *pairs)
        return caught.value

    error = refused(("nope", "calls"))
    assert (
        error.status == 400
        and message_of(error) == "schemaAssociations[0].schemaName: there is no event schema named 'nope'"
    )
    error = refused(("api_calls", "minutes"))
    assert error.status == 400
    assert message_of(error) == (
        "schemaAssociations[0].attributeName: event schema api_calls has no attribute 'minutes' (its attributes: calls)"
    )
    error = refused(("api_calls", "calls"), ("api_calls", "calls"))
    assert error.status == 400 and "is named twice" in message_of(error)
    owner = feature(sdk)
    error = refused(("api_calls", "calls"))
    assert error.status == 409
    assert message_of(error).startswith(
        f"schemaAssociations[0].schemaName: event schema api_calls already feeds feature {owner.id}"
    )
    with pytest.raises(NotFoundException, match="Feature feature.unknown not found"):
        sdk.features.get_feature("feature.unknown")
    with pytest.raises(NotFoundException, match="Feature feature.unknown not found"):
        sdk.features.update_feature("feature.unknown", tc.UpdateFeatureRequest(name="x"))
    with pytest.raises(BadRequestException) as blank:
        sdk.features.update_feature(owner.id, tc.UpdateFeatureRequest(name="  "))
    assert message_of(blank.value).endswith("must not be blank")
    assert [f.id for f in sdk.features.get_features().data] == [owner.id]  # nothing refused was stored


# -- POST /entitled and the feature credits ----------------------------------------------------------------------
def test_entitled_events_consume_in_order_and_stop_at_the_balance(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str]
) -> None:
    f = feature(sdk)
    now = datetime.now(UTC)
    later = grant(tenant, f.id, 5, effectiveUntil=iso(now + timedelta(days=30)))
    sooner = grant(
        tenant, f.id, 3, effectiveFrom=iso(now - timedelta(days=1)), effectiveUntil=iso(now + timedelta(days=2))
    )
    open_ended = grant(tenant, f.id, 2.5)
    assert later["id"].startswith("ent.") and later["id"].endswith("$ENTITLEMENT") and len(later["id"]) <= 50
    assert (open_ended["effectiveFrom"], open_ended["effectiveUntil"]) == (
        "1970-01-01T00:00:00Z",
        "9999-12-31T00:00:00Z",
    )
    assert (later["source"], later["status"], later["granted"], later["used"], later["balance"]) == (
        "ENTITLEMENT",
        "ACTIVE",
        5,
        0,
        5,
    )
    credits = sdk.entitlements.get_feature_credits_with_http_info("acme", f.id)
    assert credits.status_code == 200
    assert (credits.data.account_id, credits.data.feature_id) == ("acme", f.id)
    assert (credits.data.granted, credits.data.balance, credits.data.used_overage, credits.data.overage_limit) == (
        10.5,
        10.5,
        0,
        None,
    )

    ok = sdk.entitlements.ingest_entitled_event_with_http_info(event("e1", "2"))
    assert (ok.status_code, ok.data.success) == (200, True)
    sdk.entitlements.ingest_entitled_event(event("e2", "4"))  # 1 from the sooner entry, 3 from the later one
    by_id = entries(sdk, f.id)
    assert (by_id[sooner["id"]].used, by_id[sooner["id"]].balance) == (3, 0)
    assert (by_id[later["id"]].used, by_id[later["id"]].balance) == (3, 2)
    assert (by_id[open_ended["id"]].used, by_id[open_ended["id"]].balance) == (0, 2.5)
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 4.5
    stored = tc.EventManagementApi(sdk.client).get_single_event("e2").events
    assert [e.ingestion_status.status for e in stored] == ["INGESTION_COMPLETED_EVENT_NOT_METERED"]

    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC) if now.year < 2024 else now.replace(microsecond=0)
    with pytest.raises(ApiException) as short:
        sdk.entitlements.ingest_entitled_event(event("e3", "4.6", at=at))
    assert short.value.status == 422
    assert short.value.data.message == (
        f"Insufficient feature credits: account 'acme' has 4.5 units of feature {f.id} (API calls) for an event at "
        f"{at.isoformat().replace('+00:00', 'Z')}, and the event needs 4.6; nothing was stored"
    )
    with pytest.raises(NotFoundException, match="Event e3 not found"):  # nothing stored: no event, no consumption
        tc.EventManagementApi(sdk.client).get_single_event("e3")
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 4.5

    sdk.entitlements.ingest_entitled_event(event("e4", "4.5"))  # exactly what is left
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 0
    sdk.entitlements.ingest_entitled_event(event("e5", "0"))  # zero units are always covered


def test_entitled_refusals(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    with pytest.raises(BadRequestException) as unlinked:
        sdk.entitlements.ingest_entitled_event(event("x1"))
    assert message_of(unlinked.value).startswith("event.schemaName: no feature reads event schema 'api_calls'")
    f = feature(sdk)
    grant(tenant, f.id, 10)
    sdk.entitlements.ingest_entitled_event(event("d1", "1"))
    with pytest.raises(ApiException) as duplicate:  # the id is taken: 409, as /ingest, and nothing consumed
        sdk.entitlements.ingest_entitled_event(event("d1", "1"))
    assert duplicate.value.status == 409 and message_of(duplicate.value) == "Event 'd1' was already ingested"
    tc.EventIngestionApi(sdk.client).ingest(event("plain"))  # ids are shared with /ingest
    with pytest.raises(ApiException, match="Event 'plain' was already ingested") as shared:
        sdk.entitlements.ingest_entitled_event(event("plain"))
    assert shared.value.status == 409
    with pytest.raises(BadRequestException) as unknown_account:  # rejected as /ingest rejects it, and stored so
        sdk.entitlements.ingest_entitled_event(event("u1", account="nobody"))
    assert message_of(unknown_account.value).startswith("No account has id or alias 'nobody'")
    with pytest.raises(BadRequestException) as negative:
        sdk.entitlements.ingest_entitled_event(event("n1", "-1"))
    assert "cannot be negative" in message_of(negative.value)
    with pytest.raises(NotFoundException, match="Event n1 not found"):
        tc.EventManagementApi(sdk.client).get_single_event("n1")
    with tenant.http() as http:  # no id: 400, nothing stored
        r = http.post(
            "/entitled",
            json={
                "event": {
                    "schemaName": "api_calls",
                    "timestamp": iso(datetime.now(UTC)),
                    "accountId": "acme",
                    "attributes": [{"name": "calls", "value": "1"}],
                    "dimensions": {"region": "us"},
                }
            },
        )
        assert r.status_code == 400 and r.json()["message"].startswith("event.id: this field is required")
        empty = http.post("/entitled", content=b"")
        assert (empty.status_code, empty.json()["message"]) == (400, "The request body is not valid JSON")
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 9  # only d1 consumed


def test_entries_are_listed_updated_and_voided(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    f = feature(sdk)
    made = [grant(tenant, f.id, n + 1) for n in range(3)]
    first = sdk.entitlements.list_feature_credit_entries("acme", f.id, page_size=2)
    assert [e.id for e in first.data] == [made[0]["id"], made[1]["id"]] and first.next_token
    rest = sdk.entitlements.list_feature_credit_entries("acme", f.id, page_size=2, next_token=first.next_token)
    assert [e.id for e in rest.data] == [made[2]["id"]] and rest.next_token is None
    sdk.entitlements.ingest_entitled_event(event("v1", "1"))  # from the first entry (all end at once: the oldest)

    entry = made[0]["id"]
    future = datetime.now(UTC) + timedelta(days=3)
    updated = sdk.entitlements.update_feature_credit_entry_with_http_info(
        "acme", f.id, entry, tc.UpdateFeatureCreditsRequest(effective_until=future, granted=4)
    )
    assert updated.status_code == 200
    assert (updated.data.id, updated.data.granted, updated.data.used, updated.data.balance) == (entry, 4, 1, 3)
    assert updated.data.effective_until == future.replace(microsecond=future.microsecond)
    for body, words in (
        (
            tc.UpdateFeatureCreditsRequest(effective_until=datetime.now(UTC) - timedelta(minutes=1)),
            "effectiveUntil must be in the future",
        ),
        (
            tc.UpdateFeatureCreditsRequest(granted=D("0.5")),
            "granted: must be at least what the entry has used already, 1",
        ),
        (tc.UpdateFeatureCreditsRequest(granted=0), "granted: must be more than 0"),
    ):
        with pytest.raises(BadRequestException) as caught:
            sdk.entitlements.update_feature_credit_entry("acme", f.id, entry, body)
        assert message_of(caught.value).startswith(words), message_of(caught.value)
    assert (
        sdk.entitlements.update_feature_credit_entry(
            "acme", f.id, entry, tc.UpdateFeatureCreditsRequest(granted=1)
        ).balance
        == 0
    )

    voided = sdk.entitlements.void_feature_credit_entry_with_http_info("acme", f.id, made[1]["id"])
    assert (voided.status_code, voided.data.success) == (200, True)
    gone = entries(sdk, f.id)[made[1]["id"]]
    assert (gone.status, gone.granted, gone.used, gone.balance) == ("VOIDED", 2, 0, 0)
    with pytest.raises(BadRequestException) as again:
        sdk.entitlements.void_feature_credit_entry("acme", f.id, made[1]["id"])
    assert message_of(again.value) == f"Entry {made[1]['id']} is VOIDED: only an ACTIVE entry can be voided"
    with pytest.raises(
        BadRequestException, match=re.escape(f"Entry {made[1]['id']} is VOIDED: only an ACTIVE entry can be updated")
    ):
        sdk.entitlements.update_feature_credit_entry(
            "acme", f.id, made[1]["id"], tc.UpdateFeatureCreditsRequest(granted=9)
        )
    sdk.entitlements.ingest_entitled_event(event("v2", "3"))  # the voided entry pays nothing: the third does
    assert entries(sdk, f.id)[made[2]["id"]].used == 3
    with pytest.raises(
        ApiException,
        match=r"Insufficient feature credits: account 'acme' has 0 units of feature feature\.\w+ \(API calls\) "
        r"for an event at .+, and the event needs 1; nothing was stored",
    ) as short:
        sdk.entitlements.ingest_entitled_event(event("v3", "1"))
    assert short.value.status == 422

    for call, words in (
        (
            lambda: sdk.entitlements.void_feature_credit_entry("acme", f.id, "ent.unknown$ENTITLEMENT"),
            f"Entry .* of feature {f.id} for account acme not found",
        ),
        (
            lambda: sdk.entitlements.update_feature_credit_entry(
                "acme", f.id, "nope", tc.UpdateFeatureCreditsRequest(granted=1)
            ),
            f"Entry nope of feature {f.id} for account acme not found",
        ),
        (lambda: sdk.entitlements.list_feature_credit_entries("nobody", f.id), "Account nobody not found"),
        (lambda: sdk.entitlements.get_feature_credits("acme", "feature.unknown"), "Feature feature.unknown not found"),
    ):
        with pytest.raises(NotFoundException, match=words):
            call()


def test_grant_extension_rules(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    f = feature(sdk)
    with tenant.http() as http:
        path = f"/accounts/acme/features/{f.id}/entries"
        past = iso(datetime.now(UTC) - timedelta(hours=1))
        for body, words in (
            ({"granted": 0}, "granted: must be more than 0"),
            ({"granted": "5"}, "granted: must be a JSON number"),
            ({"granted": 1e15}, "granted: must be below 10^15 in magnitude"),
            ({"granted": 5, "effectiveUntil": past}, "effectiveUntil must be in the future"),
            (
                {
                    "granted": 5,
                    "effectiveFrom": iso(datetime.now(UTC) + timedelta(days=2)),
                    "effectiveUntil": iso(datetime.now(UTC) + timedelta(days=1)),
                },
                "effectiveUntil must be after effectiveFrom",
            ),
            ({"granted": 5, "source": "REFUND"}, "source: unknown field"),
        ):
            r = http.post(path, json=body)
            assert r.status_code == 400 and r.json()["message"].startswith(words), (body, r.text)
        first = http.post(path, json={"granted": 5, "idempotencyKey": "k1"})
        again = http.post(path, json={"granted": 5, "idempotencyKey": "k1"})
        assert first.status_code == again.status_code == 201 and first.json() == again.json()
        # the key of another grant: 409, nothing granted (not the first grant's entry given back as if made)
        other = http.post(path, json={"granted": 6, "idempotencyKey": "k1"})
        assert other.status_code == 409 and "was used for another grant" in other.json()["message"], other.text
        for path, body, says in (
            (f"/accounts/nobody/features/{f.id}/entries", {"granted": 5, "idempotencyKey": "k1"}, "Account nobody"),
            (f"/accounts/nobody/features/{f.id}/entries", {"granted": 1}, "Account nobody"),
            ("/accounts/acme/features/feature.unknown/entries", {"granted": 1}, "Feature feature.unknown"),
        ):
            r = http.post(path, json=body)
            assert (r.status_code, r.json()["message"]) == (404, f"{says} not found"), (path, r.text)
    assert len(entries(sdk, f.id)) == 1


def test_undo_gives_credits_back_and_redo_is_refused(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    f = feature(sdk)
    now = datetime.now(UTC)
    short = grant(tenant, f.id, 2, effectiveUntil=iso(now + timedelta(days=1)))
    long = grant(tenant, f.id, 10, effectiveUntil=iso(now + timedelta(days=60)))
    sdk.entitlements.ingest_entitled_event(event("r1", "5"))  # 2 from short, 3 from long
    events = tc.EventManagementApi(sdk.client)
    [original] = events.get_single_event("r1").events
    with pytest.raises(BadRequestException) as redo:
        events.event_correction(
            action="REDO", event_correction_request=tc.EventCorrectionRequest(event=event("r1").event)
        )
    assert "was ingested through /entitled" in message_of(redo.value)
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 7  # refused: nothing changed

    # an UNDO that waits for confirmation says what comes back, and gives nothing back yet
    waiting = events.event_correction(
        action="UNDO",
        event_correction_request=tc.EventCorrectionRequest(event=event("r1").event),
        require_confirmation=True,
    )
    job_id = re.search(r"job (job\.\S+) ", waiting.data[0].reason)
    assert job_id is not None, waiting.data[0].reason
    shown = tc.JobsApi(sdk.client).get_job_status(job_id.group(1)).metadata
    assert {k: v for k, v in shown.items() if k.startswith("credits.")} == {f"credits.{f.id}.givenBack": "5"}
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 7
    tc.JobsApi(sdk.client).reject_job(job_id.group(1))

    undone = events.event_correction(
        action="UNDO", event_correction_request=tc.EventCorrectionRequest(event=event("r1").event)
    )
    assert undone.data[0].status == "REVERTED"
    by_id = entries(sdk, f.id)
    ref = original.reference_id
    refunds = {k: v for k, v in by_id.items() if v.source == "REFUND"}
    assert set(refunds) == {f"{ref}#1$REFUND", f"{ref}#2$REFUND"}
    # each piece comes back with the window of the entry it came from; the originals keep what they used
    assert (refunds[f"{ref}#1$REFUND"].granted, refunds[f"{ref}#1$REFUND"].effective_until) == (
        2,
        by_id[short["id"]].effective_until,
    )
    assert (refunds[f"{ref}#2$REFUND"].granted, refunds[f"{ref}#2$REFUND"].effective_until) == (
        3,
        by_id[long["id"]].effective_until,
    )
    assert (by_id[short["id"]].used, by_id[long["id"]].used) == (2, 3)
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 12
    with pytest.raises(  # once
        BadRequestException,
        match=r"Event 'r1' cannot be corrected: only an accepted event \(INGESTION_COMPLETED_\*\) can be, "
        r"and its stored statuses are REVERTED",
    ):
        events.event_correction(
            action="UNDO", event_correction_request=tc.EventCorrectionRequest(event=event("r1").event)
        )
    # ids with '#' and '$' travel in paths (the SDK percent-encodes them)
    first = f"{ref}#1$REFUND"
    changed = sdk.entitlements.update_feature_credit_entry(
        "acme", f.id, first, tc.UpdateFeatureCreditsRequest(granted=1)
    )
    assert (changed.id, changed.source, changed.granted, changed.balance) == (first, "REFUND", 1, 1)
    assert sdk.entitlements.void_feature_credit_entry("acme", f.id, first).success is True
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 10
    sdk.entitlements.ingest_entitled_event(event("r1", "10"))  # the id is free again
    assert sdk.entitlements.get_feature_credits("acme", f.id).balance == 0


# -- entitlement values ------------------------------------------------------------------------------------------
def setting(sdk: Sdk, feature_id: str, entity_type: str, entity_id: str, value: str, data_type: str = "STRING") -> None:
    sdk.settings.insert_setting(
        tc.Setting(
            id=feature_id,
            value=value,
            entity_type=entity_type,
            entity_id=entity_id,
            namespace="entitlements",
            name="Entitlement",
            data_type=data_type,
        )
    )


def test_entitlement_values_and_their_checks(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    api = sdk.entitlements
    metered = feature(sdk)
    grant(tenant, metered.id, 7.5)
    plan = sdk.features.create_feature(tc.CreateFeatureRequest(name="Plan tier", schema_associations=[]))
    seats = sdk.features.create_feature(tc.CreateFeatureRequest(name="Seats", schema_associations=[]))
    regions = sdk.features.create_feature(tc.CreateFeatureRequest(name="Regions", schema_associations=[]))
    rule = sdk.features.create_feature(tc.CreateFeatureRequest(name="Rule", schema_associations=[]))
    unset = sdk.features.create_feature(tc.CreateFeatureRequest(name="Unset", schema_associations=[]))
    setting(sdk, plan.id, "ORGANIZATION", tenant.org.id, "basic")
    setting(sdk, plan.id, "CUSTOMER", "acme", "pro")  # the customer's wins over the organization's...
    setting(sdk, seats.id, "ORGANIZATION", tenant.org.id, "5", "NUMERIC")
    setting(sdk, seats.id, "ACCOUNT", "acme", "10", "NUMERIC")  # ...and the account's over both
    setting(sdk, regions.id, "ACCOUNT", "acme", '["us", "eu", 3]', "JSON")
    setting(sdk, rule.id, "ACCOUNT", "acme", '{"in": [{"var": "value"}, ["gold", "silver"]]}', "JSON_LOGIC")

    everything = api.get_entitlements_with_http_info("acme")
    assert everything.status_code == 200
    assert [(v.feature_id, v.value) for v in everything.data.data] == [
        (metered.id, "7.5"),
        (plan.id, "pro"),
        (seats.id, "10"),
        (regions.id, '["us", "eu", 3]'),
        (rule.id, '{"in": [{"var": "value"}, ["gold", "silver"]]}'),
    ]  # Unset has no value anywhere: left out
    one = api.get_entitlement_value_with_http_info("acme", plan.id)
    assert one.status_code == 200 and [(v.feature_id, v.value) for v in one.data.data] == [(plan.id, "pro")]
    assert api.get_entitlement_value("acme", metered.id).data[0].value == "7.5"
    with pytest.raises(NotFoundException) as none:
        api.get_entitlement_value("acme", unset.id)
    assert "has no value for feature" in message_of(none.value)

    def check(feature_id: str, value: str) -> bool:
        answer = api.validate_entitlement_value_with_http_info(
            "acme", feature_id, tc.ValidateEntitlementValueRequest(value=value)
        )
        assert answer.status_code == 200
        return bool(answer.data.success)

    assert [check(metered.id, v) for v in ("7.5", "7.50", "0", "7.6")] == [True, True, True, False]
    assert [check(plan.id, v) for v in ("pro", "basic", "PRO")] == [True, False, False]
    assert [check(seats.id, v) for v in ("10", "9.5", "11")] == [True, True, False]
    assert [check(regions.id, v) for v in ("us", "eu", "3", "3.0", "apac")] == [True, True, True, True, False]
    assert [check(rule.id, v) for v in ("gold", "silver", "bronze")] == [True, True, False]
    assert check(unset.id, "anything") is False
    for feature_id, value, words in (
        (
            metered.id,
            "lots",
            "value: a metered feature's value is a number of units: the value is a number that is a finite",
        ),
        (metered.id, "-1", "value: a number of units cannot be negative"),
        (seats.id, "ten", "value: the feature's setting is NUMERIC (a limit)"),
    ):
        with pytest.raises(BadRequestException) as caught:
            check(feature_id, value)
        assert message_of(caught.value).startswith(words), message_of(caught.value)
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        api.get_entitlements("nobody")
    with pytest.raises(NotFoundException, match="Feature feature.unknown not found"):
        check("feature.unknown", "1")
