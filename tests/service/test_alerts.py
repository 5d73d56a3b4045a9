"""Alerts to the cent, on both engines (docs/alerts.md): figures read from the domains at instants the test chooses,
levels opening one incident each, incidents resolving when the condition clears or CLOSED by hand, webhooks written
in the same transaction, no duplicates (two evaluators at once included), and isolation of failures."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.alerts.models import Alert, Incident
from meterline.alerts.schemas import incident_out
from meterline.alerts.service import AlertService
from meterline.api.responses import respond
from meterline.core.db import unit_of_work
from meterline.core.settings import Settings
from meterline.customers.schemas import Address, CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.entitlements.feature_service import Association, FeatureService
from meterline.entitlements.service import FeatureCreditService, Grant
from meterline.invoicing.builder import Charge
from meterline.invoicing.service import InvoiceService, wallet_holds
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import alerts
from meterline.usecases.accounts import delete_account
from meterline.wallet.service import WalletService
from meterline.webhooks.delivery import Deliverer
from meterline.webhooks.models import WebhookMessage
from meterline.webhooks.service import WebhookService
from tests.conftest import new_org
from tests.service.billing_world import World, associate, fee, make_plan, t, tiered_card
from tests.webhook_receiver import Receiver, wait_for

pytestmark = pytest.mark.db
D = Decimal


def alert(world: World, template: str, parameters: dict[str, Any], *, interval: int = 60, **kw: Any) -> str:
    with world.at(t(3, 1)) as ctx:
        return (
            AlertService(ctx)
            .create(
                template,
                interval=interval,
                status="ACTIVE",
                entity_details=kw.pop("entity", {"account": {"id": "acme"}}),
                parameters=parameters,
                **kw,
            )
            .pk
        )


def evaluate(world: World, now: Any) -> alerts.evaluator.RunResult:
    result = alerts.run(world.factory, now, org_id=world.org.id)
    assert not result.failures, result.failures
    return result


def incidents(world: World) -> list[Incident]:
    with unit_of_work(world.factory, write=False) as session:
        stmt = select(Incident).where(Incident.org_id == world.org.id).order_by(Incident.pk)
        return list(session.scalars(stmt))


def report(incident: Incident) -> dict[str, Any]:
    return dict(json.loads(incident.report_data, parse_float=D, parse_int=D))


def subscribe(world: World) -> None:
    with world.at(t(2, 1)) as ctx:
        WebhookService(ctx).create("http://127.0.0.1:9/hook", ["alert.triggered", "alert.resolved"])


def messages(world: World) -> list[tuple[str, str, str]]:
    """(type, incident id, status) of the alert webhooks written, in order."""
    with unit_of_work(world.factory, write=False) as session:
        stmt = select(WebhookMessage).where(WebhookMessage.org_id == world.org.id).order_by(WebhookMessage.pk)
        out = []
        for m in session.scalars(stmt):
            body = json.loads(m.payload)
            out.append((body["type"], body["data"]["id"], body["data"]["status"]))
        return out


def on_plan(world: World, **details: Any) -> None:
    with world.at(t(2, 20)) as ctx:
        associate(ctx, make_plan(ctx, "Growth", grace=0, **details), "2024-03-01")


def test_a_batch_of_events_crosses_a_usage_threshold(world: World) -> None:
    # Given acme on D4's tiered card from 1 March, and an alert at 100 calls this cycle
    on_plan(world, usageRateCards=[tiered_card(world.meter_id)])
    subscribe(world)
    made = alert(world, "usage_threshold", {"meter": {"id": world.meter_id}, "threshold": {"levels": [100]}})
    assert evaluate(world, t(3, 2)).opened == 0  # no usage yet
    # When one batch brings 99.5 + 0.5 calls: exactly 100, the level
    world.ingest(t(3, 5), ("e1", t(3, 4), "99.5"), ("e2", t(3, 4, 1), "0.5"))
    result = evaluate(world, t(3, 5, 2))
    # Then one incident opens, with its figures to the unit, and alert.triggered is written with it
    assert (result.evaluated, result.opened) == (1, 1)
    [incident] = incidents(world)
    assert (incident.alert_pk, incident.status, incident.subject_id, incident.level) == (made, "OPEN", "acme", "100")
    data = report(incident)
    invoice_id = data["figures"]["invoiceId"]
    assert invoice_id.startswith("inv")
    assert data["figures"] == {"value": D("100.0"), "unit": "calls", "meterId": world.meter_id, "invoiceId": invoice_id}
    assert data["threshold"] == {"level": 100, "basis": "ABSOLUTE", "direction": "ABOVE", "limit": 100}
    assert data["period"] == {"start": "2024-03-01T00:00:00Z", "end": "2024-04-01T00:00:00Z"}
    assert messages(world) == [("alert.triggered", incident.pk, "OPEN")]
    # And not due again before its interval (60 minutes): nothing is evaluated at 3:59
    assert alerts.run(world.factory, t(3, 5, 2).replace(minute=59), org_id=world.org.id).evaluated == 0
    # And evaluated again, still above: the same incident, checked again, no duplicate
    assert evaluate(world, t(3, 6)).opened == 0
    [again] = incidents(world)
    assert again.pk == incident.pk and again.last_checked_at == t(3, 6)


def test_levels_of_an_entitlement_open_one_incident_each_then_resolve_in_the_next_cycle(world: World) -> None:
    # Given 1,000 feature credits granted for March, and levels at 50, 80 and 100% of them
    on_plan(world, usageRateCards=[tiered_card(world.meter_id)])
    with world.at(t(2, 25)) as ctx:
        feature = FeatureService(ctx).create("Calls", None, [Association("api_calls", "calls")]).feature.pk
        FeatureCreditService(ctx).grant(
            Grant("acme", feature, D(1000), effective_from=t(3, 1), effective_until=t(4, 1))
        )
    subscribe(world)
    parameters = {
        "meter": {"id": world.meter_id},
        "threshold": {"basis": "PERCENT_OF_ENTITLEMENT", "featureId": feature, "levels": [80, 50, 100]},
    }
    alert(world, "usage_threshold", parameters)
    steps = [("e1", "499.99", []), ("e2", "0.01", ["50"]), ("e3", "299", ["50"]), ("e4", "1", ["50", "80"])]
    for n, (event_id, calls, levels) in enumerate(steps, start=1):
        world.ingest(t(3, n + 1), (event_id, t(3, n + 1), calls))
        evaluate(world, t(3, n + 1, 1))
        evaluate(world, t(3, n + 1, 2))  # again: never a second incident for a level
        assert sorted(i.level for i in incidents(world)) == levels, event_id
    # 1,200 of 1,000: the 100% level too; 50, 80, 100 each have their one incident
    world.ingest(t(3, 10), ("e5", t(3, 10), "400"))
    evaluate(world, t(3, 10, 1))
    found = {i.level: i for i in incidents(world)}
    assert sorted(found) == ["100", "50", "80"] and {i.status for i in found.values()} == {"OPEN"}
    assert report(found["80"])["figures"]["percent"] == D("120.00")
    assert report(found["80"])["threshold"]["limit"] == D(800)
    # When April starts (usage 0 in the new cycle, no credits granted for it): every level clears and resolves
    world.bill_run(t(4, 1))
    evaluate(world, t(4, 1, 1))
    assert {i.status for i in incidents(world)} == {"RESOLVED"}
    assert [m[0] for m in messages(world)] == ["alert.triggered"] * 3 + ["alert.resolved"] * 3


def test_a_custom_charge_crosses_a_spend_threshold_and_removing_it_resolves_the_incident(world: World) -> None:
    # Given a 100.00 fee each month, and an alert when the ongoing invoice reaches 150.00
    with world.at(t(2, 20)) as ctx:
        associate(ctx, make_plan(ctx, "Flat", grace=0, fixedFeeRateCards=[fee(ctx, "Base", "100")]), "2024-03-01")
    subscribe(world)
    alert(world, "spend_threshold", {"threshold": {"levels": [150]}})
    assert evaluate(world, t(3, 2)).opened == 0  # 100.00
    # When a 49.995 charge rounds to 50.00 (D1): 150.00, the level exactly
    with world.at(t(3, 3)) as ctx:
        InvoiceService(ctx).set_account_charges("acme", [Charge(name="Setup", value="49.995")])
    assert evaluate(world, t(3, 3, 1)).opened == 1
    [incident] = incidents(world)
    figures = report(incident)["figures"]
    assert (figures["value"], figures["unit"]) == (D("150.00"), "USD")
    # And the charge is removed: 100.00, the condition clears, the incident resolves
    with world.at(t(3, 4)) as ctx:
        InvoiceService(ctx).set_account_charges("acme", [])
    assert evaluate(world, t(3, 4, 1)).resolved == 1
    [resolved] = incidents(world)
    assert (resolved.status, resolved.resolved_at, resolved.active_key) == ("RESOLVED", t(3, 4, 1), None)
    assert messages(world) == [("alert.triggered", incident.pk, "OPEN"), ("alert.resolved", incident.pk, "RESOLVED")]
    # A new crossing later opens a new incident
    with world.at(t(3, 5)) as ctx:
        InvoiceService(ctx).set_account_charges("acme", [Charge(name="Hours", rate=D("80"), quantity=D("1"))])
    assert evaluate(world, t(3, 5, 1)).opened == 1
    assert [i.status for i in incidents(world)] == ["RESOLVED", "OPEN"]


COMMITMENT = {"displayName": "Monthly commitment", "rateValues": [{"currency": "USD", "rate": D("500")}]}


def test_a_commitments_true_up_is_not_spend(world: World) -> None:
    # Given D4's tiered card with a 500.00 minimum commitment, and spend alerts at 80% of it and at 100.00
    on_plan(world, usageRateCards=[tiered_card(world.meter_id)], minimumCommitment=COMMITMENT)
    percent = alert(world, "spend_threshold", {"threshold": {"basis": "PERCENT_OF_COMMITMENT", "levels": [80]}})
    absolute = alert(world, "spend_threshold", {"threshold": {"levels": [100]}})
    # With no usage the invoice's total is the 500.00 true-up, but nothing is spent: no incident
    world.bill_run(t(3, 1))
    assert [i["total"] for i in world.invoices() if i["status"] == "DRAFT"] == [D("500.00")]
    assert (evaluate(world, t(3, 2)).evaluated, incidents(world)) == (2, [])
    # When 699.98 calls are used: 100 x 1.00 + 599.98 x 0.50 = 399.99 spent, 79.998% of the commitment
    world.ingest(t(3, 5), ("e1", t(3, 4), "699.98"))
    assert evaluate(world, t(3, 5, 1)).opened == 1
    [first] = incidents(world)
    assert (first.alert_pk, first.level, report(first)["figures"]["value"]) == (absolute, "100", D("399.99"))
    # And 0.02 more: 400.00, 80% exactly, the level
    world.ingest(t(3, 6), ("e2", t(3, 5), "0.02"))
    assert evaluate(world, t(3, 6, 1)).opened == 1
    [incident] = [i for i in incidents(world) if i.alert_pk == percent]
    assert (incident.status, incident.subject_id, incident.level) == ("OPEN", "acme", "80")
    data = report(incident)
    assert data["figures"] == {
        "value": D("400.00"),
        "unit": "USD",
        "invoiceId": data["figures"]["invoiceId"],
        "base": D("500"),
        "percent": D("80.00"),
    }
    assert data["threshold"] == {"level": 80, "basis": "PERCENT_OF_COMMITMENT", "direction": "ABOVE", "limit": 400}


def test_spend_under_a_commitment_counts_charges_and_not_the_credited_true_up(world: World) -> None:
    from meterline.credits.service import CreditService, Grant as CreditGrant
    from meterline.invoicing.service import credit_holds

    # Given a 500.00 commitment, no usage, a 100.00 credit (it can only go to the true-up: 400.00 left of it) and a
    # 50.00 charge: the invoice's total is 450.00, of which 50.00 is spent
    on_plan(world, usageRateCards=[tiered_card(world.meter_id)], minimumCommitment=COMMITMENT)
    with world.at(t(3, 1)) as ctx:
        CreditService(ctx, holds=credit_holds).grant([CreditGrant("acme", "Gift", D(100), 1, t(3, 1).date())])
        InvoiceService(ctx).set_account_charges("acme", [Charge(name="Setup", value="50")])
    alert(world, "spend_threshold", {"threshold": {"levels": [50, 51]}})
    world.bill_run(t(3, 1, 1))
    assert [i["total"] for i in world.invoices() if i["status"] == "DRAFT"] == [D("450.00")]
    # When evaluated: 50.00 crosses 50, not 51
    assert evaluate(world, t(3, 2)).opened == 1
    [incident] = incidents(world)
    assert (incident.level, report(incident)["figures"]["value"]) == ("50", D("50.00"))


def as_the_api_returns_it(world: World, incident_id: str) -> dict[str, Any]:
    """GET /incidents/{id}'s body, made as its endpoint makes it (alerts/endpoints.py get_incident)."""
    with world.at(t(1, 1)) as ctx:
        response = respond(incident_out(AlertService(ctx).incident(incident_id)))
        return dict(json.loads(response.body))


def test_an_alerts_webhooks_reach_a_receiver_signed_with_the_incident_as_the_api_returns_it(world: World) -> None:
    # Given a receiver verifying signatures, subscribed to the alert events, and usage levels at 50 and 100 calls
    receiver = Receiver().start()
    worker = Deliverer(world.factory, Settings(webhook_retry_schedule="0.2,0.3,0.5", webhook_timeout=2))
    try:
        on_plan(world, usageRateCards=[tiered_card(world.meter_id)])
        with world.at(t(2, 1)) as ctx:
            _, secret = WebhookService(ctx).create(receiver.url, ["alert.triggered", "alert.resolved"])
        receiver.secrets = [secret]
        alert(world, "usage_threshold", {"meter": {"id": world.meter_id}, "threshold": {"levels": [50, 100]}})
        # When a batch brings 99.5 + 0.5 calls: both levels open at the evaluation
        world.ingest(t(3, 5), ("e1", t(3, 4), "99.5"), ("e2", t(3, 4, 1), "0.5"))
        assert evaluate(world, t(3, 5, 2)).opened == 2
        found = {i.level: i.pk for i in incidents(world)}
        opened = {level: as_the_api_returns_it(world, pk) for level, pk in found.items()}
        # And the 100 level is closed by hand, then April's new cycle (no usage) clears the 50 level
        with world.at(t(3, 6)) as ctx:
            AlertService(ctx).close(found["100"])
        closed = as_the_api_returns_it(world, found["100"])
        world.bill_run(t(4, 1))
        assert evaluate(world, t(4, 1, 1)).resolved == 1
        resolved = as_the_api_returns_it(world, found["50"])
        # Then the delivery worker sends the four, each verified by the receiver with the endpoint's secret
        wait_for(lambda: len(receiver.accepted) == 4, worker.tick)
    finally:
        worker.close()
        receiver.stop()
    assert receiver.rejected == []
    triggered = {r.body["data"]["id"]: r for r in receiver.of_type("alert.triggered")}
    ended = {r.body["data"]["id"]: r for r in receiver.of_type("alert.resolved")}
    assert set(triggered) == set(ended) == set(found.values())
    # And each body's data is the incident as GET /incidents/{id} returned it when the event happened
    for level, pk in found.items():
        assert triggered[pk].body["data"] == opened[level]
        assert triggered[pk].body["data"]["status"] == "OPEN"
    assert ended[found["100"]].body["data"] == closed and closed["status"] == "CLOSED"
    assert ended[found["50"]].body["data"] == resolved and resolved["status"] == "RESOLVED"
    assert opened["100"]["reportData"]["figures"]["value"] == 100 and opened["100"]["alertTemplateId"] == (
        "usage_threshold"
    )
    assert len({r.webhook_id for r in receiver.accepted}) == 4  # one message each, its own id


def test_a_wallet_runs_low_at_finalization(world: World) -> None:
    # Given 100.00 in the wallet, a 70.00 fee billed at the end of March, and an alert at 50.00 or less
    with world.at(t(2, 20)) as ctx:
        associate(ctx, make_plan(ctx, "Flat", grace=0, fixedFeeRateCards=[fee(ctx, "Base", "70")]), "2024-03-01")
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(100))
    alert(world, "wallet_balance_below", {"threshold": {"levels": [50]}})
    # While March is a DRAFT the wallet still holds 100.00 (what finalized invoices left): no incident
    assert evaluate(world, t(3, 20)).opened == 0
    # When March is finalized on 1 April the wallet pays 70.00 and has 30.00
    world.bill_run(t(4, 1))
    assert evaluate(world, t(4, 1, 1)).opened == 1
    [incident] = incidents(world)
    assert report(incident)["figures"] == {"value": D("30.00"), "unit": "USD"}
    # And a top-up above the level resolves it
    with world.at(t(4, 2)) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(25))
    assert evaluate(world, t(4, 2, 1)).resolved == 1


def test_a_closed_incident_stays_closed_until_the_condition_clears_then_a_new_crossing_opens_one(
    world: World,
) -> None:
    with world.at(t(2, 20)) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(10))
    subscribe(world)
    alert(world, "wallet_balance_below", {"threshold": {"levels": [20]}}, interval=5)
    evaluate(world, t(3, 1))
    [incident] = incidents(world)
    with world.at(t(3, 1, 1)) as ctx:
        assert AlertService(ctx).close(incident.pk).status == "CLOSED"
        assert AlertService(ctx).close(incident.pk).status == "CLOSED"  # again: nothing changes
    for hour in (2, 3):
        assert evaluate(world, t(3, 1, hour)).opened == 0  # still 10.00: not opened again
    with world.at(t(3, 2)) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(15))  # 25.00: clears
    assert evaluate(world, t(3, 2, 1)).resolved == 0  # a closed incident stops counting, nothing more is sent
    [closed] = incidents(world)
    assert (closed.status, closed.active_key) == ("CLOSED", None)
    assert messages(world) == [("alert.triggered", incident.pk, "OPEN"), ("alert.resolved", incident.pk, "CLOSED")]


def test_two_evaluators_at_once_open_one_incident_per_level(world: World) -> None:
    with world.at(t(2, 20)) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(5))
    made = [alert(world, "wallet_balance_below", {"threshold": {"levels": [10, 20, 30]}}, interval=1) for _ in range(6)]
    for minute in range(3):
        barrier = threading.Barrier(2)
        results: list[Any] = []

        def evaluator(minute: int = minute, barrier: threading.Barrier = barrier, results: list[Any] = results) -> None:
            barrier.wait()
            results.append(alerts.run(world.factory, t(3, 1, 1).replace(minute=minute * 2), org_id=world.org.id))

        threads = [threading.Thread(target=evaluator) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.failures for r in results] == [[], []]
        assert sum(r.evaluated for r in results) == len(made)  # each alert evaluated once per round
    found = incidents(world)
    assert len(found) == 18 and {(i.alert_pk, i.level) for i in found} == {
        (a, level) for a in made for level in ("10", "20", "30")
    }


def _doomed(ctx: Context, customer: str) -> str:
    """An alert on a customer's account, which is then deleted: the alert's figures can no longer be read."""
    CustomerService(ctx).create(
        CreateCustomerRequest(id=customer, name=customer, primary_email="g@x.test", address=Address())
    )
    made = (
        AlertService(ctx)
        .create(
            "wallet_balance_below",
            interval=60,
            status="ACTIVE",
            entity_details={"account": {"id": customer}},
            parameters={"threshold": {"levels": [1]}},
        )
        .pk
    )
    delete_account(ctx, customer)
    return made


def test_one_failing_alert_never_stops_another_organizations_or_its_own_organizations(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    # Given another organization with an alert that fails, and in this one a failing alert beside a working one
    other = new_org(session_factory)
    with unit_of_work(session_factory) as session:
        ctx = Context(session=session, org=session.get(Organization, other.id), now=t(3, 1))  # type: ignore[arg-type]
        broken = _doomed(ctx, "gone")
    with world.at(t(2, 20)) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(5))
        mine = _doomed(ctx, "temp")
    working = alert(world, "wallet_balance_below", {"threshold": {"levels": [10]}})
    # When every organization's due alerts are evaluated
    result = alerts.run(session_factory, t(3, 1, 1))
    # Then both failures are recorded on their alerts, and the working alert opened its incident
    failures = sorted(f for f in result.failures if f[0] in (other.id, world.org.id))
    assert failures == sorted(
        [
            (other.id, broken, "NotFound: Account gone not found"),
            (world.org.id, mine, "NotFound: Account temp not found"),
        ]
    )
    [incident] = incidents(world)
    assert incident.alert_pk == working
    with unit_of_work(session_factory, write=False) as session:
        failed = session.get(Alert, broken)
        assert failed is not None and (failed.last_error, failed.failures) == ("NotFound: Account gone not found", 1)
        assert failed.next_evaluation_at == t(3, 1, 2)  # tried again at its next interval


def test_an_alert_past_its_validity_is_no_longer_evaluated(world: World) -> None:
    with world.at(t(2, 20)) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", D(5))
    made = alert(world, "wallet_balance_below", {"threshold": {"levels": [10]}}, validity=90)
    evaluate(world, t(3, 1))
    [incident] = incidents(world)
    assert incident.valid_until == t(3, 1, 1).replace(minute=30)
    result = evaluate(world, t(3, 1, 2))
    assert (result.evaluated, result.opened) == (1, 0)
    with unit_of_work(world.factory, write=False) as session:
        ended = session.get(Alert, made)
        assert ended is not None and (ended.status, ended.next_evaluation_at) == ("INACTIVE", None)


def test_organization_and_customer_alerts_over_overdue_invoices_credits_features_and_endpoints(world: World) -> None:
    from meterline.credits.service import CreditService, Grant as CreditGrant
    from meterline.invoicing.service import credit_holds

    # Given an owed custom invoice, a 10.00 credit, 10 feature credits and a webhook endpoint
    with world.at(t(3, 1)) as ctx:
        owed, _ = InvoiceService(ctx).create_custom(
            "acme", t(2, 1), t(3, 1), "DUE", [{"name": "Setup", "value": D("120.00")}], False, False, False, None
        )
        CreditService(ctx, holds=credit_holds).grant([CreditGrant("acme", "Gift", D(10), 1, t(3, 1).date())])
        feature = FeatureService(ctx).create("Calls", None, [Association("api_calls", "calls")]).feature.pk
        FeatureCreditService(ctx).grant(Grant("acme", feature, D(10), effective_from=t(3, 1)))
        endpoint, _ = WebhookService(ctx).create("http://127.0.0.1:9/hook", ["invoice.paid"])
    organization: dict[str, Any] = {"entity": {}}
    overdue = alert(world, "invoice_overdue", {"overdue": {"days": 7}}, **organization)
    credits = alert(
        world, "credit_balance_below", {"threshold": {"levels": [20, 5]}}, entity={"customer": {"id": "acme"}}
    )
    low = alert(
        world,
        "feature_credits_low",
        {"feature": {"id": feature}, "threshold": {"basis": "PERCENT_OF_GRANTED", "levels": [100, 0]}},
        entity={"customer": {"id": "acme"}},
    )
    disabled = alert(world, "webhook_endpoint_disabled", {}, interval=15, **organization)
    with world.at(t(3, 1)) as ctx:
        due = InvoiceService(ctx).get(owed.pk).due_date
    assert due is not None
    # When evaluated before the invoice is 7 days late: the credits (10.00 <= 20) and the features (100% left) only
    evaluate(world, due + (t(3, 8) - t(3, 1)) - (t(3, 1, 1) - t(3, 1)))
    opened = {(i.alert_pk, i.subject_id, i.level) for i in incidents(world)}
    assert opened == {(credits, "acme", "20"), (low, "acme", "100")}
    # Then 8 days late, with the endpoint disabled: one incident per invoice and per endpoint
    with world.at(t(3, 2)) as ctx:
        WebhookService(ctx).update(endpoint.pk, enabled=False)
    evaluate(world, due + (t(3, 9) - t(3, 1)))
    found = {(i.alert_pk, i.subject_type, i.subject_id, i.level): i for i in incidents(world)}
    assert (overdue, "INVOICE", owed.pk, "7") in found and (disabled, "WEBHOOK_ENDPOINT", endpoint.pk, "1") in found
    assert report(found[(overdue, "INVOICE", owed.pk, "7")])["figures"]["owed"] == D("120.00")
    # And paid, and enabled again: both resolve at the next evaluation
    with world.at(t(4, 1)) as ctx:
        InvoiceService(ctx).update(owed.pk, "PAID", {})
        WebhookService(ctx).update(endpoint.pk, enabled=True)
    evaluate(world, due + (t(4, 10) - t(3, 1)))
    statuses = {(i.alert_pk, i.status) for i in incidents(world)}
    assert (overdue, "RESOLVED") in statuses and (disabled, "RESOLVED") in statuses


def test_feature_credits_exhausted_opens_at_level_0_through_the_evaluation(
    session_factory: sessionmaker[Session],
) -> None:
    from tests.service.test_entitlements import T0, Clock

    # Given 10 feature credits, and "exhausted" alerts (level 0) in units and in percent of those granted
    clock = Clock(session_factory)
    clock.grant(T0, "10", T0, None)
    made = {}
    for basis in ("ABSOLUTE", "PERCENT_OF_GRANTED"):
        with clock.at(T0) as ctx:
            made[basis] = (
                AlertService(ctx)
                .create(
                    "feature_credits_low",
                    interval=60,
                    status="ACTIVE",
                    entity_details={"account": {"id": "acme"}},
                    parameters={"feature": {"id": clock.feature}, "threshold": {"basis": basis, "levels": [0]}},
                )
                .pk
            )

    def evaluate_at(hour: int) -> alerts.evaluator.RunResult:
        result = alerts.run(session_factory, T0.replace(hour=hour), org_id=clock.org.id)
        assert (result.failures, result.evaluated) == ([], 2)
        return result

    def found() -> list[Incident]:
        with unit_of_work(session_factory, write=False) as session:
            stmt = select(Incident).where(Incident.org_id == clock.org.id).order_by(Incident.pk)
            return list(session.scalars(stmt))

    # When 9.99 are used: 0.01 left, not exhausted
    assert clock.entitled(T0.replace(hour=1), "e1", T0, "9.99") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert evaluate_at(1).opened == 0
    # And the last 0.01: exhausted, one incident per alert, with the figures to the unit
    assert clock.entitled(T0.replace(hour=2), "e2", T0, "0.01") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert evaluate_at(2).opened == 2
    assert evaluate_at(3).opened == 0  # evaluated again: still exhausted, no second incident
    incidents_now = found()
    assert sorted((i.alert_pk, i.level, i.status) for i in incidents_now) == sorted(
        (pk, "0", "OPEN") for pk in made.values()
    )
    by_alert = {i.alert_pk: report(i) for i in incidents_now}
    figures = {"value": D(0), "unit": "units", "featureId": clock.feature, "granted": D(10), "usedOverage": D(0)}
    assert by_alert[made["ABSOLUTE"]]["figures"] == figures
    assert by_alert[made["PERCENT_OF_GRANTED"]]["figures"] == {**figures, "base": D(10), "percent": D("0.00")}
    # And a further use is refused (nothing left): the incidents stay as they are
    assert clock.entitled(T0.replace(hour=3), "e3", T0, "1") == "InsufficientCredits"
    # When 5 more are granted: no longer exhausted, both resolve
    clock.grant(T0.replace(hour=4), "5", T0, None)
    assert evaluate_at(4).resolved == 2
    assert {i.status for i in found()} == {"RESOLVED"}
