"""License updates (LicensesApi; docs/pricing.md "Licenses").

- `licenseId` is a LICENSE add-on; `accountId` an account id, or an alias effective at `effectiveFrom`.
- ABSOLUTE sets the quantity from `effectiveFrom` (default: now); RELATIVE adds to the quantity in force at that
  instant. The stored and answered quantity is always the absolute one, never below 0. Later updates keep their
  own absolute quantities.
- `idempotencyKey`: a repeated key answers the update it first made, and makes nothing new.
- A NAMED_LICENSE add-on is refused with a message: its seats come from `togai-named-license` events
  (licenses/named.py), and its quantity is the number of seats in force.
- Updates of one account take turns (its row is locked before the history is read), so simultaneous RELATIVE
  updates all add up.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.accounts.service import AccountService
from meterline.catalog.addon_repository import AddOnRepository
from meterline.catalog.statuses import AddOnStatus
from meterline.core import numbers
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id_after
from meterline.core.pagination import Page, PageRequest
from meterline.licenses import schemas
from meterline.licenses.models import LicenseUpdate
from meterline.licenses.named import NamedSeat, NamedSeats
from meterline.licenses.repository import LicenseRepository
from meterline.rating import licenses
from meterline.tenancy.context import Context


class LicenseService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = LicenseRepository(ctx.session, ctx.org_id)
        self.accounts = AccountService(ctx)
        self.addons = AddOnRepository(ctx.session, ctx.org_id)
        self.account_rows = AccountRepository(ctx.session, ctx.org_id)

    def _account(self, account_id: str, at: datetime) -> Account:
        account = self.accounts.resolve(account_id, at)
        if account is None:
            raise NotFound(f"No account has id or alias {account_id!r} at {at.isoformat()}")
        return account

    def _license(self, license_id: str) -> None:
        addon = self.addons.by_id(license_id)
        if addon is None:
            raise BadRequest(f"licenseId: no add-on {license_id!r}; create a LICENSE add-on first")
        if addon.type == "NAMED_LICENSE":
            raise BadRequest(
                f"licenseId: add-on {license_id!r} is a NAMED_LICENSE add-on: its seats are added and removed by "
                "togai-named-license events (POST /ingest), not by license updates"
            )
        if addon.type != "LICENSE":
            raise BadRequest(f"licenseId: add-on {license_id!r} is a {addon.type} add-on, not a LICENSE")
        if addon.status != AddOnStatus.ACTIVE:
            raise BadRequest(f"licenseId: add-on {license_id!r} is {addon.status}")

    def _earlier(self, request: schemas.LicenseUpdateRequest) -> LicenseUpdate | None:
        """The update an earlier request with this idempotencyKey made."""
        if request.idempotency_key is None:
            return None
        earlier = self.repo.by_idempotency_key(request.idempotency_key)
        if earlier is not None and earlier.license_id != request.license_id:
            raise Conflict(f"idempotencyKey {request.idempotency_key!r} was used for another license update")
        return earlier

    def update(self, request: schemas.LicenseUpdateRequest) -> LicenseUpdate:
        earlier = self._earlier(request)
        if earlier is not None:
            return earlier
        self._license(request.license_id)
        at = request.effective_from or self.ctx.now
        account = self._account(request.account_id, at)
        # RELATIVE reads the quantity in force and writes the sum: updates of one account take turns on its row, and
        # the history is read under the lock (docs/architecture.md, "Locks")
        if self.account_rows.lock_account(account.pk) is None:
            raise NotFound(f"No account has id or alias {request.account_id!r} at {at.isoformat()}")
        earlier = self._earlier(request)  # a twin request that held the lock first
        if earlier is not None:
            return earlier
        history = self.repo.history(account.pk, request.license_id)
        steps = [(u.effective_from, u.quantity) for u in history]
        quantity = request.quantity
        if request.update_type == "RELATIVE":
            quantity = licenses.in_force(steps, at) + request.quantity
        if quantity < 0:
            raise BadRequest(
                f"quantity: the license quantity would be {quantity} from {at.isoformat()}; it cannot go below 0"
            )
        if quantity >= numbers.LIMIT:  # RELATIVE steps of bounded numbers could add up past the one rule's bound
            raise BadRequest(
                f"quantity: the license quantity would be {numbers.plain(quantity)} from "
                f"{at.isoformat()}; it must stay below 10^{numbers.MAX_DIGITS}"
            )
        update = LicenseUpdate(
            # after every earlier update, even one another process made in this millisecond: of two updates at one
            # instant, the later in pk order is in force
            pk=new_id_after("lic", max((u.pk for u in history), default=None)),
            org_id=self.ctx.org_id,
            license_id=request.license_id,
            account_pk=account.pk,
            account_id=account.id,
            quantity=quantity,
            effective_from=at,
            metadata_=request.metadata,
            idempotency_key=request.idempotency_key,
            created_at=self.ctx.now,
        )
        self.repo.add(update)
        return update

    def update_details(self, license_id: str, request: schemas.LicenseEntryDetailsUpdateRequest) -> LicenseUpdate:
        account = self._account(request.account_id, request.effective_from)
        entry = self.repo.at(account.pk, license_id, request.effective_from)
        if entry is None:
            raise NotFound(
                f"No update of license {license_id} for account {account.id} at {request.effective_from.isoformat()}"
            )
        entry.metadata_ = request.metadata
        self.ctx.session.flush()
        return entry

    def page(
        self, request: PageRequest, *, account_id: str | None, license_id: str | None, effective_from: datetime | None
    ) -> Page[LicenseUpdate]:
        account_pk = None
        if account_id is not None:
            account = self.accounts.resolve(account_id, self.ctx.now)
            if account is None:
                return Page(items=[], next_token=None, size=request.size)
            account_pk = account.pk
        return self.repo.page(request, account_pk=account_pk, license_id=license_id, effective_from=effective_from)

    def _steps(self, account: Account) -> dict[str, list[tuple[datetime, Decimal]]]:
        by_license: dict[str, list[tuple[datetime, Decimal]]] = {}
        for u in self.repo.of_account(account.pk):
            by_license.setdefault(u.license_id, []).append((u.effective_from, u.quantity))
        # named licenses: the number of seats in force (licenses/named.py)
        by_license.update(NamedSeats(self.ctx.session, self.ctx.org_id).steps_of({account.pk})[account.pk])
        return by_license

    def named_updates(self, request: PageRequest) -> tuple[Page[NamedSeat], dict[str, str]]:
        """The organization's named seats (NamedLicenseUpdate), in the order they were added, and their accounts'
        ids by pk."""
        return NamedSeats(self.ctx.session, self.ctx.org_id).page(request)

    def largest_quantities(self, account: Account, start: datetime, end: datetime) -> dict[str, Decimal]:
        """license id -> the largest quantity in force in [start, end), for every license the account has had."""
        return {lid: licenses.largest(steps, start, end) for lid, steps in self._steps(account).items()}

    def daily_quantities(
        self, account: Account, start: datetime, end: datetime, tz: ZoneInfo
    ) -> dict[str, list[Decimal]]:
        """license id -> each local day's largest quantity over [start, end)."""
        return {
            lid: [q for _, q in licenses.daily_maximums(steps, start, end, tz)]
            for lid, steps in self._steps(account).items()
        }
