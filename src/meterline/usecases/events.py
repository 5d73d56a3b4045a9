"""Corrections of ingested events, never of usage that a finalized invoice holds, and giving back the feature
credits an entitled event consumed."""

from __future__ import annotations

from meterline.entitlements.service import give_back_feature_credits
from meterline.events.corrections import CorrectionService
from meterline.invoicing.service import invoiced_until
from meterline.tenancy.context import Context


def corrections(ctx: Context) -> CorrectionService:
    return CorrectionService(ctx, invoiced_until=invoiced_until, feature_credits=give_back_feature_credits)
