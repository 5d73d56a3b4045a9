"""Alerts' and incidents' statuses, and what an alert watches (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    ACTIVE = "ACTIVE"  # evaluated at its interval while its validity lasts
    INACTIVE = "INACTIVE"  # paused by hand, or its validity ended: not evaluated


class IncidentStatus(StrEnum):
    OPEN = "OPEN"  # the condition holds (at its level); alert.triggered was sent when it opened
    RESOLVED = "RESOLVED"  # the condition cleared; alert.resolved was sent
    CLOSED = "CLOSED"  # closed by hand (PUT /incidents/{id}/status); alert.resolved was sent


class EntityType(StrEnum):
    """What an alert watches: one account, every account of a customer, or the whole organization."""

    ACCOUNT = "ACCOUNT"
    CUSTOMER = "CUSTOMER"
    ORGANIZATION = "ORGANIZATION"


class Direction(StrEnum):
    ABOVE = "ABOVE"  # crossed when the figure is at or above the level (usage, spend)
    BELOW = "BELOW"  # crossed when the figure is at or below the level (balances)


class Basis(StrEnum):
    """What a threshold's levels are: amounts or quantities, or percentages of something."""

    ABSOLUTE = "ABSOLUTE"
    PERCENT_OF_ENTITLEMENT = "PERCENT_OF_ENTITLEMENT"  # of the feature credits granted to the account
    PERCENT_OF_COMMITMENT = "PERCENT_OF_COMMITMENT"  # of the plan's minimum commitment on the ongoing invoice
    PERCENT_OF_GRANTED = "PERCENT_OF_GRANTED"  # feature credits left, as a percentage of those granted
