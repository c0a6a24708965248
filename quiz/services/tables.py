"""Reading organisers' spreadsheets: CSV (UTF-8, UTF-8-BOM, UTF-16, GBK/GB18030) and XLSX.

Rows keep the numbers a spreadsheet shows (header = row 1), blank rows included, so that
every problem can be reported as 第N行.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from dataclasses import dataclass

from flask_babel import gettext as _

from quiz.errors import Invalid
from quiz.inputs import has_bad_text
from quiz.questions.base import fold

CSV_EXTENSIONS = {".csv", ".txt"}
XLSX_EXTENSIONS = {".xlsx", ".xlsm"}
ALLOWED_EXTENSIONS = CSV_EXTENSIONS | XLSX_EXTENSIONS


class FileRejected(Invalid):
    """The file as a whole cannot be read (type, encoding, damage, missing header).

    `row` is the spreadsheet row the problem is reported against (1 for the whole file).
    """

    def __init__(self, message: str, row: int = 1):
        super().__init__(message)
        self.row = row


@dataclass
class Table:
    """Rows of cells as strings; `rows[i][0]` is the spreadsheet row number."""

    rows: list[tuple[int, list[str]]]
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None


def cell_text(value) -> str:
    """A spreadsheet value as the text a person sees (1.0 → '1', dates as YYYY-MM-DD)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_table(data: bytes, filename: str, sheet: str | None = None) -> Table:
    """Read an uploaded spreadsheet into numbered rows, or raise FileRejected saying why."""
    ext = os.path.splitext(filename or "")[1].lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise FileRejected(
            _("Unsupported file type “%(ext)s”: upload a CSV or XLSX file.", ext=ext or filename)
        )
    if not data or not data.strip():
        raise FileRejected(_("The file is empty."))
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRejected(
            _("Old .xls workbooks are not supported: save the file as .xlsx or CSV and upload it again.")
        )
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data, sheet)
    if ext in XLSX_EXTENSIONS:
        raise FileRejected(_("The file is not a valid XLSX workbook (it may be damaged)."))
    return _read_csv(data)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data:
        raise FileRejected(_("The file is not a text CSV file (it contains binary data)."))
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, encoding
    raise FileRejected(_("The file's text encoding is not recognised: save it as UTF-8 or GBK CSV."))


def _read_csv(data: bytes) -> Table:
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError:
        raise FileRejected(_("The file's text encoding is not recognised: save it as UTF-8 or GBK CSV."))
    if _looks_binary(text):
        raise FileRejected(_("The file is not a text CSV file (it contains binary data)."))
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            rows.append((number, cells))
    except csv.Error as exc:
        raise FileRejected(_("Row %(row)d: the CSV cannot be read (%(error)s).",
                             row=len(rows) + 1, error=str(exc)), row=len(rows) + 1)
    if has_bad_text(text):  # NUL bytes (UTF-16 and BOM files get here) cannot be stored (quiz/inputs.py)
        _refuse_bad_cell(rows)
    return Table(rows=rows, kind="csv", encoding=encoding)


def _refuse_bad_cell(rows: list[tuple[int, list[str]]]) -> None:
    """FileRejected naming the first cell (row, column header) with a NUL or a lone surrogate.
    (XLSX needs no such check: XML cannot carry either character.)"""
    header = rows[0][1] if rows else []
    for number, cells in rows:
        for index, cell in enumerate(cells):
            if has_bad_text(cell):
                name = header[index].strip() if index < len(header) else ""
                column = name if name and not has_bad_text(name) else str(index + 1)
                raise FileRejected(_("Row %(row)d, column “%(column)s”: the cell contains a NUL character or an "
                                     "unpaired surrogate, which cannot be stored.", row=number, column=column),
                                   row=number)


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    return bool(sample) and len(_CONTROL.findall(sample)) > max(3, len(sample) // 100)


def _read_xlsx(data: bytes, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, IndexError):
        raise FileRejected(_("The file is not a valid XLSX workbook (it may be damaged)."))
    except Exception:  # openpyxl raises assorted errors on damaged XML
        raise FileRejected(_("The file is not a valid XLSX workbook (it may be damaged)."))
    try:
        if sheet:
            if sheet not in workbook.sheetnames:
                raise FileRejected(_("The workbook has no sheet named “%(sheet)s”.", sheet=sheet))
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        rows: list[tuple[int, list[str]]] = []
        try:
            for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
                rows.append((number, [cell_text(v) for v in values]))
        except Exception:
            raise FileRejected(_("The file is not a valid XLSX workbook (it may be damaged)."))
        return Table(rows=rows, kind="xlsx")
    finally:
        workbook.close()


def normalise_header(cell: str) -> str:
    """Header cell → lookup key: folded, lower-case, no spaces, markers (*) and (notes) removed."""
    key = fold(cell).lower()
    key = re.sub(r"\(.*?\)|\[.*?\]", "", key)
    return re.sub(r"[\s*：:]", "", key)


def find_header(table: Table, aliases: dict[str, str], required: tuple[str, ...],
                required_labels: dict[str, str], scan: int = 10) -> tuple[int, dict[str, int]]:
    """Locate the header row (the first of the first `scan` non-empty rows that names every
    required column) and map field → column index. Raises FileRejected naming what is missing.

    A title row above the header (e.g. "2023年应知应会题库") is tolerated.
    """
    best: tuple[int, int, dict[str, int]] | None = None
    seen = 0
    for position, (number, cells) in enumerate(table.rows):
        if not any(c.strip() for c in cells):
            continue
        seen += 1
        if seen > scan:
            break
        mapping: dict[str, int] = {}
        for index, cell in enumerate(cells):
            field = aliases.get(normalise_header(cell))
            if field is None:
                continue
            if field in mapping:
                raise FileRejected(
                    _("Row %(row)d: column “%(column)s” appears twice.", row=number,
                      column=cell.strip()), row=number)
            mapping[field] = index
        found = sum(1 for f in required if f in mapping)
        if found == len(required):
            return position, mapping
        if found and (best is None or found > best[1]):
            best = (number, found, mapping)
    if best is not None:
        missing = [required_labels[f] for f in required if f not in best[2]]
        raise FileRejected(
            _("Row %(row)d: the header has no %(columns)s column.", row=best[0],
              columns="、".join(f"“{m}”" for m in missing)), row=best[0])
    raise FileRejected(
        _("No header row found: row 1 should name the columns %(columns)s.",
          columns="、".join(f"“{required_labels[f]}”" for f in required))
    )
