"""The statuses of ingested events (Togai's IngestionStatus values Meterline sets) and of corrections, defined once
(StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class IngestionStatus(StrEnum):
    FAILED = "INGESTION_FAILED"
    SCHEMA_NOT_DEFINED = "INGESTION_FAILED_SCHEMA_NOT_DEFINED"
    UNITS_INVALID = "INGESTION_FAILED_UNITS_INVALID"
    ACCOUNT_NOT_FOUND = "INGESTION_FAILED_ACCOUNT_NOT_FOUND"
    DUPLICATE = "INGESTION_FAILED_DUPLICATE_EVENT"
    NO_EVENT_ID = "INGESTION_FAILED_NO_EVENT_ID"
    PAST_GRACE = "INGESTION_FAILED_PAST_GRACE_PERIOD"
    NO_MATCHING_METERS = "INGESTION_COMPLETED_NO_MATCHING_METERS"
    METERED = "INGESTION_COMPLETED_EVENT_METERED"
    NOT_METERED = "INGESTION_COMPLETED_EVENT_NOT_METERED"
    REVERTED = "REVERTED"  # undone by a correction


ACCEPTED = frozenset({IngestionStatus.NO_MATCHING_METERS, IngestionStatus.METERED, IngestionStatus.NOT_METERED})


class CorrectionStatus(StrEnum):
    REVERTED = "REVERTED"
    REVERTED_AND_REINGESTED = "REVERTED_AND_REINGESTED"
