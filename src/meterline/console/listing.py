"""One list mechanism for the console's lists (customers, invoices, price plans, usage meters, event schemas,
events): sortable columns, previous and next pages with counts ("26–50 of 312 invoices"), the sort and the filters
kept in the URL.

A list's URL says everything: its filters, `sort` (a column's key, `-key` for descending; left out when it is the
list's default) and `page` (from 1; left out on the first). A column heading is a link that sorts by the column (the
first click in the column's natural direction: names A to Z, dates newest first; the next click the other way) and
carries `aria-sort` while the list is sorted by it. Sorting and paging go back to the repository, in SQL (an offset
page and a count: `OrgRepository.counted_page`); nothing here loads a whole list.

A sort or page parameter that is not one is a 400 page saying so in words, never a 500. A page past the last (the
list got shorter since the link was made) shows no rows and a link to the last page.

Why offset pages (`page=3`) here while the API pages by keyset (`nextToken`): a person wants to know how long the
list is and to go back as well as forward, which keyset tokens cannot say; the console's lists are an
organization's customers, invoices, plans, meters and schemas, small enough to count (and the events list, which
may hold millions, counts up to 10,000 only). Rows added while someone pages may shift a row to the next page; the
API, which programs page through to the end, keeps its keyset pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from meterline.core.pagination import Counted, Slice

SIZE = 25  # rows a page
LAST_PAGE = 100_000  # beyond, filters narrow a list better than paging (and offsets stay small)


@dataclass(frozen=True)
class Column:
    """A column a list sorts by. `descending_first`: its first click sorts newest or largest first (dates,
    amounts). `heading`: False for an order the list offers without a column of its own (its default)."""

    label: str
    descending_first: bool = False
    heading: bool = True


@dataclass(frozen=True)
class Spec:
    """What a list offers: its path, the columns it sorts by (their keys are the repository's sort keys), its
    default sort (`name`, `-date`), what it lists (singular, plural) and its rows a page."""

    path: str
    columns: Mapping[str, Column]
    default: str
    noun: tuple[str, str]
    size: int = SIZE

    def sort_of(self, text: str) -> tuple[str, bool] | None:
        key = text.removeprefix("-")
        return (key, text.startswith("-")) if key in self.columns else None


@dataclass(frozen=True)
class Header:
    label: str
    href: str
    aria_sort: str | None  # "ascending" or "descending" on the column the list is sorted by, else None
    arrow: str  # "▲" or "▼" beside the sorted column's label (hidden from screen readers: aria-sort says it)


@dataclass
class Listing:
    """One list as asked by the URL, then (`found`) as the repository answered: what the templates read."""

    spec: Spec
    sort: str
    descending: bool
    page: int
    filters: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    total: int = 0
    more: bool = False  # counting stopped at a cap: there are more than `total`
    shown: int = 0

    @classmethod
    def read(cls, spec: Spec, *, sort: str = "", page: str = "", filters: Mapping[str, str] | None = None) -> Listing:
        """The list the URL asks for; a sort or page that is not one is kept in `errors`, in words."""
        errors: dict[str, str] = {}
        default = spec.sort_of(spec.default)
        if default is None:
            raise ValueError(f"the default sort {spec.default!r} is not one of the list's columns")
        chosen = spec.sort_of(sort.strip()) if sort.strip() else default
        if chosen is None:
            headings = [c.label for c in spec.columns.values() if c.heading]
            how = (
                f"click a column heading ({_either(headings)}) to sort by it"
                if headings
                else "this list is not sortable"
            )
            errors["sort"] = f"Sort: {sort.strip()!r} is not a column of this list; {how}"
            chosen = default
        number = 1
        if page.strip():
            text = page.strip()
            if not text.isdecimal() or not text.isascii() or int(text) < 1:
                errors["page"] = f"Page: {text!r} is not a page number; pages are numbered 1, 2, 3…"
            elif int(text) > LAST_PAGE:
                errors["page"] = f"Page: at most {LAST_PAGE:,}; narrow the list with its filters instead"
            else:
                number = int(text)
        kept = {k: v for k, v in (filters or {}).items() if v}
        return cls(spec, chosen[0], chosen[1], number, kept, errors)

    # -- asking the repository --------------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return not self.errors

    def slice(self) -> Slice:
        size = self.spec.size
        return Slice(offset=(self.page - 1) * size, size=size, sort=self.sort, descending=self.descending)

    def count_only(self) -> Slice:
        """No row, just the count (`Counted.total`) of the list with other filters."""
        return Slice(offset=0, size=0, sort=self.sort, descending=self.descending)

    def found(self, counted: Counted[Any]) -> None:
        self.total, self.more, self.shown = counted.total, counted.more, len(counted.items)

    # -- URLs -------------------------------------------------------------------------------------------------------
    @property
    def sort_param(self) -> str:
        """The `sort` of this list's URLs ("" for the default): filter forms carry it in a hidden field."""
        text = f"{'-' if self.descending else ''}{self.sort}"
        return "" if text == self.spec.default else text

    def url(self, *, page: int = 1, sort: str | None = None) -> str:
        chosen = self.sort_param if sort is None else ("" if sort == self.spec.default else sort)
        query = {**self.filters, **({"sort": chosen} if chosen else {}), **({"page": str(page)} if page > 1 else {})}
        return f"{self.spec.path}?{urlencode(query)}" if query else self.spec.path

    @property
    def first_url(self) -> str:
        return self.url()

    def header(self, key: str) -> Header:
        """A column heading: a link that sorts by it (the other way if the list is already sorted by it), from the
        first page, the filters kept."""
        column = self.spec.columns[key]
        if key == self.sort:
            descending = not self.descending
            state: str | None = "descending" if self.descending else "ascending"
        else:
            descending, state = column.descending_first, None
        arrow = "" if state is None else ("▼" if self.descending else "▲")
        return Header(column.label, self.url(sort=f"{'-' if descending else ''}{key}"), state, arrow)

    # -- pages and counts ------------------------------------------------------------------------------------------
    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.spec.size))

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.spec.size + 1

    @property
    def past_end(self) -> bool:
        """A page after the last (the list got shorter since the link was made)."""
        return self.shown == 0 and self.page > 1

    @property
    def prev_url(self) -> str | None:
        if self.page <= 1:
            return None
        return self.url(page=min(self.page - 1, self.pages) if not self.more else self.page - 1)

    @property
    def next_url(self) -> str | None:
        if self.shown == 0 or (self.first_row + self.shown - 1 >= self.total and not self.more):
            return None
        return self.url(page=self.page + 1)

    @property
    def last_url(self) -> str:
        return self.url(page=self.pages)

    @property
    def counts(self) -> str:
        """ "26–50 of 312 invoices" ("1 of 1 invoice"; "of more than 10,000" when the count stopped at a cap)."""
        if self.shown == 0:
            return ""
        last = self.first_row + self.shown - 1
        rows = f"{self.first_row:,}" if last == self.first_row else f"{self.first_row:,}–{last:,}"
        noun = self.spec.noun[0] if self.total == 1 and not self.more else self.spec.noun[1]
        return f"{rows} of {'more than ' if self.more else ''}{self.total:,} {noun}"

    @property
    def page_words(self) -> str:
        return f"Page {self.page:,}" if self.more else f"Page {self.page:,} of {self.pages:,}"


def _either(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
