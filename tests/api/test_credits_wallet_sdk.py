"""CreditsApi and WalletApi through the official SDK against a live server (billing-rules D9, D10)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException, NotFoundException

from tests.api.billing_setup import acme_invoices, month_start
from tests.api.conftest import Sdk, message_of
from tests.api.test_ingestion_sdk import ev
from tests.conftest import Tenant

UTC = timezone.utc


def credits_api(sdk: Sdk) -> tc.CreditsApi:
    return tc.CreditsApi(sdk.client)


def wallet_api(sdk: Sdk) -> tc.WalletApi:
    return tc.WalletApi(sdk.client)


def test_credits_reduce_the_ongoing_invoice_and_the_balance_shows_the_hold(
    tenant: Tenant, sdk: Sdk, billed: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    at = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("c1", "150", at=at)]))
    api = credits_api(sdk)
    made = api.create_credit(
        tc.CreateCreditRequest(
            credit_requests=[
                tc.CreditRequest(
                    account_id="acme",
                    purpose="Usage promo",
                    credit_amount=100,
                    priority=1,
                    effective_from=month_start(now),
                    applicable_entity_ids=[billed["sum"]],
                    idempotency_key="p1",
                ),
                tc.CreditRequest(
                    account_id="acme",
                    purpose="Welcome",
                    credit_amount=30,
                    priority=2,
                    effective_from=month_start(now, 2),
                ),
            ]
        )
    )
    promo, welcome = made.credits
    assert (promo.status, promo.credit_unit, promo.customer_id, promo.consumed_amount) == ("ACTIVE", "USD", "acme", 0)
    again = api.create_credit(
        tc.CreateCreditRequest(
            credit_requests=[
                tc.CreditRequest(
                    account_id="acme",
                    purpose="x",
                    credit_amount=5,
                    priority=1,
                    effective_from=month_start(now),
                    idempotency_key="p1",
                )
            ]
        )
    )
    assert again.credits[0].id == promo.id

    # Drafts take credits in the order they are due: the oldest (50.00) takes all of Welcome (30.00); the current
    # one (usage 125.00 + fee 50.00) takes 100.00 of the promo, for its usage only
    drafts = acme_invoices(sdk)
    totals = [sdk.invoices.get_invoice(i.id).total_amount for i in drafts]
    assert totals == [20, 50, 75]
    balance = api.credit_balance_for_account("acme")
    assert (balance.active_credits, balance.available_balance, balance.unit) == (130, 130, "USD")
    assert balance.running_balance == 0 and balance.inapplicable_credits == 0
    assert api.get_credit_details(promo.id).hold_amount == 100

    # A bill run finalizes the two past cycles: Welcome is consumed by the first
    sdk.invoices.create_invoice_bill_run()
    details = api.get_credit_details(welcome.id)
    assert (details.status, details.consumed_amount) == ("CONSUMED", 30)
    assert [t.transaction_type for t in details.transactions] == ["CREDITED", "DEBITED"]
    assert details.transactions[1].invoice_id == drafts[0].id
    listed = api.list_credits(account_id="acme", status="CONSUMED").data
    assert [c.id for c in listed] == [welcome.id]

    # Void: the promo stops applying to the draft
    voided = api.void_credit(promo.id)
    assert voided.status == "VOIDED"
    assert sdk.invoices.get_invoice(drafts[2].id).total_amount == 175
    with pytest.raises(BadRequestException) as refused:
        api.void_credit(promo.id)
    assert "only an ACTIVE credit" in message_of(refused.value)
    with pytest.raises(NotFoundException, match=r"Credit credit\.nothing not found"):
        api.get_credit_details("credit.nothing")
    with pytest.raises(BadRequestException) as refused:
        api.create_credit(
            tc.CreateCreditRequest(
                credit_requests=[
                    tc.CreditRequest(
                        account_id="acme",
                        purpose="x",
                        credit_amount=5,
                        priority=1,
                        effective_from=date(2024, 1, 1),
                        applicable_entity_ids=["nothing"],
                    )
                ]
            )
        )
    assert "not a usage meter" in message_of(refused.value)
    with tenant.http() as http:
        raw = http.get(f"/invoices/{drafts[0].id}").json()
    credits_line = raw["revenueInfo"]["lineItems"][0]["lineItems"][1]
    assert (credits_line["type"], credits_line["value"]) == ("TOTAL_CREDITS", -30)


def test_the_wallet_holds_then_pays(sdk: Sdk, billed: dict[str, str]) -> None:
    api = wallet_api(sdk)
    empty = api.wallet_balance_for_account("acme")
    assert (empty.balance, empty.status, empty.credit_unit, empty.account_id) == (0, "ACTIVE", "USD", "acme")
    topped = api.top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=80))
    assert topped.id == empty.id
    # three drafts of 50.00: the oldest two hold 50.00 and 30.00 of the 80.00
    assert (topped.balance, topped.hold_amount) == (0, 80)
    entries = api.wallet_entries_for_account("acme").data
    assert [(e.transaction_type, e.status, e.amount, e.closing_balance) for e in entries] == [
        ("DEBITED", "ON_HOLD", 50, 30),
        ("DEBITED", "ON_HOLD", 30, 0),
        ("CREDITED", "COMPLETED", 80, 80),
    ]
    sdk.invoices.create_invoice_bill_run()
    first, second, current = acme_invoices(sdk)
    assert [(i.status, i.paid_amount) for i in (first, second)] == [("PAID", 50), ("PARTIALLY_PAID", 30)]
    after = api.wallet_balance_for_account("acme")
    assert (after.balance, after.hold_amount) == (0, 0)
    paused = api.update_wallet_for_account("acme", tc.UpdateWalletRequest(status="INACTIVE"))
    assert paused.status == "INACTIVE"
    api.top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=10))
    assert api.wallet_balance_for_account("acme").hold_amount == 0  # an INACTIVE wallet pays nothing
    with pytest.raises(BadRequestException, match="topupAmount"):
        api.top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=-1))
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        api.wallet_balance_for_account("nobody")
    # a payment into the wallet (WALLET_CREDIT)
    tc.PaymentsApi(sdk.client).create_payments(
        tc.CreatePaymentRequest(
            account_id="acme",
            currency="USD",
            total_amount=15,
            external_payment_reference=tc.ExternalPaymentReference(
                source_name="bank", source_type="BANK_TRANSFER", transaction_number="w1"
            ),
            line_item_records=[tc.PaymentLineItemRecord(type="WALLET_CREDIT", amount=15, order=1)],
        )
    )
    assert api.wallet_balance_for_account("acme").balance == 25


def _pay(sdk: Sdk, total: object, *records: tc.PaymentLineItemRecord, number: str = "c1") -> tc.Payment:
    return tc.PaymentsApi(sdk.client).create_payments(
        tc.CreatePaymentRequest(
            account_id="acme",
            currency="USD",
            total_amount=total,
            external_payment_reference=tc.ExternalPaymentReference(
                source_name="bank", source_type="BANK_TRANSFER", transaction_number=number
            ),
            line_item_records=list(records),
        )
    )


def test_a_credit_record_grants_a_credit_in_the_ledger(tenant: Tenant, sdk: Sdk, billed: dict[str, str]) -> None:
    """POST /payments with a CREDIT record grants a credit of its amount through the credits domain, in the same
    transaction: in the ledger (CREDITED), in the balance, named by the record's togaiId in the answer."""
    api = credits_api(sdk)
    before = api.credit_balance_for_account("acme")
    made = _pay(
        sdk,
        40.5,
        tc.PaymentLineItemRecord(type="CREDIT", amount=25.5, order=2),
        tc.PaymentLineItemRecord(type="WALLET_CREDIT", amount=15, order=1),
    )
    [credit_id] = [r.togai_id for r in made.line_item_records if r.type == "CREDIT"]
    assert credit_id is not None and credit_id.startswith("credit.")
    details = api.get_credit_details(credit_id)
    today = datetime.now(UTC).date()  # the test organization's time zone is UTC
    assert (details.credit_amount, details.status, details.effective_until, details.priority) == (
        25.5,
        "ACTIVE",
        None,
        1,
    )
    assert details.effective_from in (today, today - timedelta(days=1))  # a run across midnight
    assert (details.purpose, details.grantor_id, details.credit_unit) == (f"Payment {made.id}", made.id, "USD")
    assert [(t.transaction_type, t.amount) for t in details.transactions] == [("CREDITED", 25.5)]
    after = api.credit_balance_for_account("acme")
    assert after.active_credits == before.active_credits + 25.5
    entries = wallet_api(sdk).wallet_entries_for_account("acme").data
    assert [(e.transaction_type, e.amount) for e in entries if e.entity_id == made.id] == [("CREDITED", 15)]
    again = tc.PaymentsApi(sdk.client).get_payment(made.id)
    assert [(r.type, r.togai_id, r.amount, r.order) for r in again.line_item_records] == [
        ("WALLET_CREDIT", None, 15, 1),
        ("CREDIT", credit_id, 25.5, 2),
    ]

    count = len(api.list_credits(account_id="acme").data)
    refusals = [
        ((10, tc.PaymentLineItemRecord(type="CREDIT", togai_id="cred.x", amount=10, order=1)), "without togaiId"),
        ((10, tc.PaymentLineItemRecord(type="CREDIT", order=1)), "amount: must be more than 0"),
        ((0.001, tc.PaymentLineItemRecord(type="CREDIT", amount=0.001, order=1)), "totalAmount"),
        ((10, tc.PaymentLineItemRecord(type="CREDIT", amount=-10, order=1)), "amount: must be more than 0"),
        ((10, tc.PaymentLineItemRecord(type="CREDIT", amount=9.999, order=1)), "whole USD minor units"),
        ((10, tc.PaymentLineItemRecord(type="CREDIT", amount=9, order=1)), "add up to 9, not totalAmount 10"),
    ]
    for (total, record), words in refusals:
        with pytest.raises(BadRequestException) as refused:
            _pay(sdk, total, record, number="bad")
        assert words in message_of(refused.value), (record, message_of(refused.value))
    assert len(api.list_credits(account_id="acme").data) == count  # a refused payment granted nothing
