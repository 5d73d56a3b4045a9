"""Corrections of ingested events, never of usage that a finalized invoice holds, and giving back the feature
credits an entitled event consumed; a correction that waits for confirmation, with what it would change.

A correction requested with `require_confirmation` is previewed for real: the correction itself runs inside a
SAVEPOINT (`previewed`, usecases/schedules.py), every rule checked as the action checks it (a refusal is the
request's answer, nothing kept), and what it changes is read before and after it, then rolled back: the event's units
per meter, and the account's DRAFT invoices (total and usage per meter) that change. The job (EVENT_CORRECTIONS,
usecases/jobs.py) keeps that preview in its metadata, flat keys of text (JobsApi's metadata is a map of strings):

- `action`, `eventId`, `referenceId` (the stored event previewed), `accountId` (its account), `expiresAt`; for
  REDO_EVENT only, `event` (the corrected payload as JSON) and what it names: `newAccountId` (the
  account it is ingested into, an alias resolved), `newTimestamp`;
- `units.<meter id>.before` / `.after`: what the event counts in the meter before and after (after UNDO: 0);
- for an UNDO of an event ingested through `/entitled`, `credits.<feature id>.givenBack` (units that come back as
  REFUND entries), `.overageUndone` (overage no longer billed) and `.notGivenBack` (units of entries voided or
  expired since);
- `invoice.<invoice id>.totalBefore` / `.totalAfter` / `.currency`, and `invoice.<invoice id>.usage.<meter id>.before`
  / `.after`, for each DRAFT invoice whose total or usage changes ("unknown" for a total its data cannot compute).

Confirming runs `correct_entry`: the same correction, checked again at that moment, on the event previewed only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core.clock import isoformat_z
from meterline.core.errors import BadRequest
from meterline.core.numbers import plain
from meterline.entitlements.repository import EntryRepository
from meterline.entitlements.service import EntitledIngestion, give_back_feature_credits
from meterline.entitlements.statuses import EntrySource
from meterline.events.corrections import CorrectionService
from meterline.events.schemas import CorrectionAction, CorrectionEvent
from meterline.events.service import IngestionService
from meterline.events.store import EventStore
from meterline.invoicing.service import invoiced_until_of
from meterline.tenancy.context import Context
from meterline.usecases.schedules import DraftChange, DraftTotal, previewed

OVERAGE = EntrySource.OVERAGE

EVENT_CORRECTIONS = "EVENT_CORRECTIONS"
# How long a correction waits for confirmation: after it, confirming fails the job (it says it expired) and the
# correction must be requested again (its preview would be a week old); rejecting still cancels it.
PENDING_FOR = timedelta(days=7)
ACTIONS: tuple[CorrectionAction, ...] = ("UNDO", "REDO", "REDO_EVENT")


def corrections(ctx: Context) -> CorrectionService:
    return CorrectionService(ctx, invoiced_until=invoiced_until_of, feature_credits=give_back_feature_credits)


def ingestion(ctx: Context) -> IngestionService:
    """Ingestion that refuses events of a cycle whose invoice was finalized early (never billed otherwise)."""
    return IngestionService(ctx, invoiced_until=invoiced_until_of)


def entitled_ingestion(ctx: Context) -> EntitledIngestion:
    return EntitledIngestion(ctx, invoiced_until=invoiced_until_of)


@dataclass(frozen=True)
class CorrectionPreview:
    """A correction checked and previewed, nothing kept: the job's parameters and the event it would correct."""

    params: dict[str, str]
    reference_id: str
    status: str  # what the correction's answer will be: REVERTED or REVERTED_AND_REINGESTED


def preview_correction(
    ctx: Context, action: CorrectionAction, event: CorrectionEvent | None, *, expected_reference: str | None
) -> CorrectionPreview:
    """Run the correction in a savepoint and roll it back; refused (4xx) exactly as the correction would be
    (`expected_reference`: `CorrectionService.correct`'s)."""
    if event is None:
        raise BadRequest("event.id: this field is required (it names the event to correct)")
    seen: dict[str, Any] = {}

    def accounts() -> list[Account]:
        repo = AccountRepository(ctx.session, ctx.org_id)
        found: dict[str, Account] = {}
        for stored in EventStore(ctx.session, ctx.org_id).by_event_id(event.id):
            if stored.account_pk is not None:
                found.update(repo.by_pks({stored.account_pk}))
        if action == "REDO_EVENT" and event.account_id is not None:  # the corrected payload may name another
            named = repo.by_id(event.account_id)
            if named is None and event.timestamp is not None:
                alias = repo.alias_at(event.account_id, event.timestamp)
                named = repo.by_pks({alias.account_pk}).get(alias.account_pk) if alias is not None else None
            if named is not None:
                found[named.pk] = named
        return sorted(found.values(), key=lambda a: a.pk)

    def change() -> None:
        done = corrections(ctx).correct(action, event, expected_reference=expected_reference)
        # read now: the rows of the savepoint are gone once it is rolled back
        seen.update(
            status=str(done.status),
            reference=done.original.pk,
            account=done.original.account_pk,
            new_account=done.event.account_pk,  # REDO_EVENT's may be another (named by id or alias)
            before=dict(done.original.units or {}),
            after={} if action == "UNDO" else dict(done.event.units or {}),
            credits=EntryRepository(ctx.session, ctx.org_id).given_back(done.original.pk),  # an entitled event's
        )

    drafts, _ = previewed(ctx, accounts, change)
    found = AccountRepository(ctx.session, ctx.org_id).by_pks({seen["account"], seen["new_account"]})
    account, new_account = found.get(seen["account"]), found.get(seen["new_account"])
    params: dict[str, str] = {
        "action": action,
        "eventId": event.id,
        "referenceId": seen["reference"],
        "accountId": account.id if account is not None else "",
        "expiresAt": isoformat_z(ctx.now + PENDING_FOR),
    }
    if action == "REDO_EVENT":  # what will be ingested (the correction checked the payload has every field)
        params["event"] = event.model_dump_json(by_alias=True, exclude_none=True)
        params["newAccountId"] = new_account.id if new_account is not None else event.account_id or ""
        params["newTimestamp"] = isoformat_z(event.timestamp) if event.timestamp is not None else ""
    for meter in sorted(set(seen["before"]) | set(seen["after"])):
        params[f"units.{meter}.before"] = plain(Decimal(seen["before"].get(meter, "0")))
        params[f"units.{meter}.after"] = plain(Decimal(seen["after"].get(meter, "0")))
    credits: dict[str, Decimal] = {}
    for feature, source, units, refunded in seen["credits"]:
        kind = "givenBack" if refunded else "overageUndone" if source == OVERAGE else "notGivenBack"
        key = f"credits.{feature}.{kind}"
        credits[key] = credits.get(key, Decimal(0)) + units
    params.update({key: plain(units) for key, units in sorted(credits.items())})
    for draft in drafts.drafts:
        if _changed(draft):
            params.update(_draft_params(draft))
    return CorrectionPreview(params, seen["reference"], seen["status"])


def _usage(change: DraftChange, side: str) -> dict[str, Decimal]:
    draft = change.before if side == "before" else change.after
    return {meter: value for meter, _, value in (draft.usage if draft is not None else ())}


def _changed(change: DraftChange) -> bool:
    return change.changed or _usage(change, "before") != _usage(change, "after")


def _draft_params(change: DraftChange) -> dict[str, str]:
    key = f"invoice.{change.draft.invoice_id}"

    def total(draft: DraftTotal | None) -> str:  # a draft made or removed by the change counts 0 on the other side
        return "0" if draft is None else "unknown" if draft.total is None else plain(draft.total)

    out = {
        f"{key}.currency": change.draft.currency,
        f"{key}.totalBefore": total(change.before),
        f"{key}.totalAfter": total(change.after),
    }
    before, after = _usage(change, "before"), _usage(change, "after")
    for meter in sorted(set(before) | set(after)):
        out[f"{key}.usage.{meter}.before"] = plain(before.get(meter, Decimal(0)))
        out[f"{key}.usage.{meter}.after"] = plain(after.get(meter, Decimal(0)))
    return out


def correct_entry(ctx: Context, params: dict[str, Any], reference_id: str) -> None:
    """An EVENT_CORRECTIONS job's entry (the stored event previewed), when the job is confirmed: the correction
    previewed, checked again now, on that event only; refused after `expiresAt`."""
    expires = datetime.fromisoformat(params["expiresAt"])
    if ctx.now >= expires:
        raise BadRequest(
            f"This correction waited for confirmation until {params['expiresAt']} ({PENDING_FOR.days} days) and "
            "expired; request it again; nothing was changed"
        )
    action: CorrectionAction = params["action"]
    if action not in ACTIONS:  # pragma: no cover - written by preview_correction
        raise BadRequest(f"unknown correction action {action}")
    event = (
        CorrectionEvent.model_validate(json.loads(params["event"]))
        if "event" in params
        else CorrectionEvent(id=params["eventId"])
    )
    corrections(ctx).correct(action, event, expected_reference=reference_id)


@dataclass(frozen=True)
class ShownDraft:
    invoice_id: str
    currency: str
    total_before: str
    total_after: str
    usage: list[tuple[str, str, str]]  # (meter id, before, after)


@dataclass(frozen=True)
class ShownCorrection:
    """An EVENT_CORRECTIONS job's preview read back from its metadata (the console's job page)."""

    units: list[tuple[str, str, str]]  # (meter id, before, after)
    drafts: list[ShownDraft]
    credits: list[tuple[str, str, str]]  # (feature id, givenBack | overageUndone | notGivenBack, units)


def shown_correction(params: dict[str, Any]) -> ShownCorrection:
    """The preview `preview_correction` wrote, as rows (meters and invoices in id order; ids may hold dots)."""

    def pairs(prefix: str) -> list[tuple[str, str, str]]:
        return sorted(
            (
                key[len(prefix) : -len(".before")],
                str(params[key]),
                str(params.get(key[: -len("before")] + "after", "0")),
            )
            for key in params
            if key.startswith(prefix) and key.endswith(".before")
        )

    drafts = []
    for key in sorted(k for k in params if k.startswith("invoice.") and k.endswith(".currency")):
        invoice = key[: -len(".currency")]
        drafts.append(
            ShownDraft(
                invoice[len("invoice.") :],
                str(params[key]),
                str(params.get(f"{invoice}.totalBefore", "")),
                str(params.get(f"{invoice}.totalAfter", "")),
                pairs(f"{invoice}.usage."),
            )
        )
    credits = sorted(
        (key[len("credits.") :].rsplit(".", 1)[0], key.rsplit(".", 1)[1], str(value))
        for key, value in params.items()
        if key.startswith("credits.")
    )
    return ShownCorrection(pairs("units."), drafts, credits)
