"""InvoiceGroupsApi through the official SDK against a live server, on both engines; and the account's
`invoiceGroupDetails` (GET /accounts/{id}?includeGroupDetails=true)."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from togai_client import (
    Address,
    CreateAccountRequest,
    CreateCustomerRequest,
    CreateCustomInvoiceRequest,
    CreateInvoiceGroupRequest,
    CustomInvoiceLineItem,
    UpdateInvoiceGroupAccounts,
    UpdateInvoiceRequest,
)
from togai_client.exceptions import BadRequestException, NotFoundException

from meterline.files.models import StoredFile
from meterline.invoice_groups.models import CompositeInvoice
from meterline.usecases import bill_runs
from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant
from tests.service.test_billing_isolation import configure_company


def _accounts(sdk: Sdk) -> None:
    """Customer acme with accounts acme (USD), acme-2 (USD), acme-3 (USD) and acme-eu (EUR)."""
    sdk.customers.create_customer(
        CreateCustomerRequest(
            id="acme", name="Acme Inc", primary_email="billing@acme.test", address=Address(line1="1 Main St")
        )
    )
    for account_id, currency in (("acme-2", "USD"), ("acme-3", "USD"), ("acme-eu", "EUR")):
        sdk.accounts.create_account(
            CreateAccountRequest(
                id=account_id, name=f"Acme {account_id}", customer_id="acme", invoice_currency=currency
            )
        )


def _group(account_ids: list[str], **kwargs: object) -> CreateInvoiceGroupRequest:
    return CreateInvoiceGroupRequest(
        name=kwargs.pop("name", "Acme group"),
        email="ap@acme.test",
        daily_invoice_consolidation=kwargs.pop("daily_invoice_consolidation", False),
        account_ids=account_ids,
        net_term_days=kwargs.pop("net_term_days", 30),
        address=Address(line1="2 Group Rd", city="Springfield", country="US"),
    )


def test_the_five_operations_and_the_accounts_group_details(sdk: Sdk) -> None:
    _accounts(sdk)
    response = sdk.invoice_groups.create_invoice_group_with_http_info(_group(["acme", "acme-2"]))
    assert response.status_code == 200
    created = response.data
    assert created.id.startswith("igroup.")
    assert (created.name, created.email, created.daily_invoice_consolidation) == ("Acme group", "ap@acme.test", False)
    assert (created.net_term_days, created.invoice_currency, created.accounts_count) == (30, "USD", 2)
    assert created.billing_address.line1 == "2 Group Rd" and created.billing_address.country == "US"
    assert created.created_at == created.updated_at

    got = sdk.invoice_groups.get_invoice_group(created.id)
    assert got.accounts == ["acme", "acme-2"] and got.accounts_count == 2 and got.name == "Acme group"

    added = sdk.invoice_groups.add_invoice_group_accounts_with_http_info(
        created.id,
        UpdateInvoiceGroupAccounts(account_ids=["acme-3", "acme-2"]),  # acme-2 is in it already: kept
    )
    assert added.status_code == 200 and added.data.accounts_count == 3
    assert sdk.invoice_groups.get_invoice_group(created.id).accounts == ["acme", "acme-2", "acme-3"]

    second = sdk.invoice_groups.create_invoice_group(_group(["acme-eu"], name="EU", daily_invoice_consolidation=True))
    assert second.invoice_currency == "EUR" and second.daily_invoice_consolidation is True
    listed = sdk.invoice_groups.list_invoice_groups()
    assert [(g.id, g.accounts_count) for g in listed.data] == [(created.id, 3), (second.id, 1)]

    # includeGroupDetails fills invoiceGroupDetails; without it, or for an account in no group, it stays empty
    detailed = sdk.accounts.get_account("acme-2", include_group_details=True)
    details = detailed.invoice_group_details
    assert (details.id, details.name, details.email, details.net_term_days) == (
        created.id,
        "Acme group",
        "ap@acme.test",
        30,
    )
    assert details.invoice_currency == "USD" and details.billing_address.city == "Springfield"
    assert details.daily_invoice_consolidation is False
    assert sdk.accounts.get_account("acme-2").invoice_group_details is None
    assert sdk.accounts.get_account("acme-2", include_group_details=False).invoice_group_details is None

    removed = sdk.invoice_groups.remove_invoice_group_accounts_with_http_info(
        created.id, UpdateInvoiceGroupAccounts(account_ids=["acme-2"])
    )
    assert removed.status_code == 200 and removed.data.success is True
    assert sdk.invoice_groups.get_invoice_group(created.id).accounts == ["acme", "acme-3"]
    assert sdk.accounts.get_account("acme-2", include_group_details=True).invoice_group_details is None

    # removing the last accounts deletes the group
    sdk.invoice_groups.remove_invoice_group_accounts(
        created.id, UpdateInvoiceGroupAccounts(account_ids=["acme", "acme-3"])
    )
    with pytest.raises(NotFoundException) as raised:
        sdk.invoice_groups.get_invoice_group(created.id)
    assert message_of(raised.value) == f"Invoice group {created.id} not found"
    assert [g.id for g in sdk.invoice_groups.list_invoice_groups().data] == [second.id]
    # its accounts are free again
    again = sdk.invoice_groups.create_invoice_group(_group(["acme-2", "acme"]))
    assert again.accounts_count == 2


def test_refusals_say_why(sdk: Sdk) -> None:
    _accounts(sdk)
    group = sdk.invoice_groups.create_invoice_group(_group(["acme"]))

    def refused(call: object, *args: object) -> str:
        with pytest.raises(BadRequestException) as raised:
            call(*args)  # type: ignore[operator]
        return message_of(raised.value)

    create, add = sdk.invoice_groups.create_invoice_group, sdk.invoice_groups.add_invoice_group_accounts
    assert refused(create, _group(["acme-2", "acme-eu"])) == (
        "Account acme-eu invoices in EUR: the accounts of an invoice group share one currency, USD"
    )
    assert refused(add, group.id, UpdateInvoiceGroupAccounts(account_ids=["acme-eu"])) == (
        "Account acme-eu invoices in EUR: the accounts of an invoice group share one currency, USD"
    )
    assert refused(create, _group(["acme-2", "acme"])) == (
        f"Account acme is already in invoice group {group.id}: an account is in at most one group"
    )
    assert refused(create, _group(["acme-2", "acme-2"])) == "accountIds: account acme-2 is named twice"
    assert (
        refused(
            sdk.invoice_groups.remove_invoice_group_accounts,
            group.id,
            UpdateInvoiceGroupAccounts(account_ids=["acme-2"]),
        )
        == f"Account acme-2 is not in invoice group {group.id}"
    )
    with pytest.raises(NotFoundException) as missing:
        create(_group(["acme-2", "nobody"]))
    assert message_of(missing.value) == "Account nobody not found"
    with pytest.raises(NotFoundException) as missing:
        add("igroup.nope", UpdateInvoiceGroupAccounts(account_ids=["acme-2"]))
    assert message_of(missing.value) == "Invoice group igroup.nope not found"
    # nothing of the refused requests was kept
    assert sdk.invoice_groups.get_invoice_group(group.id).accounts == ["acme"]
    assert [g.id for g in sdk.invoice_groups.list_invoice_groups().data] == [group.id]

    # at most 100 accounts in a group
    many = [f"many-{i:03d}" for i in range(100)]
    for account_id in many:
        sdk.accounts.create_account(CreateAccountRequest(id=account_id, name=account_id, customer_id="acme"))
    add(group.id, UpdateInvoiceGroupAccounts(account_ids=many[:99]))
    assert refused(add, group.id, UpdateInvoiceGroupAccounts(account_ids=many[99:])) == (
        f"Invoice group {group.id} has 100 accounts: 1 more would pass the 100 a group can have"
    )
    assert sdk.invoice_groups.get_invoice_group(group.id).accounts_count == 100


def test_deleting_an_account_takes_it_out_of_its_group_and_another_organization_sees_nothing(
    sdk: Sdk, other_sdk: Sdk
) -> None:
    _accounts(sdk)
    group = sdk.invoice_groups.create_invoice_group(_group(["acme-2", "acme-3"]))
    sdk.accounts.delete_account("acme-2")
    assert sdk.invoice_groups.get_invoice_group(group.id).accounts == ["acme-3"]
    sdk.accounts.delete_account("acme-3")  # the last one: the group goes with it
    with pytest.raises(NotFoundException, match=f"Invoice group {group.id} not found"):
        sdk.invoice_groups.get_invoice_group(group.id)

    mine = sdk.invoice_groups.create_invoice_group(_group(["acme"]))
    with pytest.raises(NotFoundException) as raised:
        other_sdk.invoice_groups.get_invoice_group(mine.id)
    assert message_of(raised.value) == f"Invoice group {mine.id} not found"
    assert other_sdk.invoice_groups.list_invoice_groups().data == []


def test_a_daily_groups_composite_invoice_is_read_through_get_invoice(
    sdk: Sdk, other_sdk: Sdk, other_tenant: Tenant, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    # Given acme and acme-2 in a daily group, and a custom invoice of each finalized today (DUE)
    _accounts(sdk)
    group = sdk.invoice_groups.create_invoice_group(_group(["acme", "acme-2"], daily_invoice_consolidation=True))
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    made = [
        sdk.invoices.create_custom_invoice(
            CreateCustomInvoiceRequest(
                account_id=account_id,
                start_date=start,
                end_date=start + timedelta(days=1),
                status="DUE",
                line_items=[CustomInvoiceLineItem(description="Setup", value=value)],
            )
        )
        for account_id, value in (("acme", 10.01), ("acme-2", 20.02))
    ]
    # When the bill run of tomorrow (the day is over) runs
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    result = bill_runs.run(session_factory, tomorrow, now=tomorrow, org_id=tenant.org.id)
    assert result.composites == 1 and result.failures == []
    # Then one COMPOSITE invoice, owned by the group, holds both: 30.03, numbered after them
    with session_factory() as session:
        [composite_id] = session.scalars(select(CompositeInvoice.pk).where(CompositeInvoice.org_id == tenant.org.id))
    composite = sdk.invoices.get_invoice(composite_id)
    assert (composite.invoice_type, composite.owner_id, composite.status) == ("COMPOSITE", group.id, "DUE")
    assert composite.total_amount == 30.03 and composite.paid_amount == 0  # (the SDK reads numbers as floats)
    numbers = sorted(int(i.sequence_id.removeprefix("INV-")) for i in made)
    assert composite.sequence_id == f"INV-{numbers[-1] + 1:06d}"
    assert composite.invoice_details.invoice_group.id == group.id
    assert composite.invoice_details.invoice_group.address.line1 == "2 Group Rd"
    with tenant.http() as http:  # raw: the lines (the SDK is answered without them)
        raw = http.get(f"/invoices/{composite_id}").json()
    assert raw["revenueInfo"]["type"] == "GRAND_TOTAL_AMOUNT" and raw["revenueInfo"]["value"] == 30.03
    assert [(m["id"], m["value"]) for m in raw["revenueInfo"]["lineItems"]] == [
        (made[0].id, 10.01),
        (made[1].id, 20.02),
    ]
    # and GET /invoices lists it after its members (creation order), owner the group; not among an account's
    listed = sdk.invoices.list_invoices()
    assert [(i.id, i.invoice_type) for i in listed.data] == [
        (made[0].id, "CUSTOM"),
        (made[1].id, "CUSTOM"),
        (composite_id, "COMPOSITE"),
    ]
    summary = listed.data[2]
    assert (summary.owner_id, summary.total_amount, summary.sequence_id) == (group.id, 30.03, composite.sequence_id)
    assert summary.pdf_url == composite.pdf_url == f"/api/files/file.{composite_id}"
    assert [i.id for i in sdk.invoices.list_invoices(owner_id=group.id).data] == [composite_id]
    assert [i.id for i in sdk.invoices.list_invoices(owner_id="acme").data] == [made[0].id]
    assert [i.id for i in sdk.invoices.list_invoices(customer_id="acme").data] == [made[0].id, made[1].id]
    first = sdk.invoices.list_invoices(page_size=2)
    assert [i.id for i in first.data] == [made[0].id, made[1].id] and first.next_token
    rest = sdk.invoices.list_invoices(page_size=2, next_token=first.next_token)
    assert [i.id for i in rest.data] == [composite_id] and rest.next_token is None
    # its PDF, at its pdfUrl: the group, each member's lines, the exact total
    with tenant.http() as http:
        pdf = http.get(f"/invoices/{composite_id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{composite.sequence_id}.pdf"' in pdf.headers["content-disposition"]
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split())
    assert "BILL TO Acme group ap@acme.test 2 Group Rd Springfield US Net terms: 30 days" in text
    assert "Setup USD 10.01" in text and "Setup USD 20.02" in text
    assert "Total USD 30.03 Paid USD 0.00 Amount due USD 30.03" in text
    # another organization sees none of it
    assert other_sdk.invoices.list_invoices().data == []
    assert other_sdk.invoices.list_invoices(owner_id=group.id).data == []
    with pytest.raises(NotFoundException, match=composite_id):
        other_sdk.invoices.get_invoice(composite_id)
    with other_tenant.http() as http:
        other = http.get(f"/invoices/{composite_id}/pdf")
    assert other.status_code == 404 and composite_id in other.json()["message"]
    # and paying a member shows on it
    sdk.invoices.update_invoice(made[0].id, UpdateInvoiceRequest(status="PAID"))
    paid = sdk.invoices.get_invoice(composite_id)
    assert (paid.paid_amount, paid.status) == (10.01, "PARTIALLY_PAID")
    assert [i.id for i in sdk.invoices.list_invoices(status="PARTIALLY_PAID").data] == [composite_id]
    assert bill_runs.run(session_factory, tomorrow, now=tomorrow, org_id=tenant.org.id).composites == 0


def test_a_bill_run_job_makes_the_groups_composite_in_the_same_run(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    # Given acme and zeta on plans of 10.00 a month since the start of last month, in one group
    now = datetime.now(timezone.utc)
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1).date().isoformat()
    configure_company(session_factory, tenant.org.id, ("acme", "zeta"), last_month, now - timedelta(days=70))
    group = sdk.invoice_groups.create_invoice_group(_group(["acme", "zeta"]))
    # When a bill run job waits for confirmation, nothing is made yet
    assert sdk.invoices.create_invoice_bill_run(require_confirmation=True).success is True
    [job] = [j for j in sdk.jobs.get_jobs().data if j.type == "BILL_RUN"]
    assert sdk.invoices.list_invoices(owner_id=group.id).data == []
    # When it is confirmed, it finalizes last month's invoices and makes their composite in the same run
    sdk.jobs.confirm_job(job.id)
    assert sdk.jobs.get_job_status(job.id).status == "COMPLETED"
    [composite] = sdk.invoices.list_invoices(owner_id=group.id).data
    assert (composite.invoice_type, composite.status, composite.total_amount) == ("COMPOSITE", "DUE", 20)
    members = [i for i in sdk.invoices.list_invoices(status="DUE").data if i.invoice_type == "STANDARD"]
    assert sorted(i.owner_id for i in members) == ["acme", "zeta"] and {i.total_amount for i in members} == {10}
    assert composite.due_date == composite.invoice_date + timedelta(days=30)
    assert {i.due_date for i in members} == {composite.due_date}
    # and another bill run makes nothing more
    sdk.invoices.create_invoice_bill_run()
    assert [i.id for i in sdk.invoices.list_invoices(owner_id=group.id).data] == [composite.id]


def test_a_composites_pdf_is_a_stored_file_made_once_by_simultaneous_first_requests(
    sdk: Sdk, other_tenant: Tenant, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    # Given a daily group's composite of acme's 10.01 and acme-2's 20.02 (both DUE)
    _accounts(sdk)
    sdk.invoice_groups.create_invoice_group(_group(["acme", "acme-2"], daily_invoice_consolidation=True))
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    made = [
        sdk.invoices.create_custom_invoice(
            CreateCustomInvoiceRequest(
                account_id=account_id,
                start_date=start,
                end_date=start + timedelta(days=1),
                status="DUE",
                line_items=[CustomInvoiceLineItem(description="Setup", value=value)],
            )
        )
        for account_id, value in (("acme", 10.01), ("acme-2", 20.02))
    ]
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    assert bill_runs.run(session_factory, tomorrow, now=tomorrow, org_id=tenant.org.id).composites == 1
    with session_factory() as session:
        [composite_id] = session.scalars(select(CompositeInvoice.pk).where(CompositeInvoice.org_id == tenant.org.id))
    file_id = f"file.{composite_id}"
    composite = sdk.invoices.get_invoice(composite_id)
    assert composite.pdf_url == f"/api/files/{file_id}"  # the file, before anyone asked for it
    with session_factory() as session:
        assert session.get(StoredFile, file_id) is None  # made lazily
    # When eight first requests come at once
    answers: list[httpx.Response | None] = [None] * 8
    barrier = threading.Barrier(8)

    def ask(n: int) -> None:
        with tenant.http() as http:
            barrier.wait()
            answers[n] = http.get(f"/files/{file_id}/download_url")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then all get it, the same bytes, stored once under the composite's number
    assert [a.status_code if a is not None else None for a in answers] == [200] * 8
    contents = {httpx.get(a.json()["downloadUrl"], timeout=30).content for a in answers if a is not None}
    [stored] = contents
    with session_factory() as session:
        rows = session.scalars(select(StoredFile).where(StoredFile.pk == file_id)).all()
    assert [(r.name, r.size) for r in rows] == [(f"{composite.sequence_id}.pdf", len(stored))]
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(stored)).pages).split())
    assert f"Number {composite.sequence_id} Status Due" in text
    assert "BILL TO Acme group ap@acme.test 2 Group Rd Springfield US Net terms: 30 days" in text
    assert "Total USD 30.03 Paid USD 0.00 Amount due USD 30.03" in text
    # When a member is paid, the API and the live PDF show it; the stored file is the composite as issued
    sdk.invoices.update_invoice(made[0].id, UpdateInvoiceRequest(status="PAID"))
    assert sdk.invoices.get_invoice(composite_id).pdf_url == f"/api/files/{file_id}"
    with tenant.http() as http:
        answer = http.get(f"/files/{file_id}")
        live = http.get(f"/invoices/{composite_id}/pdf")
    assert answer.status_code == 302
    assert httpx.get(answer.headers["location"], timeout=30).content == stored
    live_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(live.content)).pages).split())
    assert "Status Partially paid" in live_text and "Paid USD 10.01 Amount due USD 20.02" in live_text
    # and another organization finds no such file
    with other_tenant.http() as http:
        other = http.get(f"/files/{file_id}/download_url")
    assert other.status_code == 404 and other.json()["message"] == f"File {file_id} not found"
