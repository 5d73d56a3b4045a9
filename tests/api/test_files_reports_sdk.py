"""FileStorageApi (`get_file`, `get_download_url`) and ReportsApi (`list_reports`) through the official SDK against
live servers on both engines, with the local store (a directory of the test) and with S3 (a real S3-compatible
server, moto's): reports run from templates and queries, checked row by row against the API."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
import togai_client as tc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from togai_client.exceptions import ApiException

from meterline.core.db import create_db_engine, make_session_factory
from meterline.files.models import StoredFile
from meterline.reports.models import Report
from tests.api.billing_setup import acme_invoices, bill_acme
from tests.api.conftest import Sdk, create_metering_catalog, message_of
from tests.conftest import (
    Tenant,
    files_dir_of,
    fresh_database,
    new_tenant,
    start_server,
    stop_server,
)
from tests.s3_server import S3Server, s3_server

UTC = timezone.utc
WIDE = {"fromDate": "2000-01-01T00:00:00Z", "toDate": "2100-01-01T00:00:00Z"}


def _stop_and_check(process: Any, log: Path) -> None:
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the server logged errors:\n{log.read_text()}"


@pytest.fixture(scope="module")
def files_dir(db_url: str) -> Path:
    return files_dir_of(db_url)


@pytest.fixture(scope="module")
def local_server(db_url: str, files_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    process, base_url = start_server(db_url, log)  # its store: files_dir (every server of db_url shares it)
    yield base_url
    _stop_and_check(process, log)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        server.client().create_bucket(Bucket="meterline-reports")
        yield server


@pytest.fixture(scope="module")
def s3_db_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own for the S3 server, on the same engine: every process of one database must use the same
    store (its report runner may run any report of the database; docs/operations.md), and the local server's runner
    works on `db_url`."""
    with fresh_database(db_url, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def s3_factory(s3_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(s3_db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def s3_meterline(s3_db_url: str, s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    process, base_url = start_server(s3_db_url, log, env=s3.env("meterline-reports"))
    yield base_url
    _stop_and_check(process, log)


@pytest.fixture
def tenant(session_factory: sessionmaker[Session], local_server: str) -> Tenant:
    return new_tenant(session_factory, local_server)


@pytest.fixture
def sdk(tenant: Tenant) -> Iterator[Sdk]:
    client = Sdk(tenant)
    yield client
    client.close()


def run_report(tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    with tenant.http() as http:
        return http.post("/reports", json=body)


# How long a report of a few rows may take to be run by the server's report runner (a round every second): a bound
# of correctness (a report never run fails the test), not a timing of anything.
RUN_BOUND = 60.0


def finished(http: httpx.Client, report_id: str) -> dict[str, Any]:
    """The report once the background runner is done with it (COMPLETED or FAILED)."""
    deadline = time.monotonic() + RUN_BOUND
    while True:
        report: dict[str, Any] = http.get(f"/reports/{report_id}").json()
        if report["status"] in ("COMPLETED", "FAILED"):
            return report
        assert report["status"] in ("QUEUED", "RUNNING"), report
        assert time.monotonic() < deadline, f"report {report_id} still {report['status']} after {RUN_BOUND} s"
        time.sleep(0.2)


def completed(tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    answer = run_report(tenant, body)
    assert answer.status_code == 201, answer.text
    queued: dict[str, Any] = answer.json()
    assert queued["status"] == "QUEUED" and queued.get("fileId") is None and queued.get("preSignedUrl") is None
    with tenant.http() as http:
        report = finished(http, queued["id"])
    assert report["status"] == "COMPLETED", report
    assert report["createdAt"] == queued["createdAt"] and report["name"] == queued["name"]
    return report


def refusal(tenant: Tenant, body: dict[str, Any]) -> str:
    answer = run_report(tenant, body)
    assert answer.status_code == 400, answer.text
    return str(answer.json()["message"])


def download(sdk: Sdk, file_id: str, expiry: int | None = None) -> list[list[str]]:
    url = tc.FileStorageApi(sdk.client).get_download_url(file_id, expiry=expiry).download_url
    answer = httpx.get(url, timeout=30)  # no credentials: the signed link is the credential
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(answer.text)))


def billed_and_finalized(sdk: Sdk) -> None:
    catalog = create_metering_catalog_for_acme(sdk)
    bill_acme(sdk, catalog)
    assert sdk.invoices.create_invoice_bill_run().success is True


def create_metering_catalog_for_acme(sdk: Sdk) -> dict[str, str]:
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    return create_metering_catalog(sdk)


def test_an_invoices_report_matches_the_invoices_and_downloads_through_signed_links(
    sdk: Sdk, tenant: Tenant, files_dir: Path
) -> None:
    billed_and_finalized(sdk)
    report = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "invoices_per_period", **WIDE})
    assert report["reportTemplateId"] == "invoices_per_period" and report["type"] == "TEMPLATE"
    assert report["fileId"].startswith("file.") and report["preSignedUrl"]
    # the CSV, row by row against the invoices the API lists (finalized ones: DRAFTs have no total yet)
    rows = download(sdk, report["fileId"])
    header, body = rows[0], rows[1:]
    assert header[:4] == ["invoiceNumber", "id", "status", "accountId"] and header[-2:] == ["totalAmount", "paidAmount"]
    finalized = [i for i in acme_invoices(sdk) if i.status != "DRAFT"]
    assert len(finalized) == 2 and len(body) == 2
    for row, summary in zip(body, sorted(finalized, key=lambda i: (i.invoice_date, i.id)), strict=True):
        invoice = sdk.invoices.get_invoice(summary.id)
        record = dict(zip(header, row, strict=True))
        assert record["id"] == invoice.id and record["status"] == invoice.status
        assert record["invoiceNumber"] == invoice.sequence_id and record["accountId"] == "acme"
        assert record["customerId"] == "acme" and record["currency"] == "USD"
        assert Decimal(record["totalAmount"]) == Decimal(str(invoice.total_amount))
    # the file is in the local store, under the organization
    assert (files_dir / tenant.org.id / report["fileId"]).is_file()
    # the SDK's list, newest first
    listed = tc.ReportsApi(sdk.client).list_reports()
    assert [r.id for r in listed.data] == [report["id"]]
    assert listed.data[0].status == "COMPLETED" and listed.data[0].file_id == report["fileId"]
    # get_file: a 302 to a signed, expiring link (the SDK follows it, as urllib3 does, and answers None)
    assert tc.FileStorageApi(sdk.client).get_file(report["fileId"]) is None
    with tenant.http() as http:
        answer = http.get(f"/files/{report['fileId']}")
    assert answer.status_code == 302
    location = answer.headers["location"]
    query = parse_qs(urlparse(location).query)
    assert location.startswith(f"{tenant.base_url}/api/files/{report['fileId']}/content?")
    assert 3590 <= int(query["expires"][0]) - time.time() <= 3600
    assert httpx.get(location, timeout=30).text.splitlines()[0].startswith("invoiceNumber,id,status")


def test_signed_links_expire_and_cannot_be_altered(sdk: Sdk, tenant: Tenant) -> None:
    create_metering_catalog_for_acme(sdk)
    report = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "wallet_ledger", **WIDE})
    files = tc.FileStorageApi(sdk.client)
    url = files.get_download_url(report["fileId"], expiry=1).download_url
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    base = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    refused = "This download link is invalid or has expired"
    later = dict(query, expires=str(int(query["expires"]) + 3600))  # a longer life: the signature no longer fits
    for tampered in (later, dict(query, signature="0" * 64), {"expires": query["expires"], "signature": ""}):
        answer = httpx.get(f"{base}?{urlencode(tampered)}", timeout=30)
        assert answer.status_code == 403 and answer.json()["message"] == refused
    other_file = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "credit_ledger", **WIDE})["fileId"]
    swapped = base.replace(report["fileId"], other_file)
    answer = httpx.get(f"{swapped}?{urlencode(query)}", timeout=30)  # another file's link
    assert answer.status_code == 403 and answer.json()["message"] == refused
    while time.time() < int(query["expires"]):  # the link's last second passes
        time.sleep(0.2)
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 403 and answer.json()["message"] == refused
    for bad in (0, 604801):
        with pytest.raises(ApiException) as raised:
            files.get_download_url(report["fileId"], expiry=bad)
        assert raised.value.status == 400
        assert message_of(raised.value) == f"expiry must be between 1 and 604800 seconds; got {bad}"


def test_files_and_reports_of_another_organization_are_not_found(
    sdk: Sdk, tenant: Tenant, other_sdk: Sdk, session_factory: sessionmaker[Session]
) -> None:
    report = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "failed_events", **WIDE})
    # its REPORT job is Meterline's own: JobsApi (whose SDK knows three job types) neither lists nor reads it
    with session_factory() as s:
        job_id = s.get(Report, report["id"]).job_pk  # type: ignore[union-attr]
    assert job_id is not None and job_id not in [j.id for j in sdk.jobs.get_jobs().data]
    for read in (sdk.jobs.get_job_status, sdk.jobs.get_job_entries, sdk.jobs.confirm_job, sdk.jobs.reject_job):
        with pytest.raises(ApiException) as raised:
            read(job_id)
        assert raised.value.status == 404 and message_of(raised.value) == f"Job {job_id} not found"
    for call in (tc.FileStorageApi(other_sdk.client).get_download_url, tc.FileStorageApi(other_sdk.client).get_file):
        with pytest.raises(ApiException) as raised:
            call(report["fileId"])
        assert raised.value.status == 404 and message_of(raised.value) == f"File {report['fileId']} not found"
    assert tc.ReportsApi(other_sdk.client).list_reports().data == []


@pytest.fixture
def other_sdk(session_factory: sessionmaker[Session], local_server: str) -> Iterator[Sdk]:
    client = Sdk(new_tenant(session_factory, local_server))
    yield client
    client.close()


def ingest(sdk: Sdk, event_id: str, account: str, calls: str, at: datetime) -> None:
    tc.EventIngestionApi(sdk.client).ingest(
        tc.IngestEventRequest(
            event=tc.Event(
                id=event_id,
                schema_name="api_calls",
                account_id=account,
                timestamp=at,
                attributes=[tc.Attribute(name="calls", value=calls)],
                dimensions={"region": "us"},
            )
        )
    )


def test_usage_and_failed_events_reports_and_a_query_with_aggregates(sdk: Sdk, tenant: Tenant) -> None:
    catalog = create_metering_catalog_for_acme(sdk)
    bill_acme(sdk, catalog)
    sdk.accounts.create_account(tc.CreateAccountRequest(id="acme-2", name="Second", customer_id="acme"))
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(sdk, "e1", "acme", "10.5", now - timedelta(minutes=5))
    ingest(sdk, "e2", "acme", "0.25", now - timedelta(minutes=4))
    with pytest.raises(ApiException, match="No account has id or alias 'nobody'"):
        ingest(sdk, "e3", "nobody", "7", now - timedelta(minutes=3))  # refused, and kept as a failed event
    usage = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "usage_per_account_and_meter", **WIDE})
    header, *rows = download(sdk, usage["fileId"])
    assert header == ["accountId", "customerId", "usageMeterId", "usageMeterName", "usage", "events"]
    by_meter = {r[2]: r for r in rows}
    assert by_meter[catalog["sum"]][4] == "10.75" and by_meter[catalog["sum"]][5] == "2"  # exact: 10.5 + 0.25
    assert by_meter[catalog["count"]][4] == "2" and {r[0] for r in rows} == {"acme"}
    failed = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "failed_events", **WIDE})
    header, *rows = download(sdk, failed["fileId"])
    assert [dict(zip(header, r, strict=True))["eventId"] for r in rows] == ["e3"]
    assert dict(zip(header, rows[0], strict=True))["status"] == "INGESTION_FAILED_ACCOUNT_NOT_FOUND"
    # a query: accounts of acme, sorted, limited; and one with aggregates
    query = completed(
        tenant,
        {
            "type": "QUERY",
            "name": "acme's accounts",
            "queryInput": {
                "baseDataSource": "accounts",
                "selects": [{"columnName": "id"}, {"columnName": "name", "alias": "accountName"}],
                "queryFilters": [{"column": {"columnName": "customerId"}, "operator": "EQ", "args": ["acme"]}],
                "sort": [{"column": {"columnName": "id"}, "sortOrder": "DESC"}],
                "limit": 1,
            },
        },
    )
    assert download(sdk, query["fileId"]) == [["id", "accountName"], ["acme-2", "Second"]]
    listed = tc.ReportsApi(sdk.client).list_reports(page_size=1)
    assert listed.data[0].id == query["id"] and listed.data[0].query_input.base_data_source == "accounts"
    assert listed.data[0].type == "QUERY" and listed.data[0].query_input.limit == 1 and listed.next_token
    counted = completed(
        tenant,
        {
            "type": "QUERY",
            "queryInput": {
                "baseDataSource": "events",
                "selects": [{"columnName": "status"}, {"columnName": "referenceId", "aggregator": "COUNT"}],
                "sort": [{"column": {"columnName": "status"}, "sortOrder": "ASC"}],
                "limit": 10,
            },
        },
    )
    assert download(sdk, counted["fileId"]) == [
        ["status", "count_referenceId"],
        ["INGESTION_COMPLETED_EVENT_METERED", "2"],
        ["INGESTION_FAILED_ACCOUNT_NOT_FOUND", "1"],
    ]


def test_fetch_for_organization_and_accounts(sdk: Sdk, tenant: Tenant) -> None:
    create_metering_catalog_for_acme(sdk)
    whole = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "credit_ledger", **WIDE})
    one = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "credit_ledger", "account_id": "acme", **WIDE})
    sdk.accounts.create_account(tc.CreateAccountRequest(id="acme-2", name="Second", customer_id="acme"))
    # a query for one account keeps that account's rows only
    scoped = completed(
        tenant,
        {
            "type": "QUERY",
            "account_id": "acme-2",
            "queryInput": {"baseDataSource": "accounts", "selects": [{"columnName": "id"}], "sort": [], "limit": 10},
        },
    )
    assert download(sdk, scoped["fileId"]) == [["id"], ["acme-2"]]
    reports = tc.ReportsApi(sdk.client)
    assert [r.id for r in reports.list_reports(fetch_for="ACCOUNTS").data] == [scoped["id"], one["id"]]
    with tenant.http() as http:
        mine = http.get("/reports", params={"fetchFor": "ACCOUNTS", "account_id": "acme"}).json()["data"]
    assert [r["id"] for r in mine] == [one["id"]] and mine[0]["account_id"] == "acme"
    scoped_query = reports.list_reports(fetch_for="ACCOUNTS").data[0].query_input
    assert scoped_query.query_filters[-1].column.column_name == "id" and scoped_query.query_filters[-1].args == [
        "acme-2"
    ]
    assert [r.id for r in reports.list_reports(fetch_for="ALL").data][1:] == [one["id"], whole["id"]]
    assert [r.id for r in reports.list_reports().data] == [scoped["id"], one["id"], whole["id"]]
    assert [r.id for r in reports.list_reports(fetch_for="ORGANIZATION").data] == [whole["id"]]
    with pytest.raises(ApiException) as raised:
        reports.list_reports(fetch_for="EVERYONE")
    assert message_of(raised.value) == "fetchFor: must be one of ALL, ORGANIZATION, ACCOUNTS; got EVERYONE"


def _query(**changes: Any) -> dict[str, Any]:
    query: dict[str, Any] = {
        "baseDataSource": "invoices",
        "selects": [{"columnName": "id"}],
        "sort": [],
        "limit": 10,
    }
    return {"type": "QUERY", "queryInput": {**query, **changes}}


def test_bad_input_is_a_400_naming_the_field_and_no_sql_comes_from_the_request(sdk: Sdk, tenant: Tenant) -> None:
    assert refusal(tenant, _query(baseDataSource="invoices; DROP TABLE invoices")).startswith(
        "queryInput.baseDataSource: no data source invoices; DROP TABLE invoices; the sources: invoices, usage,"
    )
    assert refusal(tenant, _query(selects=[{"columnName": "id"}, {"columnName": "pk) FROM jobs --"}])).startswith(
        "queryInput.selects[1].columnName: invoices has no column pk) FROM jobs --; its columns: id, invoiceNumber"
    )
    filters = [{"column": {"columnName": "totalAmount"}, "operator": "GT", "args": ["1 OR 1=1"]}]
    assert refusal(tenant, _query(queryFilters=filters)) == (
        "queryInput.queryFilters[0].args[0]: must be a number; got '1 OR 1=1'"
    )
    filters = [{"column": {"columnName": "status"}, "operator": "LIKE", "args": ["x"]}]
    assert refusal(tenant, _query(queryFilters=filters)).startswith(
        "queryInput.queryFilters[0].operator: must be one of EQ, NEQ, GT"
    )
    filters = [{"column": {"columnName": "status"}, "operator": "BETWEEN", "args": ["x"]}]
    assert refusal(tenant, _query(queryFilters=filters)) == (
        "queryInput.queryFilters[0].args: BETWEEN takes 2 values; got 1"
    )
    assert refusal(tenant, _query(limit=10001)) == "queryInput.limit: must be from 1 to 10000; got 10001"
    assert refusal(tenant, _query(sort=[{"column": {"columnName": "id"}, "sortOrder": "UP"}])) == (
        "queryInput.sort[0].sortOrder: must be ASC or DESC; got UP"
    )
    selects = [{"columnName": "status", "aggregator": "SUM"}]
    assert refusal(tenant, _query(selects=selects)) == (
        "queryInput.selects[0].aggregator: SUM applies to number columns; status is text"
    )
    selects = [{"columnName": "id", "functions": [{"name": "lower", "args": []}]}]
    assert refusal(tenant, _query(selects=selects)) == (
        "queryInput.selects[0].functions: no functions are supported; leave it out"
    )
    assert refusal(tenant, _query(seekValues=["x"])).startswith("queryInput.seekValues: not supported")
    assert "selects" in refusal(tenant, _query(selects=[]))
    assert refusal(tenant, {"type": "TEMPLATE", "reportTemplateId": "nope", **WIDE}).startswith(
        "reportTemplateId: no template nope; the templates: invoices_per_period, revenue_per_customer_and_plan"
    )
    assert refusal(tenant, {"type": "TEMPLATE", "reportTemplateId": "wallet_ledger"}) == (
        "fromDate: required for a template"
    )
    assert (
        refusal(
            tenant,
            {
                "type": "TEMPLATE",
                "reportTemplateId": "wallet_ledger",
                "fromDate": WIDE["toDate"],
                "toDate": WIDE["fromDate"],
            },
        )
        == "toDate: must be after fromDate"
    )
    filters = [{"column": {"columnName": "events"}, "operator": "GT", "args": ["1.5"]}]
    assert refusal(tenant, _query(baseDataSource="usage", selects=[{"columnName": "usage"}], queryFilters=filters)) == (
        "queryInput.queryFilters[0].args[0]: must be a whole number; got '1.5'"
    )
    naive_and_aware = {"fromDate": "2026-01-01T00:00:00", "toDate": "2026-01-01T00:00:00+01:00"}
    assert refusal(tenant, {"type": "TEMPLATE", "reportTemplateId": "wallet_ledger", **naive_and_aware}) == (
        "toDate: must be after fromDate"  # no offset is UTC: 00:00Z is after 23:00Z the day before
    )
    ghost = run_report(tenant, {"type": "TEMPLATE", "reportTemplateId": "wallet_ledger", "account_id": "ghost", **WIDE})
    assert ghost.status_code == 404 and ghost.json()["message"] == "Account ghost not found"
    assert tc.ReportsApi(sdk.client).list_reports().data == []  # nothing was made


def test_revenue_per_customer_and_plan_sums_exactly(sdk: Sdk, tenant: Tenant) -> None:
    billed_and_finalized(sdk)
    report = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "revenue_per_customer_and_plan", **WIDE})
    header, *rows = download(sdk, report["fileId"])
    assert header == ["customerId", "customerName", "pricePlanId", "currency", "revenue", "invoices"]
    finalized = [sdk.invoices.get_invoice(i.id) for i in acme_invoices(sdk) if i.status != "DRAFT"]
    expected = sum((Decimal(str(i.total_amount)) for i in finalized), Decimal(0))
    [row] = rows
    assert row[0] == "acme" and row[1] == "Acme Inc" and row[3] == "USD"
    assert Decimal(row[4]) == expected and row[5] == str(len(finalized))


def test_with_s3_the_file_is_in_the_bucket_and_get_file_redirects_to_a_presigned_url(
    s3_factory: sessionmaker[Session], s3_meterline: str, s3: S3Server
) -> None:
    tenant = new_tenant(s3_factory, s3_meterline)
    client = Sdk(tenant)
    try:
        report = completed(tenant, {"type": "TEMPLATE", "reportTemplateId": "failed_events", **WIDE})
        keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket="meterline-reports")["Contents"]]
        assert f"{tenant.org.id}/{report['fileId']}" in keys
        with tenant.http() as http:
            answer = http.get(f"/files/{report['fileId']}")
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(f"{s3.endpoint}/meterline-reports/{tenant.org.id}/{report['fileId']}?")
        assert parse_qs(urlparse(location).query)["X-Amz-Expires"] == ["3600"]
        fetched = httpx.get(location, timeout=30)
        assert fetched.status_code == 200 and fetched.text.startswith("ingestedAt,referenceId,eventId")
        url = tc.FileStorageApi(client.client).get_download_url(report["fileId"], expiry=90).download_url
        assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == ["90"]
        assert httpx.get(url, timeout=30).content == fetched.content
        # the local store's signed route serves nothing of an S3 server
        local = httpx.get(f"{s3_meterline}/api/files/{report['fileId']}/content?expires=1&signature=x")
        assert (local.status_code, local.json()["message"]) == (403, "This download link is invalid or has expired")
    finally:
        client.close()


# -- invoice PDFs in the file store (usecases/invoice_files.py) ---------------------------------------------------
def _custom_invoice(sdk: Sdk, status: str) -> tc.Invoice:
    """A custom invoice of acme: 10.00 + 2 x 7.50 = 25.00."""
    lines = [
        tc.CustomInvoiceLineItem(description="Consulting", value=10),
        tc.CustomInvoiceLineItem(description="Training", quantity=2, value_per_quantity=7.5),
    ]
    return sdk.invoices.create_custom_invoice(
        tc.CreateCustomInvoiceRequest(
            account_id="acme",
            start_date=datetime(2024, 5, 1, tzinfo=UTC),
            end_date=datetime(2024, 6, 1, tzinfo=UTC),
            status=status,
            line_items=lines,
        )
    )


def _pdf_text(data: bytes) -> str:
    import pypdf

    return " ".join(" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_a_finalized_invoices_pdf_is_stored_once_and_never_changes(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    create_metering_catalog_for_acme(sdk)
    due = _custom_invoice(sdk, "DUE")
    file_id = f"file.{due.id}"
    assert due.pdf_url == f"/api/files/{file_id}"  # the file, before anyone asked for it
    with session_factory() as session:
        assert session.get(StoredFile, file_id) is None  # generated lazily
    with tenant.http() as http:
        answer = http.get(due.pdf_url.removeprefix("/api"))
    assert answer.status_code == 302
    first = httpx.get(answer.headers["location"], timeout=30)
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    text = _pdf_text(first.content)
    assert "INV-" in text and "USD 25.00" in text and "Due" in text
    with session_factory() as session:
        row = session.get(StoredFile, file_id)
        assert row is not None and (row.name, row.size) == (f"{due.sequence_id}.pdf", len(first.content))

    # paid since: the stored PDF is the invoice as issued (the API shows the payment), byte for byte
    sdk.invoices.update_invoice(due.id, tc.UpdateInvoiceRequest(status="PAID"))
    assert sdk.invoices.get_invoice(due.id).pdf_url == f"/api/files/{file_id}"
    url = tc.FileStorageApi(sdk.client).get_download_url(file_id, expiry=60).download_url
    assert httpx.get(url, timeout=30).content == first.content
    # a second invoice, paid before its PDF is first asked for, gets the same as-issued PDF (only ids differ)
    other = _custom_invoice(sdk, "DUE")
    sdk.invoices.update_invoice(other.id, tc.UpdateInvoiceRequest(status="PAID"))
    url = tc.FileStorageApi(sdk.client).get_download_url(f"file.{other.id}").download_url
    other_text = _pdf_text(httpx.get(url, timeout=30).content)
    assert "Due" in other_text and "Amount due USD 25.00" in other_text.replace(",", "")

    # a DRAFT's PDF is not stored: rendered live by /invoices/{id}/pdf, 404 as a file
    draft = _custom_invoice(sdk, "DRAFT")
    assert draft.pdf_url == f"/api/invoices/{draft.id}/pdf"
    with pytest.raises(ApiException) as missing:
        tc.FileStorageApi(sdk.client).get_download_url(f"file.{draft.id}")
    assert missing.value.status == 404
    assert message_of(missing.value).startswith(f"File file.{draft.id} not found: invoice {draft.id} is a DRAFT")
    with pytest.raises(ApiException) as unknown:
        tc.FileStorageApi(sdk.client).get_download_url("file.inv.nope")
    assert missing.value.status == 404 and message_of(unknown.value) == "File file.inv.nope not found"
    with session_factory() as session:
        assert session.get(StoredFile, f"file.{draft.id}") is None


def test_with_s3_an_invoice_pdf_is_in_the_bucket(
    s3_factory: sessionmaker[Session], s3_meterline: str, s3: S3Server
) -> None:
    tenant = new_tenant(s3_factory, s3_meterline)
    client = Sdk(tenant)
    try:
        create_metering_catalog_for_acme(client)
        due = _custom_invoice(client, "DUE")
        with tenant.http() as http:
            answer = http.get(f"/files/file.{due.id}")
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(f"{s3.endpoint}/meterline-reports/{tenant.org.id}/file.{due.id}?")
        stored = s3.client().get_object(Bucket="meterline-reports", Key=f"{tenant.org.id}/file.{due.id}")
        data = stored["Body"].read()
        assert httpx.get(location, timeout=30).content == data and data.startswith(b"%PDF")
    finally:
        client.close()


def test_simultaneous_first_requests_store_an_invoice_pdf_once(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    import threading

    create_metering_catalog_for_acme(sdk)
    due = _custom_invoice(sdk, "DUE")
    answers: list[httpx.Response | None] = [None] * 8
    barrier = threading.Barrier(8)

    def ask(n: int) -> None:
        with tenant.http() as http:
            barrier.wait()
            answers[n] = http.get(f"/files/file.{due.id}/download_url")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code if a is not None else None for a in answers] == [200] * 8
    contents = {httpx.get(a.json()["downloadUrl"], timeout=30).content for a in answers if a is not None}
    assert len(contents) == 1 and next(iter(contents)).startswith(b"%PDF")
    with session_factory() as session:
        rows = session.scalars(select(StoredFile).where(StoredFile.pk == f"file.{due.id}")).all()
    assert len(rows) == 1


def test_a_whole_number_filter_beyond_the_column_is_a_400_not_a_failed_report(sdk: Sdk, tenant: Tenant) -> None:
    """`usage.events` is a 32-bit column: PostgreSQL refused a larger argument when the report ran (FAILED,
    "integer out of range"); it is refused with the request on both engines."""
    for arg in ("999999999999999", "2147483648", "-2147483649"):
        filters = [{"column": {"columnName": "events"}, "operator": "GT", "args": [arg]}]
        query = _query(baseDataSource="usage", selects=[{"columnName": "events"}], queryFilters=filters)
        assert refusal(tenant, query) == (
            f"queryInput.queryFilters[0].args[0]: must be a whole number from -2147483648 to 2147483647; got '{arg}'"
        )
    assert tc.ReportsApi(sdk.client).list_reports().data == []  # nothing was made


def test_an_account_query_with_twenty_filters_runs(sdk: Sdk, tenant: Tenant) -> None:
    """`account_id` adds a 21st filter to a query of 20 (the most a request sends): the runner read the stored query
    back with the request's bound and FAILED it; it runs, and 21 filters in a request are still a 400."""
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    filters = [{"column": {"columnName": "status"}, "operator": "NEQ", "args": [f"S{n}"]} for n in range(20)]
    body = _query(baseDataSource="accounts", queryFilters=filters)
    report = completed(tenant, {**body, "account_id": "acme"})
    assert len(report["queryInput"]["queryFilters"]) == 21
    assert download(sdk, report["fileId"]) == [["id"], ["acme"]]
    too_many = _query(queryFilters=[*filters, filters[0]])
    assert refusal(tenant, too_many) == "queryInput.queryFilters: at most 20 filters; got 21"
