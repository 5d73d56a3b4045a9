"""A background loop's failed round (bill runs, webhook deliveries, alert evaluations: core/observability.py): a busy
SQLite database, as SQLite itself reports it, is a warning without a traceback; anything else an error with its
traceback once while it lasts."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from meterline.core.observability import database_busy, round_failed


def locked_error(path: Path) -> sqlite3.OperationalError:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the one write lock, held
    waiter = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            waiter.execute("BEGIN IMMEDIATE")
        return caught.value
    finally:
        waiter.close()
        holder.execute("ROLLBACK")
        holder.close()


def test_a_busy_database_is_a_warning_and_other_failures_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("meterline.test_rounds")
    busy = locked_error(tmp_path / "busy.db")
    assert database_busy(busy)
    with caplog.at_level(logging.INFO, logger="meterline.test_rounds"):
        last = round_failed(log, "webhook delivery round", busy, str(busy), None)
        other = RuntimeError("connection refused")
        last = round_failed(log, "webhook delivery round", other, str(other), last)
        last = round_failed(log, "webhook delivery round", other, str(other), last)  # the same error again
    assert last == "connection refused"
    assert [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("WARNING", "webhook delivery round postponed: the database is busy", False),
        ("ERROR", "webhook delivery round failed", True),
        ("ERROR", "webhook delivery round failed", False),
    ]
    assert not database_busy(other)
