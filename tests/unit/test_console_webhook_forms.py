"""The pure parts of Settings → Webhooks (console/webhook_pages.py): the service's refusals in words for their
field, and the range replay's days (UTC, the last one included) as instants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterline.console.webhook_pages import _since_until, in_words


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ("url: 'ftp://x' must be an http or https URL", "url", "URL: 'ftp://x' must be an http or https URL"),
        (
            "eventTypes: name at least one of invoice.created, invoice.paid",
            "event_types",
            "Event types: tick at least one",
        ),
        ("eventTypes: 'x' is not one of invoice.paid", "event_types", "Event types: 'x' is not one of invoice.paid"),
        ("description: at most 500 characters", "description", "Description: at most 500 characters"),
        ("since: must be before until", "since", "From: must be before until"),
        ("Webhook endpoint whep.1 not found", "form", "Webhook endpoint whep.1 not found"),
        ("note: not a field of the form", "form", "note: not a field of the form"),
    ],
)
def test_refusals_in_words(message: str, field: str, words: str) -> None:
    assert in_words(message) == (field, words)


def test_range_days() -> None:
    start, end, errors = _since_until("2026-12-01", "2026-12-31")
    assert (start, end, errors) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), {})
    assert _since_until(" 2026-12-01 ", "") == (datetime(2026, 12, 1, tzinfo=UTC), None, {})  # up to now
    assert _since_until("2026-12-01", "2026-12-01")[1] == datetime(2026, 12, 2, tzinfo=UTC)  # one day
    assert _since_until("yesterday", "2026-13-01")[2] == {
        "since": "From: enter a day, such as 2026-12-01",
        "until": "Until: enter a day, such as 2026-12-31, or leave it empty for up to now",
    }
    assert _since_until("2026-12-10", "2026-12-01")[2] == {"until": "Until: the last day must not be before From"}
