"""CustomerPortalApi (`get_customer_portal_delegate_token`) through the official SDK against a live server, on both
engines: the token's scope and bounds, how it is stored, and that it opens the portal and nothing of the API."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import togai_client as tc
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from togai_client.exceptions import ApiException

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.files import storage
from meterline.portal.models import PortalToken
from meterline.portal.service import DEFAULT_EXPIRY, MAX_EXPIRY, MAX_LIVE
from meterline.tenancy.service import TenancyService
from meterline.usecases import housekeeping
from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant, new_tenant, start_server, stop_server


def make_customer(sdk: Sdk, customer_id: str, accounts: int = 1) -> list[str]:
    """A customer with `accounts` accounts: its default one (named as the customer) and `<id>-2`, `<id>-3`..."""
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(
            id=customer_id, name=f"Customer {customer_id}", primary_email="a@x.test", address=tc.Address()
        )
    )
    ids = [customer_id]
    for n in range(2, accounts + 1):
        sdk.accounts.create_account(
            tc.CreateAccountRequest(id=f"{customer_id}-{n}", name=f"Account {n}", customer_id=customer_id)
        )
        ids.append(f"{customer_id}-{n}")
    return ids


def portal_token(sdk: Sdk, customer_id: str, **fields: object) -> str:
    api = tc.CustomerPortalApi(sdk.client)
    request = tc.GetCustomerPortalDelegateTokenRequest(customer_id=customer_id, **fields)
    return str(api.get_customer_portal_delegate_token(request).token)


def refused(sdk: Sdk, customer_id: str, **fields: object) -> tuple[int, str]:
    with pytest.raises(ApiException) as raised:
        portal_token(sdk, customer_id, **fields)
    return int(raised.value.status), message_of(raised.value)


def test_a_token_for_some_accounts_opens_the_portal_and_is_stored_hashed(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    make_customer(sdk, "acme", accounts=3)
    before = datetime.now(timezone.utc)
    token = portal_token(sdk, "acme", account_ids=["acme", "acme-3", "acme"], expiry=600)
    assert token.startswith("mlp_")
    with session_factory() as s:
        [row] = s.scalars(select(PortalToken).where(PortalToken.org_id == tenant.org.id)).all()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr([getattr(row, c.key) for c in PortalToken.__table__.columns])  # never in clear
        assert len(row.account_pks) == 2 and not row.all_accounts
        assert before + timedelta(seconds=600) <= row.expires_at <= datetime.now(timezone.utc) + timedelta(seconds=600)
    with httpx.Client(base_url=tenant.base_url, timeout=30) as browser:
        exchanged = browser.get("/portal", params={"token": token})
        assert exchanged.status_code == 303 and exchanged.headers["location"] == "/portal"
        cookie = exchanged.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/portal" in cookie and "Max-Age=" in cookie
        page = browser.get("/portal")
        assert page.status_code == 200
        assert "Customer acme" in page.text and "acme-3" in page.text and "Account 2" not in page.text
    # the token is no API key: the API refuses it
    with httpx.Client(base_url=f"{tenant.base_url}/api", timeout=30) as api:
        answer = api.get("/customers/acme", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401 and "Customer acme" not in answer.text


def test_all_accounts_access_and_the_default_expiry(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    make_customer(sdk, "acme", accounts=2)
    token = portal_token(sdk, "acme", all_accounts_access=True)
    # an account made after the token is the customer's too: all accounts means all of them when the page is read
    sdk.accounts.create_account(tc.CreateAccountRequest(id="acme-late", name="Late account", customer_id="acme"))
    with session_factory() as s:
        row = s.scalars(select(PortalToken).where(PortalToken.org_id == tenant.org.id)).one()
        assert row.all_accounts and row.account_pks == []
        assert abs((row.expires_at - row.created_at).total_seconds() - DEFAULT_EXPIRY) < 1
    with httpx.Client(base_url=tenant.base_url, timeout=30, follow_redirects=True) as browser:
        page = browser.get("/portal", params={"token": token})
        assert page.status_code == 200 and str(page.url).endswith("/portal")
        assert all(name in page.text for name in ("acme-2", "Late account"))


def test_without_expiry_a_token_asked_with_a_jwt_expires_with_it(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    make_customer(sdk, "acme")
    jwt = sdk.auth.authenticate().token
    config = tc.Configuration(host=f"{tenant.base_url}/api", access_token=jwt)
    with tc.ApiClient(config) as client:
        request = tc.GetCustomerPortalDelegateTokenRequest(customer_id="acme", account_ids=["acme"])
        assert tc.CustomerPortalApi(client).get_customer_portal_delegate_token(request).token.startswith("mlp_")
    with session_factory() as s:
        row = s.scalars(select(PortalToken).where(PortalToken.org_id == tenant.org.id)).one()
        lasts = (row.expires_at - row.created_at).total_seconds()
        assert DEFAULT_EXPIRY < lasts <= min(24 * 3600, MAX_EXPIRY)  # the JWT's day, not the default hour


def test_refusals_say_what_is_wrong(sdk: Sdk, other_sdk: Sdk) -> None:
    make_customer(sdk, "acme", accounts=6)
    make_customer(sdk, "other")
    make_customer(other_sdk, "elsewhere")
    assert refused(sdk, "nobody", all_accounts_access=True) == (404, "Customer nobody not found")
    assert refused(sdk, "elsewhere", all_accounts_access=True) == (404, "Customer elsewhere not found")
    assert refused(sdk, "acme", account_ids=["ghost"]) == (404, "Account ghost not found")
    assert refused(sdk, "acme", account_ids=["elsewhere"]) == (404, "Account elsewhere not found")
    assert refused(sdk, "acme", account_ids=["acme", "other"]) == (
        400,
        "Account other is not an account of customer acme",
    )
    status, message = refused(sdk, "acme", account_ids=["acme", "acme-2", "acme-3", "acme-4", "acme-5", "acme-6"])
    assert status == 400 and "at most 5" in message
    status, message = refused(sdk, "acme")
    assert status == 400 and "accountIds" in message and "allAccountsAccess" in message
    status, message = refused(sdk, "acme", account_ids=["acme"], all_accounts_access=True)
    assert status == 400 and "not both" in message
    for expiry in (0, -5, 59, MAX_EXPIRY + 1, 10**12):
        status, message = refused(sdk, "acme", all_accounts_access=True, expiry=expiry)
        assert status == 400 and "expiry must be from 60 to 604800 seconds" in message, (expiry, message)
    assert portal_token(sdk, "acme", all_accounts_access=True, expiry=MAX_EXPIRY).startswith("mlp_")
    sdk.customers.delete_customer("other")  # no history: erased
    assert refused(sdk, "other", all_accounts_access=True) == (404, "Customer other not found")


def test_over_https_the_cookie_works_inside_a_frame(sdk: Sdk, tenant: Tenant) -> None:
    """Behind a TLS proxy (X-Forwarded-Proto: https, which uvicorn takes from a proxy on 127.0.0.1) the portal's cookie
    is SameSite=None; Secure; Partitioned: sent in the operator's iframe, kept per embedding site; over plain HTTP it
    is SameSite=Lax (browsers refuse SameSite=None without Secure; docs/portal.md)."""
    make_customer(sdk, "acme")
    with httpx.Client(base_url=tenant.base_url, timeout=30) as browser:
        plain = browser.get("/portal", params={"token": portal_token(sdk, "acme", account_ids=["acme"])})
        assert "samesite=lax" in plain.headers["set-cookie"].lower() and "secure" not in plain.headers["set-cookie"]
        secure = browser.get(
            "/portal",
            params={"token": portal_token(sdk, "acme", account_ids=["acme"])},
            headers={"X-Forwarded-Proto": "https"},
        )
        cookie = secure.headers["set-cookie"].lower()
        assert secure.status_code == 303 and all(a in cookie for a in ("samesite=none", "secure", "partitioned"))
        # a refused cookie is removed with the attributes it was set with (else the browser keeps the partitioned one)
        gone = httpx.get(
            f"{tenant.base_url}/portal",
            headers={"X-Forwarded-Proto": "https", "Cookie": "meterline_portal=mlp_guess_wrong"},
            timeout=30,
        )
        removal = gone.headers["set-cookie"].lower()
        assert gone.status_code == 401 and "max-age=0" in removal and "path=/portal" in removal
        assert all(a in removal for a in ("samesite=none", "secure", "partitioned", "httponly")), removal


def test_the_access_log_never_holds_a_portal_token(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """uvicorn's access log (at level info) writes the link's path with `token=<redacted>`, never the token."""
    log = tmp_path / "server.log"
    process, base_url = start_server(db_url, log, log_level="info")
    try:
        tenant = new_tenant(session_factory, base_url)
        sdk = Sdk(tenant)
        try:
            make_customer(sdk, "acme")
            token = portal_token(sdk, "acme", account_ids=["acme"])
        finally:
            sdk.close()
        with httpx.Client(base_url=base_url, timeout=30) as browser:
            assert browser.get("/portal", params={"token": token, "x": "1"}).status_code == 303
            assert browser.get("/portal", params={"token": "mlp_guess_wrong"}).status_code == 401
            # the parameter's name percent-encoded: still the token (and still redacted)
            assert browser.get(f"/portal?%74oken={token}&y=2").status_code == 303
    finally:
        stop_server(process)
    text = log.read_text()
    assert "GET /portal?token=<redacted>&x=1 HTTP/1.1" in text, text[-2000:]
    assert "GET /portal?%74oken=<redacted>&y=2 HTTP/1.1" in text, text[-2000:]
    assert token not in text and "mlp_guess_wrong" not in text and "mlp_" not in text


def test_tokens_expired_for_a_day_are_not_kept(
    sdk: Sdk, other_sdk: Sdk, tenant: Tenant, other_tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    """Issuing a token forgets the organization's tokens expired for more than a day (only its own organization's)."""
    make_customer(sdk, "acme")
    make_customer(other_sdk, "acme")
    old, recent = (portal_token(sdk, "acme", account_ids=["acme"]) for _ in range(2))
    elsewhere = portal_token(other_sdk, "acme", account_ids=["acme"])
    now = datetime.now(timezone.utc)
    with session_factory.begin() as s:
        for token, expired in ((old, now - timedelta(days=1, minutes=1)), (recent, now - timedelta(hours=23))):
            s.execute(update(PortalToken).where(PortalToken.prefix == token.split("_")[1]).values(expires_at=expired))
        s.execute(
            update(PortalToken)
            .where(PortalToken.prefix == elsewhere.split("_")[1])
            .values(expires_at=now - timedelta(days=30))
        )
    fresh = portal_token(sdk, "acme", account_ids=["acme"])
    with session_factory() as s:
        kept = set(s.scalars(select(PortalToken.prefix)))
    assert old.split("_")[1] not in kept
    assert {t.split("_")[1] for t in (recent, elsewhere, fresh)} <= kept
    with httpx.Client(base_url=tenant.base_url, timeout=30) as browser:  # the one kept still says "expired"
        answer = browser.get("/portal", params={"token": recent})
        assert answer.status_code == 401 and "This portal link has expired" in answer.text
        answer = browser.get("/portal", params={"token": old})
        assert answer.status_code == 401 and "not valid" in answer.text


def opened(base_url: str, token: str) -> httpx.Response:
    """The portal's page that the link opens (the redirect followed, with its cookie)."""
    with httpx.Client(base_url=base_url, timeout=30, follow_redirects=True) as browser:
        return browser.get("/portal", params={"token": token})


def test_archiving_a_customer_or_an_account_ends_its_tokens(sdk: Sdk, tenant: Tenant) -> None:
    """Deleting a customer or an account with billing history archives it: its portal links end all the same (an
    archived account is left out of a token's accounts; a token left with none, or of an archived customer, is not
    valid), and no new token names it."""
    make_customer(sdk, "acme", accounts=3)
    for account in ("acme", "acme-2"):  # billing history: a wallet entry
        tc.WalletApi(sdk.client).top_up_wallet_for_account(account, tc.TopupWalletRequest(topup_amount=1))
    both = portal_token(sdk, "acme", account_ids=["acme", "acme-2"])
    only_2 = portal_token(sdk, "acme", account_ids=["acme-2"])
    every = portal_token(sdk, "acme", all_accounts_access=True)
    sdk.accounts.delete_account("acme-2")
    assert sdk.accounts.get_account("acme-2").status == "ARCHIVED"
    for token in (both, every):
        page = opened(tenant.base_url, token)
        assert page.status_code == 200 and "Customer acme" in page.text and "acme-2" not in page.text
    page = opened(tenant.base_url, only_2)
    assert page.status_code == 401 and "not valid" in page.text and "Customer acme" not in page.text
    assert refused(sdk, "acme", account_ids=["acme", "acme-2"]) == (
        400,
        "Account acme-2 is archived: its portal cannot be opened",
    )
    sdk.customers.delete_customer("acme")
    assert sdk.customers.get_customer("acme").status == "ARCHIVED"
    for token in (both, every):
        page = opened(tenant.base_url, token)
        assert page.status_code == 401 and "not valid" in page.text and "Customer acme" not in page.text


def test_revoking_the_issuing_api_key_ends_its_tokens(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    """A token records the API key it was asked with (a JWT's key too): revoking that key ends the token; a token of
    another key of the organization lives on."""
    make_customer(sdk, "acme")
    with unit_of_work(session_factory) as s:
        second = TenancyService(s).create_api_key(org=tenant.org, now=utc_now(), name="backend")
    other = Sdk(Tenant(org=tenant.org, token=second.token, base_url=tenant.base_url))
    try:
        by_key = portal_token(other, "acme", account_ids=["acme"])
        jwt = other.auth.authenticate().token
        with tc.ApiClient(tc.Configuration(host=f"{tenant.base_url}/api", access_token=jwt)) as client:
            request = tc.GetCustomerPortalDelegateTokenRequest(customer_id="acme", account_ids=["acme"])
            by_jwt = tc.CustomerPortalApi(client).get_customer_portal_delegate_token(request).token
    finally:
        other.close()
    by_first_key = portal_token(sdk, "acme", account_ids=["acme"])
    with session_factory() as s:
        issuers = {r.prefix: r.issued_by_key for r in s.scalars(select(PortalToken))}
    assert issuers[by_key.split("_")[1]] == issuers[by_jwt.split("_")[1]] == second.key.id
    for token in (by_key, by_jwt, by_first_key):
        assert opened(tenant.base_url, token).status_code == 200
    with unit_of_work(session_factory) as s:
        TenancyService(s).revoke_api_key(org=tenant.org, key_id=second.key.id, now=utc_now())
    for token in (by_key, by_jwt):
        page = opened(tenant.base_url, token)
        assert page.status_code == 401 and "not valid" in page.text and "Customer acme" not in page.text
    assert opened(tenant.base_url, by_first_key).status_code == 200


def test_a_customer_has_a_bounded_number_of_live_tokens(
    sdk: Sdk, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    """At MAX_LIVE live tokens, issuing another is refused in words (revoke some or wait); expired ones do not count."""
    make_customer(sdk, "acme")
    portal_token(sdk, "acme", account_ids=["acme"])
    with unit_of_work(session_factory) as s:
        row = s.scalars(select(PortalToken).where(PortalToken.org_id == tenant.org.id)).one()
        now = utc_now()
        for n in range(MAX_LIVE - 1):
            s.add(
                PortalToken(
                    pk=f"ptok_bulk{n}",
                    org_id=row.org_id,
                    customer_pk=row.customer_pk,
                    account_pks=[],
                    all_accounts=True,
                    prefix=f"bulk{n}",
                    token_hash="0" * 64,
                    created_at=now,
                    expires_at=now + timedelta(hours=1),
                    issued_by_key=row.issued_by_key,
                )
            )
    status, message = refused(sdk, "acme", account_ids=["acme"])
    assert status == 400 and f"has {MAX_LIVE} live portal links" in message and "revoke some" in message
    with unit_of_work(session_factory) as s:  # one of them expires: room for one more
        s.execute(update(PortalToken).where(PortalToken.pk == "ptok_bulk0").values(expires_at=utc_now()))
    assert portal_token(sdk, "acme", account_ids=["acme"]).startswith("mlp_")


def test_the_worker_forgets_tokens_expired_for_a_day_in_every_organization(
    sdk: Sdk, other_sdk: Sdk, tenant: Tenant, other_tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    make_customer(sdk, "acme")
    make_customer(other_sdk, "acme")
    tokens = [portal_token(sdk, "acme", account_ids=["acme"]), portal_token(other_sdk, "acme", account_ids=["acme"])]
    live = portal_token(sdk, "acme", account_ids=["acme"])
    now = utc_now()
    with unit_of_work(session_factory) as s:
        s.execute(
            update(PortalToken)
            .where(PortalToken.prefix.in_([t.split("_")[1] for t in tokens]))
            .values(expires_at=now - timedelta(days=1, minutes=1))
        )
    assert (
        housekeeping.run(
            session_factory,
            now,
            webhook_retention=timedelta(days=30),
            file_retention=timedelta(days=30),
            store=storage.current(),
        ).portal_tokens
        >= 2
    )
    with session_factory() as s:
        kept = set(s.scalars(select(PortalToken.prefix)))
    assert not {t.split("_")[1] for t in tokens} & kept and live.split("_")[1] in kept
