"""The invoice as a PDF, drawn with fpdf2 (pure Python, from PyPI; nothing is fetched at run time).

`render_invoice_pdf(invoice)` takes the invoice as the API writes it (camelCase keys, Decimal amounts, aware
datetimes, `revenueInfo` as a tree) and returns the PDF's bytes. Layout, on A4:

- header: the seller on the left; INVOICE (or INVOICE (DRAFT)), the number, status, dates and period on the right;
- bill to: the customer and the account;
- the lines: each rate card with its slabs indented, adjustments, the true-up, in-advance fees, custom lines,
  credits and charges; the header row repeats on every page;
- totals: subtotal, true-up, charges, total, paid, amount due; then the usage per meter;
- footer: the invoice id and "Page x/y".

Fonts are the PDF core fonts (Helvetica), which encode Latin-1 only: other text is written with its nearest Latin-1
letters (accents dropped, the rest as "?"), so no font file is shipped or read. Amounts are written with the
currency's ISO code and its minor unit (`USD 1,234.50`, `JPY 1,200`). The creation date is the invoice date, so
the same invoice always gives the same bytes.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fpdf import FPDF

from meterline.core.money import minor_units

# Lines that are sums of other lines: they appear in the totals, not in the table.
AGGREGATES = {"TOTAL_AMOUNT", "NET_AMOUNT", "GROSS_AMOUNT", "PRICE_PLAN_AMOUNT", "SUB_TOTAL_AMOUNT",
              "TOTAL_ADVANCED_FEES", "TOTAL_MISCELLANEOUS_CHARGES", "TOTAL_CREDITS"}
CHILD_TYPES = {"USAGE_RATE_CARD_SLAB_AMOUNT", "LICENSE_RATE_CARD_SLAB_AMOUNT", "RATE_CONFIG_ADJUSTMENT_AMOUNT",
               "ENTITLEMENT_OVERAGE_RATE_CARD_SLAB_AMOUNT"}
COLUMNS = ((95, "Description", "L"), (25, "Quantity", "R"), (30, "Unit price", "R"), (30, "Amount", "R"))
INK, MUTED, RULE = (31, 41, 55), (107, 114, 128), (209, 213, 219)


def latin1(text: object) -> str:
    """Text the core fonts can write: accents dropped where that gives Latin-1, anything else as '?'."""
    value = "" if text is None else str(text)
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        pass
    out = []
    for char in value:
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


def quantity_text(value: Decimal | None) -> str:
    if value is None:
        return ""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{int(whole):,}.{fraction}" if whole.lstrip("-").isdigit() else text


def money_text(value: Decimal | None, currency: str) -> str:
    if value is None:
        return ""
    digits = minor_units(currency)
    amount = value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency} {abs(amount):,.{digits}f}"


def day_text(value: datetime | None) -> str:
    return value.date().isoformat() if value is not None else ""


def _address_lines(address: dict[str, Any] | None) -> list[str]:
    if not address:
        return []
    first = ", ".join(str(address[k]) for k in ("line1", "line2") if address.get(k))
    second = " ".join(str(address[k]) for k in ("postalCode", "city") if address.get(k))
    third = ", ".join(str(address[k]) for k in ("state", "country") if address.get(k))
    return [line for line in (first, second, third) if line]


class _Document(FPDF):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.invoice_id = invoice_id
        self.table_header = False  # repeat the table's header row on new pages
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def header(self) -> None:
        if self.table_header and self.page_no() > 1:
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
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1)


def _row(pdf: FPDF, line: dict[str, Any], currency: str, indent: int = 0, bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9 if indent == 0 else 8)
    pdf.set_text_color(*(INK if indent == 0 else MUTED))
    description = latin1(line.get("description"))
    width = COLUMNS[0][0] - 4 * indent
    while description and pdf.get_string_width(description) > width - 2:
        description = description[:-1]
    if indent:
        pdf.cell(4 * indent, 6, "")
    pdf.cell(width, 6, description)
    pdf.cell(COLUMNS[1][0], 6, quantity_text(line.get("quantity")), align="R")
    pdf.cell(COLUMNS[2][0], 6, money_text(line.get("valuePerQuantity"), currency) if line.get("valuePerQuantity") is not None else "", align="R")
    pdf.cell(COLUMNS[3][0], 6, money_text(line.get("value"), currency), align="R")
    pdf.ln(6)


def _table_rows(line: dict[str, Any], depth: int = 0) -> list[tuple[dict[str, Any], int]]:
    """The billable lines, in order: aggregates are skipped (their children are listed), slabs are indented."""
    rows: list[tuple[dict[str, Any], int]] = []
    children = line.get("lineItems") or []
    if line["type"] in AGGREGATES:
        for child in children:
            rows += _table_rows(child, depth)
        return rows
    rows.append((line, depth))
    for child in children:
        rows += _table_rows(child, depth + 1)
    return rows


def _find(line: dict[str, Any] | None, line_type: str) -> dict[str, Any] | None:
    if line is None:
        return None
    if line["type"] == line_type:
        return line
    for child in line.get("lineItems") or []:
        found = _find(child, line_type)
        if found is not None:
            return found
    return None


def render_invoice_pdf(invoice: dict[str, Any]) -> bytes:
    details = invoice.get("invoiceDetails") or {}
    seller, customer = details.get("organization") or {}, details.get("customer") or {}
    account = details.get("account") or {}
    currency = account.get("invoiceCurrency") or "USD"
    number = invoice.get("sequenceId")
    draft = invoice.get("status") == "DRAFT"
    pdf = _Document(invoice["id"])
    title = f"Invoice {number or invoice['id']}"
    pdf.set_title(latin1(title))
    pdf.set_author(latin1(seller.get("businessName") or "Meterline"))
    pdf.set_creator("Meterline")
    pdf.set_creation_date(invoice["invoiceDate"])
    pdf.alias_nb_pages()
    pdf.add_page()

    # -- header ---------------------------------------------------------------------------------------------------
    top = pdf.get_y()
    pdf.set_text_color(*INK)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(90, 7, latin1(seller.get("businessName")))
    pdf.ln(7)
    pdf.set_font("Helvetica", size=9)
    for text in [*_address_lines(seller.get("address")), seller.get("primaryEmail")]:
        if text:
            pdf.cell(90, 5, latin1(text))
            pdf.ln(5)
    left_bottom = pdf.get_y()
    pdf.set_xy(110, top)
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(85, 9, "INVOICE (DRAFT)" if draft else "INVOICE", align="R")
    facts = [("Number", number or "DRAFT"), ("Status", invoice.get("status")),
             ("Invoice date", day_text(invoice.get("invoiceDate"))), ("Due date", day_text(invoice.get("dueDate"))),
             ("Period", f"{day_text(invoice.get('startDate'))} to {day_text(_last_day(invoice))}")]
    pdf.set_font("Helvetica", size=9)
    y = top + 10
    for label, value in facts:
        pdf.set_xy(110, y)
        pdf.set_text_color(*MUTED)
        pdf.cell(35, 5, label)
        pdf.set_text_color(*INK)
        pdf.cell(50, 5, latin1(value), align="R")
        y += 5
    pdf.set_y(max(left_bottom, y) + 6)

    # -- bill to --------------------------------------------------------------------------------------------------
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, "BILL TO")
    pdf.ln(5)
    pdf.set_text_color(*INK)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 5, latin1(customer.get("name")))
    pdf.ln(5)
    pdf.set_font("Helvetica", size=9)
    buyer = [f"Account: {account.get('name')}" if account.get("name") else None, account.get("primaryEmail"),
             *(_address_lines(account.get("address")) or [customer.get("billingAddress")])]
    for text in buyer:
        if text:
            pdf.cell(0, 5, latin1(text))
            pdf.ln(5)
    if details.get("pricePlanName"):
        pdf.ln(2)
        pdf.cell(0, 5, latin1(f"Price plan: {details['pricePlanName']}"))
        pdf.ln(5)
    pdf.ln(4)

    # -- lines ----------------------------------------------------------------------------------------------------
    revenue = invoice.get("revenueInfo")
    _header_row(pdf)
    pdf.table_header = True
    charges = _find(revenue, "TOTAL_MISCELLANEOUS_CHARGES")
    charge_ids = {id(c) for c in (charges or {}).get("lineItems") or []}
    rows = _table_rows(revenue) if revenue else []
    in_charges = False
    for line, depth in rows:
        if id(line) in charge_ids and not in_charges:
            in_charges = True
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 8)
            pdf.set_text_color(*MUTED)
            pdf.cell(0, 6, "Charges")
            pdf.ln(6)
        _row(pdf, line, currency, indent=depth, bold=depth == 0 and line["type"] not in CHILD_TYPES)
    pdf.table_header = False
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
    pdf.ln(4)

    # -- totals ---------------------------------------------------------------------------------------------------
    total = invoice.get("totalAmount") or Decimal(0)
    paid = invoice.get("paidAmount") or Decimal(0)
    sums: list[tuple[str, Decimal | None, bool]] = []
    subtotal = _find(revenue, "SUB_TOTAL_AMOUNT")
    if subtotal is not None:
        sums.append(("Subtotal", subtotal["value"], False))
    true_up = _find(revenue, "TRUE_UP_AMOUNT")
    if true_up is not None and true_up["value"] != 0:
        sums.append(("Minimum commitment true-up", true_up["value"], False))
    credits = _find(revenue, "TOTAL_CREDITS")
    if credits is not None:
        sums.append(("Credits", credits["value"], False))
    if charges is not None:
        sums.append(("Charges", charges["value"], False))
    sums += [("Total", total, True), ("Paid", paid, False), ("Amount due", total - paid, True)]
    for label, value, strong in sums:
        if pdf.get_y() > pdf.h - 30:
            pdf.add_page()
        pdf.set_x(95)
        pdf.set_font("Helvetica", "B" if strong else "", 10 if strong else 9)
        pdf.set_text_color(*INK)
        pdf.cell(55, 6, label)
        pdf.cell(45, 6, money_text(value, currency), align="R")
        pdf.ln(6)

    # -- usage ----------------------------------------------------------------------------------------------------
    usage = invoice.get("usageInfo") or []
    if usage:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 6, "USAGE")
        pdf.ln(6)
        pdf.set_text_color(*INK)
        pdf.set_font("Helvetica", size=9)
        for meter in usage:
            pdf.cell(120, 5, latin1(meter.get("description")))
            pdf.cell(60, 5, quantity_text(meter.get("quantity")), align="R")
            pdf.ln(5)
    return bytes(pdf.output())


def _last_day(invoice: dict[str, Any]) -> datetime | None:
    if invoice.get("endDateInclusive") is not None:
        return invoice["endDateInclusive"]
    end = invoice.get("endDate")
    return end - timedelta(microseconds=1) if end is not None else None
