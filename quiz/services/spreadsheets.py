"""The one CSV/XLSX writer every export uses: published tables (公示表, services/exports.py), the
question bank template (services/banks.py) and the access-code list.

CSV: UTF-8 with BOM (Excel opens it), CRLF line ends.
XLSX: a streamed (write-only) workbook laid out by a `Layout`: PUBLISHED (a title row merged
across the table and centred, the header frozen and repeated on every printed page, widths fitted
to Chinese text, thin borders, A4 fit to one page wide) or TEMPLATE (the bank template: the header
row alone, frozen, fixed widths, wrapped text).
Formulas: every cell of every file, titles and headers included, goes through `safe_cell`: in
XLSX a text cell is stored as a string, never as a formula; in CSV a text starting with = + - @
tab or CR is prefixed with ' (which the bank import removes again).
"""
from __future__ import annotations

import csv
import io
import unicodedata
from copy import copy
from dataclasses import dataclass

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
HEADER_FILL = "DDEBF7"
_SHEET_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Layout:
    """How an XLSX file looks (the content is the caller's)."""

    title_row: bool = True        # a title merged across the table above the header
    borders: bool = True          # thin borders on the header and the body
    print_a4: bool = True         # A4, fit to one page wide, header repeated on every page
    center_header: bool = True    # header centred and wrapped
    wrap_body: bool = False       # body text wrapped, aligned to the top
    widths: tuple[float, ...] | None = None  # fixed column widths; None = fitted to the text


PUBLISHED = Layout()
TEMPLATE = Layout(title_row=False, borders=False, print_a4=False, center_header=False, wrap_body=True)


def safe_cell(value, sheet=None, style=None):
    """Write one cell so that no spreadsheet ever runs it as a formula (every export calls this).

    CSV (`sheet` None): text starting with = + - @ tab or CR gets a leading '; anything else is
    returned unchanged. XLSX (`sheet` an openpyxl worksheet, write-only or not): an openpyxl cell
    whose text is stored as a string (data type "s"; control characters XLSX cannot hold are
    dropped), numbers stay numbers; `style`, a cell of the
    same workbook, lends its style (copying a style is much cheaper than assigning fonts/borders).
    """
    text = isinstance(value, str)
    if sheet is None:
        return "'" + value if text and value.startswith(FORMULA_START) else value
    cell_class, illegal = _openpyxl()
    if text:
        value = illegal.sub("", value)  # control characters XLSX cannot hold
    cell = cell_class(sheet, row=1, column=1, value=value)  # as WriteOnlyCell; the sheet places it
    if text:
        cell.data_type = "s"  # text, never a formula
    if style is not None:
        cell._style = copy(style._style)
    return cell


def _openpyxl():
    """openpyxl's cell class and illegal-character pattern, imported on first use (not at start-up)."""
    global _OPENPYXL
    if _OPENPYXL is None:
        from openpyxl.cell import Cell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        _OPENPYXL = (Cell, ILLEGAL_CHARACTERS_RE)
    return _OPENPYXL


_OPENPYXL = None


def to_csv(header: list[str], rows: list[list]) -> bytes:
    """UTF-8 with BOM, CRLF line ends, every cell through safe_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(str(c)) for c in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return buffer.getvalue().encode("utf-8-sig")


def _display_width(text: str) -> int:
    """Columns a text needs: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in str(text))


def sheet_name(name: str, default: str = "Sheet") -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of [ ] : * ? / \\."""
    return ((name or default)[:31]).translate(_SHEET_NAME_FORBIDDEN)


def to_xlsx(title: str | None, header: list[str], rows: list[list], *, sheet: str,
            layout: Layout = PUBLISHED) -> bytes:
    """Streamed (write-only) workbook: 100,000 rows in seconds. `title` is the merged title row
    (layouts with a title row); widths are fixed by the layout or fitted to the first 2,000 rows.
    Every cell goes through safe_cell."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet_name(sheet))
    columns = max(1, len(header))
    head_row = 2 if layout.title_row else 1
    for index, name in enumerate(header, start=1):
        if layout.widths is not None:
            width = layout.widths[index - 1] if index <= len(layout.widths) else None
        else:
            values = [name] + [r[index - 1] for r in rows[:2000]]
            width = min(max(max(_display_width(v) for v in values) + 2, 6), 60)
        if width is not None:
            ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = f"A{head_row + 1}"
    if layout.print_a4:
        ws.print_title_rows = f"{head_row}:{head_row}"
        ws.page_setup.paperSize = "9"  # A4
        ws.page_setup.orientation = "portrait" if len(header) <= 6 else "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
    thin = Side(style="thin", color="999999")
    box = Border(top=thin, bottom=thin, left=thin, right=thin)
    if layout.title_row:
        title_style = WriteOnlyCell(ws)
        title_style.font = Font(bold=True, size=16)
        title_style.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.row_dimensions[1].height = 36
        ws.append([safe_cell(title or "", ws, title_style)])
        if columns > 1:
            ws.merged_cells.add(f"A1:{get_column_letter(columns)}1")
    head_style = WriteOnlyCell(ws)
    head_style.font = Font(bold=True)
    head_style.fill = PatternFill("solid", fgColor=HEADER_FILL)
    if layout.center_header:
        head_style.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    if layout.borders:
        head_style.border = box
    ws.append([safe_cell(name, ws, head_style) for name in header])
    body_style = WriteOnlyCell(ws)
    if layout.borders:
        body_style.border = box
    if layout.wrap_body:
        body_style.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        ws.append([safe_cell(value, ws, body_style) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_table(fmt: str, header: list[str], rows: list[list], *, sheet: str, title: str | None = None,
                layout: Layout = PUBLISHED) -> bytes:
    """The table as `fmt`: 'csv' (header and rows; no title row) or 'xlsx' (to_xlsx)."""
    if fmt == "csv":
        return to_csv(header, rows)
    if fmt == "xlsx":
        return to_xlsx(title, header, rows, sheet=sheet, layout=layout)
    raise ValueError(f"unknown spreadsheet format {fmt!r}")
