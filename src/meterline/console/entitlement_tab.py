"""What the account's Entitlements tab shows (console/account_pages.py renders it; its forms are
console/entitlement_pages.py's): every feature with the account's value of it (a metered feature's balance, a
configuration feature's setting, as `GET /api/accounts/{id}/entitlements` answers) and its credits now (granted,
balance, used overage; as `GET /api/accounts/{id}/features/{featureId}`); then the chosen feature's entries, newest
first, paged through with counts (console/listing.py), each ACTIVE one with Update and Void.

The tab's URL says what it shows: `?tab=entitlements&feature=<id>` (the first feature with credits by default, else
the first feature), and the entries' `page` (and `sort`: `made` in the order they were made, `-made` newest first,
the default)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from meterline.accounts.models import Account
from meterline.console import listing
from meterline.console.entitlement_forms import window_lines
from meterline.core.errors import NotFound
from meterline.entitlements.feature_service import FeatureService, FeatureView
from meterline.entitlements.models import FeatureCreditEntry
from meterline.entitlements.reads import EntryReads
from meterline.entitlements.service import (
    ACTIVE,
    UNLIMITED,
    Credits,
    FeatureCreditService,
    entry_balance,
    entry_status,
)
from meterline.entitlements.values import NAMESPACE, EntitlementValues
from meterline.tenancy.context import Context

TAB = "entitlements"
ENTRIES_SIZE = listing.SIZE


def path(*parts: str) -> str:
    """A console path of these steps, each percent-encoded whole (an entry id's `#` is %23, its `$` %24)."""
    return "/" + "/".join(quote(p, safe="") for p in parts)


def tab_url(account_id: str, feature_id: str | None = None) -> str:
    query = {"tab": TAB, **({"feature": feature_id} if feature_id else {})}
    return f"{path('accounts', account_id)}?{urlencode(query)}"


def entry_url(account_id: str, feature_id: str, entry_id: str, action: str) -> str:
    """`/accounts/{a}/features/{f}/entries/{entry}/{action}`, each step encoded."""
    return path("accounts", account_id, "features", feature_id, "entries", entry_id, action)


def grant_url(account_id: str, feature_id: str) -> str:
    return path("accounts", account_id, "features", feature_id, "entries")


def entries_spec(account_id: str) -> listing.Spec:
    return listing.Spec(
        path=path("accounts", account_id),
        columns={"made": listing.Column("Made", descending_first=True, heading=False)},
        default="-made",
        noun=("entry", "entries"),
        size=ENTRIES_SIZE,
    )


@dataclass(frozen=True)
class FeatureLine:
    """A feature as the tab lists it, with the account's value (None: a configuration feature without a setting)
    and credits of it now."""

    view: FeatureView
    value: str | None
    credits: Credits
    url: str  # the tab with this feature chosen

    @property
    def overage_limit(self) -> Decimal | None:
        """What the overage cards allow (UNLIMITED without maxQuantity); None without an OVERAGE entry."""
        return UNLIMITED if self.credits.has_unlimited_overage else self.credits.overage_limit

    @property
    def overage(self) -> bool:
        """Is there overage to show (used, or a limit)?"""
        return self.credits.used_overage > 0 or self.overage_limit is not None


@dataclass(frozen=True)
class EntryLine:
    entry: FeatureCreditEntry
    status: str
    balance: Decimal
    window: tuple[str, str]  # ("from the start", "until 2026-02-01 00:00 UTC"): entitlement_forms.window_lines
    update_url: str | None  # ACTIVE entries only
    void_url: str | None


def tab_values(ctx: Context, account: Account, chosen: Mapping[str, str]) -> dict[str, Any]:
    """The tab's values; `chosen`: the URL's `feature`, `sort` and `page` (a feature not found is a 404)."""
    views = FeatureService(ctx).all()
    spec = entries_spec(account.id)
    empty = listing.Listing.read(spec)
    if not views:
        return {"features": [], "chosen": None, "entries": [], "entries_list": empty, "namespace": NAMESPACE}
    values = dict(EntitlementValues(ctx).all(account.id))
    credits = FeatureCreditService(ctx).credits_of(account, {v.feature.pk for v in views})
    lines = [
        FeatureLine(v, values.get(v.feature.pk), credits[v.feature.pk], tab_url(account.id, v.feature.pk))
        for v in views
    ]
    wanted = chosen.get("feature", "").strip()
    if wanted:
        picked = next((line for line in lines if line.view.feature.pk == wanted), None)
        if picked is None:
            raise NotFound(f"Feature {wanted} not found")
    else:
        picked = next((line for line in lines if line.credits.granted > 0), lines[0])
    feature = picked.view.feature
    found = listing.Listing.read(
        spec, sort=chosen.get("sort", ""), page=chosen.get("page", ""), filters={"tab": TAB, "feature": feature.pk}
    )
    entries: list[EntryLine] = []
    if found.ok:
        counted = EntryReads(ctx).listed(account, feature, found.slice())
        found.found(counted)
        for entry in counted.items:
            status = entry_status(entry, ctx.now)
            active = status == ACTIVE
            entries.append(
                EntryLine(
                    entry,
                    str(status),
                    entry_balance(entry, ctx.now),
                    window_lines(entry.starts_at, entry.ends_at),
                    entry_url(account.id, feature.pk, entry.entry_id, "update") if active else None,
                    entry_url(account.id, feature.pk, entry.entry_id, "void") if active else None,
                )
            )
    return {
        "features": lines,
        "chosen": picked,
        "entries": entries,
        "entries_list": found,
        "grant_url": grant_url(account.id, feature.pk),
        "namespace": NAMESPACE,
    }
