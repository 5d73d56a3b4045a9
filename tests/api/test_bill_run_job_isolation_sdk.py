"""POST /api/invoices/bill_runs through the official SDK, on both engines, with one invoice whose stored plan rate
cannot be computed (issue 14, defect 3): the BILL_RUN job finalizes the organization's other invoices, fails that
one's entry alone with the reason, and answers 200 (before, the whole request failed with a 500 and nothing was
finalized)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from tests.api.conftest import Sdk
from tests.conftest import Tenant
from tests.service.test_billing_isolation import HUGE, _drafts, configure_company, invoices, set_rate


def test_a_bill_run_job_finalizes_around_an_invoice_that_cannot_be_computed(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    # Given acme and zeta on plans of their own since the start of last month; acme's stored rate is out of range
    now = utc_now()
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1).date().isoformat()
    plans = configure_company(session_factory, tenant.org.id, ("acme", "zeta"), last_month, now - timedelta(days=70))
    set_rate(session_factory, tenant.org.id, plans["acme"], HUGE)

    # When a bill run is asked for through the API
    assert sdk.invoices.create_invoice_bill_run().success is True

    # Then zeta's invoice is finalized; acme's stays DRAFT, and its job entry failed with the reason
    assert invoices(session_factory, tenant.org.id, this_month) == [
        ("acme", "DRAFT", None, None),
        ("zeta", "DUE", "INV-000001", Decimal("10.00")),
    ]
    [(draft,)] = _drafts(session_factory, tenant.org.id, this_month)
    [job] = [j for j in sdk.jobs.get_jobs().data if j.type == "BILL_RUN"]
    entries = {e.entity_id: e for e in sdk.jobs.get_job_entries(job.id).data}
    assert sdk.jobs.get_job_status(job.id).status == "COMPLETED"
    assert entries[draft].status == "FAILED"
    assert entries[draft].metadata["reason"].startswith(f"Invoice {draft} could not be finalized: InvalidOperation")
    assert {e.status for pk, e in entries.items() if pk != draft} == {"COMPLETED"}

    # And reading that draft through the API is a 409 that says why, never a 500: the invoice, its PDF, the list
    why = f"Draft invoice {draft} cannot be computed now: InvalidOperation: an amount out of the range"
    for path in (f"/invoices/{draft}", f"/invoices/{draft}/pdf", "/invoices?status=DRAFT"):
        answer = httpx.get(f"{tenant.base_url}/api{path}", headers={"Authorization": f"Bearer {tenant.token}"})
        assert answer.status_code == 409, (path, answer.text)
        assert answer.json()["message"].startswith(why), answer.json()
