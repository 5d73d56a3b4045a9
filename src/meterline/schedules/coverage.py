"""For ingestion: is an account on a plan at an instant, and is the cycle of that instant still open (D3, D5)?

Loaded once per ingest call for the accounts it touches; answers per event from memory. A cycle [start, end) stays
open for events until `end + gracePeriod days`; after that its invoice is final and an event inside it is refused.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from meterline.rating import cycles
from meterline.schedules.models import PricingSchedule
from meterline.schedules.service import cycle_config

UNSCHEDULED, OPEN, CLOSED = "UNSCHEDULED", "OPEN", "CLOSED"


class Coverage:
    def __init__(self, schedules: dict[str, list[PricingSchedule]], tz: ZoneInfo, now: datetime) -> None:
        self._schedules = schedules
        self._tz = tz
        self._now = now
        self._configs: dict[str, cycles.CycleConfig | None] = {}
        self._last: dict[str, cycles.Cycle] = {}  # schedule pk -> the cycle found last (events of a batch cluster)

    def state(self, account_pk: str, at: datetime) -> str:
        schedule = next((s for s in self._schedules.get(account_pk, ()) if s.start_at <= at < s.end_at), None)
        if schedule is None:
            return UNSCHEDULED
        if schedule.pk not in self._configs:
            self._configs[schedule.pk] = cycle_config(schedule.cycle)
        config = self._configs[schedule.pk]
        if config is None:  # a PURCHASE plan has no cycle to close
            return OPEN
        cycle = self._last.get(schedule.pk)
        if cycle is None or not cycle.start <= at < cycle.end:
            cycle = self._last[schedule.pk] = cycles.cycle_containing(config, at, self._tz)
        return CLOSED if self._now >= cycle.grace_end(config.grace_period_days) else OPEN
