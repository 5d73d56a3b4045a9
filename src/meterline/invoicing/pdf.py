"""The invoice as a PDF, drawn with fpdf2 (pure Python, from PyPI; nothing is fetched at run time).

`render_invoice_pdf(invoice, zone, wallet)` takes the invoice as the API writes it (camelCase keys, Decimal amounts,
aware datetimes, `revenueInfo` as a tree) and what the wallet paid (or holds, for a draft), and returns the PDF's
bytes. It is pure: no database, clock or network. Layout, on A4 portrait with 15 mm margins:

- header: the seller on the left; INVOICE (or INVOICE (DRAFT)), the number, status (in words), dates and period on
  the right;
- bill to: the customer and the account (when its name is not the customer's), then the price plan;
- the lines (Description | Quantity | Unit price | Amount): each rate card with its slabs indented, adjustments,
  the true-up, in-advance fees, custom lines, credits, and the miscellaneous charges under "Charges". Aggregate
  lines (SUB_TOTAL, PRICE_PLAN, GROSS, NET, TOTAL, ...) are not rows: the tree is walked and only their children are
  listed (`rows`). Descriptions wrap; a row never splits across pages and the header row repeats on every page;
- totals on the right (`totals`): subtotal, true-up, credits, charges, total, wallet, paid, amount due; then the
  usage per meter;
- footer: the invoice id and "Page x/y".

An invoice group's COMPOSITE invoice has its own `render_composite_pdf(invoice, zone)`: the same header and footer,
billed to the group, each member invoice's lines under its own heading, and the members' totals summed.

The console's invoice page lists the same `rows` and `totals`, written by the same functions, so the page and the
PDF show the same lines in the same order with the same text.

Fonts are the PDF core fonts (Helvetica), which encode Latin-1 only. That keeps the renderer free of font files and
of the system's fonts (same bytes on every machine), at the price of other scripts: a character outside Latin-1 is
written as its NFKD base letters when those are Latin-1 ("Ł" -> "L"), else as "?". Amounts and unit prices are
written by `core.money.display`, as the console writes them: the ISO code, the sign on the number, at least the
currency's minor unit and every digit the value has (`USD 1,234.50`, `EUR -12.00`, `JPY 1,200`, `USD 0.0015`),
never rounded and never through float; quantities by `core.numbers.grouped` (`1,536,150`). The creation date is the
invoice date, so the same invoice always gives the same bytes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from fpdf import FPDF

from meterline.core.money import EXACT, display
from meterline.core.numbers import grouped
from meterline.invoicing.statuses import InvoiceStatus, in_words

Line = dict[str, Any]

# Lines that are sums of other lines: they appear in the totals (or not at all), never as rows of the table.
AGGREGATES = {
    "TOTAL_AMOUNT",
    "NET_AMOUNT",
    "GROSS_AMOUNT",
    "PRICE_PLAN_AMOUNT",
    "SUB_TOTAL_AMOUNT",
    "TOTAL_ADVANCED_FEES",
    "TOTAL_MISCELLANEOUS_CHARGES",
    "TOTAL_CREDITS",
    "TOTAL_PRICING_RULE_ADDITION_AMOUNT",  # its PRICING_RULE_ADDITION_AMOUNT lines are listed as cards are
}
# Aggregates that stand for billable lines of their own: without children they are listed themselves.
GROUPS = {"TOTAL_ADVANCED_FEES", "TOTAL_MISCELLANEOUS_CHARGES", "TOTAL_CREDITS"}
COLUMNS = ((78, "Description", "L"), (30, "Quantity", "R"), (34, "Unit price", "R"), (38, "Amount", "R"))
INK, MUTED, RULE = (31, 41, 55), (107, 114, 128), (209, 213, 219)
ROW = 5  # mm per text line in the table


# -- text ----------------------------------------------------------------------------------------------------------
# Common characters outside Latin-1 that NFKD does not take apart: typographic punctuation, a few letters.
_SPELLED = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2022": "-",
        "\u20ac": "EUR",
        "\u0141": "L",
        "\u0142": "l",
        "\u0110": "D",
        "\u0111": "d",
        "\u0152": "OE",
        "\u0153": "oe",
        "\u0131": "i",
    }
)


def latin1(text: object) -> str:
    """Text the core fonts can write: accents dropped where that gives Latin-1, anything else as '?'."""
    value = ("" if text is None else str(text)).translate(_SPELLED)
    out = []
    for char in value:
        if ord(char) < 256:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


def quantity_text(value: Decimal | None) -> str:
    """A quantity, grouped and exact (`1,536,150`): the console's `words.quantity`."""
    return "" if value is None else grouped(value)


def money_text(value: Decimal | None, currency: str) -> str:
    """An amount, exact, as the console writes it (`USD -1,234.50`): `core.money.display`."""
    return "" if value is None else display(value, currency)


def unit_price_text(value: Decimal | None, currency: str) -> str:
    """A price per unit, with every digit it has (`USD 0.00025`): the console's `words.rate`."""
    return money_text(value, currency)


def day_text(value: datetime | None, zone: str = "UTC") -> str:
    """The date in the organization's time zone `zone` (billing periods start at its local midnights), YYYY-MM-DD;
    a naive datetime is taken as UTC."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return aware.astimezone(ZoneInfo(zone)).date().isoformat()
    except OverflowError:  # the end of time (year 9999) has no later local day
        return aware.date().isoformat()


def _address_lines(address: dict[str, Any] | None) -> list[str]:
    """Street; postal code and city; state and country (the API says postalCode, older payloads zipcode)."""
    address = address or {}
    groups = ((", ", "line1", "line2"), (" ", "postalCode", "zipcode", "city"), (", ", "state", "country"))
    lines = [sep.join(str(address[k]) for k in keys if address.get(k)) for sep, *keys in groups]
    return [line for line in lines if line]


def seller_lines(seller: dict[str, Any]) -> list[str]:
    """Under the seller's name: its address and email."""
    return [str(t) for t in (*_address_lines(seller.get("address")), seller.get("primaryEmail")) if t]


def bill_to_lines(details: dict[str, Any]) -> list[str]:
    """Under the customer's name: the account (when its name is not the customer's: never "Acme Inc" twice), the
    email and the address invoices go to."""
    customer, account = details.get("customer") or {}, details.get("account") or {}
    address: list[str | None] = [*_address_lines(account.get("address"))] or [customer.get("billingAddress")]
    named = account.get("name") and account.get("name") != customer.get("name")
    email = account.get("primaryEmail") or customer.get("primaryEmail")
    return [str(t) for t in (f"Account: {account['name']}" if named else None, email, *address) if t]


# -- the line tree -------------------------------------------------------------------------------------------------
def table_rows(line: Line | None, depth: int = 0) -> list[tuple[Line, int]]:
    """The billable lines in order, with their depth: aggregates give way to their children, slabs are indented."""
    if line is None:
        return []
    children = line.get("lineItems") or []
    if line["type"] in AGGREGATES and (children or line["type"] not in GROUPS or not line.get("value")):
        return [row for child in children for row in table_rows(child, depth)]
    return [(line, depth)] + [row for child in children for row in table_rows(child, depth + 1)]


@dataclass(frozen=True)
class Row:
    """A row of the lines' table: the line, its depth (slabs are indented) and the heading that starts before it
    ("Charges" above the first miscellaneous charge), if any."""

    line: Line
    depth: int
    heading: str | None = None


def rows(revenue: Line | None) -> list[Row]:
    """The rows of the lines' table, in order: what the PDF draws and the console's invoice page lists."""
    charges = find_line(revenue, "TOTAL_MISCELLANEOUS_CHARGES")
    charge_ids = {id(c) for c in (charges or {}).get("lineItems") or []} | {id(charges)}
    out: list[Row] = []
    in_charges = False
    for line, depth in table_rows(revenue):
        heading = None
        if id(line) in charge_ids and not in_charges:
            in_charges, heading = True, "Charges"
        out.append(Row(line, depth, heading))
    return out


@dataclass(frozen=True)
class Total:
    label: str
    amount: Decimal
    strong: bool = False  # the total and the amount due


def totals(invoice: dict[str, Any], wallet: Decimal | None = None) -> list[Total]:
    """The totals under the lines, in order: subtotal, true-up (when there is one), credits, charges, total, what the
    wallet paid (on a draft: holds for it), paid (the payments; "Other payments" beside the wallet's line), amount
    due. `wallet` is part of `paidAmount` once the invoice is finalized; on a draft it is what finalizing will take
    from the wallet (D10). A void invoice owes nothing."""
    revenue = invoice.get("revenueInfo")
    total = invoice.get("totalAmount") or Decimal(0)
    paid = invoice.get("paidAmount") or Decimal(0)
    wallet = wallet or Decimal(0)
    status = invoice.get("status")
    out: list[Total] = []
    for label, line_type in (
        ("Subtotal", "SUB_TOTAL_AMOUNT"),
        ("Minimum commitment true-up", "TRUE_UP_AMOUNT"),
        ("Credits", "TOTAL_CREDITS"),
        ("Charges", "TOTAL_MISCELLANEOUS_CHARGES"),
    ):
        line = find_line(revenue, line_type)
        if line is not None and not (line_type == "TRUE_UP_AMOUNT" and not line["value"]):
            out.append(Total(label, line["value"]))
    out.append(Total("Total", total, True))
    draft = status == InvoiceStatus.DRAFT
    if wallet > 0:
        out.append(Total("Wallet (on hold)" if draft else "Paid from wallet", wallet))
    payments = paid if draft else EXACT.subtract(paid, wallet)
    owed = EXACT.subtract(EXACT.subtract(total, payments), wallet)
    out.append(Total("Other payments" if wallet > 0 else "Paid", payments))  # beside the wallet's line: the rest
    out.append(Total("Amount due", Decimal(0) if status == InvoiceStatus.VOID else owed, True))
    return out


def find_line(line: Line | None, line_type: str) -> Line | None:
    if line is None or line["type"] == line_type:
        return line
    for child in line.get("lineItems") or []:
        found = find_line(child, line_type)
        if found is not None:
            return found
    return None


def _is_card(line_type: str) -> bool:
    return line_type.endswith("RATE_CARD_AMOUNT") or line_type == "ADVANCED_FIXED_FEE"


# -- drawing -------------------------------------------------------------------------------------------------------
class _Document(FPDF):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.invoice_id = invoice_id
        self.table_header = False  # repeat the table's header row on the pages the table runs onto
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def header(self) -> None:
        if self.table_header:
            _header_row(self)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(*MUTED)
        self.cell(90, 5, latin1(f"Invoice {self.invoice_id}"))
        self.cell(0, 5, f"Page {self.page_no()}/{{nb}}", align="R")


def _header_row(pdf: FPDF) -> None:
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_text_color(*MUTED)
    for width, title, align in COLUMNS:
        pdf.cell(width, 7, title, align=align)
    pdf.ln(7)
    _rule(pdf)
    pdf.ln(1)


def _rule(pdf: FPDF, x: float | None = None) -> None:
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin if x is None else x, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())


def _fitted_cell(pdf: FPDF, width: float, text: str, height: float = ROW) -> None:
    """One line cell; a number too wide for its column is set smaller rather than spilling over its neighbour."""
    size = pdf.font_size_pt
    while size > 5 and pdf.get_string_width(text) > width - 1:
        pdf.set_font_size(size - 0.5)
        size = pdf.font_size_pt
    pdf.cell(width, height, text, align="R")


def _row(pdf: FPDF, cells: list[str], depth: int = 0, style: str = "", muted: bool = False) -> None:
    """A table row whose first cell wraps; moved whole to the next page when it doesn't fit."""
    indent = 4 * min(depth, 4)
    widths = [COLUMNS[0][0] - indent, *(c[0] for c in COLUMNS[1 : len(cells)])]
    size = 9 if depth == 0 else 8

    def use_font() -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*(MUTED if muted else INK))

    use_font()
    # fpdf2 types multi_cell's result as the union over every `output` choice; "LINES" gives a list of str.
    lines = cast(list[str], pdf.multi_cell(widths[0], ROW, latin1(cells[0]), dry_run=True, output="LINES")) or [""]
    height = ROW * len(lines) + 0.5
    if pdf.will_page_break(height):
        pdf.add_page()
    use_font()
    top = pdf.get_y()
    for i, text in enumerate(lines):
        pdf.set_xy(pdf.l_margin + indent, top + ROW * i)
        pdf.cell(widths[0], ROW, text)
    pdf.set_xy(pdf.l_margin + COLUMNS[0][0], top)
    for width, text in zip(widths[1:], cells[1:], strict=True):
        _fitted_cell(pdf, width, latin1(text))
        use_font()
    pdf.set_xy(pdf.l_margin, top + height)


def _subheading(pdf: FPDF, title: str, keep_with: float = 8) -> None:
    if pdf.will_page_break(6 + keep_with):
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 6, title)
    pdf.ln(6)


def _paragraphs(pdf: FPDF, width: float, texts: list[Any], height: float = ROW) -> None:
    """Left-aligned, wrapped text from the left margin down; empty parts are skipped."""
    for text in texts:
        if text:
            pdf.multi_cell(width, height, latin1(text), align="L", new_x="LMARGIN", new_y="NEXT")


def _draw_header(pdf: FPDF, invoice: dict[str, Any], seller: dict[str, Any], zone: str) -> None:
    top = pdf.get_y()
    pdf.set_text_color(*INK)
    pdf.set_font("Helvetica", "B", 13)
    _paragraphs(pdf, 90, [seller.get("businessName")], height=6)
    pdf.set_font("Helvetica", size=9)
    _paragraphs(pdf, 90, seller_lines(seller))
    left_bottom = pdf.get_y()
    draft = invoice.get("status") == InvoiceStatus.DRAFT
    pdf.set_xy(110, top)
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(85, 9, "INVOICE (DRAFT)" if draft else "INVOICE", align="R")
    facts = [
        ("Number", invoice.get("sequenceId") or "Draft"),
        ("Status", in_words(str(invoice.get("status")))),
        ("Invoice date", day_text(invoice.get("invoiceDate"), zone)),
        ("Due date", day_text(invoice.get("dueDate"), zone)),
        ("Period", f"{day_text(invoice.get('startDate'), zone)} to {day_text(_last_day(invoice), zone)}"),
    ]
    y = top + 11
    for label, value in facts:
        if not value:
            continue
        pdf.set_xy(110, y)
        pdf.set_font("Helvetica", size=9)
        pdf.set_text_color(*MUTED)
        pdf.cell(30, 5, label)
        pdf.set_text_color(*INK)
        _fitted_cell(pdf, 55, latin1(value))
        y += 5
    pdf.set_y(max(left_bottom, y) + 6)


def _draw_bill_to(pdf: FPDF, details: dict[str, Any]) -> None:
    customer = details.get("customer") or {}
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, "BILL TO")
    pdf.ln(5)
    pdf.set_text_color(*INK)
    pdf.set_font("Helvetica", "B", 10)
    _paragraphs(pdf, 120, [customer.get("name")])
    pdf.set_font("Helvetica", size=9)
    _paragraphs(pdf, 120, bill_to_lines(details))
    if details.get("pricePlanName"):
        pdf.ln(2)
        _paragraphs(pdf, 120, [f"Price plan: {details['pricePlanName']}"])
    pdf.ln(4)


def _draw_lines(pdf: _Document, revenue: Line | None, currency: str) -> None:
    _header_row(pdf)
    pdf.table_header = True
    for row in rows(revenue):
        line, depth = row.line, row.depth
        if row.heading:
            _subheading(pdf, row.heading)
        line_type = line["type"]
        cells = [
            line.get("description") or "",
            quantity_text(line.get("quantity")),
            unit_price_text(line.get("valuePerQuantity"), currency),
            money_text(line.get("value"), currency),
        ]
        _row(pdf, cells, depth, style="B" if depth == 0 and _is_card(line_type) else "", muted=depth > 0)
    pdf.table_header = False
    pdf.ln(1)
    _rule(pdf)
    pdf.ln(3)


def _draw_totals(pdf: FPDF, invoice: dict[str, Any], wallet: Decimal | None, currency: str) -> None:
    sums = totals(invoice, wallet)
    if pdf.will_page_break(6 * len(sums) + 2):
        pdf.add_page()
    for label, value, strong in ((t.label, t.amount, t.strong) for t in sums):
        if label == "Total":
            _rule(pdf, x=95)
            pdf.ln(1)
        pdf.set_x(95)
        pdf.set_font("Helvetica", "B" if strong else "", 10 if strong else 9)
        pdf.set_text_color(*INK)
        pdf.cell(55, 6, label)
        _fitted_cell(pdf, 45, money_text(value, currency), height=6)
        pdf.ln(6)


def _draw_usage(pdf: FPDF, usage: list[Line]) -> None:
    _subheading(pdf, "USAGE", keep_with=ROW * 2)
    for meter in usage:
        _row(pdf, [meter.get("description") or meter.get("id") or "", quantity_text(meter.get("quantity"))])


def _last_day(invoice: dict[str, Any]) -> datetime | None:
    if invoice.get("endDateInclusive") is not None:
        last: datetime = invoice["endDateInclusive"]
        return last
    end = invoice.get("endDate")
    return end - timedelta(microseconds=1) if end is not None else None


def render_invoice_pdf(invoice: dict[str, Any], zone: str = "UTC", wallet: Decimal | None = None) -> bytes:
    """The invoice (as the API presents it, Python values) as PDF bytes; the same invoice gives the same bytes.
    `wallet`: what the wallet paid of it (`InvoiceService.wallet_paid`; on a draft, what it holds for it)."""
    details = invoice.get("invoiceDetails") or {}
    seller = details.get("organization") or {}
    currency = (details.get("account") or {}).get("invoiceCurrency") or "USD"
    revenue = invoice.get("revenueInfo")
    pdf = _Document(invoice["id"])
    pdf.set_title(latin1(f"Invoice {invoice.get('sequenceId') or invoice['id']}"))
    pdf.set_author(latin1(seller.get("businessName") or "Meterline"))
    pdf.set_creator("Meterline")
    pdf.set_creation_date(invoice.get("invoiceDate") or datetime(1970, 1, 1, tzinfo=timezone.utc))
    pdf.alias_nb_pages()
    pdf.add_page()
    _draw_header(pdf, invoice, seller, zone)
    _draw_bill_to(pdf, details)
    _draw_lines(pdf, revenue, currency)
    _draw_totals(pdf, invoice, wallet, currency)
    if invoice.get("usageInfo"):
        _draw_usage(pdf, invoice["usageInfo"])
    return bytes(pdf.output())


# -- an invoice group's COMPOSITE invoice ---------------------------------------------------------------------------
def composite_totals(invoice: dict[str, Any]) -> list[Total]:
    """Under a composite's lines: each member invoice's total, the total (their exact sum), what its members have
    been paid, and what is due (nothing when VOID)."""
    total = invoice.get("totalAmount") or Decimal(0)
    paid = invoice.get("paidAmount") or Decimal(0)
    out = [Total(_member_title(m), m["value"]) for m in _members(invoice)]
    out.append(Total("Total", total, True))
    out.append(Total("Paid", paid))
    due = Decimal(0) if invoice.get("status") == InvoiceStatus.VOID else EXACT.subtract(total, paid)
    out.append(Total("Amount due", due, True))
    return out


def _members(invoice: dict[str, Any]) -> list[Line]:
    revenue = invoice.get("revenueInfo") or {}
    return list(revenue.get("lineItems") or [])


def _member_title(member: Line) -> str:
    sequence = (member.get("metadata") or {}).get("sequenceId")
    return f"Invoice {sequence}" if sequence else str(member.get("description") or member.get("id") or "")


def group_lines(group: dict[str, Any], net_term_days: int | None) -> list[str]:
    """Under the group's name: its email, its address and its net terms."""
    terms = f"Net terms: {net_term_days} days" if net_term_days is not None else None
    return [str(t) for t in (group.get("email"), *_address_lines(group.get("address")), terms) if t]


def _draw_group(pdf: FPDF, invoice: dict[str, Any]) -> None:
    group = (invoice.get("invoiceDetails") or {}).get("invoiceGroup") or {}
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, "BILL TO")
    pdf.ln(5)
    pdf.set_text_color(*INK)
    pdf.set_font("Helvetica", "B", 10)
    _paragraphs(pdf, 120, [group.get("name")])
    pdf.set_font("Helvetica", size=9)
    _paragraphs(pdf, 120, [*group_lines(group, invoice.get("netTermDays")), f"Invoice group {group.get('id', '')}"])
    pdf.ln(4)


def _draw_members(pdf: _Document, invoice: dict[str, Any], currency: str) -> None:
    """Each member invoice: its account and number as a heading, its own lines as finalized, then its total."""
    _header_row(pdf)
    pdf.table_header = True
    for member in _members(invoice):
        _subheading(pdf, latin1(member.get("description") or ""), keep_with=ROW * 2)
        for row in rows(member):
            if row.heading:
                _subheading(pdf, row.heading)
            line = row.line
            cells = [
                line.get("description") or "",
                quantity_text(line.get("quantity")),
                unit_price_text(line.get("valuePerQuantity"), currency),
                money_text(line.get("value"), currency),
            ]
            style = "B" if row.depth == 0 and _is_card(line["type"]) else ""
            _row(pdf, cells, row.depth, style=style, muted=row.depth > 0)
        _row(pdf, [f"{_member_title(member)} total", "", "", money_text(member["value"], currency)], style="B")
    pdf.table_header = False
    pdf.ln(1)
    _rule(pdf)
    pdf.ln(3)


def _draw_composite_totals(pdf: FPDF, invoice: dict[str, Any], currency: str) -> None:
    sums = composite_totals(invoice)
    if pdf.will_page_break(6 * len(sums) + 2):
        pdf.add_page()
    for t in sums:
        if t.label == "Total":
            _rule(pdf, x=95)
            pdf.ln(1)
        pdf.set_x(95)
        pdf.set_font("Helvetica", "B" if t.strong else "", 10 if t.strong else 9)
        pdf.set_text_color(*INK)
        pdf.cell(55, 6, latin1(t.label))
        _fitted_cell(pdf, 45, money_text(t.amount, currency), height=6)
        pdf.ln(6)


def render_composite_pdf(invoice: dict[str, Any], zone: str = "UTC") -> bytes:
    """An invoice group's COMPOSITE invoice (as GET /invoices/{id} presents it, Python values, lines included) as PDF
    bytes: the seller and the invoice's facts as on any invoice; billed to the group (its name, email, address and
    net terms); each member invoice under a heading (its account and number) with its own lines and its total; then
    the members' totals, the total (their exact sum), what was paid and what is due. The same invoice gives the same
    bytes."""
    details = invoice.get("invoiceDetails") or {}
    seller = details.get("organization") or {}
    currency = (details.get("invoiceGroup") or {}).get("invoiceCurrency") or "USD"
    pdf = _Document(invoice["id"])
    pdf.set_title(latin1(f"Invoice {invoice.get('sequenceId') or invoice['id']}"))
    pdf.set_author(latin1(seller.get("businessName") or "Meterline"))
    pdf.set_creator("Meterline")
    pdf.set_creation_date(invoice.get("invoiceDate") or datetime(1970, 1, 1, tzinfo=timezone.utc))
    pdf.alias_nb_pages()
    pdf.add_page()
    _draw_header(pdf, invoice, seller, zone)
    _draw_group(pdf, invoice)
    _draw_members(pdf, invoice, currency)
    _draw_composite_totals(pdf, invoice, currency)
    return bytes(pdf.output())
