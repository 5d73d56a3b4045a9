"""The alert templates Meterline ships, as data: each with its JSON schemas for the entity, the owner and the
parameters (GET /alert_templates answers them as strings, as Togai's AlertTemplate has them), and an example.

Template ids are stable: an alert refers to its template by id, and the ids never change meaning.
docs/alerts.md describes each one; tests/unit/test_alert_templates.py checks the examples against the schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from meterline.alerts.statuses import Basis, Direction, EntityType

# When the templates were first shipped: their createdAt (they are data, not rows).
SHIPPED_AT = datetime(2026, 12, 4, tzinfo=UTC)
MAX_LEVELS = 10


def _ref(what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"the {what}",
        "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 255, "description": f"the {what}'s id"}},
        "required": ["id"],
        "additionalProperties": False,
    }


# Whom an alert is about: {"account": {"id": ...}}, {"customer": {"id": ...}}, or nothing (the whole organization).
ENTITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "one account, every account of one customer, or (empty) the whole organization",
    "properties": {"account": _ref("account"), "customer": _ref("customer")},
    "additionalProperties": False,
    "maxProperties": 1,
}
ORGANIZATION_ONLY: dict[str, Any] = {
    "type": "object",
    "description": "empty: the whole organization",
    "properties": {},
    "additionalProperties": False,
}
# Who looks after it (shown with its incidents and in its webhooks; Meterline sends nothing to them itself).
OWNER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user": {
            "type": "object",
            "description": "the person responsible for the alert",
            "properties": {
                "email": {"type": "string", "minLength": 1, "maxLength": 255},
                "name": {"type": "string", "maxLength": 255},
            },
            "required": ["email"],
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}


def _levels(what: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": f"{what}; one incident per level crossed",
        "items": {"type": "number", "minimum": 0},
        "minItems": 1,
        "maxItems": MAX_LEVELS,
    }


def _threshold(bases: list[Basis], what: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "basis": {
            "type": "string",
            "enum": [str(b) for b in bases],
            "description": "what the levels are: ABSOLUTE figures, or percentages (default ABSOLUTE)",
        },
        "levels": _levels(what),
        **(extra or {}),
    }
    return {"type": "object", "properties": properties, "required": ["levels"], "additionalProperties": False}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    interval: int  # minutes: the interval suggested for its alerts
    direction: Direction
    bases: tuple[Basis, ...]
    parameters_schema: dict[str, Any]
    example: dict[str, Any]  # parameters of an example alert (docs/alerts.md, the tests)
    entity_schema: dict[str, Any] = field(default_factory=lambda: ENTITY_SCHEMA)
    entity_types: tuple[EntityType, ...] = tuple(EntityType)
    subject: str = "ACCOUNT"  # what one incident is about: the API's entityType
    owner_schema: dict[str, Any] = field(default_factory=lambda: OWNER_SCHEMA)
    owner_type: str = "USER"

    def schema_text(self, which: str) -> str:
        schema = {"entity": self.entity_schema, "owner": self.owner_schema, "parameters": self.parameters_schema}
        return json.dumps(schema[which], separators=(",", ":"), default=str)


PERCENT = [Basis.ABSOLUTE, Basis.PERCENT_OF_ENTITLEMENT, Basis.PERCENT_OF_COMMITMENT]

TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template(
            id="usage_threshold",
            name="Usage above a threshold",
            description=(
                "A meter's usage in the account's current billing cycle reached a level: an absolute quantity, a "
                "percentage of the feature credits granted (PERCENT_OF_ENTITLEMENT, with featureId), or the meter's "
                "charge as a percentage of the plan's minimum commitment (PERCENT_OF_COMMITMENT)."
            ),
            interval=60,
            direction=Direction.ABOVE,
            bases=tuple(PERCENT),
            parameters_schema=_object(
                {
                    "meter": _ref("usage meter"),
                    "threshold": _threshold(
                        PERCENT,
                        "quantities, or percentages",
                        {"featureId": {"type": "string", "minLength": 1, "description": "for PERCENT_OF_ENTITLEMENT"}},
                    ),
                },
                ["meter", "threshold"],
            ),
            example={"meter": {"id": "um.api_calls"}, "threshold": {"basis": "ABSOLUTE", "levels": [1000, 5000]}},
        ),
        Template(
            id="spend_threshold",
            name="Spend on the ongoing invoice above an amount",
            description=(
                "The total of the account's ongoing invoice (its current cycle, with charges, after credits) reached "
                "an amount in the invoice's currency, or a percentage of the plan's minimum commitment."
            ),
            interval=60,
            direction=Direction.ABOVE,
            bases=(Basis.ABSOLUTE, Basis.PERCENT_OF_COMMITMENT),
            parameters_schema=_object(
                {"threshold": _threshold([Basis.ABSOLUTE, Basis.PERCENT_OF_COMMITMENT], "amounts, or percentages")},
                ["threshold"],
            ),
            example={"threshold": {"levels": [500, 1000]}},
        ),
        Template(
            id="credit_balance_below",
            name="Credit balance below",
            description=(
                "The account's running credit balance (what its credits have left after what DRAFT invoices hold) "
                "is at or below an amount."
            ),
            interval=60,
            direction=Direction.BELOW,
            bases=(Basis.ABSOLUTE,),
            parameters_schema=_object({"threshold": _threshold([Basis.ABSOLUTE], "amounts")}, ["threshold"]),
            example={"threshold": {"levels": [100, 0]}},
        ),
        Template(
            id="wallet_balance_below",
            name="Wallet balance below",
            description=(
                "The account's wallet balance (what top-ups left after the invoices it paid at finalization) is at or "
                "below an amount."
            ),
            interval=60,
            direction=Direction.BELOW,
            bases=(Basis.ABSOLUTE,),
            parameters_schema=_object({"threshold": _threshold([Basis.ABSOLUTE], "amounts")}, ["threshold"]),
            example={"threshold": {"levels": [50]}},
        ),
        Template(
            id="feature_credits_low",
            name="Feature credits low or exhausted",
            description=(
                "The account's credits of a feature (balance of the entries in effect, overage aside) are at or below "
                "a level: units, or a percentage of those granted (PERCENT_OF_GRANTED). Level 0: exhausted."
            ),
            interval=15,
            direction=Direction.BELOW,
            bases=(Basis.ABSOLUTE, Basis.PERCENT_OF_GRANTED),
            parameters_schema=_object(
                {
                    "feature": _ref("feature"),
                    "threshold": _threshold([Basis.ABSOLUTE, Basis.PERCENT_OF_GRANTED], "units, or percentages"),
                },
                ["feature", "threshold"],
            ),
            example={
                "feature": {"id": "feature.01..."},
                "threshold": {"basis": "PERCENT_OF_GRANTED", "levels": [20, 0]},
            },
        ),
        Template(
            id="invoice_overdue",
            name="Invoice overdue",
            description=(
                "An invoice still owed (DUE or PARTIALLY_PAID) is past its due date by more than `days` days "
                "(default 0: past its due date). One incident per invoice; it resolves when the invoice is paid, "
                "voided or written off."
            ),
            interval=1440,
            direction=Direction.ABOVE,
            bases=(Basis.ABSOLUTE,),
            parameters_schema={
                "type": "object",
                "properties": {
                    "overdue": {
                        "type": "object",
                        "properties": {"days": {"type": "integer", "minimum": 0, "maximum": 3650}},
                        "additionalProperties": False,
                    }
                },
                "additionalProperties": False,
            },
            example={"overdue": {"days": 7}},
            subject="INVOICE",
        ),
        Template(
            id="webhook_endpoint_disabled",
            name="Webhook endpoint disabled",
            description=(
                "A webhook endpoint of the organization was disabled after failing for too long (or by hand). One "
                "incident per endpoint; it resolves when the endpoint is enabled again."
            ),
            interval=15,
            direction=Direction.ABOVE,
            bases=(Basis.ABSOLUTE,),
            parameters_schema={"type": "object", "properties": {}, "additionalProperties": False},
            example={},
            entity_schema=ORGANIZATION_ONLY,
            entity_types=(EntityType.ORGANIZATION,),
            subject="WEBHOOK_ENDPOINT",
        ),
    )
}


def levels_of(parameters: dict[str, Any]) -> list[Decimal]:
    """The alert's levels, distinct, in increasing order."""
    raw = parameters.get("threshold", {}).get("levels", [])
    return sorted({Decimal(str(v)) for v in raw})


def basis_of(parameters: dict[str, Any]) -> Basis:
    return Basis(parameters.get("threshold", {}).get("basis", Basis.ABSOLUTE))
