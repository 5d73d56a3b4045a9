"""API conventions over raw HTTP: error bodies, status codes, content types, exact numbers, date-times."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant

CUSTOMER = {"id": "c1", "name": "Acme Inc", "primaryEmail": "a@acme.test", "address": {}}


def test_malformed_json_is_400(tenant: Tenant) -> None:
    with tenant.http() as http:
        r = http.post("/customers", content=b'{"id": "c1",', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"message": "The request body is not valid JSON"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "Acme Inc", "primaryEmail": "a@acme.test", "address": {}}, "id: this field is required"),
        ({**CUSTOMER, "name": "Ac"}, "name: String should have at least 3 characters"),
        ({**CUSTOMER, "id": "a/b"}, "id: String should match pattern"),
        ({**CUSTOMER, "primaryEmail": "nope"}, "primaryEmail: String should match pattern"),
        ({**CUSTOMER, "nmae": "typo"}, "nmae: unknown field, it cannot be set here"),
        ({**CUSTOMER, "id": 12}, "id: Input should be a valid string"),
        ({**CUSTOMER, "address": {"line1": 5}}, "address.line1: Input should be a valid string"),
        (
            {**CUSTOMER, "account": {"id": "a", "name": "Acct", "netTermDays": -1}},
            "account.netTermDays: Input should be greater than or equal to 0",
        ),
        (
            {**CUSTOMER, "account": {"id": "a", "name": "Acct", "aliases": ["ok-alias", "x"]}},
            "account.aliases[1]: String should have at least 3 characters",
        ),
        ([1, 2], "The request body must be a JSON object"),
        ({**CUSTOMER, "address": 3.5e-32}, "address: must be a JSON object"),
        (
            {**CUSTOMER, "account": {"id": "a", "name": "Acct", "netTermDays": True}},
            "account.netTermDays: Input should be a valid integer",
        ),
        (
            {**CUSTOMER, "account": {"id": "a", "name": "Acct", "netTermDays": "30"}},
            "account.netTermDays: Input should be a valid integer",
        ),
    ],
    ids=[
        "missing",
        "short-name",
        "slash-in-id",
        "email",
        "unknown-field",
        "number-for-string",
        "nested",
        "negative-int",
        "list-item",
        "not-an-object",
        "number-for-object",
        "bool-for-int",
        "text-for-int",
    ],
)
def test_validation_errors_name_the_field(tenant: Tenant, body: object, expected: str) -> None:
    with tenant.http() as http:
        r = http.post("/customers", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(expected), r.json()
        assert http.get("/customers").json()["data"] == []  # nothing was created


def test_body_without_json_content_type_is_400(tenant: Tenant) -> None:
    with tenant.http() as http:
        r = http.post("/customers", content=b"id=c1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert "message" in r.json()


def test_unknown_path_and_wrong_method(tenant: Tenant) -> None:
    with tenant.http() as http:
        missing = http.get("/no_such_thing")
        wrong = http.put("/customers")
    assert missing.status_code == 404 and "No such API path" in missing.json()["message"]
    assert wrong.status_code == 405 and wrong.json()["message"]


def test_missing_and_malformed_authorization_is_401(tenant: Tenant) -> None:
    import httpx

    for headers in (
        {},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Token abc"},
    ):
        r = httpx.get(f"{tenant.base_url}/api/customers", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["message"]
        assert r.headers["www-authenticate"] == "Bearer"


def test_page_size_as_float_text(tenant: Tenant) -> None:
    with tenant.http() as http:
        assert http.get("/customers", params={"pageSize": "10.0"}).status_code == 200
        bad = http.get("/customers", params={"pageSize": "2.5"})
        assert bad.status_code == 400 and "pageSize" in bad.json()["message"]
        bad = http.get("/customers", params={"pageSize": "abc"})
        assert (bad.status_code, bad.json()["message"]) == (400, "pageSize: Input should be a valid decimal")


def test_date_times_are_utc_with_z_and_accept_any_offset(tenant: Tenant) -> None:
    with tenant.http() as http:
        http.post("/customers", json=CUSTOMER).raise_for_status()
        created_at = http.get("/customers/c1").json()["createdAt"]
        assert created_at.endswith("Z")
        r = http.post(
            "/accounts/c1/add_aliases",
            json={
                "accountAliases": [
                    {"value": "offset-alias", "effectiveFrom": "2024-01-01T05:30:00+05:30"},
                    {"value": "naive-alias", "effectiveFrom": "2024-01-01T00:00:00"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        rows = {a["value"]: a for a in http.get("/accounts/c1/account_aliases").json()["data"]}
        assert rows["offset-alias"]["effectiveFrom"] == "2024-01-01T00:00:00Z"
        assert rows["naive-alias"]["effectiveFrom"] == "2024-01-01T00:00:00Z"
        assert rows["naive-alias"]["effectiveUntil"] == "9999-12-31T00:00:00Z"
        # the SDK's query format for effectiveOn: %Y-%m-%dT%H:%M:%S.%f%z
        on = http.get("/accounts/c1", params={"effectiveOn": "2024-06-01T00:00:00.000000+0000"})
        assert on.status_code == 200, on.text
        assert {a["alias"] for a in on.json()["aliases"]} == {"offset-alias", "naive-alias"}


def test_success_codes_match_the_sdk(tenant: Tenant) -> None:
    with tenant.http() as http:
        assert http.post("/customers", json=CUSTOMER).status_code == 201
        assert http.post("/accounts", json={"id": "a2", "name": "Second", "customerId": "c1"}).status_code == 201
        assert http.post("/aliases", json={"aliases": [{"value": "reg"}]}).status_code == 201
        setting = {
            "id": "s",
            "value": "v",
            "entityType": "ACCOUNT",
            "entityId": "a2",
            "namespace": "USER",
            "name": "S",
            "dataType": "STRING",
        }
        assert http.post("/settings", json=setting).status_code == 201
        assert http.patch("/settings/s", json={"value": "w"}).status_code == 201
        assert http.post("/customers/c1/contacts", json={"name": "Jo", "email": "jo@acme.test"}).status_code == 201
        assert http.patch("/customers/c1", json={"name": "Acme 2"}).status_code == 200
        assert http.delete("/accounts/a2").status_code == 200
        assert http.delete("/customers/c1").json() == {"success": True}


def test_openapi_and_docs_are_served(tenant: Tenant) -> None:
    import httpx

    spec = httpx.get(f"{tenant.base_url}/api/openapi.json").json()
    assert "/customers" in spec["paths"] and "/accounts/{account_id}/add_aliases" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = httpx.get(f"{tenant.base_url}/api/docs")
    assert docs.status_code == 200 and "/api/docs/static/swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{tenant.base_url}/api/docs/static/swagger-ui-bundle.js").status_code == 200


def test_date_times_outside_the_stored_range_are_400(tenant: Tenant) -> None:
    with tenant.http() as http:
        http.post("/customers", json=CUSTOMER).raise_for_status()
        for moment in ("0056-04-15T09:59:53Z", "9999-12-31T23:00:00-05:00"):
            r = http.post(
                "/accounts/c1/add_aliases", json={"accountAliases": [{"value": "old-alias", "effectiveFrom": moment}]}
            )
            assert r.status_code == 400, r.text
            assert r.json()["message"].startswith("accountAliases[0].effectiveFrom:")
        r = http.get("/accounts/c1", params={"effectiveOn": "9999-12-31T23:59:59-1200"})
        assert r.status_code == 400 and r.json()["message"].startswith("effectiveOn:")


def test_nul_characters_are_refused_not_crashed_on(tenant: Tenant) -> None:
    with tenant.http() as http:
        r = http.post("/customers", json={**CUSTOMER, "name": "Acme\u0000Inc"})
        assert r.status_code == 400 and r.json()["message"].startswith("name: text may not contain the NUL")
        ok = http.post("/customers", json={**CUSTOMER, "name": "Back\\u0000slash"})  # a literal backslash is fine
        assert ok.status_code == 201, ok.text
        assert http.get("/customers/c1").json()["name"] == "Back\\u0000slash"
        # an id with a NUL names nothing: not found on SQLite; PostgreSQL's text cannot hold a NUL, not even to
        # compare, so there the database refuses it (a 400 that says so). Never a 500.
        unstorable = (
            400,
            "A value in the request cannot be stored or compared (out of range, or a control character such as NUL)",
        )
        r = http.get("/customers/a%00b")
        assert (r.status_code, r.json()["message"]) in {(404, "Customer a\u0000b not found"), unstorable}, r.text
        r = http.post("/accounts/a%00b/add_aliases", json={"aliases": ["abc"]})
        assert (r.status_code, r.json()["message"]) in {(404, "Account a\u0000b not found"), unstorable}, r.text
