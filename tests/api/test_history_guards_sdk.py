"""Guards that no entry point can skip (usecases/): nothing issued is erased, no schedule moves over a finalized
invoice, and the drafts follow every schedule change — through the official SDK against a live server.

Issue 14, defect 1: DELETE /accounts/{id} on an account with a finalized, partly paid invoice used to remove the
account, its numbered invoices and their payments (the API built the services with a permissive "no history"
default). A price plan migration used to rewrite schedules with neither the guard nor the re-sync of drafts.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException, NotFoundException

from tests.api.billing_setup import acme_invoices, growth_plan
from tests.api.conftest import Sdk
from tests.api.test_migrations_jobs_sdk import migration

UTC = timezone.utc


def _pay(sdk: Sdk, invoice_id: str, amount: int) -> tc.Payment:
    return tc.PaymentsApi(sdk.client).create_payments(
        tc.CreatePaymentRequest(
            account_id="acme",
            currency="USD",
            total_amount=amount,
            external_payment_reference=tc.ExternalPaymentReference(
                source_name="bank", source_type="BANK_TRANSFER", transaction_number="tx-1"
            ),
            line_item_records=[tc.PaymentLineItemRecord(type="INVOICE", togai_id=invoice_id, amount=amount, order=1)],
        )
    )


@pytest.mark.parametrize("what", ["account", "customer"])
def test_deleting_with_issued_invoices_archives_and_keeps_everything(
    sdk: Sdk, billed: dict[str, str], what: str
) -> None:
    sdk.invoices.create_invoice_bill_run()
    first, second, _current = acme_invoices(sdk)
    payment = _pay(sdk, first.id, 20)
    assert sdk.invoices.get_invoice(first.id).status == "PARTIALLY_PAID"

    answer = sdk.accounts.delete_account("acme") if what == "account" else sdk.customers.delete_customer("acme")
    assert answer.success is True

    # The issued invoices, their numbers and the payment are all still there
    kept = sdk.invoices.get_invoice(first.id)
    assert (kept.status, kept.paid_amount, kept.sequence_id) == ("PARTIALLY_PAID", 20, "INV-000001")
    assert sdk.invoices.get_invoice(second.id).sequence_id == "INV-000002"
    assert tc.PaymentsApi(sdk.client).get_payment(payment.id).total_amount == 20
    # The account (and the customer) are ARCHIVED: readable by id, gone from the lists
    assert sdk.accounts.get_account("acme").status == "ARCHIVED"
    assert "acme" not in [a.id for a in sdk.accounts.get_accounts().data]
    if what == "customer":
        assert sdk.customers.get_customer("acme").status == "ARCHIVED"
        assert "acme" not in [c.id for c in sdk.customers.get_customers().data]


def test_an_archived_account_pays_what_it_owes_and_takes_nothing_for_later(sdk: Sdk, billed: dict[str, str]) -> None:
    """An archived account is never billed again: its open invoice still takes a payment, but a credit, a wallet
    top-up, or a payment's CREDIT / WALLET_CREDIT record (all of which only a future invoice would use) is a 400."""
    sdk.invoices.create_invoice_bill_run()
    first, _second, _current = acme_invoices(sdk)
    sdk.accounts.delete_account("acme")
    assert sdk.accounts.get_account("acme").status == "ARCHIVED"
    archived = "Account acme is archived and will not be billed again"
    credits = tc.CreditsApi(sdk.client)
    grant = tc.CreditRequest(
        account_id="acme", purpose="Late promo", credit_amount=10, priority=1, effective_from=datetime.now(UTC).date()
    )
    with pytest.raises(BadRequestException, match=f"{archived}: it takes no new credit"):
        credits.create_credit(tc.CreateCreditRequest(credit_requests=[grant]))
    with pytest.raises(BadRequestException, match=f"{archived}: its wallet takes no top-up"):
        tc.WalletApi(sdk.client).top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=5))
    for kind, why in (("CREDIT", "it takes no new credit"), ("WALLET_CREDIT", "its wallet takes no top-up")):
        record = tc.PaymentLineItemRecord(type=kind, amount=5, order=1)
        with pytest.raises(BadRequestException, match=f"{archived}: {why}"):
            tc.PaymentsApi(sdk.client).create_payments(
                tc.CreatePaymentRequest(
                    account_id="acme",
                    currency="USD",
                    total_amount=5,
                    external_payment_reference=tc.ExternalPaymentReference(
                        source_name="bank", source_type="BANK_TRANSFER", transaction_number=f"tx-{kind}"
                    ),
                    line_item_records=[record],
                )
            )
    assert credits.list_credits(account_id="acme").data == []
    assert tc.PaymentsApi(sdk.client).list_payments().data == []
    _pay(sdk, first.id, 20)  # what it owes, it still pays
    assert sdk.invoices.get_invoice(first.id).paid_amount == 20


def test_deleting_without_history_removes(sdk: Sdk, catalog: dict[str, str]) -> None:
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="fresh", name="Fresh Co", primary_email="f@x.test", address=tc.Address())
    )
    assert sdk.customers.delete_customer("fresh").success is True
    with pytest.raises(NotFoundException, match="Customer fresh not found"):
        sdk.customers.get_customer("fresh")
    with pytest.raises(NotFoundException, match="Account fresh not found"):
        sdk.accounts.get_account("fresh")


def test_a_migration_never_moves_a_schedule_over_finalized_invoices(sdk: Sdk, billed: dict[str, str]) -> None:
    sdk.invoices.create_invoice_bill_run()
    *_, current = acme_invoices(sdk)
    # The ongoing cycle is finalized early: it is issued, and its period may no longer change
    assert sdk.invoices.update_invoice(current.id, tc.UpdateInvoiceRequest(status="DUE")).status == "DUE"
    cheaper = growth_plan(sdk, billed["sum"], billed["fee"], "Growth 2")
    for mode in ("START_OF_CURRENT_CYCLE", "IMMEDIATE"):
        sdk.price_plans.price_plan_migration(migration(billed["plan"], cheaper, mode))
        job = [j for j in sdk.jobs.get_jobs().data if j.type == "PRICE_PLAN"][-1]
        [entry] = sdk.jobs.get_job_entries(job.id).data
        assert entry.status == "FAILED" and "invoiced up to" in entry.metadata["reason"], mode
    assert [s.price_plan_id for s in sdk.accounts.get_pricing_schedules("acme").data] == [billed["plan"]]
    frozen = sdk.invoices.get_invoice(current.id)
    assert (frozen.status, frozen.total_amount) == ("DUE", current.total_amount)


def test_a_migration_resyncs_the_drafts_at_once(sdk: Sdk, billed: dict[str, str]) -> None:
    sdk.invoices.create_invoice_bill_run()
    target = growth_plan(sdk, billed["sum"], billed["fee"], "Growth 2")
    before = datetime.now(UTC)
    sdk.price_plans.price_plan_migration(migration(billed["plan"], target, "IMMEDIATE"))
    drafts = [i for i in acme_invoices(sdk) if i.status == "DRAFT"]
    # The ongoing cycle is cut at the switch: each piece has its DRAFT (D12), the new one starting at the switch
    assert len(drafts) == 2
    assert before <= drafts[1].start_date <= datetime.now(UTC)
    assert drafts[0].end_date == drafts[1].start_date
