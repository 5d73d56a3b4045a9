"""Webhooks: what writing the outbox adds to a write request, and deliveries per second to a local receiver.

    .venv/bin/python bench/webhooks.py [--requests 300] [--engine sqlite|postgresql|both]

For each engine, a fresh database with two organizations, each with customer acme; one has an enabled endpoint
subscribed to invoice.created and invoice.finalized, the other none. Each "request" is one unit of work, as the API
runs one, creating a custom invoice with status DUE (what POST /api/invoices does: created, then finalized). The
two organizations take turns request by request, so both see the same machine; it prints the median and mean
milliseconds per request of each and the difference (the outbox: two messages, their deliveries, and the invoice
presented as the API returns it, twice).

Then the delivery worker (webhooks/delivery.py, as `meterline serve` runs it) sends every delivery to a local
receiver that verifies each signature with the standardwebhooks library, and the bench prints deliveries per second
from the first claim to the last success. Nothing here is a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest import drop_database, fresh_database  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from meterline.core.clock import utc_now  # noqa: E402
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work  # noqa: E402
from meterline.core.schemas import Address  # noqa: E402
from meterline.core.settings import Settings  # noqa: E402
from meterline.customers.schemas import CreateCustomerRequest  # noqa: E402
from meterline.customers.service import CustomerService  # noqa: E402
from meterline.invoicing.service import InvoiceService  # noqa: E402
from meterline.migrations import upgrade  # noqa: E402
from meterline.tenancy.context import Context  # noqa: E402
from meterline.tenancy.models import Organization  # noqa: E402
from meterline.tenancy.service import TenancyService  # noqa: E402
from meterline.webhooks.delivery import Deliverer  # noqa: E402
from meterline.webhooks.models import WebhookDelivery  # noqa: E402
from meterline.webhooks.service import WebhookService  # noqa: E402
from tests.webhook_receiver import Receiver  # noqa: E402

ITEMS = [{"description": "Setup", "value": Decimal("120.00")}]


def _org(factory, name: str) -> str:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as session:
        org = TenancyService(session).create_organization(name=name, now=utc_now())
        ctx = Context(session, org, utc_now())
        CustomerService(ctx).create(
            CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=Address())
        )
        return org.id


def _request(factory, org_id: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        now = utc_now()
        ctx = Context(session, session.get(Organization, org_id), now)  # type: ignore[arg-type]
        InvoiceService(ctx).create_custom("acme", now - timedelta(days=30), now, "DUE", ITEMS, False, True, True, None)
    return (time.perf_counter() - started) * 1000


def bench(engine: str, requests: int, workdir: Path) -> None:
    url = fresh_database(engine, workdir, "webhooks")
    try:
        upgrade(url)
        factory = make_session_factory(create_db_engine(url))
        plain, subscribed = _org(factory, "plain"), _org(factory, "subscribed")
        receiver = Receiver().start()
        with unit_of_work(factory) as session:
            ctx = Context(session, session.get(Organization, subscribed), utc_now())  # type: ignore[arg-type]
            _endpoint, secret = WebhookService(ctx).create(receiver.url, ["invoice.created", "invoice.finalized"])
        receiver.secrets = [secret]
        for org_id in (plain, subscribed):  # warm-up
            _request(factory, org_id)
        times: dict[str, list[float]] = {plain: [], subscribed: []}
        for _ in range(requests):
            for org_id in (plain, subscribed):
                times[org_id].append(_request(factory, org_id))
        a, b = times[plain], times[subscribed]
        print(f"{engine}: {requests} write requests each (a custom invoice created DUE)")
        print(f"  without an endpoint: median {statistics.median(a):.2f} ms, mean {statistics.mean(a):.2f} ms")
        print(f"  with a subscribed endpoint: median {statistics.median(b):.2f} ms, mean {statistics.mean(b):.2f} ms")
        print(f"  the outbox adds {statistics.median(b) - statistics.median(a):.2f} ms (median) per request")

        with unit_of_work(factory, write=False) as session:
            total = session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0
        deliverer = Deliverer(factory, Settings(database_url=url))
        started = time.perf_counter()
        while len(receiver.accepted) < total:
            if not deliverer.tick():
                time.sleep(0.01)
        elapsed = time.perf_counter() - started
        deliverer.stop()
        receiver.stop()
        assert not receiver.rejected
        print(f"  delivered {total} webhooks (signed, verified) in {elapsed:.2f} s: {total / elapsed:.0f} per second")
    finally:
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory() as workdir:
        for engine in engines:
            bench(engine, args.requests, Path(workdir))


if __name__ == "__main__":
    main()
