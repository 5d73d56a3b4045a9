"""Credits and the wallet on invoices, to the cent, on both engines (billing-rules D9, D10; docs/credits.md).
Written given / when / then over a controlled clock, with the ledgers' invariants checked after each scenario."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.core.errors import BadRequest
from meterline.core.pagination import PageRequest
from meterline.core.schemas import Address
from meterline.credits.models import Credit, CreditTransaction
from meterline.credits.service import CreditRepository, Grant
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.usecases import balances
from meterline.wallet.models import Wallet, WalletEntry
from meterline.wallet.service import WalletRepository
from tests.service.billing_world import World, associate, fee, lines, make_plan, t, tiered_card

D = Decimal


def check_ledgers(session: Session, org_id: str) -> None:
    """Every balance is the sum of its entries; nothing negative; nothing consumed past its grant."""
    for credit in session.scalars(select(Credit).where(Credit.org_id == org_id)):
        txns = list(session.scalars(select(CreditTransaction).where(CreditTransaction.credit_pk == credit.pk)))
        granted = [x for x in txns if x.type == "CREDITED" and x.invoice_pk is None]
        assert [x.amount for x in granted] == [credit.amount]
        debited = sum((x.amount for x in txns if x.type == "DEBITED"), D(0))
        returned = sum((x.amount for x in txns if x.type == "CREDITED" and x.invoice_pk), D(0))
        assert credit.consumed_amount == debited - returned and D(0) <= credit.consumed_amount <= credit.amount
        ended = sum((x.amount for x in txns if x.type in ("EXPIRED", "VOIDED")), D(0))
        assert ended == (credit.amount - credit.consumed_amount if credit.status in ("EXPIRED", "VOIDED") else 0)
        assert (credit.status == "CONSUMED") == (
            credit.consumed_amount == credit.amount and credit.status != "VOIDED" and credit.status != "EXPIRED"
        )
    for wallet in session.scalars(select(Wallet).where(Wallet.org_id == org_id)):
        entries = list(
            session.scalars(select(WalletEntry).where(WalletEntry.wallet_pk == wallet.pk).order_by(WalletEntry.pk))
        )
        running = D(0)
        for e in entries:
            running += e.amount if e.type == "CREDITED" else -e.amount
            assert running >= 0 and e.closing_balance == running
        assert wallet.balance == running
    for invoice in session.scalars(select(Invoice).where(Invoice.org_id == org_id, Invoice.status != "DRAFT")):
        debits = sum(
            (
                x.amount
                for x in session.scalars(
                    select(CreditTransaction).where(
                        CreditTransaction.invoice_pk == invoice.pk, CreditTransaction.type == "DEBITED"
                    )
                )
            ),
            D(0),
        )
        shown = Decimal(0)
        if invoice.lines and '"TOTAL_CREDITS"' in invoice.lines:
            from meterline.invoicing.builder import Line
            from meterline.invoicing.service import loads

            shown = -Line.from_json(loads(invoice.lines)).find("TOTAL_CREDITS").value  # type: ignore[union-attr]
        assert debits == shown, invoice.pk


@pytest.fixture
def growth(world: World) -> dict[str, str]:
    """Given acme on Growth from 1 March (grace 5 days): D4's tiered card and a 300.00 fee, both in arrears."""
    with world.at(t(2, 20)) as ctx:
        platform = fee(ctx, "Platform", "300")
        plan = make_plan(ctx, "Growth", usageRateCards=[tiered_card(world.meter_id)], fixedFeeRateCards=[platform])
        associate(ctx, plan, "2024-03-01")
    return {"fee": platform["id"], "meter": world.meter_id}


def grant(world: World, when, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with world.at(when) as ctx:
        values = {"account_id": "acme", "purpose": "Promo", "priority": 1, "effective_from": date(2024, 3, 1), **kwargs}
        return balances.credits(ctx).grant([Grant(**values)])[0].pk


def credit(world: World, credit_id: str) -> Credit:
    with world.at(t(1, 1)) as ctx:
        return ctx.session.get(Credit, credit_id)  # type: ignore[return-value]


def test_two_credits_by_priority_and_scope_over_a_tiered_invoice(world: World, growth: dict[str, str]) -> None:
    # Given 150 calls in March (usage line 125.00, fee 300.00), a 100.00 credit for the meter (priority 1) and a
    # 200.00 credit for anything (priority 2)
    world.ingest(t(3, 10), ("e1", t(3, 2), "150"))
    meter_only = grant(world, t(3, 10), amount=D("100.00"), priority=1, scope=(growth["meter"],), purpose="Meter promo")
    anything = grant(world, t(3, 10), amount=D("200.00"), priority=2, purpose="Welcome")
    world.bill_run(t(3, 10))  # the worker's run: March's draft exists
    # When the March invoice is read, then lines take credits in order, priority first, never below 0:
    # usage 125: 100 from the meter credit, 25 from the other; fee 300: the other's 175 left
    [march] = world.invoices()
    got = lines(march["revenue"])
    assert got[f"SUB_CREDITS:{meter_only}"] == D("-100.00") and got[f"SUB_CREDITS:{anything}"] == D("-200.00")
    assert got["TOTAL_CREDITS"] == D("-300.00") and got["NET_AMOUNT"] == march["total"] == D("125.00")
    sub = march["revenue"].find("TOTAL_CREDITS").children  # type: ignore[union-attr]
    assert [s.metadata["lines"] for s in sub] == [
        {growth["meter"]: D("100.00")},
        {growth["meter"]: D("25.00"), growth["fee"]: D("175.00")},
    ]
    # And the balance shows what the draft holds
    with world.at(t(3, 11)) as ctx:
        balance = balances.credits(ctx).balance("acme")
        assert (balance.active, balance.available, balance.running, balance.inapplicable) == (
            D("300.00"),
            D("300.00"),
            D("0.00"),
            D("0.00"),
        )
    # When March is finalized the holds are consumed: both credits are CONSUMED
    world.bill_run(t(4, 6))
    assert (credit(world, meter_only).status, credit(world, anything).status) == ("CONSUMED", "CONSUMED")
    with world.at(t(4, 7)) as ctx:
        check_ledgers(ctx.session, world.org.id)
        # Then voiding the finalized invoice gives both back (D9)
        invoice = InvoiceService(ctx).get(march["id"])
        InvoiceService(ctx).update(invoice.pk, "VOID", {})
    assert (credit(world, meter_only).status, credit(world, meter_only).consumed_amount) == ("ACTIVE", D("0.00"))
    with world.at(t(4, 8)) as ctx:
        check_ledgers(ctx.session, world.org.id)


def test_a_credit_ending_mid_cycle_still_pays_that_cycle_then_expires(world: World, growth: dict[str, str]) -> None:
    # Given a 1,000.00 credit effective 1 to 15 March, and one from 10 April
    ending = grant(world, t(3, 1), amount=D("1000.00"), effective_until=date(2024, 3, 15))
    later = grant(world, t(3, 1), amount=D("50.00"), effective_from=date(2024, 4, 10))
    world.ingest(t(3, 20), ("e1", t(3, 18), "150"))
    world.bill_run(t(3, 20))
    with world.at(t(3, 20)) as ctx:
        balance = balances.credits(ctx).balance("acme")
        # the April credit is not effective yet: inapplicable
        assert (balance.available, balance.running, balance.inapplicable) == (D("1050.00"), D("625.00"), D("50.00"))
    # When the grace period has not ended, the credit stays ACTIVE though its window is over
    world.bill_run(t(4, 2))
    assert credit(world, ending).status == "ACTIVE"
    # When March is finalized (6 April), it pays March's 425.00 and the rest, 575.00, expires
    world.bill_run(t(4, 6))
    c = credit(world, ending)
    assert (c.status, c.consumed_amount) == ("EXPIRED", D("425.00"))
    march = next(i for i in world.invoices() if i["start"] == t(3, 1))
    assert march["total"] == D("0.00") and march["status"] == "PAID"
    assert credit(world, later).status == "ACTIVE"
    with world.at(t(4, 7)) as ctx:
        assert [x.type for x in balances.credits(ctx).repo.transactions(ending)] == [
            "CREDITED",
            "DEBITED",
            "DEBITED",
            "EXPIRED",
        ]
        check_ledgers(ctx.session, world.org.id)


def test_the_wallet_pays_part_then_all(world: World, growth: dict[str, str]) -> None:
    # Given 100.00 in the wallet and March's invoice at 425.00
    world.ingest(t(3, 10), ("e1", t(3, 2), "150"))
    world.bill_run(t(3, 10))
    with world.at(t(3, 10)) as ctx:
        balances.wallet(ctx).top_up("acme", D("100.00"))
        view = balances.wallet(ctx).view("acme")
        # Then while March is DRAFT the 100.00 is on hold: the balance shows 0.00
        assert (view.balance, view.hold) == (D("0.00"), D("100.00"))
        with pytest.raises(BadRequest, match="minor units"):
            balances.wallet(ctx).top_up("acme", D("0.001"))
    # When March is finalized the wallet pays 100.00 of it: PARTIALLY_PAID
    world.bill_run(t(4, 6))
    march = next(i for i in world.invoices() if i["start"] == t(3, 1))
    with world.at(t(4, 7)) as ctx:
        row = ctx.session.get(Invoice, march["id"])
        assert (row.status, row.paid_amount, row.total_amount) == ("PARTIALLY_PAID", D("100.00"), D("425.00"))
        # And with 1,000.00 more, April's 300.00 (no usage) is paid in full when it is finalized
        balances.wallet(ctx).top_up("acme", D("1000.00"))
    world.bill_run(t(5, 6))
    april = next(i for i in world.invoices() if i["start"] == t(4, 1))
    assert april["status"] == "PAID"
    with world.at(t(5, 7)) as ctx:
        view = balances.wallet(ctx).view("acme")
        assert view.balance == D("700.00") - D("300.00")  # May's draft (300.00 so far) holds the rest
        check_ledgers(ctx.session, world.org.id)
        # When the partly paid March invoice is voided, the wallet gets its 100.00 back
        InvoiceService(ctx).update(march["id"], "VOID", {})
        assert ctx.session.scalar(select(Wallet.balance).where(Wallet.org_id == world.org.id)) == D("800.00")
        check_ledgers(ctx.session, world.org.id)


def test_the_wallets_balance_stays_below_the_number_bound(world: World, growth: dict[str, str]) -> None:
    # Given a wallet topped up to 999,999,999,999,998.00 in two steps, each below 10^15
    with world.at(t(3, 10)) as ctx:
        balances.wallet(ctx).top_up("acme", D("600000000000000.00"))
        balances.wallet(ctx).top_up("acme", D("399999999999998.00"))
    # When one more top-up would take the balance to 10^15, it is refused, and nothing is added
    with world.at(t(3, 10)) as ctx:
        with pytest.raises(
            BadRequest, match=r"topupAmount: the wallet's balance \(999999999999998\.00 USD\) plus 2\.00"
        ):
            balances.wallet(ctx).top_up("acme", D("2.00"))
    with world.at(t(3, 10)) as ctx:
        balances.wallet(ctx).top_up("acme", D("1.00"))  # up to 10^15 - 1 is kept
        assert ctx.session.scalar(select(Wallet.balance).where(Wallet.org_id == world.org.id)) == D(
            "999999999999999.00"
        )
        check_ledgers(ctx.session, world.org.id)


def test_grant_rules(world: World, growth: dict[str, str]) -> None:
    with world.at(t(3, 1)) as ctx:
        service = balances.credits(ctx)
        base = {"account_id": "acme", "purpose": "P", "priority": 1, "effective_from": date(2024, 3, 1)}
        for bad, says in (
            ({"amount": D("0")}, "more than 0"),
            ({"amount": D("1.001")}, "minor units"),
            ({"amount": D("5"), "effective_until": date(2024, 2, 1)}, "before effectiveFrom"),
            (
                {"amount": D("1000000000000000")},
                r"^creditRequests\[0\]\.creditAmount: must be more than 0 and below 10\^15",
            ),
            ({"amount": D("5"), "scope": ("um.nothing",)}, "not a usage meter"),
        ):
            with pytest.raises(BadRequest, match=says):
                service.grant([Grant(**{**base, **bad})])
        # a credit of one day: effectiveUntil the day it starts, ending at that day's end
        one_day = service.grant([Grant(**{**base, "effective_until": date(2024, 3, 1)}, amount=D("5"))])[0]
        assert (one_day.starts_at, one_day.ends_at) == (t(3, 1), t(3, 2))
        # and the largest credit below 10^15 is kept, to the cent
        assert service.grant([Grant(**base, amount=D("999999999999999.99"))])[0].amount == D("999999999999999.99")
        first = service.grant([Grant(**base, amount=D("5"), idempotency_key="k")])[0]
        assert service.grant([Grant(**base, amount=D("9"), idempotency_key="k")])[0].pk == first.pk
        voided = service.void(first.pk)
        assert voided.status == "VOIDED"
        with pytest.raises(BadRequest, match="only an ACTIVE credit"):
            service.void(first.pk)
        check_ledgers(ctx.session, ctx.org_id)


def test_credit_grant_cards_give_credits_each_cycle(world: World) -> None:
    # Given a plan that sells 100.00 of usage credits for 90.00 in advance each month (expiring with the cycle), and
    # a PREPAID pack of 50.00 for 45.00 that gives its credit only once paid
    def grant_card(ctx, name: str, price: str, credit: str, timing: str) -> dict:  # type: ignore[no-untyped-def]
        from meterline.catalog.addon_schemas import CreateAddOnRequest
        from meterline.catalog.addon_service import AddOnService

        addon = AddOnService(ctx).create(CreateAddOnRequest(name=name, type="CREDIT_GRANT"))
        return {
            "id": addon.id,
            "type": "RECURRING",
            "invoiceTiming": timing,
            "grantDetails": {"priority": 1, "expiryType": "PRICING_CYCLE", "applicableEntityIds": [world.meter_id]},
            "rateDetails": {
                "pricingModel": "TIERED",
                "currencySlabRateDetails": [
                    {
                        "currency": "USD",
                        "creditAmount": D(credit),
                        "slabDetails": [{"startAfter": 0, "priceType": "FLAT", "rate": D(price)}],
                    }
                ],
            },
        }

    with world.at(t(2, 20)) as ctx:
        monthly = grant_card(ctx, "Usage pack", "90", "100", "IN_ADVANCE")
        prepaid = grant_card(ctx, "Prepaid pack", "45", "50", "PREPAID")
        plan = make_plan(
            ctx, "Packs", usageRateCards=[tiered_card(world.meter_id)], creditGrantRateCards=[monthly, prepaid]
        )
        associate(ctx, plan, "2024-03-01")
    # When March starts: the in-advance invoice (90.00 + 45.00) is finalized and gives the monthly credit only
    world.bill_run(t(3, 1))
    world.ingest(t(3, 10), ("e1", t(3, 2), "150"))
    [advance, march] = world.invoices()
    assert advance["total"] == D("135.00") and advance["status"] == "DUE"
    with world.at(t(3, 10)) as ctx:
        granted = list(ctx.session.scalars(select(Credit).where(Credit.org_id == world.org.id)))
        assert [(c.amount, c.grantor_id, c.effective_from, c.effective_until) for c in granted] == [
            (D("100"), monthly["id"], date(2024, 3, 1), date(2024, 3, 31))
        ]
    # Then March's usage (125.00) takes it: 100.00 off
    assert march["total"] == D("25.00")
    # When the in-advance invoice is paid, the PREPAID pack's 50.00 credit arrives and takes the rest
    with world.at(t(3, 11)) as ctx:
        InvoiceService(ctx).update(advance["id"], "PAID", {})
    assert world.invoices()[1]["total"] == D("0.00")
    with world.at(t(3, 12)) as ctx:
        assert sorted(c.amount for c in ctx.session.scalars(select(Credit).where(Credit.org_id == world.org.id))) == [
            D("50"),
            D("100"),
        ]
        check_ledgers(ctx.session, world.org.id)


def test_credits_are_listed_by_account_status_and_id(world: World) -> None:
    # Given credits of acme and of globex, another account of the organization, one of acme's voided
    with world.at(t(2, 20)) as ctx:
        CustomerService(ctx).create(
            CreateCustomerRequest(id="globex", name="Globex", primary_email="g@globex.test", address=Address())
        )
    acme_1, acme_2 = grant(world, t(3, 1), amount=D(10)), grant(world, t(3, 1), amount=D(20))
    globex = grant(world, t(3, 1), amount=D(30), account_id="globex")
    with world.at(t(3, 2)) as ctx:
        balances.credits(ctx).void(acme_2)
    with world.at(t(3, 2)) as ctx:
        service = balances.credits(ctx)

        def listed(**filters: str | None) -> list[str]:
            given = {"status": None, "account_id": None, "credit_id": None, **filters}
            return [c.pk for c in service.page(PageRequest(), **given).items]  # type: ignore[arg-type]

        assert sorted(listed()) == sorted([acme_1, acme_2, globex])
        assert sorted(listed(account_id="acme")) == sorted([acme_1, acme_2])
        assert listed(account_id="globex") == [globex]
        assert listed(account_id="nobody") == []
        assert listed(account_id="acme", status="ACTIVE") == [acme_1]
        assert listed(status="VOIDED") == [acme_2]
        assert listed(credit_id=globex) == [globex]
        assert listed(account_id="acme", credit_id=globex) == []


def test_a_credit_never_gives_more_than_it_has_nor_once_ended(world: World) -> None:
    # finalizing computes what each credit gives from what remains of it; the ledger refuses anything else outright
    kept, ended = grant(world, t(3, 1), amount=D(10)), grant(world, t(3, 1), amount=D(10))
    with world.at(t(3, 2)) as ctx:
        balances.credits(ctx).void(ended)
    with world.at(t(3, 2)) as ctx:
        service = balances.credits(ctx)
        with pytest.raises(RuntimeError, match=f"^credit {kept} cannot give 10.01: ACTIVE, 10 left$"):
            service.consume(service.get(kept), D("10.01"), "inv.x", "line")
        with pytest.raises(RuntimeError, match=f"^credit {ended} cannot give 1: VOIDED, 10 left$"):
            service.consume(service.get(ended), D(1), "inv.x", "line")
        service.consume(service.get(kept), D(10), "inv.x", "line")
        assert service.get(kept).status == "CONSUMED"


def test_a_wallet_update_changes_what_it_names_only(world: World) -> None:
    with world.at(t(3, 1)) as ctx:
        made = balances.wallet(ctx).top_up("acme", D(25))
    with world.at(t(3, 2)) as ctx:
        paused = balances.wallet(ctx).update("acme", "INACTIVE", None)
    assert (paused.status, paused.effective_from, paused.balance) == ("INACTIVE", made.effective_from, D(25))
    with world.at(t(3, 3)) as ctx:
        moved = balances.wallet(ctx).update("acme", None, t(4, 1))
    assert (moved.status, moved.effective_from) == ("INACTIVE", t(4, 1))


def test_a_scoped_credit_is_applicable_while_the_plan_has_what_it_names(world: World, growth: dict[str, str]) -> None:
    # Growth has a usage card and a fixed fee: credits scoped to either kind, or to the fee, apply; one scoped to
    # an add-on the plan lacks does not
    for scope in (("ALL_FIXED_FEE_RATE_CARDS",), ("ALL_USAGE_METER_RATE_CARDS",), (growth["fee"],)):
        grant(world, t(3, 1), amount=D(10), scope=scope)
    with world.at(t(2, 21)) as ctx:
        unused = fee(ctx, "Not on Growth", "5")["id"]
    grant(world, t(3, 1), amount=D(7), scope=(unused,))
    with world.at(t(3, 2)) as ctx:
        balance = balances.credits(ctx).balance("acme")
    assert (balance.available, balance.inapplicable) == (D("37.00"), D("7.00"))


def test_a_page_of_wallet_entries_fills_with_stored_entries_after_the_holds(
    world: World, growth: dict[str, str]
) -> None:
    # Given 100.00 topped up (a stored entry) and March's DRAFT holding it (a hold)
    world.ingest(t(3, 10), ("e1", t(3, 2), "150"))
    world.bill_run(t(3, 10))
    with world.at(t(3, 10)) as ctx:
        balances.wallet(ctx).top_up("acme", D("100.00"))
    with world.at(t(3, 11)) as ctx:
        # Then a page of 10 has both, hold first, and nothing after it
        page, next_token, _wallet = balances.wallet(ctx).entries("acme", PageRequest(size=10))
        assert [(type(e).__name__, e.amount) for e in page] == [
            ("HoldEntry", D("100.00")),
            ("WalletEntry", D("100.00")),
        ]
        assert next_token is None
        # And a page of 1 ends with the hold and goes on to the stored entry
        first, token, _wallet = balances.wallet(ctx).entries("acme", PageRequest(size=1))
        assert [type(e).__name__ for e in first] == ["HoldEntry"] and token is not None


def test_voiding_an_invoice_the_wallet_did_not_pay_gives_nothing_back_and_makes_no_wallet(
    world: World, growth: dict[str, str]
) -> None:
    world.bill_run(t(4, 6))  # March finalized: 300.00, no wallet
    march = next(i for i in world.invoices() if i["start"] == t(3, 1))
    with world.at(t(4, 7)) as ctx:
        InvoiceService(ctx).update(march["id"], "VOID", {})
        assert ctx.session.scalars(select(Wallet).where(Wallet.org_id == world.org.id)).all() == []
        assert ctx.session.scalars(select(WalletEntry).where(WalletEntry.org_id == world.org.id)).all() == []


def test_wallets_are_read_for_the_accounts_asked_only(world: World) -> None:
    with world.at(t(3, 1)) as ctx:
        CustomerService(ctx).create(
            CreateCustomerRequest(id="globex", name="Globex", primary_email="g@globex.test", address=Address())
        )
        balances.wallet(ctx).top_up("acme", D(25))
        balances.wallet(ctx).top_up("globex", D(40))
    with world.at(t(3, 2)) as ctx:
        wallets = {w.account_pk: w for w in ctx.session.scalars(select(Wallet).where(Wallet.org_id == world.org.id))}
        assert len(wallets) == 2
        acme = next(pk for pk, w in wallets.items() if w.balance == D(25))
        found = WalletRepository(ctx.session, world.org.id).of_accounts({acme})
        assert {pk: w.balance for pk, w in found.items()} == {acme: D(25)}


def test_expiry_ends_only_active_credits_and_counts_what_it_ended(world: World) -> None:
    # Given three credits over by April: one ACTIVE, one VOIDED, one CONSUMED
    active, voided, consumed = (grant(world, t(3, 1), amount=D(10), effective_until=date(2024, 3, 31)) for _ in "abc")
    with world.at(t(3, 2)) as ctx:
        service = balances.credits(ctx)
        service.void(voided)
        service.consume(service.get(consumed), D(10), "inv.x", "line")
    with world.at(t(4, 2)) as ctx:
        # the ones over are read as the ACTIVE ones only (those ended otherwise are not read again at every run)
        assert [c.pk for c in CreditRepository(ctx.session, ctx.org_id).ended(ctx.now)] == [active]
        # When expiry runs: one credit ended
        assert balances.credits(ctx).expire(lambda _credit: False) == 1
        statuses = {pk: ctx.session.get(Credit, pk).status for pk in (active, voided, consumed)}  # type: ignore[union-attr]
        assert statuses == {active: "EXPIRED", voided: "VOIDED", consumed: "CONSUMED"}
        check_ledgers(ctx.session, ctx.org_id)


def test_a_credit_voided_while_expiry_runs_is_ended_once(world: World) -> None:
    """Expiry reads the credits that are over, then locks them: one voided in between (another request, committed)
    must be read again under the lock and left VOIDED, not ended a second time as EXPIRED. On PostgreSQL the void
    commits in between; on SQLite expiry holds the write lock, so the void waits for it and is refused."""
    credit_pk = grant(world, t(3, 1), amount=D(10), effective_until=date(2024, 3, 31))
    outcome: list[str] = []
    voiders: list[threading.Thread] = []

    def void_elsewhere() -> None:
        try:
            with world.at(t(4, 2)) as other:
                balances.credits(other).void(credit_pk)
            outcome.append("voided")
        except BadRequest as exc:
            outcome.append(str(exc))

    def still_billing(_credit: Credit) -> bool:
        voider = threading.Thread(target=void_elsewhere)
        voiders.append(voider)
        voider.start()
        voider.join(timeout=3)  # PostgreSQL: done at once; SQLite: waiting for this transaction's write lock
        return False

    with world.at(t(4, 2)) as ctx:
        ended = balances.credits(ctx).expire(still_billing)
    for voider in voiders:
        voider.join(timeout=30)  # SQLite: the void ran once expiry committed
        assert not voider.is_alive()
    with world.at(t(4, 3)) as ctx:
        credit_row = ctx.session.get(Credit, credit_pk)
        assert credit_row is not None
        postgresql = world.factory.kw["bind"].dialect.name == "postgresql"
        assert (outcome == ["voided"]) == postgresql, outcome
        if postgresql:  # the void came first: expiry ended nothing
            assert (credit_row.status, ended) == ("VOIDED", 0)
        else:  # expiry came first (SQLite): the void was refused
            assert outcome == [f"Credit {credit_pk} is EXPIRED: only an ACTIVE credit can be voided"]
            assert (credit_row.status, ended) == ("EXPIRED", 1)
        ends = ctx.session.scalars(
            select(CreditTransaction.type).where(
                CreditTransaction.credit_pk == credit_pk, CreditTransaction.type.in_(("EXPIRED", "VOIDED"))
            )
        ).all()
        assert len(ends) == 1, ends  # ended once
        check_ledgers(ctx.session, ctx.org_id)
