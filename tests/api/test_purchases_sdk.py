"""Purchases and proposals (AccountsApi, deprecated in the SDK but served) through the official SDK against a live
server, on both engines: docs/invoicing.md, "Purchases and proposals"."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client as tc
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from meterline.purchases.models import Purchase
from tests.api.conftest import Sdk, message_of
from tests.api.test_entitlements_sdk import entries
from tests.api.test_schedules_sdk import plan


def _account(sdk: Sdk) -> None:
    """Customer acme, with its account acme (USD)."""
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(
            id="acme", name="Acme Inc", primary_email="billing@acme.test", address=tc.Address(line1="1 Main St")
        )
    )


def _topup(topup: float | int, purchase: float | int | None = None, key: str | None = None) -> tc.CreatePurchaseRequest:
    return tc.CreatePurchaseRequest(
        type="WALLET_TOPUP",
        idempotency_key=key,
        wallet_topup_details=tc.WalletTopupDetails(topup_amount=topup, purchase_amount=purchase),
    )


def test_a_wallet_topup_purchase_is_credited_and_billed_on_an_order_invoice(sdk: Sdk) -> None:
    _account(sdk)
    response = sdk.accounts.initiate_one_time_entitlement_plan_with_http_info("acme", _topup(120.50, 99.99, "k-1"))
    assert response.status_code == 200
    made = response.data
    assert made.id.startswith("purchase.") and made.account_id == "acme"
    assert (made.type, made.status, made.invoice_currency) == ("WALLET_TOPUP", "SUCCESS", "USD")
    assert Decimal(str(made.price)) == Decimal("99.99") and made.idempotency_key == "k-1"
    assert Decimal(str(made.wallet_topup_details.topup_amount)) == Decimal("120.5")

    invoice = sdk.invoices.get_invoice(made.invoice_id)
    assert (invoice.invoice_class, invoice.status, invoice.owner_id) == ("ORDER", "DUE", "acme")
    assert Decimal(str(invoice.total_amount)) == Decimal("99.99")
    wallet = tc.WalletApi(sdk.client).wallet_balance_for_account("acme")
    assert Decimal(str(wallet.balance)) == Decimal("120.5")

    # the same idempotencyKey: the first purchase back, nothing credited or billed again
    again = sdk.accounts.initiate_one_time_entitlement_plan("acme", _topup(5, key="k-1"))
    assert (again.id, again.invoice_id, Decimal(str(again.price))) == (made.id, made.invoice_id, Decimal("99.99"))
    assert Decimal(str(tc.WalletApi(sdk.client).wallet_balance_for_account("acme").balance)) == Decimal("120.5")

    # purchaseAmount omitted: it is the topupAmount
    second = sdk.accounts.initiate_one_time_entitlement_plan("acme", _topup(10.01))
    assert Decimal(str(second.price)) == Decimal("10.01") and second.wallet_topup_details.purchase_amount == 10.01
    assert Decimal(str(sdk.invoices.get_invoice(second.invoice_id).total_amount)) == Decimal("10.01")

    listed = sdk.accounts.list_account_purchases("acme")
    assert [(p.id, p.status, p.type) for p in listed.data] == [
        (made.id, "SUCCESS", "WALLET_TOPUP"),
        (second.id, "SUCCESS", "WALLET_TOPUP"),
    ]

    got = sdk.accounts.get_purchase(made.id)
    assert (got.id, got.account_id, got.invoice_id, got.status) == (made.id, "acme", made.invoice_id, "SUCCESS")
    assert Decimal(str(got.price)) == Decimal("99.99")


def test_purchase_errors_have_messages(sdk: Sdk) -> None:
    _account(sdk)
    with pytest.raises(NotFoundException) as missing:
        sdk.accounts.initiate_one_time_entitlement_plan("nobody", _topup(10))
    assert message_of(missing.value) == "Account nobody not found"
    with pytest.raises(NotFoundException) as unknown:
        sdk.accounts.get_purchase("purchase.nope")
    assert message_of(unknown.value) == "Purchase purchase.nope not found"
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.accounts.list_account_purchases("nobody")
    with pytest.raises(BadRequestException) as no_details:
        sdk.accounts.initiate_one_time_entitlement_plan("acme", tc.CreatePurchaseRequest(type="WALLET_TOPUP"))
    assert message_of(no_details.value) == "walletTopupDetails is required for a WALLET_TOPUP purchase"
    with pytest.raises(BadRequestException) as cents:
        sdk.accounts.initiate_one_time_entitlement_plan("acme", _topup(10.001))
    assert "topupAmount: must be more than 0, in whole USD minor units" in message_of(cents.value)
    with pytest.raises(BadRequestException) as negative:
        sdk.accounts.initiate_one_time_entitlement_plan("acme", _topup(10, -1))
    assert "purchaseAmount: must be 0 or more" in message_of(negative.value)
    assert sdk.accounts.list_account_purchases("acme").data == []


def test_proposals_are_approved_declined_or_expire(sdk: Sdk, session_factory: sessionmaker[Session]) -> None:
    _account(sdk)
    later = datetime.now(timezone.utc) + timedelta(days=7)
    request = tc.CreateProposalRequest(
        type="WALLET_TOPUP",
        payment_mode="PREPAID",
        idempotency_key="p-1",
        expiry_date=later,
        wallet_topup_details=tc.WalletTopupDetails(topup_amount=50, purchase_amount=45.5),
    )
    response = sdk.accounts.create_proposal_with_http_info("acme", request)
    assert response.status_code == 200
    proposal = response.data
    assert proposal.id.startswith("proposal.") and proposal.status == "PROPOSAL_ACTIVE"
    assert (proposal.payment_mode, proposal.invoice_id, proposal.price) == ("PREPAID", None, None)
    assert sdk.accounts.create_proposal("acme", request).id == proposal.id  # idempotent
    assert Decimal(str(tc.WalletApi(sdk.client).wallet_balance_for_account("acme").balance)) == 0  # nothing yet
    assert sdk.accounts.list_account_purchases("acme").data == []

    approved = sdk.accounts.update_proposal_status(proposal.id, tc.UpdateProposalStatus(status="APPROVE"))
    assert approved.status == "PROPOSAL_APPROVED" and approved.proposal_response_date is not None
    assert Decimal(str(approved.price)) == Decimal("45.5")
    invoice = sdk.invoices.get_invoice(approved.invoice_id)
    assert invoice.invoice_class == "ORDER" and Decimal(str(invoice.total_amount)) == Decimal("45.5")
    assert Decimal(str(tc.WalletApi(sdk.client).wallet_balance_for_account("acme").balance)) == 50
    [made] = sdk.accounts.list_account_purchases("acme").data
    assert made.status == "SUCCESS" and made.id.startswith("purchase.")
    with pytest.raises(ApiException) as twice:
        sdk.accounts.update_proposal_status(proposal.id, tc.UpdateProposalStatus(status="DECLINE"))
    assert twice.value.status == 409
    assert message_of(twice.value) == (
        f"Proposal {proposal.id} is PROPOSAL_APPROVED: only a PROPOSAL_ACTIVE proposal can be decided"
    )

    declined = sdk.accounts.create_proposal(
        "acme",
        tc.CreateProposalRequest(
            type="WALLET_TOPUP", payment_mode="POSTPAID", wallet_topup_details=tc.WalletTopupDetails(topup_amount=7)
        ),
    )
    out = sdk.accounts.update_proposal_status(declined.id, tc.UpdateProposalStatus(status="DECLINE"))
    assert (out.status, out.invoice_id, out.payment_mode) == ("PROPOSAL_DECLINED", None, "POSTPAID")

    expiring = sdk.accounts.create_proposal(
        "acme",
        tc.CreateProposalRequest(
            type="WALLET_TOPUP",
            payment_mode="PREPAID",
            expiry_date=later,
            wallet_topup_details=tc.WalletTopupDetails(topup_amount=3),
        ),
    )
    with session_factory.begin() as session:  # its expiryDate passes
        session.execute(
            update(Purchase)
            .where(Purchase.pk == expiring.id)
            .values(expiry_date=datetime.now(timezone.utc) - timedelta(seconds=1))
        )
    assert sdk.accounts.get_proposal(expiring.id).status == "PROPOSAL_EXPIRED"
    with pytest.raises(ApiException) as expired:
        sdk.accounts.update_proposal_status(expiring.id, tc.UpdateProposalStatus(status="APPROVE"))
    assert expired.value.status == 409 and "is PROPOSAL_EXPIRED" in message_of(expired.value)

    listed = sdk.accounts.list_account_proposals("acme")
    assert [(p.id, p.status) for p in listed.data] == [
        (proposal.id, "PROPOSAL_APPROVED"),
        (declined.id, "PROPOSAL_DECLINED"),
        (expiring.id, "PROPOSAL_EXPIRED"),
    ]
    got = sdk.accounts.get_proposal(proposal.id)
    assert (got.account_id, got.invoice_id, got.status) == ("acme", approved.invoice_id, "PROPOSAL_APPROVED")
    assert Decimal(str(tc.WalletApi(sdk.client).wallet_balance_for_account("acme").balance)) == 50

    with pytest.raises(NotFoundException) as unknown:
        sdk.accounts.get_proposal(made.id)  # a purchase is not a proposal
    assert message_of(unknown.value) == f"Proposal {made.id} not found"
    with pytest.raises(ApiException) as reused:
        sdk.accounts.initiate_one_time_entitlement_plan("acme", _topup(1, key="p-1"))
    assert reused.value.status == 409
    assert message_of(reused.value) == f"idempotencyKey p-1 was already used by proposal {proposal.id}"
    with pytest.raises(BadRequestException) as past:
        sdk.accounts.create_proposal(
            "acme",
            tc.CreateProposalRequest(
                type="WALLET_TOPUP",
                payment_mode="PREPAID",
                expiry_date=datetime.now(timezone.utc) - timedelta(days=1),
                wallet_topup_details=tc.WalletTopupDetails(topup_amount=3),
            ),
        )
    assert message_of(past.value) == "expiryDate must be in the future"


def _purchase_plan(sdk: Sdk, feature_id: str) -> str:
    """A PURCHASE plan: 100 credits of the feature for 12.50 (100 x 0.125), and a 5.25 setup fee."""
    made = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Credit pack",
            type="PURCHASE",
            price_plan_details=tc.CreatePricePlanDetails(
                supported_currencies=["USD"],
                billing_entitlement_rate_cards=[
                    tc.BillingEntitlementRateCard(
                        feature_id=feature_id,
                        feature_configs=[tc.FeatureConfig(effective_until="P1M", feature_credit_limit=100)],
                        invoice_timing="IN_ADVANCE",
                        rate_plan=tc.RatePlan(
                            pricing_model="TIERED", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")]
                        ),
                        rate_values=[tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=0.125)])],
                    )
                ],
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Setup", type="FIXED_FEE")).id,
                        invoice_timing="IN_ADVANCE",
                        type="ONE_TIME",
                        enable_proration=False,
                        rate_values=[tc.CurrencyRateValue(currency="USD", rate=5.25)],
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    return str(made.id)


def test_an_entitlement_grant_purchase_grants_the_plans_credits_and_bills_them(sdk: Sdk) -> None:
    _account(sdk)
    flag = sdk.features.create_feature(tc.CreateFeatureRequest(name="Flag", schema_associations=[]))
    plan_id = _purchase_plan(sdk, flag.id)
    made = sdk.accounts.initiate_one_time_entitlement_plan(
        "acme", tc.CreatePurchaseRequest(type="ENTITLEMENT_GRANT", price_plan_id=plan_id, quantity=3)
    )
    assert (made.status, made.price_plan_id, made.price_plan_version, made.quantity) == ("SUCCESS", plan_id, 1, 3)
    assert Decimal(str(made.price)) == Decimal("53.25")  # 3 x (12.50 + 5.25)
    invoice = sdk.invoices.get_invoice(made.invoice_id)
    assert invoice.invoice_class == "ORDER" and Decimal(str(invoice.total_amount)) == Decimal("53.25")
    [entry] = entries(sdk, flag.id).values()
    assert entry.id == f"{made.id}#0$PURCHASE" and Decimal(str(entry.granted)) == 300 and entry.status == "ACTIVE"
    # a BILLING plan cannot be bought; an unknown plan is 404; no plan is 400
    with pytest.raises(NotFoundException) as unknown:
        sdk.accounts.initiate_one_time_entitlement_plan(
            "acme", tc.CreatePurchaseRequest(type="ENTITLEMENT_GRANT", price_plan_id="nope")
        )
    assert message_of(unknown.value) == "Price plan nope not found"
    with pytest.raises(BadRequestException) as no_plan:
        sdk.accounts.initiate_one_time_entitlement_plan("acme", tc.CreatePurchaseRequest(type="ENTITLEMENT_GRANT"))
    assert message_of(no_plan.value) == "pricePlanId is required for a ENTITLEMENT_GRANT purchase"
    assert [p.id for p in sdk.accounts.list_account_purchases("acme").data] == [made.id]


def test_an_association_purchase_associates_the_plan_through_the_schedules(sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    made = sdk.accounts.initiate_one_time_entitlement_plan(
        "acme",
        tc.CreatePurchaseRequest(
            type="ASSOCIATION", price_plan_id=plan_id, effective_from=date(2024, 3, 1), idempotency_key="assoc"
        ),
    )
    assert (made.status, made.type, made.effective_from) == ("SUCCESS", "ASSOCIATION", date(2024, 3, 1))
    invoice = sdk.invoices.get_invoice(made.invoice_id)
    assert (
        invoice.invoice_class == "ORDER" and Decimal(str(invoice.total_amount)) == 0 and Decimal(str(made.price)) == 0
    )
    [schedule] = sdk.accounts.get_pricing_schedules("acme").data
    assert schedule.price_plan_id == plan_id and schedule.start_date == datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert (
        sdk.accounts.initiate_one_time_entitlement_plan(
            "acme", tc.CreatePurchaseRequest(type="ASSOCIATION", price_plan_id=plan_id, idempotency_key="assoc")
        ).id
        == made.id
    )
    assert len(sdk.accounts.get_pricing_schedules("acme").data) == 1
    with pytest.raises(BadRequestException) as quantity:
        sdk.accounts.initiate_one_time_entitlement_plan(
            "acme", tc.CreatePurchaseRequest(type="ASSOCIATION", price_plan_id=plan_id, quantity=2)
        )
    assert message_of(quantity.value) == "quantity: not for an ASSOCIATION purchase (the plan is associated once)"
    with pytest.raises(BadRequestException) as prepaid:  # a PREPAID purchase buys a PURCHASE plan
        sdk.accounts.initiate_one_time_entitlement_plan(
            "acme", tc.CreatePurchaseRequest(type="PREPAID", price_plan_id=plan_id)
        )
    assert message_of(prepaid.value) == (
        f"pricePlanId: price plan {plan_id} is a BILLING plan; a purchase needs a PURCHASE plan"
    )


def _pay_order(sdk: Sdk, invoice_id: str, amount: str, number: str) -> tc.Payment:
    return tc.PaymentsApi(sdk.client).create_payments(
        tc.CreatePaymentRequest(
            account_id="acme",
            currency="USD",
            total_amount=float(amount),
            external_payment_reference=tc.ExternalPaymentReference(
                source_name="bank", source_type="BANK_TRANSFER", transaction_number=number
            ),
            line_item_records=[
                tc.PaymentLineItemRecord(type="INVOICE", togai_id=invoice_id, amount=float(amount), order=1)
            ],
        )
    )


def test_a_prepaid_purchase_grants_its_credits_once_its_order_invoice_is_paid(sdk: Sdk) -> None:
    _account(sdk)
    flag = sdk.features.create_feature(tc.CreateFeatureRequest(name="Flag", schema_associations=[]))
    plan_id = _purchase_plan(sdk, flag.id)
    request = tc.CreatePurchaseRequest(type="PREPAID", price_plan_id=plan_id, quantity=2, idempotency_key="pre-1")
    made = sdk.accounts.initiate_one_time_entitlement_plan("acme", request)
    assert (made.type, made.status, made.price_plan_version, made.quantity) == ("PREPAID", "SUCCESS", 1, 2)
    assert Decimal(str(made.price)) == Decimal("35.5")  # 2 x (100 x 0.125 + 5.25)
    invoice = sdk.invoices.get_invoice(made.invoice_id)
    assert (invoice.invoice_class, invoice.status) == ("ORDER", "DUE")
    assert Decimal(str(invoice.total_amount)) == Decimal("35.5")
    assert entries(sdk, flag.id) == {}  # nothing granted before the invoice is paid

    # the same idempotencyKey: the first purchase, no second invoice
    again = sdk.accounts.initiate_one_time_entitlement_plan("acme", request)
    assert (again.id, again.invoice_id) == (made.id, made.invoice_id)
    assert [p.id for p in sdk.accounts.list_account_purchases("acme").data] == [made.id]

    _pay_order(sdk, made.invoice_id, "20", "part")  # partly paid: still nothing
    assert sdk.invoices.get_invoice(made.invoice_id).status == "PARTIALLY_PAID"
    assert entries(sdk, flag.id) == {}

    # 8 payments of the 15.50 still owed at once: one is accepted, the credits are granted once
    answers: list[object] = [None] * 8
    barrier = threading.Barrier(8)

    def pay(n: int) -> None:
        barrier.wait()
        try:
            answers[n] = _pay_order(sdk, made.invoice_id, "15.5", f"rest-{n}")
        except ApiException as refused:
            answers[n] = refused

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [a for a in answers if isinstance(a, tc.Payment)]
    refused = [a for a in answers if isinstance(a, ApiException)]
    assert len(accepted) == 1 and len(refused) == 7
    assert all(r.status == 400 for r in refused), [(r.status, message_of(r)) for r in refused]
    paid = sdk.invoices.get_invoice(made.invoice_id)
    assert paid.status == "PAID" and Decimal(str(paid.paid_amount)) == Decimal("35.5")
    [entry] = entries(sdk, flag.id).values()
    assert entry.id == f"{made.id}#0$PURCHASE" and Decimal(str(entry.granted)) == 200 and entry.status == "ACTIVE"


def test_a_prepaid_purchase_paid_after_its_effective_until_is_paid_and_grants_nothing(sdk: Sdk) -> None:
    """The credits' window (from the payment to `effectiveUntil`) has passed when the ORDER invoice is paid: the
    payment and the status change stand, and nothing is granted (they were refused with "effectiveUntil must be
    after effectiveFrom", so such an invoice could never be paid; found by the review)."""
    _account(sdk)
    flag = sdk.features.create_feature(tc.CreateFeatureRequest(name="Flag", schema_associations=[]))
    plan_id = _purchase_plan(sdk, flag.id)
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    for how in ("status", "payment"):
        request = tc.CreatePurchaseRequest(type="PREPAID", price_plan_id=plan_id, effective_until=yesterday)
        made = sdk.accounts.initiate_one_time_entitlement_plan("acme", request)
        if how == "status":
            sdk.invoices.update_invoice(made.invoice_id, tc.UpdateInvoiceRequest(status="PAID"))
        else:
            _pay_order(sdk, made.invoice_id, str(made.price), f"late-{made.id}")
        assert sdk.invoices.get_invoice(made.invoice_id).status == "PAID"
    assert entries(sdk, flag.id) == {}


def test_a_prepaid_proposal_approved_bills_first_and_grants_when_marked_paid(sdk: Sdk) -> None:
    _account(sdk)
    flag = sdk.features.create_feature(tc.CreateFeatureRequest(name="Flag", schema_associations=[]))
    plan_id = _purchase_plan(sdk, flag.id)
    proposal = sdk.accounts.create_proposal(
        "acme", tc.CreateProposalRequest(type="PREPAID", payment_mode="PREPAID", price_plan_id=plan_id)
    )
    assert proposal.status == "PROPOSAL_ACTIVE" and proposal.type == "PREPAID"
    approved = sdk.accounts.update_proposal_status(proposal.id, tc.UpdateProposalStatus(status="APPROVE"))
    assert approved.status == "PROPOSAL_APPROVED" and Decimal(str(approved.price)) == Decimal("17.75")  # 12.50 + 5.25
    assert entries(sdk, flag.id) == {}
    [made] = sdk.accounts.list_account_purchases("acme").data
    assert (made.type, made.status) == ("PREPAID", "SUCCESS")

    sdk.invoices.update_invoice(approved.invoice_id, tc.UpdateInvoiceRequest(status="PAID"))
    [entry] = entries(sdk, flag.id).values()
    assert entry.id == f"{made.id}#0$PURCHASE" and Decimal(str(entry.granted)) == 100
    sdk.invoices.update_invoice(approved.invoice_id, tc.UpdateInvoiceRequest(status="PAID"))  # again: no change
    assert len(entries(sdk, flag.id)) == 1
    with pytest.raises(BadRequestException) as no_plan:
        sdk.accounts.initiate_one_time_entitlement_plan("acme", tc.CreatePurchaseRequest(type="PREPAID"))
    assert message_of(no_plan.value) == "pricePlanId is required for a PREPAID purchase"
