"""A background loop's failed round (bill runs, webhook deliveries, alert evaluations: core/observability.py): a busy
SQLite database, as SQLite itself reports it, is a warning without a traceback; anything else an error with its
traceback once while it lasts."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from meterline.core.background import BackgroundLoop
from meterline.core.errors import Unavailable
from meterline.core.observability import database_busy, round_failed
from meterline.events.clickhouse import ClickHouseError


def locked_error(path: Path) -> sqlite3.OperationalError:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the one write lock, held
    waiter = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked") as caught:
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


def test_an_unavailable_store_is_a_warning_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """ClickHouse down, or usage being moved (events/usage_store.py): expected while it lasts, said in one line with
    its reason (the ClickHouse error's, with its address: for the operator, not for API clients)."""
    log = logging.getLogger("meterline.test_rounds")
    moving = Unavailable("Usage and events are being moved to another store (meterline usage-store); retry shortly")
    down = ClickHouseError("ClickHouse at clickhouse://default@ch:9000/meterline: Code: 210. Connection refused")
    with caplog.at_level(logging.INFO, logger="meterline.test_rounds"):
        round_failed(log, "usage shipping", moving, str(moving), None)
        round_failed(log, "usage shipping", down, str(down), None)
    assert [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("WARNING", f"usage shipping postponed: {moving}", False),
        ("WARNING", f"usage shipping postponed: {down}", False),
    ]


class Rounds(BackgroundLoop):
    """A loop whose rounds follow a script: "fail" raises, "more" asks for the next round at once, "idle" waits."""

    thread_name, what, log = "meterline-test-rounds", "test round", logging.getLogger("meterline.test_rounds")

    def __init__(self, script: list[str]) -> None:
        super().__init__(interval=0.01)
        self.script, self.done, self.closed = list(script), threading.Event(), threading.Event()
        self.ran: list[str] = []

    def round(self) -> bool:
        if not self.script:
            self.done.set()
            self.stopping.wait(5)
            return False
        step = self.script.pop(0)
        self.ran.append(step)
        if step == "fail":
            raise RuntimeError("the database is down")
        return step == "more"

    def close(self) -> None:
        self.closed.set()


def test_a_background_loop_survives_failed_rounds_and_closes_when_stopped(caplog: pytest.LogCaptureFixture) -> None:
    rounds = Rounds(["fail", "fail", "more", "idle", "fail"])
    with caplog.at_level(logging.INFO, logger="meterline.test_rounds"):
        thread = rounds.start()
        assert rounds.done.wait(10), "the loop stopped running rounds"
        rounds.stop()
        thread.join(10)
    assert not thread.is_alive() and rounds.closed.is_set() and thread.name == "meterline-test-rounds"
    assert rounds.ran == ["fail", "fail", "more", "idle", "fail"]
    # the same error twice in a row: its traceback once; after a round that worked, once again
    assert [(r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("test round failed", True),
        ("test round failed", False),
        ("test round failed", True),
    ]
