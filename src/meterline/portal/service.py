"""The customer portal's delegate tokens and embedding settings (issue 18; docs/portal.md).

- `issue` (`POST /portal/token`): a token scoped to one customer of the caller's organization, for up to
  `MAX_ACCOUNTS` of its accounts or all of them, expiring `expiry` seconds after it is made (from `MIN_EXPIRY` to
  `MAX_EXPIRY`; without it, with the JWT the request was made with, else after `DEFAULT_EXPIRY`). Stored as API keys
  are (tenancy/security.py): a lookup prefix and a SHA-256 of the secret; the secret is returned once. Its mark is
  `mlp`, so it is never taken for an API key.
- `open_token`: what a live token opens (`Access`); an unknown token is 401, an expired one `Expired` (401, with the
  organization, so that the page can say whom to ask); so is one whose issuer (API key, console user) was revoked or
  removed, or whose customer (or every account) was archived.
- `live_links` and `revoke`: the console lists a customer's live tokens and revokes one or all of them (deleted).
- Embedding: the origins allowed to show the portal in a frame are the ORGANIZATION setting `portal/embed_origins`
  (STRING, origins separated by spaces); `embed_origins` reads them (an entry that is not an origin is ignored),
  `set_embed_origins` checks and saves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core.errors import BadRequest, NotFound, Unauthorized
from meterline.core.ids import new_id
from meterline.customers.models import Customer
from meterline.customers.repository import CustomerRepository
from meterline.customers.statuses import CustomerStatus
from meterline.portal.models import PortalToken
from meterline.portal.repository import PortalRepository, token_and_org
from meterline.settings.repository import SettingRepository
from meterline.settings.schemas import SettingIn, UpdateSettingRequest
from meterline.settings.service import SettingsService, full_setting_id
from meterline.tenancy import security
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization

DEFAULT_EXPIRY = 3600  # seconds: one hour
MIN_EXPIRY = 60
MAX_EXPIRY = 7 * 24 * 3600  # seven days
MAX_ACCOUNTS = 5
KEPT_EXPIRED = timedelta(days=1)  # how long an expired token is kept, so that its page says "expired"
NAMESPACE, ORIGINS_ID = "portal", "embed_origins"
MAX_ORIGINS = 20
DEV_HOSTS = ("localhost", "127.0.0.1")  # the only hosts allowed over http (development)
MAX_LIVE = 1000  # live tokens per customer
LISTED = 50  # live tokens the customer's console page lists
NOT_VALID = "This portal link is not valid: open the portal from the link you were given"
_ORIGIN = re.compile(r"^https?://(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")


@dataclass(frozen=True)
class Issued:
    token: str  # the secret, shown once; never stored
    row: PortalToken


@dataclass(frozen=True)
class Link:
    """A live portal link as the console lists it."""

    pk: str
    created_at: datetime
    expires_at: datetime
    issuer: str
    accounts: str


@dataclass(frozen=True)
class LiveLinks:
    links: list[Link]  # newest first, at most LISTED
    total: int


@dataclass(frozen=True)
class Access:
    """What a live delegate token opens: one customer of one organization and these of its accounts (by id)."""

    org: Organization
    customer: Customer
    accounts: list[Account]
    expires_at: datetime

    @property
    def account_pks(self) -> set[str]:
        return {a.pk for a in self.accounts}

    def account(self, account_id: str) -> Account:
        """One of the token's accounts; any other id is 404, exactly as an unknown one."""
        found = next((a for a in self.accounts if a.id == account_id), None)
        if found is None:
            raise NotFound(f"Account {account_id} not found")
        return found

    def context(self, session: Session, now: datetime) -> Context:
        return Context(session=session, org=self.org, now=now)


class Expired(Unauthorized):
    """A delegate token past its expiry: the organization is known, so the page can say whom to ask."""

    def __init__(self, org: Organization) -> None:
        super().__init__(f"This portal link has expired: ask {org.name} for a new one")
        self.org = org


class PortalService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = PortalRepository(ctx.session, ctx.org_id)

    def issue(
        self,
        *,
        customer_id: str,
        account_ids: list[str] | None,
        all_accounts: bool | None,
        expiry: int | None,
        caller_expires_at: datetime | None = None,
        issued_by_key: str | None = None,
        issued_by_user: str | None = None,
    ) -> Issued:
        """`expiry` None: the token expires with the caller's own credential (a JWT: Togai's rule, within
        `MAX_EXPIRY`), or after `DEFAULT_EXPIRY` (an API key, which does not expire). The issuer (the caller's API
        key, a JWT's included, or the console user) is recorded: revoking the key or removing the user ends the
        token. A customer has at most `MAX_LIVE` live tokens (400 beyond: revoke some, or wait for expiries)."""
        if (issued_by_key is None) == (issued_by_user is None):
            raise ValueError("a portal token has one issuer: an API key or a console user")
        if expiry is not None and not MIN_EXPIRY <= expiry <= MAX_EXPIRY:
            raise BadRequest(
                f"expiry must be from {MIN_EXPIRY} to {MAX_EXPIRY} seconds (7 days); without it a token lasts "
                f"{DEFAULT_EXPIRY} seconds (or until the JWT the request was made with expires)"
            )
        if expiry is not None:
            expires_at = self.ctx.now + timedelta(seconds=expiry)
        elif caller_expires_at is not None:
            expires_at = min(caller_expires_at, self.ctx.now + timedelta(seconds=MAX_EXPIRY))
        else:
            expires_at = self.ctx.now + timedelta(seconds=DEFAULT_EXPIRY)
        ids = list(dict.fromkeys(account_ids or []))  # in order, once each
        if all_accounts and ids:
            raise BadRequest("Give either accountIds or allAccountsAccess: true, not both")
        if not all_accounts and not ids:
            raise BadRequest(f"Give accountIds (1 to {MAX_ACCOUNTS} of the customer's accounts) or allAccountsAccess")
        if len(ids) > MAX_ACCOUNTS:
            raise BadRequest(f"accountIds holds at most {MAX_ACCOUNTS} accounts: use allAccountsAccess for more")
        customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_id(customer_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} not found")
        if customer.status == CustomerStatus.ARCHIVED:
            raise BadRequest(f"Customer {customer_id} is archived: its portal cannot be opened")
        accounts = AccountRepository(self.ctx.session, self.ctx.org_id)
        # the customer's row is locked while its live tokens are counted: issuers of one customer take turns
        self.repo.lock_rows(Customer, [customer.pk])
        pks = []
        for account_id in ids:
            account = accounts.by_id(account_id)
            if account is None:
                raise NotFound(f"Account {account_id} not found")
            if account.customer_pk != customer.pk:
                raise BadRequest(f"Account {account_id} is not an account of customer {customer_id}")
            if account.status == CustomerStatus.ARCHIVED:
                raise BadRequest(f"Account {account_id} is archived: its portal cannot be opened")
            pks.append(account.pk)
        # tokens expired for a day are of no use (until then, a page opened with one says it expired): not kept
        self.repo.forget_expired(self.ctx.now - KEPT_EXPIRED)
        if self.repo.count_live(customer.pk, self.ctx.now) >= MAX_LIVE:
            raise BadRequest(
                f"Customer {customer_id} has {MAX_LIVE} live portal links, the most it can have: revoke some (the "
                "customer's page in the console) or wait for them to expire"
            )
        new = security.new_api_token(security.PORTAL_MARK)
        row = PortalToken(
            pk=new_id("ptok"),
            org_id=self.ctx.org_id,
            customer_pk=customer.pk,
            account_pks=pks,
            all_accounts=bool(all_accounts),
            prefix=new.prefix,
            token_hash=new.token_hash,
            created_at=self.ctx.now,
            expires_at=expires_at,
            issued_by_key=issued_by_key,
            issued_by_user=issued_by_user,
        )
        self.repo.add(row)
        return Issued(token=new.token, row=row)

    # -- the console's list and revocation (docs/portal.md) ----------------------------------------------------
    def _customer(self, customer_id: str) -> Customer:
        customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_id(customer_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} not found")
        return customer

    def live_links(self, customer_id: str) -> LiveLinks:
        """The customer's live tokens, newest first (the `LISTED` newest), and how many there are."""
        customer = self._customer(customer_id)
        rows = self.repo.live(customer.pk, self.ctx.now, LISTED)
        names = {
            a.pk: a.id
            for a in AccountRepository(self.ctx.session, self.ctx.org_id)
            .by_pks({pk for r in rows for pk in r.token.account_pks})
            .values()
        }
        links = []
        for r in rows:
            if r.key_name is not None:
                issuer = f"API key “{r.key_name}”"
            elif r.user_name is not None:
                issuer = r.user_name
            else:
                issuer = "unknown"
            accounts = (
                "All accounts"
                if r.token.all_accounts
                else ", ".join(names.get(pk, "(deleted)") for pk in r.token.account_pks)
            )
            links.append(Link(r.token.pk, r.token.created_at, r.token.expires_at, issuer, accounts))
        return LiveLinks(links, self.repo.count_live(customer.pk, self.ctx.now))

    def revoke(self, customer_id: str, token_pk: str | None = None) -> int:
        """End one of the customer's tokens (`token_pk`; not one of its: 404), or all of them: deleted, their links
        then read as not valid. How many were ended."""
        customer = self._customer(customer_id)
        ended = self.repo.revoke(customer.pk, token_pk)
        if token_pk is not None and not ended:
            raise NotFound("That portal link is not live any more: expired or revoked already")
        return ended


def open_token(session: Session, token: str | None, now: datetime) -> Access:
    """What the token opens now: 401 when it is no token of ours, `Expired` (401) when it is past its expiry."""
    prefix = security.token_prefix(token, security.PORTAL_MARK) if token and len(token) <= 200 else None
    found = token_and_org(session, prefix) if prefix else None
    if found is None or not security.token_matches(token or "", found.token.token_hash):
        raise Unauthorized(NOT_VALID)
    if not found.issuer_live:  # its API key was revoked (or deleted), or its console user removed
        raise Unauthorized(NOT_VALID)
    row, org = found.token, found.org
    if row.expires_at <= now:
        raise Expired(org)
    customer = CustomerRepository(session, org.id).by_pk(row.customer_pk)
    # a deleted customer takes its tokens with it (a cascade); a customer or an account deleted with billing history
    # is ARCHIVED instead: its tokens end all the same (an archived account is left out; none left: not valid)
    if customer is None or customer.status == CustomerStatus.ARCHIVED:
        raise Unauthorized(NOT_VALID)
    repo = AccountRepository(session, org.id)
    accounts = repo.of_customer(customer.pk) if row.all_accounts else list(repo.by_pks(set(row.account_pks)).values())
    mine = sorted(
        (a for a in accounts if a.customer_pk == customer.pk and a.status != CustomerStatus.ARCHIVED),
        key=lambda a: a.id,
    )
    if not mine:
        raise Unauthorized(NOT_VALID)
    return Access(org=org, customer=customer, accounts=mine, expires_at=row.expires_at)


# -- embedding ---------------------------------------------------------------------------------------------------
def parse_origins(text: str) -> list[str]:
    """The origins of `text` (separated by spaces, commas or new lines), lowercased, once each; a ValueError names
    the first that is not an origin such as https://app.example.com (a scheme, a host, an optional port; no path),
    that has a wildcard right on a top-level label (`https://*.com`), or that is http but not localhost/127.0.0.1."""
    out: list[str] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        origin = item.lower().removesuffix("/")
        port = origin.rsplit(":", 1)[1] if origin.count(":") == 2 else None
        if not _ORIGIN.match(origin) or (port is not None and not 1 <= int(port) <= 65535):
            raise ValueError(f"{item[:80]!r} is not an origin: write it as https://app.example.com (no path)")
        scheme, host = origin.split("://", 1)
        host = host.rsplit(":", 1)[0] if port is not None else host
        if host.startswith("*.") and host.count(".") < 2:
            raise ValueError(
                f"{item[:80]!r} allows too much: a wildcard needs at least two labels after it, such as "
                "https://*.example.com"
            )
        if scheme == "http" and host not in DEV_HOSTS:
            raise ValueError(
                f"{item[:80]!r} is not served over https: http is allowed for localhost and 127.0.0.1 only"
            )
        if origin not in out:
            out.append(origin)
    if len(out) > MAX_ORIGINS:
        raise ValueError(f"At most {MAX_ORIGINS} origins, please")
    return out


def _origins_setting_id(ctx: Context) -> str:
    return full_setting_id(NAMESPACE, ORIGINS_ID, "ORGANIZATION", ctx.org_id)


def embed_origins(ctx: Context) -> list[str]:
    """The origins allowed to frame the organization's portal; an entry set through the API that is not an origin
    is left out (the console refuses it)."""
    row = SettingRepository(ctx.session, ctx.org_id).by_full_id(_origins_setting_id(ctx))
    if row is None:
        return []
    out: list[str] = []
    for item in re.split(r"[\s,]+", row.value):
        try:
            out.extend(o for o in parse_origins(item) if o not in out)
        except ValueError:
            continue
    return out[:MAX_ORIGINS]


def set_embed_origins(ctx: Context, text: str) -> list[str]:
    """Check and save the allow-list (BadRequest naming a wrong entry); an empty text allows no frame."""
    try:
        origins = parse_origins(text)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    value = " ".join(origins)
    settings = SettingsService(ctx)
    setting_id = _origins_setting_id(ctx)
    if SettingRepository(ctx.session, ctx.org_id).by_full_id(setting_id) is None:
        settings.insert(
            SettingIn(
                id=ORIGINS_ID,
                value=value,
                entity_type="ORGANIZATION",
                entity_id=ctx.org_id,
                namespace=NAMESPACE,
                name="Customer portal: origins allowed to embed it",
                data_type="STRING",
            )
        )
    else:
        settings.update(setting_id, UpdateSettingRequest(value=value))
    return origins
