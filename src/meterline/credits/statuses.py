"""A credit's statuses and its ledger's transaction types, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class CreditStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CONSUMED = "CONSUMED"
    EXPIRED = "EXPIRED"
    VOIDED = "VOIDED"


class CreditTransactionType(StrEnum):
    CREDITED = "CREDITED"
    DEBITED = "DEBITED"
    EXPIRED = "EXPIRED"
    VOIDED = "VOIDED"
