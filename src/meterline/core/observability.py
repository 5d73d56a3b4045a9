"""What Meterline tells its operators: Prometheus metrics and JSON logs that carry the request's id.

Metrics are process-wide (prometheus_client); with several processes set `PROMETHEUS_MULTIPROC_DIR` and each
process's samples are collected together (docs/operations.md). Logs of the `meterline` loggers are one JSON object
per line, with the id of the request they belong to.
"""

from __future__ import annotations

import decimal
import json
import logging
import sys
from collections import Counter as Tally
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime, timezone

from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DBAPIError

from meterline.core.errors import Unavailable

FAILURE_LENGTH = 300  # a failure described for operators, in characters

request_id: ContextVar[str | None] = ContextVar("meterline_request_id", default=None)

HTTP_REQUESTS = Counter("meterline_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "meterline_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter("meterline_events_ingested_total", "Events ingested, by final ingestion status", ["status"])
INVOICES_FINALIZED = Counter("meterline_invoices_finalized_total", "Invoices finalized (numbered, DUE or PAID)")
BILLING_FAILURES = Counter(
    "meterline_billing_failures_total",
    "Bill run steps that failed (sync, finalize, expire, organization), retried with backoff",
    ["stage"],
)


def count_events(statuses: Iterable[str]) -> None:
    for status, n in Tally(statuses).items():
        EVENTS.labels(status=status).inc(n)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    """The `meterline` loggers write JSON lines to stderr (once per process)."""
    logger = logging.getLogger("meterline")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def describe(exc: BaseException) -> str:
    """A failure in one line for operators: the error's kind and message, never the SQL or its parameters (a
    database error's text carries the statement and every value, which can be megabytes)."""
    error: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(error, decimal.DecimalException):
        text = "an amount out of the range Meterline can compute (check the plan's rates and the usage)"
    else:
        text = (str(error).strip().splitlines() or [""])[0]
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line if len(line) <= FAILURE_LENGTH else line[: FAILURE_LENGTH - 1] + "…"


def database_busy(exc: BaseException) -> bool:
    """SQLite's 'database is locked': another writer held the database's one write lock past the wait (a long bill
    run, say). Expected under load; the work is tried again."""
    return "database is locked" in str(exc)


def round_failed(log: logging.Logger, what: str, exc: BaseException, reason: str, last: str | None) -> str:
    """Log a background loop's failed round (the worker's bill runs, webhook deliveries, alert evaluations), which
    is tried again at the next tick: a busy database, or a store that is unavailable (ClickHouse down, usage being
    moved), as a warning without a traceback (expected: under write load on SQLite, or while an operator works);
    anything else as an error, its traceback once while the same error lasts. Returns `reason`,
    the caller's next `last`."""
    if database_busy(exc):
        log.warning(f"{what} postponed: the database is busy", extra={"fields": {"reason": reason}})
    elif isinstance(exc, Unavailable):  # a store that is down or being moved: expected, said in one line
        log.warning(f"{what} postponed: {exc}", extra={"fields": {"reason": reason}})
    else:
        log.error(f"{what} failed", exc_info=exc if reason != last else None, extra={"fields": {"reason": reason}})
    return reason
