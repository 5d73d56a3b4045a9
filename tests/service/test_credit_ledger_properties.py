"""Random sequences of grants, usage, top-ups, bill runs, voids and expiry never break the ledgers (issue 6), on
both engines: a hypothesis state machine checks the invariants after every step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.credits.models import Credit
from meterline.credits.service import Grant
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, credit_holds, wallet_holds
from meterline.usecases import balances
from meterline.wallet.models import Wallet
from tests.service.billing_world import associate, fee, make_plan, make_world, t, tiered_card
from tests.service.test_credits_wallet import check_ledgers

D = Decimal


def test_random_histories_keep_the_ledgers_exact(session_factory: sessionmaker[Session]) -> None:
    class Ledgers(RuleBasedStateMachine):
        @initialize()
        def company(self) -> None:
            self.world = make_world(session_factory)
            self.now = t(3, 1, 12)
            self.events = 0
            with self.world.at(t(2, 20)) as ctx:
                plan = make_plan(
                    ctx,
                    "Growth",
                    usageRateCards=[tiered_card(self.world.meter_id)],
                    fixedFeeRateCards=[fee(ctx, "Platform", "30")],
                    grace=3,
                )
                associate(ctx, plan, "2024-03-01")

        @rule(
            amount=st.integers(1, 400),
            priority=st.integers(1, 3),
            days=st.none() | st.integers(0, 60),
            scoped=st.booleans(),
        )
        def grant(self, amount: int, priority: int, days: int | None, scoped: bool) -> None:
            start = self.now.date() - timedelta(days=10)
            with self.world.at(self.now) as ctx:
                balances.credits(ctx).grant(
                    [
                        Grant(
                            account_id="acme",
                            purpose="p",
                            amount=D(amount),
                            priority=priority,
                            effective_from=start,
                            effective_until=None if days is None else start + timedelta(days=days),
                            scope=(self.world.meter_id,) if scoped else (),
                        )
                    ]
                )

        @rule(calls=st.integers(1, 900))
        def usage(self, calls: int) -> None:
            self.events += 1
            self.world.ingest(self.now, (f"e{self.events}", self.now - timedelta(minutes=1), str(calls)))

        @rule(amount=st.integers(1, 300))
        def top_up(self, amount: int) -> None:
            with self.world.at(self.now) as ctx:
                balances.wallet(ctx).top_up("acme", D(amount))

        @rule(days=st.integers(1, 25))
        def time_passes(self, days: int) -> None:
            self.now += timedelta(days=days)
            self.world.bill_run(self.now)

        @rule(pick=st.integers(0, 100))
        def void_an_invoice(self, pick: int) -> None:
            with self.world.at(self.now) as ctx:
                open_ = list(
                    ctx.session.scalars(
                        select(Invoice)
                        .where(Invoice.org_id == self.world.org.id, Invoice.status.in_(("DUE", "PARTIALLY_PAID")))
                        .order_by(Invoice.pk)
                    )
                )
                if open_:
                    InvoiceService(ctx).update(open_[pick % len(open_)].pk, "VOID", {})

        @rule(pick=st.integers(0, 100))
        def void_a_credit(self, pick: int) -> None:
            with self.world.at(self.now) as ctx:
                active = list(
                    ctx.session.scalars(
                        select(Credit)
                        .where(Credit.org_id == self.world.org.id, Credit.status == "ACTIVE")
                        .order_by(Credit.pk)
                    )
                )
                if active:
                    balances.credits(ctx).void(active[pick % len(active)].pk)

        @invariant()
        def ledgers_hold(self) -> None:
            if not hasattr(self, "world"):
                return
            with self.world.at(self.now) as ctx:
                check_ledgers(ctx.session, self.world.org.id)
                account = InvoiceService(ctx).accounts.by_id("acme")
                held = credit_holds(ctx, account)  # type: ignore[arg-type]
                for credit in ctx.session.scalars(select(Credit).where(Credit.org_id == self.world.org.id)):
                    assert held.get(credit.pk, D(0)) <= credit.amount - credit.consumed_amount
                    if credit.status != "ACTIVE":
                        assert credit.pk not in held
                wallet = ctx.session.scalar(select(Wallet).where(Wallet.org_id == self.world.org.id))
                hold = sum((a for _, a in wallet_holds(ctx, account)), D(0))  # type: ignore[arg-type]
                assert hold <= (wallet.balance if wallet else D(0))
                view = balances.wallet(ctx).view("acme")
                assert view.balance >= 0 and view.balance + view.hold == (wallet.balance if wallet else D(0))

    run_state_machine_as_test(
        Ledgers,
        settings=settings(
            max_examples=12, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
