"""A revoked API key is refused by every server process within one second (issue 21).

Each process remembers a key it verified for at most 0.5 s (tenancy/key_cache.py), so that the API does not read
the key and its organization on every request. The bound is what this checks, with two real server processes on one
database: the key (and a JWT made from it) works on both, the second process answers with it right before the
revocation (so it holds the key verified), the key is revoked through the first process's console, and the second
refuses the key and the JWT within one second of the revocation's answer; so does the first. The bound is judged by
when each request was sent (tests/conftest.py, `refused_within`): a process that kept honouring the key fails it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.service import TenancyService
from tests.conftest import Tenant, refused_within, start_server, stop_server

SECURITY = "/settings?tab=api-keys"


@pytest.fixture(scope="module")
def second_server(db_url: str, server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another `meterline serve` process on the session server's database."""
    log = tmp_path_factory.mktemp("second-server") / "server.log"
    process, base_url = start_server(db_url, log)
    yield base_url
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the second server logged errors:\n{log.read_text()}"


def _admin_and_key(factory: sessionmaker[Session], tenant: Tenant) -> tuple[str, str, str, str]:
    """An admin of the tenant's organization (email, password), and another API key (id, token)."""
    email, password = f"admin-{secrets.token_hex(4)}@keys.test", secrets.token_urlsafe(12)
    with unit_of_work(factory) as s:
        service = TenancyService(s)
        org = service.organization(tenant.org.id)
        service.create_user(org=org, email=email, password=password, now=utc_now(), role="ADMIN")
        created = service.create_api_key(org=org, now=utc_now(), name="to-revoke")
    return email, password, created.key.id, created.token


def _sign_in(console: httpx.Client, email: str, password: str) -> str:
    """Sign in to the console as a browser does; the session's CSRF token."""
    token = re.search(r'name="csrf" value="([^"]+)"', console.get("/login").text)
    data = {"email": email, "password": password, "next": SECURITY, **({"csrf": token[1]} if token else {})}
    assert console.post("/login", data=data).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', console.get(SECURITY).text)
    assert found, "no CSRF token on the settings page"
    return found[1]


def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_a_second(
    session_factory: sessionmaker[Session], tenant: Tenant, second_server: str
) -> None:
    first, second = tenant.base_url, second_server
    email, password, key_id, token = _admin_and_key(session_factory, tenant)
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30) as http, httpx.Client(base_url=first, timeout=30) as console:
        jwt = http.post(f"{first}/api/authenticate", headers=bearer).json()["token"]
        by_jwt = {"Authorization": f"Bearer {jwt}"}

        def customers(base: str, headers: dict[str, str]) -> httpx.Response:
            return http.get(f"{base}/api/customers", headers=headers)

        for base in (first, second):  # the key and its JWT work on both processes, again and again
            for _ in range(3):
                assert customers(base, bearer).status_code == 200
                assert customers(base, by_jwt).status_code == 200
        csrf = _sign_in(console, email, password)

        # The second process answers with the key and the JWT right before the revocation: it holds them verified.
        assert customers(second, bearer).status_code == 200
        assert customers(second, by_jwt).status_code == 200
        revoked = console.post(f"/settings/api-keys/{key_id}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 303, revoked.text

        answer = refused_within(lambda: customers(second, bearer))
        assert answer.json() == {"message": "The API key has been revoked"}
        refused_within(lambda: customers(second, by_jwt))
        refused_within(lambda: customers(first, bearer))
        refused_within(lambda: customers(first, by_jwt))
        for base in (first, second):  # refused for good; the organization's other key still works
            for headers in (bearer, by_jwt):
                r = customers(base, headers)
                assert (r.status_code, r.json()["message"]) == (401, "The API key has been revoked")
            assert customers(base, tenant.headers).status_code == 200
