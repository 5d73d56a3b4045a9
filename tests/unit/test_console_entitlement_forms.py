"""The Features and Entitlements forms' translation, pure (console/entitlement_forms.py): rows of picked schema
attributes into `schemaAssociations` and back, days of the organization into an entry's window, the services' exact
refusals into words next to their field (never an API path), and what a void or an update does in one sentence."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from meterline.console import entitlement_forms as forms
from meterline.console.account_forms import Refused
from meterline.core.clock import END_OF_TIME
from meterline.core.errors import BadRequest, Conflict
from meterline.entitlements.feature_service import Association, FeatureView
from meterline.entitlements.models import Feature
from meterline.entitlements.schemas import CreateFeatureRequest, UpdateFeatureRequest

D = Decimal
UTC = timezone.utc
API_WORDS = ("schemaAssociations", "schemaName", "attributeName", "effectiveUntil", "effectiveFrom", "granted:")
FEATURE = "feature.01abcdefghjkmnpqrstvwxyz01"


def refused(call: object, *args: object, **kwargs: object) -> dict[str, str]:
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.errors


def no_api_words(errors: dict[str, str]) -> None:
    for text in errors.values():
        assert not any(w in text for w in API_WORDS), text


def _view(billable: str | None, pairs: list[tuple[str, str]]) -> FeatureView:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    row = Feature(pk=FEATURE, org_id="org", name="API calls", billable_name=billable, created_at=at, updated_at=at)
    return FeatureView(row, [Association(s, a) for s, a in pairs])


# -- a feature's rows ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "pair"),
    [
        ("api_calls/calls", ("api_calls", "calls")),
        ("api calls/call count", ("api calls", "call count")),
        (" storage/gigabytes ", ("storage", "gigabytes")),
        ("nonsense", None),
        ("api_calls/", None),
        ("/calls", None),
        ("", None),
    ],
)
def test_a_rows_value_is_a_schema_and_its_attribute(value: str, pair: tuple[str, str] | None) -> None:
    assert forms.split_pair(value) == pair
    if pair is not None:
        assert forms.split_pair(forms.pair_value(*pair)) == pair


def test_the_edit_form_of_a_feature_lists_its_pairs_and_one_empty_row() -> None:
    form = forms.feature_form_from(_view("API requests", [("api_calls", "calls"), ("storage", "gigabytes")]))
    assert (form.name, form.billable_name, form.had_billable_name) == ("API calls", "API requests", True)
    assert form.rows == ["api_calls/calls", "storage/gigabytes", ""]
    bare = forms.feature_form_from(_view(None, []))
    assert (bare.billable_name, bare.had_billable_name, bare.rows) == ("", False, [""])
    full = forms.feature_form_from(_view(None, [(f"s{i}", "a") for i in range(forms.MAX_ROWS)]))
    assert len(full.rows) == forms.MAX_ROWS  # no empty row past the limit


def test_add_a_schema_grows_the_form_up_to_the_limit() -> None:
    form = forms.feature_form_of("X", "", ["a/b"])
    assert forms.grow_feature_form(form, "add_row") and form.rows == ["a/b", ""]
    assert not forms.grow_feature_form(form, "save") and form.rows == ["a/b", ""]
    form.rows = [""] * forms.MAX_ROWS
    assert forms.grow_feature_form(form, "add_row") and len(form.rows) == forms.MAX_ROWS
    assert forms.feature_form_of("X", "", []).rows == [""]


def test_the_body_leaves_empty_rows_out_and_remembers_which_row_each_pair_came_from() -> None:
    body, rows = forms.feature_body(forms.feature_form_of("API calls", "", ["", "a/x", " ", "b/y"]), editing=False)
    assert body == {
        "name": "API calls",
        "schemaAssociations": [{"schemaName": "a", "attributeName": "x"}, {"schemaName": "b", "attributeName": "y"}],
    }
    assert rows == [1, 3]
    CreateFeatureRequest.model_validate(body)  # what the API takes
    body, rows = forms.feature_body(forms.feature_form_of("SSO", "Single sign-on", [""]), editing=True)
    assert body == {"name": "SSO", "billableName": "Single sign-on", "schemaAssociations": []} and rows == []
    UpdateFeatureRequest.model_validate(body)


def test_the_body_refuses_what_is_not_a_pick_too_many_rows_and_an_emptied_billable_name() -> None:
    assert refused(forms.feature_body, forms.feature_form_of("X", "", ["a/x", "junk"]), editing=False) == {
        "row.1": "Row 2: pick an event schema's attribute from the list"
    }
    many = forms.feature_form_of("X", "", [f"s{i}/a" for i in range(forms.MAX_ROWS + 2)])
    assert refused(forms.feature_body, many, editing=False) == {
        "form": "A feature reads at most 50 event schemas: leave 2 out"
    }
    emptied = forms.feature_form_of("X", " ", [""], had_billable_name=True)
    errors = refused(forms.feature_body, emptied, editing=True)
    assert errors["billable_name"].startswith("Billable name: a feature keeps its billable name once it has one")
    body, _ = forms.feature_body(forms.feature_form_of("X", "", [""]), editing=True)  # none before: none sent
    assert "billableName" not in body


def test_the_request_models_refusals_are_next_to_their_field_or_row() -> None:
    body, rows = forms.feature_body(
        forms.feature_form_of("   ", "B" * 256, ["", "a/x", "b/" + "y" * 51]), editing=False
    )
    with pytest.raises(ValidationError) as caught:
        CreateFeatureRequest.model_validate(body)
    errors = forms.feature_validation_errors(caught.value, rows)
    assert errors == {
        "name": "Name: must not be blank",
        "billable_name": "Billable name: at most 255 characters",
        "row.2": "Row 3: at most 50 characters",
    }
    no_api_words(errors)


@pytest.mark.parametrize(
    ("message", "errors"),
    [
        (
            f"schemaAssociations[1].schemaName: event schema storage already feeds feature {FEATURE}; a schema feeds "
            "one feature, so that each of its events has one number of units",
            {
                "row.3": f"Row 4: event schema storage already feeds the feature “Storage” ({FEATURE}). A schema "
                "feeds one feature, so that each of its events has one number of units: take it off that feature "
                "first, or pick another schema"
            },
        ),
        (
            "schemaAssociations[0].schemaName: event schema api calls is named twice; a feature reads one attribute "
            "of each schema",
            {"row.0": "Row 1: event schema api calls is picked twice; a feature reads one attribute of each"},
        ),
        (
            "schemaAssociations[0].schemaName: there is no event schema named 'gone'",
            {"row.0": "Row 1: there is no event schema named gone (any more): pick another one"},
        ),
        (
            "schemaAssociations[1].attributeName: event schema api_calls has no attribute 'minutes' (its attributes: "
            "calls, seconds)",
            {
                "row.3": "Row 4: event schema api_calls has no attribute “minutes” (any more); its attributes: calls, "
                "seconds. Pick one of them"
            },
        ),
        ("schemaAssociations[1].schemaName: something new", {"row.3": "Row 4: something new"}),
        (
            "schemaAssociations[7].schemaName: out of the rows",
            {"form": "schemaAssociations[7].schemaName: out of the rows"},
        ),
        ("Feature feature.x not found", {"form": "Feature feature.x not found"}),
    ],
)
def test_the_services_refusals_are_next_to_their_row(message: str, errors: dict[str, str]) -> None:
    assert forms.feature_errors(message, [0, 3], {FEATURE: "Storage"}) == errors
    if "row.3" in errors or "row.0" in errors:
        no_api_words(errors)


def test_a_schema_fed_by_an_unknown_feature_is_named_by_its_id() -> None:
    message = f"schemaAssociations[0].schemaName: event schema s already feeds feature {FEATURE}; a schema feeds"
    assert forms.feature_owner(message) == FEATURE
    assert forms.feature_owner("schemaAssociations[0].schemaName: event schema s is named twice") is None
    assert f"the feature {FEATURE}. A schema" in forms.feature_errors(message, [0], {})["row.0"]


# -- units and days ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("100", None),
        ("2.5", None),
        ("1,000", None),
        ("0.000000000001", None),
        ("0", "Units: enter a number of units above 0, such as 100 or 2.5"),
        ("-3", "Units: enter a number of units above 0, such as 100 or 2.5"),
        ("ten", "Units: enter a number of units above 0, such as 100 or 2.5"),
        ("", "Units: enter a number of units above 0, such as 100 or 2.5"),
        ("1e15", "Units: enter a number below 10^15 (a thousand trillion), such as 100 or 2.5"),
        ("0.0000000000001", "Units: at most 12 decimals, such as 100 or 2.5"),
    ],
)
def test_units_in_words(text: str, words: str | None) -> None:
    assert forms.units_words("Units", text) == words


@pytest.mark.parametrize(
    ("value", "words"), [(D(1), "1 unit"), (D("7.5"), "7.5 units"), (D(1000), "1,000 units"), (D(0), "0 units")]
)
def test_units(value: Decimal, words: str) -> None:
    assert forms.units(value) == words


@pytest.mark.parametrize(
    ("zone", "instant"),
    [
        ("UTC", datetime(2026, 1, 1, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2025, 12, 31, 23, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 1, 1, 5, tzinfo=UTC)),
        ("Not/AZone", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_day_starts_at_the_organizations_midnight(zone: str, instant: datetime) -> None:
    assert forms.day_start(date(2026, 1, 1), zone) == instant


def test_open_ends_in_words() -> None:
    assert forms.starts_words(datetime(1970, 1, 1, tzinfo=UTC)) == "no start"
    assert forms.starts_words(datetime(2026, 1, 1, 12, 5, tzinfo=UTC)) == "2026-01-01 12:05 UTC"
    assert forms.ends_words(END_OF_TIME) == "no end"
    assert forms.ends_words(datetime(2026, 2, 1, tzinfo=UTC)) == "2026-02-01 00:00 UTC"
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert forms.window_words(datetime(1970, 1, 1, tzinfo=UTC), END_OF_TIME) == "from the start, with no end"
    assert forms.window_words(start, end) == "from 2026-01-01 00:00 UTC until 2026-02-01 00:00 UTC"
    assert forms.window_lines(datetime(1970, 1, 1, tzinfo=UTC), end) == ("from the start", "until 2026-02-01 00:00 UTC")
    assert forms.window_lines(start, END_OF_TIME) == ("from 2026-01-01 00:00 UTC", "with no end")


# -- Grant credits -------------------------------------------------------------------------------------------------
def test_a_grant_of_days_is_a_window_of_the_organizations_midnights() -> None:
    grant = forms.grant_of("acme", FEATURE, {"granted": "1,000.5", "start": "2026-01-01", "until": "2026-01-31"}, "UTC")
    assert (grant.account_id, grant.feature_id, grant.granted) == ("acme", FEATURE, D("1000.5"))
    assert grant.effective_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert grant.effective_until == datetime(2026, 2, 1, tzinfo=UTC)  # the last day included
    berlin = forms.grant_of("acme", FEATURE, {"granted": "1", "until": "2026-01-31"}, "Europe/Berlin")
    assert (berlin.effective_from, berlin.effective_until) == (None, datetime(2026, 1, 31, 23, tzinfo=UTC))
    last = forms.grant_of("acme", FEATURE, {"granted": "1", "until": "9999-12-30"}, "America/New_York")
    assert last.effective_until == END_OF_TIME  # never past the end of time


def test_a_grant_refused_says_every_mistake_at_once() -> None:
    errors = refused(
        forms.grant_of, "acme", FEATURE, {"granted": "0", "start": "2026-02-01", "until": "2026-01-31"}, "UTC"
    )
    assert errors == {
        "granted": "Units: enter a number of units above 0, such as 100 or 2.5",
        "until": "Until: pick 2026-02-01 or a later day (the entry's last day)",
    }
    errors = refused(forms.grant_of, "acme", FEATURE, {"granted": "5", "start": "2026-02-30"}, "UTC")
    assert errors == {"start": "From: pick a day from the calendar (YYYY-MM-DD), such as 2026-12-01"}


@pytest.mark.parametrize(
    ("message", "errors"),
    [
        ("granted: must be more than 0 (units of the feature)", {"granted": "Units: enter a number above 0"}),
        (
            "effectiveUntil must be in the future (now is 2026-12-02T10:00:00Z)",
            {"until": "Until: pick today or a later day: an entry that has ended can no longer be used"},
        ),
        (
            "effectiveUntil must be after effectiveFrom",
            {"until": "Until: pick the first day or a later one (the entry's last day)"},
        ),
        (
            "effectiveFrom: must be a UTC date-time from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z",
            {"start": "From: pick a day from 1970-01-01 to 9999-12-30"},
        ),
        (
            "effectiveUntil: must be a UTC date-time from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z",
            {"until": "Until: pick a day from 1970-01-01 to 9999-12-30"},
        ),
        ("Account nobody not found", {"form": "Account nobody not found"}),
    ],
)
def test_a_grants_refusal_is_next_to_its_field(message: str, errors: dict[str, str]) -> None:
    assert forms.grant_errors(BadRequest(message), {"granted": "5"}) == errors
    no_api_words({k: v for k, v in errors.items() if k != "form"})


# -- Update and void -----------------------------------------------------------------------------------------------
def test_an_update_changes_what_it_is_given() -> None:
    change = forms.entry_change_of({"granted": "20", "until": ""}, "UTC")
    assert change == forms.EntryChange(D(20), None)
    change = forms.entry_change_of({"granted": "", "until": "2026-03-31"}, "UTC")
    assert change == forms.EntryChange(None, datetime(2026, 4, 1, tzinfo=UTC))
    assert refused(forms.entry_change_of, {"granted": " ", "until": ""}, "UTC") == {
        "form": "Type the units the entry grants, its new last day, or both: an empty form changes nothing"
    }
    assert refused(forms.entry_change_of, {"granted": "-1", "until": "someday"}, "UTC") == {
        "granted": "Units: enter a number of units above 0, such as 100 or 2.5",
        "until": "Until: pick a day from the calendar (YYYY-MM-DD), such as 2026-12-01",
    }


@pytest.mark.parametrize(
    ("message", "errors"),
    [
        (
            "Entry ps.x#20260101$PRICE_PLAN is VOIDED: only an ACTIVE entry can be updated",
            {"form": "This entry is voided: only an active entry can be changed or voided"},
        ),
        (
            "Entry ent.x$ENTITLEMENT is EXPIRED: only an ACTIVE entry can be voided",
            {"form": "This entry is expired: only an active entry can be changed or voided"},
        ),
        (
            "granted: must be at least what the entry has used already, 1234.5",
            {"granted": "Units: at least 1,234.5, what the entry has used already"},
        ),
        ("granted: must be more than 0 (units of the feature)", {"granted": "Units: enter a number above 0"}),
        (
            "effectiveUntil must be in the future (now is 2026-12-02T10:00:00Z)",
            {"until": "Until: pick today or a later day: an entry that has ended can no longer be used"},
        ),
        (
            "effectiveUntil must be after the entry's effectiveFrom, 2027-01-01T00:00:00Z",
            {"until": "Until: pick a later day: the entry starts at 2027-01-01T00:00:00Z"},
        ),
    ],
)
def test_an_updates_refusal_is_next_to_its_field(message: str, errors: dict[str, str]) -> None:
    assert forms.entry_errors(BadRequest(message), {"granted": "5"}) == errors
    no_api_words(errors)
    assert forms.entry_errors(Conflict("something else"), {}) == {"form": "something else"}


ENTRY = "ps.00000000000000000000000000#20260101$PRICE_PLAN"


def _facts(granted: str, used: str, balance: str, ends: datetime) -> forms.EntryFacts:
    return forms.EntryFacts(ENTRY, D(granted), D(used), D(balance), ends)


def test_a_void_says_what_is_lost_and_what_stays() -> None:
    assert forms.void_words(_facts("10", "2.5", "7.5", END_OF_TIME)) == (
        f"Void entry {ENTRY}: its 7.5 units left can no longer be used; 2.5 used stay. A voided entry cannot be "
        "made active again, and what it left is not given back."
    )
    assert "its 0 units left can no longer be used; 1 used stays." in forms.void_words(
        _facts("1", "1", "0", END_OF_TIME)
    )


def test_an_update_says_what_changes_and_what_is_left() -> None:
    before = _facts("10", "2.5", "7.5", END_OF_TIME)
    ends = datetime(2027, 2, 1, tzinfo=UTC)
    assert forms.update_words(before, _facts("20", "2.5", "17.5", ends)) == (
        f"Update entry {ENTRY}: it grants 20 units instead of 10 and it ends at 2027-02-01 00:00 UTC instead of no "
        "end. What it used stays (2.5); left to use: 17.5 units (now 7.5 units)."
    )
    assert forms.update_words(_facts("10", "0", "10", ends), _facts("10", "0", "10", END_OF_TIME)) == (
        f"Update entry {ENTRY}: it has no end instead of 2027-02-01 00:00 UTC. What it used stays (0); left to use: "
        "10 units (now 10 units)."
    )
    assert ": nothing changes." in forms.update_words(before, before)
