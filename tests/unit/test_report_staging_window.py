"""The window a staged report reads (reports/staging.py, where usage and events are kept in ClickHouse) reaches past
every instant ingestion accepts: a filter at the end of time neither overflows nor leaves events out."""

from __future__ import annotations

from datetime import datetime, timezone

from meterline.core.clock import END_OF_TIME
from meterline.reports.schemas import QueryInput
from meterline.reports.staging import FAR, _window


def query(*filters: tuple[str, list[str]]) -> QueryInput:
    return QueryInput.model_validate(
        {
            "baseDataSource": "events",
            "selects": [{"columnName": "referenceId"}],
            "sort": [],
            "limit": 10,
            "queryFilters": [
                {"column": {"columnName": "timestamp"}, "operator": op, "args": args} for op, args in filters
            ],
        }
    )


def test_a_window_at_the_end_of_time_holds_its_events() -> None:
    last = "9999-12-31T23:59:59.999999Z"
    start, end, _ = _window(query(("LTE", [last])), "timestamp")
    assert end == FAR and END_OF_TIME < FAR
    start, end, _ = _window(query(("GTE", ["9999-06-01T00:00:00Z"])), "timestamp")
    assert start == datetime(9999, 6, 1, tzinfo=timezone.utc) and END_OF_TIME < end
    start, end, _ = _window(query(("BETWEEN", ["9999-12-30T00:00:00Z", last])), "timestamp")
    assert start < END_OF_TIME < end == FAR
    start, end, _ = _window(query(("EQ", ["9999-12-31T00:00:00Z"])), "timestamp")  # the last instant accepted
    assert start == END_OF_TIME < end
