"""The background loops of `meterline serve` and `meterline worker`: bill runs, webhook deliveries and alert
evaluations, each a daemon thread that runs one round every `interval` seconds until stopped.

A round that fails outside every organization (the database is down or busy, say) is logged (round_failed: a busy
SQLite as a warning without a traceback, anything else as an error with its traceback once while it lasts) and
tried again at the next tick: the loop itself never dies of it. A round that says more work is waiting is followed
by the next one at once.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import ClassVar

from meterline.core.observability import describe, round_failed


class BackgroundLoop(ABC):
    thread_name: ClassVar[str]  # the thread's name, as tools and tracebacks show it
    what: ClassVar[str]  # the round, as logs name it ("bill run")
    log: ClassVar[logging.Logger]

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stopping = threading.Event()

    @abstractmethod
    def round(self) -> bool:
        """One round; True when more work may be waiting (the next round then starts without a wait)."""

    def loop(self) -> None:
        last_error: str | None = None
        while not self.stopping.is_set():
            try:
                more = self.round()
                last_error = None
                if more:
                    continue
            except Exception as exc:  # outside every organization: tried again at the next tick
                last_error = round_failed(self.log, self.what, exc, describe(exc), last_error)
            self.stopping.wait(self.interval)
        self.close()

    def close(self) -> None:  # noqa: B027 - a hook: most loops keep nothing
        """Release what the rounds kept (called by the loop's thread when it ends)."""

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.loop, name=self.thread_name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
