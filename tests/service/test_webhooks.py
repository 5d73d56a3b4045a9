"""Webhooks end to end on both engines: the outbox written with the change, the delivery worker sending to a real
local receiver that verifies every signature with the `standardwebhooks` library (docs/webhooks.md).

Short retry delays come from the worker's settings (METERLINE_WEBHOOK_RETRY_SCHEDULE and friends), as an operator
would set them; no test-only path."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from meterline.alerts.models import Incident
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.settings import Settings
from meterline.files import storage
from meterline.invoicing.service import InvoiceService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import alerts, housekeeping
from meterline.usecases.webhooks import create_endpoint
from meterline.webhooks import outbox
from meterline.webhooks.delivery import Deliverer
from meterline.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookMessage
from meterline.webhooks.service import WebhookService
from tests.conftest import new_org
from tests.service.billing_world import World
from tests.webhook_receiver import Receiver, wait_for

pytestmark = pytest.mark.db

ITEM = [{"name": "Setup", "value": Decimal("120.00")}]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def deliverer(factory: sessionmaker[Session], **settings: object) -> Deliverer:
    values: dict[str, object] = {"webhook_retry_schedule": "0.2,0.3,0.5", "webhook_timeout": 2, **settings}
    return Deliverer(factory, Settings(**values))  # type: ignore[arg-type]


def endpoint(world: World, url: str, types: list[str]) -> tuple[str, str]:
    with world.at(utc_now()) as ctx:
        made, secret = WebhookService(ctx).create(url, types)
        return made.pk, secret


def custom_invoice(world: World, status: str = "DUE") -> str:
    with world.at(utc_now()) as ctx:
        now = ctx.now
        invoice, _ = InvoiceService(ctx).create_custom(
            "acme", now - timedelta(days=30), now, status, ITEM, False, True, True, None
        )
        return invoice.pk


def deliveries(factory: sessionmaker[Session], endpoint_pk: str) -> list[WebhookDelivery]:
    with unit_of_work(factory, write=False) as session:
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_pk == endpoint_pk).order_by(WebhookDelivery.pk)
        return list(session.scalars(stmt))


def test_invoice_events_are_delivered_signed_and_verified(world: World, receiver: Receiver) -> None:
    endpoint_pk, secret = endpoint(
        world, receiver.url, ["invoice.created", "invoice.finalized", "invoice.paid", "invoice.voided"]
    )
    receiver.secrets = [secret]
    paid = custom_invoice(world)
    voided = custom_invoice(world)
    with world.at(utc_now()) as ctx:
        InvoiceService(ctx).update(paid, "PAID", {})
        InvoiceService(ctx).update(voided, "VOID", {})
    worker = deliverer(world.factory)
    wait_for(lambda: len(receiver.accepted) == 6, worker.tick)
    assert not receiver.rejected
    got = sorted((r.body["type"], r.body["data"]["id"]) for r in receiver.accepted)
    assert got == sorted(
        [
            ("invoice.created", paid),
            ("invoice.finalized", paid),
            ("invoice.paid", paid),
            ("invoice.created", voided),
            ("invoice.finalized", voided),
            ("invoice.voided", voided),
        ]
    )
    finalized = receiver.of_type("invoice.finalized")[0]
    assert finalized.webhook_id.startswith("msg_") and len(finalized.webhook_id) == 30
    assert finalized.body["data"]["status"] == "DUE" and finalized.body["data"]["totalAmount"] == 120
    assert finalized.body["data"]["revenueInfo"]["value"] == 120  # the invoice as GET /invoices/{id} returns it
    assert receiver.of_type("invoice.paid")[0].body["data"]["status"] == "PAID"
    assert all(d.status == "SUCCEEDED" and d.attempts == 1 for d in deliveries(world.factory, endpoint_pk))
    assert len({r.webhook_id for r in receiver.accepted}) == 6


def test_no_subscribed_endpoint_writes_nothing(world: World, receiver: Receiver) -> None:
    endpoint(world, receiver.url, ["payment.created"])  # subscribed to something else
    with world.at(utc_now()) as ctx:
        mine = select(func.count()).select_from(WebhookMessage).where(WebhookMessage.org_id == ctx.org_id)
        assert ctx.session.scalar(mine) == 0
        assert outbox.emit(ctx, "invoice.paid", lambda: pytest.fail("data is built only for a subscriber")) is None
        assert ctx.session.scalar(mine) == 0  # of this organization: other tests' messages are not counted


def test_any_event_type_emitted_is_delivered(world: World, receiver: Receiver) -> None:
    """The interface alerts use: emit(ctx, type, data) inside the caller's transaction."""
    _endpoint_pk, secret = endpoint(world, receiver.url, ["alert.triggered"])
    receiver.secrets = [secret]
    with world.at(utc_now()) as ctx:
        message = outbox.emit(ctx, "alert.triggered", {"id": "alert.1", "threshold": Decimal("0.5")}, object_id="a1")
    with pytest.raises(RuntimeError, match="^the change fails$"):  # a change rolled back takes its webhook with it
        with world.at(utc_now()) as ctx:
            outbox.emit(ctx, "alert.triggered", {"id": "alert.2"})
            raise RuntimeError("the change fails")
    worker = deliverer(world.factory)
    wait_for(lambda: len(receiver.accepted) == 1, worker.tick)
    worker.tick()
    assert [(r.webhook_id, r.body["data"]) for r in receiver.accepted] == [
        (message, {"id": "alert.1", "threshold": Decimal("0.5")})
    ]


def test_receiver_down_for_a_while_then_back(world: World, receiver: Receiver) -> None:
    endpoint_pk, secret = endpoint(world, receiver.url, ["invoice.finalized"])
    receiver.secrets = [secret]
    receiver.stop()  # connections refused
    invoice = custom_invoice(world)
    worker = deliverer(world.factory, webhook_retry_schedule="0.3,0.3,0.3,0.3,0.3,0.3")
    wait_for(lambda: deliveries(world.factory, endpoint_pk)[0].attempts >= 2, worker.tick)
    receiver.start()
    wait_for(lambda: len(receiver.accepted) == 1, worker.tick)
    [delivery] = deliveries(world.factory, endpoint_pk)
    assert delivery.status == "SUCCEEDED" and delivery.attempts >= 3
    assert receiver.accepted[0].body["data"]["id"] == invoice
    with world.at(utc_now()) as ctx:
        log = WebhookService(ctx).delivery(delivery.pk).attempts
    assert [a.status_code for a in log][-1] == 204
    assert all(a.status_code is None and a.error for a in log[:-1])  # refused: no answer, a reason
    assert [a.attempted_at for a in log] == sorted(a.attempted_at for a in log)


def test_failed_after_the_last_retry_then_disabled_then_replayed(world: World, receiver: Receiver) -> None:
    endpoint_pk, secret = endpoint(world, receiver.url, ["invoice.finalized"])
    receiver.secrets = [secret]
    receiver.answer = 500
    custom_invoice(world)
    # Disabled by the last attempt, never by the second, however slow the machine: the second comes ~0.05 s after
    # the first (it would take a 1.9 s round to reach 2 s), the third >= 2.25 s after it.
    worker = deliverer(world.factory, webhook_retry_schedule="0.05,2.5", webhook_disable_after=2)
    wait_for(lambda: deliveries(world.factory, endpoint_pk)[0].status == "FAILED", worker.tick)
    [delivery] = deliveries(world.factory, endpoint_pk)
    assert delivery.attempts == 3 and delivery.last_status_code == 500 and delivery.next_attempt_at is None
    with world.at(utc_now()) as ctx:
        found = WebhookService(ctx).get(endpoint_pk)
        assert found.status == "DISABLED" and found.disabled_reason
        assert outbox.emit(ctx, "invoice.finalized", {"id": "x"}) is None  # a disabled endpoint gets nothing new
    receiver.answer = 200
    with world.at(utc_now()) as ctx:
        service = WebhookService(ctx)
        service.update(endpoint_pk, enabled=True)
        replayed = service.replay(delivery.pk)
    wait_for(lambda: len(receiver.accepted) == 1, worker.tick)
    assert receiver.accepted[0].webhook_id == deliveries(world.factory, endpoint_pk)[0].message_pk  # the same id
    assert {d.pk: d.status for d in deliveries(world.factory, endpoint_pk)}[replayed.pk] == "SUCCEEDED"
    with world.at(utc_now()) as ctx:  # a range replay of what never arrived: nothing left
        assert WebhookService(ctx).replay_range(endpoint_pk, ctx.now - timedelta(hours=1), None, True) == 0
        assert WebhookService(ctx).replay_range(endpoint_pk, ctx.now - timedelta(hours=1), None, False) == 1


def test_an_endpoint_whose_delivery_fails_its_whole_retry_window_is_disabled_with_an_incident(
    world: World, receiver: Receiver
) -> None:
    """A lone failing message: its last retry fails long before METERLINE_WEBHOOK_DISABLE_AFTER (5 days) is reached,
    and the endpoint is disabled then, unless it succeeded since that delivery was made. Retries an hour apart,
    each brought due by hand: every step is one delivery round, whatever the machine's speed."""
    with world.at(utc_now()) as ctx:
        made, secret = create_endpoint(ctx, receiver.url, ["alert.resolved"])  # with its webhook_endpoint_disabled
    receiver.secrets = [secret]
    worker = deliverer(world.factory, webhook_retry_schedule="3600,3600")  # 3 attempts; disable_after: 5 days

    def send(n: int) -> str:
        with world.at(utc_now()) as ctx:
            message = outbox.emit(ctx, "alert.resolved", {"n": n})
        [delivery] = [d for d in deliveries(world.factory, made.pk) if d.message_pk == message]
        return delivery.pk

    def of(delivery_pk: str) -> WebhookDelivery:
        return {d.pk: d for d in deliveries(world.factory, made.pk)}[delivery_pk]

    def attempt(delivery_pk: str) -> WebhookDelivery:
        """One more attempt of the delivery (rounds also try other tests' deliveries due on this database)."""
        before = of(delivery_pk).attempts
        with unit_of_work(world.factory) as session:
            stmt = update(WebhookDelivery).where(WebhookDelivery.pk == delivery_pk).values(next_attempt_at=utc_now())
            session.execute(stmt)
        wait_for(lambda: of(delivery_pk).attempts > before, worker.tick)
        found = of(delivery_pk)
        assert found.attempts == before + 1
        return found

    def status() -> tuple[str, str | None]:
        with world.at(utc_now()) as ctx:
            found = WebhookService(ctx).get(made.pk)
            return found.status, found.disabled_reason

    # Given a first message failing once, then a second delivered: the endpoint succeeded after the first was made
    receiver.answer = 500
    first = send(1)
    assert attempt(first).status == "PENDING"
    receiver.answer = 204
    assert attempt(send(2)).status == "SUCCEEDED"
    # When the first's two retries fail too: FAILED, but the endpoint succeeded since it was made: still enabled
    receiver.answer = 500
    assert attempt(first).status == "PENDING"
    assert attempt(first).status == "FAILED"
    assert status() == ("ENABLED", None)
    # When a third message fails its whole retry window with no success since it was made: the endpoint is disabled
    third = send(3)
    assert [attempt(third).status for _ in range(3)] == ["PENDING", "PENDING", "FAILED"]
    state, reason = status()
    assert state == "DISABLED" and reason == (
        f"every attempt of delivery {third} failed, over its whole retry schedule, without a success since "
        "(last: HTTP 500)"
    )
    # Then the webhook_endpoint_disabled alert made with the first endpoint opens its incident at its evaluation
    result = alerts.run(world.factory, utc_now(), org_id=world.org.id)
    assert (result.failures, result.opened) == ([], 1)
    with unit_of_work(world.factory, write=False) as session:
        [incident] = session.scalars(select(Incident).where(Incident.org_id == world.org.id))
        assert (incident.subject_type, incident.subject_id, incident.status) == ("WEBHOOK_ENDPOINT", made.pk, "OPEN")


def test_rotated_secret_old_and_new_both_verify_during_the_overlap(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint_pk, old = endpoint(world, receiver.url, ["alert.resolved"])
    with world.at(utc_now()) as ctx:
        _, new = WebhookService(ctx).rotate_secret(endpoint_pk)
    assert new != old and new.startswith("whsec_")
    worker = deliverer(world.factory)
    for secret in (old, new):  # a receiver that knows only one of them accepts it
        receiver.secrets = [secret]
        with world.at(utc_now()) as ctx:
            outbox.emit(ctx, "alert.resolved", {"secret": secret[:10]})
        wait_for(lambda s=secret: any(r.body["data"] == {"secret": s[:10]} for r in receiver.accepted), worker.tick)
    assert len(receiver.accepted[0].signature.split(" ")) == 2
    monkeypatch.setenv("METERLINE_WEBHOOK_SECRET_OVERLAP", "0")  # a rotation without overlap: the old one is over
    with world.at(utc_now()) as ctx:
        _, newest = WebhookService(ctx).rotate_secret(endpoint_pk)
        outbox.emit(ctx, "alert.resolved", {"secret": "newest"})
    receiver.secrets = [new]
    wait_for(lambda: len(receiver.rejected) == 1, worker.tick)
    receiver.secrets = [newest]
    wait_for(lambda: any(r.body["data"] == {"secret": "newest"} for r in receiver.accepted), worker.tick)
    assert len(receiver.accepted[-1].signature.split(" ")) == 1


def test_one_organizations_failing_endpoint_never_stops_anothers(
    world: World, receiver: Receiver, session_factory: sessionmaker[Session]
) -> None:
    dead = Receiver().start()
    dead.stop()  # a port nothing listens on
    other = new_org(session_factory)
    with unit_of_work(session_factory) as session:
        ctx = Context(session, session.get(Organization, other.id), utc_now())  # type: ignore[arg-type]
        WebhookService(ctx).create(dead.url, ["alert.triggered"])
        for n in range(20):
            outbox.emit(ctx, "alert.triggered", {"n": n})
    _, secret = endpoint(world, receiver.url, ["alert.triggered"])
    receiver.secrets = [secret]
    with world.at(utc_now()) as ctx:
        outbox.emit(ctx, "alert.triggered", {"n": "mine"})
    worker = deliverer(world.factory, webhook_retry_schedule="60")
    worker.tick()  # one round: the dead endpoint takes at most its share of the slots
    wait_for(lambda: len(receiver.accepted) == 1, worker.tick, timeout=10)


def test_endpoint_checks(world: World) -> None:
    from meterline.core.errors import BadRequest

    with world.at(utc_now()) as ctx:
        service = WebhookService(ctx)
        for url in ("ftp://example.com/x", "not a url", "https://", "http://[::1", "http://h:99999/"):
            with pytest.raises(BadRequest, match="url"):
                service.create(url, ["invoice.paid"])
        with pytest.raises(BadRequest, match="eventTypes"):
            service.create("https://example.com/hooks", ["invoice.eaten"])
        with pytest.raises(BadRequest, match="eventTypes"):
            service.create("https://example.com/hooks", [])
        made, secret = service.create("http://10.0.0.5:8080/hooks", ["invoice.paid", "invoice.paid"])
        assert made.event_types == ["invoice.paid"] and secret.startswith("whsec_")  # private addresses allowed


def test_wallet_payment_credit_and_overdue_events_are_delivered(world: World, receiver: Receiver) -> None:
    from meterline.core.schemas import CreateEntitySetting
    from meterline.credits.service import CreditService, Grant
    from meterline.invoicing.service import credit_holds, wallet_holds
    from meterline.payments.schemas import CreatePaymentRequest
    from meterline.payments.service import PaymentService
    from meterline.settings.service import SettingsWriter
    from meterline.wallet.service import WalletService

    types = ["payment.created", "credit.granted", "credit.expired", "wallet.low", "invoice.paid", "invoice.overdue"]
    _endpoint_pk, secret = endpoint(world, receiver.url, types)
    receiver.secrets = [secret]
    with world.at(utc_now()) as ctx:
        SettingsWriter(ctx).put(  # the wallet is low at 50 or less
            entity_type="ORGANIZATION",
            entity_id=ctx.org_id,
            item=CreateEntitySetting(
                id="walletLowThreshold", value="50", namespace="webhooks", name="Low wallet", data_type="NUMERIC"
            ),
        )
        WalletService(ctx, holds=wallet_holds).top_up("acme", Decimal(100))
    partly = custom_invoice(world)  # 120: the wallet pays 100 and goes from 100 to 0, past 50
    owed = custom_invoice(world)  # nothing left to pay it: overdue once past its due date
    with world.at(utc_now()) as ctx:
        today = ctx.now.date()
        CreditService(ctx, holds=credit_holds).grant(
            [Grant("acme", "Gift", Decimal(10), 1, today - timedelta(days=5), today + timedelta(days=1))]
        )
        body = {
            "accountId": "acme",
            "externalPaymentReference": {"sourceName": "Bank", "sourceType": "BANK_TRANSFER", "transactionNumber": "1"},
            "lineItemRecords": [{"type": "INVOICE", "togaiId": partly, "amount": 20, "order": 1}],
            "currency": "USD",
            "totalAmount": 20,
        }
        payment = PaymentService(ctx).create(CreatePaymentRequest.model_validate(body))
    world.bill_run(utc_now() + timedelta(days=60))  # credits expire; the unpaid invoice is overdue
    world.bill_run(utc_now() + timedelta(days=61))  # ...and announced once only
    worker = deliverer(world.factory)
    wait_for(lambda: len(receiver.accepted) == 6, worker.tick)
    worker.tick()
    assert not receiver.rejected
    data = {r.body["type"]: r.body["data"] for r in receiver.accepted}
    assert sorted(data) == sorted(types)
    assert data["wallet.low"]["accountId"] == "acme" and data["wallet.low"]["balance"] == 0
    assert data["payment.created"]["id"] == payment.pk and data["payment.created"]["totalAmount"] == 20
    assert data["invoice.paid"]["id"] == partly and data["invoice.paid"]["status"] == "PAID"
    assert data["invoice.overdue"]["id"] == owed and data["invoice.overdue"]["status"] == "DUE"
    assert data["credit.granted"]["creditAmount"] == 10 and data["credit.granted"]["status"] == "ACTIVE"
    assert data["credit.expired"]["id"] == data["credit.granted"]["id"]
    assert data["credit.expired"]["status"] == "EXPIRED"


def test_entitlement_exhausted_when_the_last_units_are_taken(
    session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    from tests.service.test_entitlements import T0, Clock

    clock = Clock(session_factory)
    with clock.at(utc_now()) as ctx:
        _made, secret = WebhookService(ctx).create(receiver.url, ["entitlement.exhausted"])
    receiver.secrets = [secret]
    clock.grant(T0, "10", T0, None)
    assert clock.entitled(T0, "e1", T0, "6") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert clock.entitled(T0, "e2", T0, "4") == "INGESTION_COMPLETED_EVENT_NOT_METERED"  # the last 4
    assert clock.entitled(T0, "e3", T0, "1") == "InsufficientCredits"  # refused: nothing announced
    worker = deliverer(session_factory)
    wait_for(lambda: len(receiver.accepted) == 1, worker.tick)
    worker.tick()
    [received] = receiver.accepted
    assert received.body["type"] == "entitlement.exhausted"
    assert received.body["data"] == {
        "accountId": "acme",
        "featureId": clock.feature,
        "granted": 10,
        "balance": 0,
        "usedOverage": 0,
    }


def test_the_consoles_reads_log_pages_last_deliveries_and_what_a_range_replay_would_send(world: World) -> None:
    """What Settings → Webhooks reads: the log in counted pages (newest first), each endpoint's newest delivery, and
    the count a range replay would send, which writes nothing and agrees with the replay."""
    from meterline.core.errors import BadRequest
    from meterline.core.pagination import Slice

    closed = "http://127.0.0.1:9/hooks"
    busy, _ = endpoint(world, closed, ["invoice.created", "invoice.finalized"])
    quiet, _ = endpoint(world, closed, ["invoice.voided"])
    custom_invoice(world)
    custom_invoice(world)  # 2 invoices x 2 types: 4 deliveries to `busy`
    with world.at(utc_now()) as ctx:
        service = WebhookService(ctx)
        first = service.delivery_log(busy, Slice(offset=0, size=3, sort="created", descending=True))
        rest = service.delivery_log(busy, Slice(offset=3, size=3, sort="created", descending=True))
        assert (first.total, len(first.items), len(rest.items)) == (4, 3, 1)
        pks = [d.pk for d, _ in first.items + rest.items]
        assert pks == sorted(pks, reverse=True) == [d.pk for d in reversed(deliveries(world.factory, busy))]
        assert service.delivery_log(busy, Slice(0, 10, "created"), "SUCCEEDED").total == 0
        last = service.last_deliveries(service.all())
        assert set(last) == {busy} and last[busy].pk == pks[0]
        since = ctx.now - timedelta(hours=1)
        assert service.replayable(busy, since, None, True) == 4
        assert service.replayable(quiet, since, None, True) == 0
        with pytest.raises(BadRequest, match="since"):
            service.replayable(busy, ctx.now, since, True)
    assert len(deliveries(world.factory, busy)) == 4  # counting wrote nothing
    with world.at(utc_now()) as ctx:
        assert WebhookService(ctx).replay_range(busy, ctx.now - timedelta(hours=1), None, True) == 4
    assert len(deliveries(world.factory, busy)) == 8


class Trickle:
    """A receiver that answers one header line every 0.2 s for 30 s: each read arrives well within any per-read
    timeout, so only a deadline for the whole attempt ends it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/slow"
        self.stopping = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self.trickle, args=(conn,), daemon=True).start()

    def trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for n in range(150):
                    if self.stopping.wait(0.2):
                        return
                    conn.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                return  # the sender hung up: what the deadline does

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_at_the_deadline(world: World, receiver: Receiver) -> None:
    slow = Trickle()
    try:
        slow_pk, _ = endpoint(world, slow.url, ["invoice.created"])
        _, secret = endpoint(world, receiver.url, ["invoice.created"])
        receiver.secrets = [secret]
        custom_invoice(world)
        worker = deliverer(world.factory, webhook_timeout=1, webhook_retry_schedule="60")
        started = time.monotonic()
        worker.tick()  # one round (with what other tests left due): both sent at once, the slow one cut after 1 s
        elapsed = time.monotonic() - started
        assert elapsed < 10, elapsed  # not the 30 s the receiver would take
        assert len(receiver.accepted) == 1
        [cut] = deliveries(world.factory, slow_pk)
        assert (cut.status, cut.attempts) == ("PENDING", 1)
        with unit_of_work(world.factory, write=False) as session:
            [attempt] = session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_pk == cut.pk))
        assert (attempt.status_code, attempt.error) == (None, "no answer within 1 s")
    finally:
        slow.stop()


def test_without_a_threshold_a_wallet_is_never_low(world: World, receiver: Receiver) -> None:
    from meterline.invoicing.service import wallet_holds
    from meterline.wallet.service import WalletService

    endpoint_pk, _secret = endpoint(world, receiver.url, ["wallet.low"])  # subscribed, but no walletLowThreshold
    with world.at(utc_now()) as ctx:
        WalletService(ctx, holds=wallet_holds).top_up("acme", Decimal(100))
    custom_invoice(world)  # 120: the wallet pays 100 and is empty
    with world.at(utc_now()) as ctx:
        assert WalletService(ctx, holds=wallet_holds).view("acme").balance == 0
    assert deliveries(world.factory, endpoint_pk) == []


def test_housekeeping_forgets_old_messages_once_nothing_waits(world: World, receiver: Receiver) -> None:
    """Messages older than the retention whose deliveries are all done go, with their deliveries and attempts; an old
    one still PENDING (it may yet be delivered) and a recent one stay."""
    endpoint_pk, secret = endpoint(world, receiver.url, ["alert.triggered"])
    receiver.secrets = [secret]
    with world.at(utc_now()) as ctx:
        done_old = outbox.emit(ctx, "alert.triggered", {"id": "old-done"}, object_id="h1")
        done_new = outbox.emit(ctx, "alert.triggered", {"id": "new-done"}, object_id="h2")
    worker = deliverer(world.factory)
    wait_for(lambda: len(receiver.accepted) == 2, worker.tick)
    with world.at(utc_now()) as ctx:
        waiting_old = outbox.emit(ctx, "alert.triggered", {"id": "old-waiting"}, object_id="h3")
    now = utc_now()
    with unit_of_work(world.factory) as session:
        session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.pk.in_([done_old, waiting_old]))
            .values(created_at=now - timedelta(days=31))
        )
    forgotten = housekeeping.run(
        world.factory,
        now,
        webhook_retention=timedelta(days=30),
        file_retention=timedelta(days=30),
        store=storage.current(),
    )
    assert forgotten.webhook_messages >= 1
    with unit_of_work(world.factory, write=False) as session:
        kept = set(
            session.scalars(select(WebhookMessage.pk).where(WebhookMessage.pk.in_([done_old, done_new, waiting_old])))
        )
        left = {
            d.message_pk: d.status
            for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_pk == endpoint_pk))
        }
        attempts = session.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .where(
                WebhookAttempt.delivery_pk.in_(
                    select(WebhookDelivery.pk).where(WebhookDelivery.endpoint_pk == endpoint_pk)
                )
            )
        )
    assert kept == {done_new, waiting_old}
    assert left == {done_new: "SUCCEEDED", waiting_old: "PENDING"}
    assert attempts == 1  # done_new's; done_old's went with it


def test_a_wallet_left_exactly_at_its_threshold_is_low(world: World, receiver: Receiver) -> None:
    from meterline.core.schemas import CreateEntitySetting
    from meterline.invoicing.service import wallet_holds
    from meterline.settings.service import SettingsWriter
    from meterline.wallet.service import WalletService

    endpoint_pk, _secret = endpoint(world, receiver.url, ["wallet.low"])
    with world.at(utc_now()) as ctx:
        SettingsWriter(ctx).put(  # low at 20 or less
            entity_type="ORGANIZATION",
            entity_id=ctx.org_id,
            item=CreateEntitySetting(
                id="walletLowThreshold", value="20", namespace="webhooks", name="Low wallet", data_type="NUMERIC"
            ),
        )
        WalletService(ctx, holds=wallet_holds).top_up("acme", Decimal(140))
    custom_invoice(world)  # 120: the wallet pays it all and is left with 20, the threshold itself
    with world.at(utc_now()) as ctx:
        assert WalletService(ctx, holds=wallet_holds).view("acme").balance == 20
    assert len(deliveries(world.factory, endpoint_pk)) == 1
