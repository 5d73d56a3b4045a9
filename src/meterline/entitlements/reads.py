"""What the console shows of an account's feature credits beyond the API's reads (console/entitlement_pages.py,
console/feature_pages.py): a counted slice of an account's entries of a feature, to page through with counts, and
which accounts hold credits of a feature. Reads only: the rules stay in service.py."""

from __future__ import annotations

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core.pagination import Counted, Slice
from meterline.entitlements.models import Feature, FeatureCreditEntry
from meterline.entitlements.repository import EntryRepository
from meterline.entitlements.service import Credits, FeatureCreditService
from meterline.tenancy.context import Context


class EntryReads:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = EntryRepository(ctx.session, ctx.org_id)

    def listed(self, account: Account, feature: Feature, request: Slice) -> Counted[FeatureCreditEntry]:
        """The account's entries of the feature, whatever their status (sort `made`: the order they were made)."""
        return self.repo.listed(account.pk, feature.pk, request)

    def holders(self, feature: Feature, limit: int) -> tuple[list[tuple[Account, Credits]], bool]:
        """The accounts with an ACTIVE, unended entry of the feature (at most `limit`, in the order the accounts
        were made) with their credits of it now, and whether there are more."""
        pks = self.repo.holders(feature.pk, self.ctx.now, limit + 1)
        accounts = AccountRepository(self.ctx.session, self.ctx.org_id).by_pks(set(pks[:limit]))
        credits = FeatureCreditService(self.ctx)
        held = [
            (accounts[pk], credits.credits_of(accounts[pk], {feature.pk})[feature.pk])
            for pk in pks[:limit]
            if pk in accounts
        ]
        return held, len(pks) > limit
