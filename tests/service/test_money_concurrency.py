"""8 threads finalizing invoices and topping up the same wallets at once (issue 6): no double spend, every ledger
exact, numbers gapless. Runs on both engines (SQLite takes the writers one at a time; PostgreSQL locks rows)."""

from __future__ import annotations

import random
import threading
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.core.schemas import Address
from meterline.credits.models import Credit
from meterline.credits.service import Grant
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import balances
from meterline.wallet.models import Wallet, WalletEntry
from tests.conftest import new_org
from tests.service.billing_world import t
from tests.service.test_credits_wallet import check_ledgers

D = Decimal
ACCOUNTS, INVOICES, THREADS = 4, 6, 8


def test_concurrent_finalizations_and_top_ups_never_double_spend(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)

    def at(session: Session) -> Context:
        return Context(session=session, org=session.get(Organization, org.id), now=t(5, 1))  # type: ignore[arg-type]

    # Given 4 accounts, each with a 25.00 wallet, a 15.00 credit and 6 draft invoices of 10.00
    invoices: list[str] = []
    with unit_of_work(session_factory) as s:
        ctx = at(s)
        for n in range(ACCOUNTS):
            CustomerService(ctx).create(
                CreateCustomerRequest(id=f"a{n}", name=f"Account {n}", primary_email=f"a{n}@x.test", address=Address())
            )
            balances.wallet(ctx).top_up(f"a{n}", D("25.00"))
            balances.credits(ctx).grant(
                [Grant(account_id=f"a{n}", purpose="p", amount=D("15.00"), priority=1, effective_from=date(2024, 1, 1))]
            )
            for i in range(INVOICES):
                invoice, _ = InvoiceService(ctx).create_custom(
                    f"a{n}",
                    t(4, 1 + i),
                    t(4, 2 + i),
                    "DRAFT",
                    [{"description": "Work", "value": D("10.00")}],
                    False,
                    True,
                    True,
                    None,
                )
                invoices.append(invoice.pk)
    tasks = [("finalize", pk) for pk in invoices] + [("top_up", f"a{n % ACCOUNTS}") for n in range(16)]
    random.Random(3).shuffle(tasks)
    queue = list(tasks)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                kind, target = queue.pop()
            try:
                with unit_of_work(session_factory) as s:
                    if kind == "finalize":
                        InvoiceService(at(s)).update(target, "DUE", {})
                    else:
                        balances.wallet(at(s)).top_up(target, D("5.00"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    # When 8 threads run them all at once
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    # Then every ledger is exact, nothing was spent twice, and the numbers have no gap
    with unit_of_work(session_factory, write=False) as s:
        check_ledgers(s, org.id)
        rows = list(s.scalars(select(Invoice).where(Invoice.org_id == org.id)))
        assert sorted(r.sequence_number for r in rows) == list(range(1, len(invoices) + 1))  # type: ignore[type-var]
        for wallet in s.scalars(select(Wallet).where(Wallet.org_id == org.id)):
            paid = sum((r.paid_amount for r in rows if r.account_pk == wallet.account_pk), D(0))
            debits = sum(
                (
                    e.amount
                    for e in s.scalars(
                        select(WalletEntry).where(WalletEntry.wallet_pk == wallet.pk, WalletEntry.type == "DEBITED")
                    )
                ),
                D(0),
            )
            assert paid == debits and wallet.balance == D("25.00") + D("5.00") * 4 - debits >= 0
        for credit in s.scalars(select(Credit).where(Credit.org_id == org.id)):
            assert credit.consumed_amount == credit.amount == D("15.00")  # 60.00 of invoices per account: all used
        for r in rows:
            assert r.total_amount is not None and r.paid_amount <= r.total_amount
