"""console/listing.py: what a list's URL asks, its headings' links and aria-sort, its pages and counts in words."""

from __future__ import annotations

import pytest

from meterline.console.listing import LAST_PAGE, Column, Listing, Spec
from meterline.core.pagination import Counted, Slice

SPEC = Spec(
    path="/invoices",
    columns={
        "number": Column("Number", descending_first=True),
        "date": Column("Invoice date", descending_first=True),
        "name": Column("Name"),
        "made": Column("Made", heading=False),
    },
    default="-date",
    noun=("invoice", "invoices"),
)


def listed(total: int, shown: int, **asked: str) -> Listing:
    found = Listing.read(SPEC, **asked)  # type: ignore[arg-type]
    found.found(Counted(items=[object()] * shown, total=total))
    return found


def test_the_default_sort_and_first_page_stay_out_of_urls_and_filters_stay_in() -> None:
    found = Listing.read(SPEC, filters={"status": "DUE", "account": "", "q": "a b&c"})
    assert (found.sort, found.descending, found.page, found.errors) == ("date", True, 1, {})
    assert found.slice() == Slice(offset=0, size=25, sort="date", descending=True)
    assert found.url() == "/invoices?status=DUE&q=a+b%26c"
    assert found.url(page=3) == "/invoices?status=DUE&q=a+b%26c&page=3"
    assert Listing.read(SPEC).url() == "/invoices"
    assert Listing.read(SPEC, sort="name", page="2").slice() == Slice(offset=25, size=25, sort="name")


@pytest.mark.parametrize(
    ("sort", "key", "state", "href", "arrow"),
    [
        ("", "date", "descending", "/invoices?status=DUE&sort=date", "▼"),  # sorted by it: the other way
        ("date", "date", "ascending", "/invoices?status=DUE", "▲"),  # back to the default (newest first)
        ("", "name", None, "/invoices?status=DUE&sort=name", ""),  # a name: A to Z first
        ("", "number", None, "/invoices?status=DUE&sort=-number", ""),  # a number: largest first
        ("-name", "name", "descending", "/invoices?status=DUE&sort=name", "▼"),
    ],
)
def test_a_heading_sorts_by_its_column_one_way_then_the_other(
    sort: str, key: str, state: str | None, href: str, arrow: str
) -> None:
    found = Listing.read(SPEC, sort=sort, page="4", filters={"status": "DUE"})
    heading = found.header(key)
    assert (heading.aria_sort, heading.href, heading.arrow) == (state, href, arrow)  # from the first page


def test_counts_and_previous_and_next_pages() -> None:
    first = listed(312, 25)
    assert (first.counts, first.page_words, first.prev_url) == ("1–25 of 312 invoices", "Page 1 of 13", None)
    assert first.next_url == "/invoices?page=2"
    second = listed(312, 25, page="2", sort="name")
    assert second.counts == "26–50 of 312 invoices"
    assert (second.prev_url, second.next_url) == ("/invoices?sort=name", "/invoices?sort=name&page=3")
    last = listed(312, 12, page="13")
    assert (last.counts, last.next_url, last.prev_url) == ("301–312 of 312 invoices", None, "/invoices?page=12")
    assert listed(1, 1).counts == "1 of 1 invoice"
    assert (listed(26, 1, page="2").counts, listed(26, 1, page="2").next_url) == ("26 of 26 invoices", None)
    capped = Listing.read(SPEC, page="2")
    capped.found(Counted(items=[object()] * 25, total=10_000, more=True))
    assert (capped.counts, capped.page_words) == ("26–50 of more than 10,000 invoices", "Page 2")
    assert capped.next_url == "/invoices?page=3"


def test_a_page_past_the_end_links_back_to_the_last() -> None:
    gone = listed(30, 0, page="9")
    assert (gone.past_end, gone.counts, gone.next_url) == (True, "", None)
    assert (gone.last_url, gone.prev_url) == ("/invoices?page=2", "/invoices?page=2")
    empty = listed(0, 0)
    assert (empty.past_end, empty.counts, empty.next_url, empty.pages) == (False, "", None, 1)


@pytest.mark.parametrize(
    ("asked", "words"),
    [
        ({"sort": "total"}, "Sort: 'total' is not a column of this list; click a column heading (Number, Invoice date"),
        ({"sort": "--date"}, "Sort: '--date' is not a column"),
        ({"sort": "made; drop"}, "Sort: 'made; drop' is not a column"),
        ({"page": "0"}, "Page: '0' is not a page number; pages are numbered 1, 2, 3…"),
        ({"page": "-1"}, "Page: '-1' is not a page number"),
        ({"page": "2.5"}, "Page: '2.5' is not a page number"),
        ({"page": "٣"}, "Page: '٣' is not a page number"),  # a digit, but not one a URL's page takes
        ({"page": str(LAST_PAGE + 1)}, "Page: at most 100,000; narrow the list with its filters instead"),
        ({"page": "9" * 40}, "Page: at most 100,000"),
    ],
)
def test_a_sort_or_page_that_is_not_one_is_said_in_words(asked: dict[str, str], words: str) -> None:
    found = Listing.read(SPEC, **asked)  # type: ignore[arg-type]
    assert not found.ok
    assert any(message.startswith(words) for message in found.errors.values()), found.errors
    assert found.slice().offset == 0  # what a refused list would have asked: the first page, the default sort


def test_an_order_without_a_heading_is_a_valid_sort_but_not_a_link() -> None:
    assert Listing.read(SPEC, sort="-made").ok
    assert "Made" not in Listing.read(SPEC, sort="bogus").errors["sort"]
    plain = Spec(
        path="/events",
        columns={"received": Column("Received", heading=False)},
        default="-received",
        noun=("event", "events"),
    )
    assert (
        Listing.read(plain, sort="name").errors["sort"]
        == "Sort: 'name' is not a column of this list; this list is not sortable"
    )
