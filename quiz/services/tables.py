"""Reading organisers' spreadsheets: CSV (UTF-8, UTF-8-BOM, UTF-16, GBK/GB18030) and XLSX,
with bounded work.

Rows keep the numbers a spreadsheet shows (header = row 1), blank rows included, so that
every problem can be reported as 第N行.

Every upload (question banks, units, rosters; web, API and CLI) comes through read_table(),
so the bounds live here. A small file can ask for a lot of work: an XLSX of 2 KB that declares
`A1:XFD1048576` made openpyxl pad a million rows to 16,384 columns; 84 KB of zipped XML held
2 million shared strings; 500,000 cell styles took 15 s to load. The defence, in the order it
runs (limits in `UploadLimits`, defaults in quiz/config.py `UPLOAD_MAX_*`):

1. XLSX, from the zip's central directory only (nothing decompressed yet): member count,
   declared uncompressed size per member and in total, and compression ratio. Python's
   zipfile never returns more bytes than a member declares (a lie fails its CRC check), so
   the declared sizes bound what any later step can unpack.
2. XLSX, a streaming expat pass over each XML member, classified by its root element:
   worksheets (rows, columns, cells, summed over all sheets; the `<dimension>` is ignored),
   shared strings, styles, the workbook (sheet count) and the other parts openpyxl parses
   whole. Counting stops at the first limit exceeded, so a hostile part costs only what it
   takes to reach the limit. A DOCTYPE (entity expansion) is refused outright. Then, since
   openpyxl finds parts by name, content type and relationship rather than by root, each part
   it will read must have the root its limits were checked for, no sheet may be listed twice
   (openpyxl would read it once per entry) and chart sheets (read whole, with their charts)
   are refused.
3. openpyxl in read-only mode with `reset_dimensions()` (rows are padded only to their last
   real cell, never to the declared dimension), and CSV through the csv module; both check
   rows, columns, cells and cell length again while they build the table (belt and braces:
   the scan and openpyxl could disagree on a malformed file), and a CSV row's text is
   capped before the csv module splits it into fields.
4. A wall-time budget, checked while scanning and while building rows, for whatever shape
   slips past the counts.

Each rejection raises FileRejected with a message that names the limit.

A question bank may also come as a ZIP of its spreadsheet and pictures (open_bundle): the same
directory checks (entries, declared sizes, compression ratio) come first, then every entry name
is checked (no absolute path, drive letter, `..`, control character or symbolic link; nothing is
ever unpacked to disk, but such a ZIP is refused whole), exactly one spreadsheet must be in it,
and that spreadsheet is read by read_table() with all the limits above. Pictures are unpacked one
at a time, only when a row names them, within the same wall-time budget.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import os
import posixpath
import re
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from xml.parsers import expat

from flask import current_app, has_app_context
from flask_babel import gettext as _

from quiz.errors import Invalid
from quiz.inputs import has_bad_text
from quiz.questions.base import fold

CSV_EXTENSIONS = {".csv", ".txt"}
XLSX_EXTENSIONS = {".xlsx", ".xlsm"}
ALLOWED_EXTENSIONS = CSV_EXTENSIONS | XLSX_EXTENSIONS


class FileRejected(Invalid):
    """The file as a whole cannot be read (type, encoding, damage, missing header, a limit).

    `row` is the spreadsheet row the problem is reported against (1 for the whole file).
    """

    def __init__(self, message: str, row: int = 1):
        super().__init__(message)
        self.row = row


@dataclass
class Table:
    """Rows of cells as strings; `rows[i][0]` is the spreadsheet row number.

    Trailing empty cells are dropped, so rows may differ in length."""

    rows: list[tuple[int, list[str]]]
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on the work one uploaded spreadsheet may cause (see the module docstring).

    Defaults are the `UPLOAD_MAX_*` settings in quiz/config.py; `current()` reads the app's.
    """

    rows: int                 # spreadsheet rows, counting blank rows and the header
    columns: int              # the last column holding a cell
    cells: int                # non-empty cells (XLSX: every stored cell, formatted empty ones too)
    cell_chars: int           # characters in one cell
    row_chars: int            # characters of one CSV row (before it is split into fields)
    shared_strings: int       # XLSX shared-string table entries
    styles: int               # XLSX style records (cell formats, fonts, fills, borders, number formats)
    sheets: int               # XLSX sheets in the workbook
    xml_elements: int         # XLSX: elements of any other part openpyxl parses (workbook, relationships …)
    zip_members: int          # XLSX: files inside the zip
    part_bytes: int           # XLSX: uncompressed size of one member
    uncompressed_bytes: int   # XLSX: uncompressed size of all members
    compression_ratio: int    # XLSX: uncompressed / compressed size of a member over 1 MB
    seconds: float            # wall time for reading the file

    SETTINGS = {
        "rows": "UPLOAD_MAX_ROWS", "columns": "UPLOAD_MAX_COLUMNS", "cells": "UPLOAD_MAX_CELLS",
        "cell_chars": "UPLOAD_MAX_CELL_CHARS", "row_chars": "UPLOAD_MAX_ROW_CHARS",
        "shared_strings": "UPLOAD_MAX_SHARED_STRINGS", "styles": "UPLOAD_MAX_STYLES",
        "sheets": "UPLOAD_MAX_SHEETS", "xml_elements": "UPLOAD_MAX_XML_ELEMENTS",
        "zip_members": "UPLOAD_MAX_ZIP_MEMBERS", "part_bytes": "UPLOAD_MAX_PART_BYTES",
        "uncompressed_bytes": "UPLOAD_MAX_UNCOMPRESSED_BYTES",
        "compression_ratio": "UPLOAD_MAX_COMPRESSION_RATIO", "seconds": "UPLOAD_MAX_SECONDS",
    }

    @classmethod
    def from_config(cls, config: Mapping) -> UploadLimits:
        """The limits set in `config`, the defaults of quiz/config.py for any it lacks."""
        from quiz.config import Config

        return cls(**{field: config.get(key, getattr(Config, key)) for field, key in cls.SETTINGS.items()})

    @classmethod
    def current(cls) -> UploadLimits:
        """The running app's limits (the quiz/config.py defaults outside an app context)."""
        return cls.from_config(current_app.config if has_app_context() else {})

    def replace(self, **changes) -> UploadLimits:
        return dataclasses.replace(self, **changes)


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


def read_table(data: bytes, filename: str, sheet: str | None = None, *,
               limits: UploadLimits | None = None) -> Table:
    """Read an uploaded spreadsheet into numbered rows, or raise FileRejected saying why.

    The work is bounded by `limits` (default: the app's `UPLOAD_MAX_*` settings)."""
    limits = limits or UploadLimits.current()
    budget = _Budget(limits.seconds)
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
        return _read_xlsx(data, sheet, limits, budget)
    if ext in XLSX_EXTENSIONS:
        raise FileRejected(_("The file is not a valid XLSX workbook (it may be damaged)."))
    return _read_csv(data, limits, budget)


# ---------------------------------------------------------------- limits and their messages

def _n(value: float) -> str:
    """A limit as people read it: 120,000."""
    return f"{value:,}"


def _column_name(index: int) -> str:
    """1 → A, 16384 → XFD; past ZZZ (CSV can go there) the number itself."""
    from openpyxl.utils.cell import get_column_letter

    return get_column_letter(index) if 1 <= index <= 18278 else str(index)


def _damaged() -> FileRejected:
    return FileRejected(_("The file is not a valid XLSX workbook (it may be damaged)."))


def _too_many_rows(limits: UploadLimits, row: int) -> FileRejected:
    return FileRejected(_("The sheet has more than %(limit)s rows (row %(row)s found): split the file "
                          "and upload the parts one by one.", limit=_n(limits.rows), row=_n(row)),
                        row=row)


def _too_many_columns(limits: UploadLimits, row: int, column: int) -> FileRejected:
    row = max(row, 1)  # a cell outside any <row> (or in a row numbered 0) counts as row 1
    return FileRejected(_("Row %(row)d: a cell in column %(column)s is past the limit of %(limit)s "
                          "columns; delete the extra columns.",
                          row=row, column=_column_name(column), limit=_n(limits.columns)), row=row)


def _too_many_cells(limits: UploadLimits, row: int) -> FileRejected:
    return FileRejected(_("The file has more than %(limit)s cells (reached at row %(row)s): split it "
                          "and upload the parts one by one.", limit=_n(limits.cells), row=_n(row)),
                        row=max(row, 1))


def _cell_too_long(limits: UploadLimits, row: int, column: int | None) -> FileRejected:
    row = max(row, 1)
    if column is None:
        return FileRejected(_("Row %(row)d: a cell has more than %(limit)s characters.",
                              row=row, limit=_n(limits.cell_chars)), row=row)
    return FileRejected(_("Row %(row)d, column %(column)s: the cell has more than %(limit)s characters.",
                          row=row, column=_column_name(column), limit=_n(limits.cell_chars)), row=row)


def _too_complex(limits: UploadLimits, part: str, limit: int) -> FileRejected:
    return FileRejected(_("The workbook is too complex to read: its part “%(part)s” has more than "
                          "%(limit)s XML elements. Save the sheet as a new workbook or as CSV.",
                          part=part[:100], limit=_n(limit)))


class _Budget:
    """The wall-time budget of one read_table() call."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise FileRejected(_("Reading the file took more than %(limit)s seconds: split it into "
                                 "smaller files and upload them one by one.", limit=_n(self.seconds)))


class _Rows:
    """Collects a table's rows, enforcing rows, columns, cells and cell length as it goes.

    Trailing empty cells are dropped first, so a stray formatted cell far to the right (or
    a CSV padded with commas) counts only where it holds text."""

    def __init__(self, limits: UploadLimits, budget: _Budget):
        self.limits = limits
        self.budget = budget
        self.rows: list[tuple[int, list[str]]] = []
        self.cells = 0

    def add(self, number: int, cells: list[str]) -> None:
        limits = self.limits
        if number > limits.rows:
            raise _too_many_rows(limits, number)
        while cells and not cells[-1]:
            cells.pop()
        if len(cells) > limits.columns:
            raise _too_many_columns(limits, number, len(cells))
        if cells:
            self.cells += sum(1 for c in cells if c)
            if self.cells > limits.cells:
                raise _too_many_cells(limits, number)
            if max(map(len, cells)) > limits.cell_chars:
                column = next(i for i, c in enumerate(cells, start=1) if len(c) > limits.cell_chars)
                raise _cell_too_long(limits, number, column)
        if number % 256 == 0:
            self.budget.check()
        self.rows.append((number, cells))


# ---------------------------------------------------------------- CSV

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


class _RowTooLong(Exception):
    pass


# A line with its ending (\r\n, \r or \n), or the last line without one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")


def _read_csv(data: bytes, limits: UploadLimits, budget: _Budget) -> Table:
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError:
        raise FileRejected(_("The file's text encoding is not recognised: save it as UTF-8 or GBK CSV."))
    if _looks_binary(text):
        raise FileRejected(_("The file is not a text CSV file (it contains binary data)."))
    end = text.find("\n")
    first_line = text[:end] if end >= 0 else text
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    consumed = 0

    def lines():
        # The csv module builds a whole row before we see it: 20 MB of commas would become
        # 20 million fields. Counting the characters fed into the current row stops that first.
        # (Lines as open(newline="") gives them, without io.StringIO's 4-bytes-a-character copy.)
        nonlocal consumed
        for match in _LINE.finditer(text):
            line = match.group()
            consumed += len(line)
            if consumed > limits.row_chars:
                raise _RowTooLong
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    table = _Rows(limits, budget)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            consumed = 0
            table.add(number, cells)
    except _RowTooLong:
        raise FileRejected(_("Row %(row)d has more than %(limit)s characters.",
                             row=number + 1, limit=_n(limits.row_chars)), row=number + 1)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _cell_too_long(limits, number + 1, None)
        raise FileRejected(_("Row %(row)d: the CSV cannot be read (%(error)s).",
                             row=number + 1, error=str(exc)), row=number + 1)
    if has_bad_text(text):  # NUL (UTF-16 and BOM files get here) cannot be stored: name the cell (quiz/inputs.py)
        _refuse_bad_cell(table.rows)
    return Table(rows=table.rows, kind="csv", encoding=encoding)


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


# ---------------------------------------------------------------- XLSX

# A member smaller than this may have any compression ratio (a few KB of repeated XML can
# compress 500:1 without harm); a bigger one must stay under UPLOAD_MAX_COMPRESSION_RATIO.
_RATIO_FLOOR = 1024 * 1024
# Elements before <sheetData> (sheet properties, views, column widths): openpyxl reads this
# head of every sheet when it opens a workbook, so it is kept small whatever the other limits.
_SHEET_HEAD_ELEMENTS = 1_000
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               RuntimeError, NotImplementedError, KeyError, IndexError, TypeError, OverflowError)


def _open_zip(data: bytes, limits: UploadLimits, *, bundle: bool = False) -> zipfile.ZipFile:
    """The XLSX zip (or, with `bundle`, a bank ZIP of a spreadsheet and pictures), after checking
    its central directory against the limits."""
    # Count central-directory signatures before zipfile builds an object per entry.
    if data.count(b"PK\x01\x02") > limits.zip_members:
        raise _too_many_members(limits, bundle)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except _ZIP_ERRORS:
        raise _bad_bundle() if bundle else _damaged()
    if len(members) > limits.zip_members:
        raise _too_many_members(limits, bundle)
    total = 0
    for info in members:
        part = info.filename[:100]
        if info.file_size > limits.part_bytes:
            raise FileRejected(
                _("The file “%(part)s” in the ZIP unpacks to more than %(limit)s MB.", part=part,
                  limit=_n(limits.part_bytes // 2**20)) if bundle else
                _("The workbook part “%(part)s” unpacks to more than %(limit)s MB.", part=part,
                  limit=_n(limits.part_bytes // 2**20)))
        total += info.file_size
        if total > limits.uncompressed_bytes:
            raise FileRejected(
                _("The ZIP file unpacks to more than %(limit)s MB.", limit=_n(limits.uncompressed_bytes // 2**20))
                if bundle else
                _("The workbook unpacks to more than %(limit)s MB.", limit=_n(limits.uncompressed_bytes // 2**20)))
        if info.file_size >= _RATIO_FLOOR and \
                info.file_size > limits.compression_ratio * max(info.compress_size, 1):
            raise FileRejected(
                _("The file “%(part)s” in the ZIP is compressed more than %(limit)s to 1 (a zip bomb?).",
                  part=part, limit=_n(limits.compression_ratio)) if bundle else
                _("The workbook part “%(part)s” is compressed more than %(limit)s to 1 "
                  "(a zip bomb?); it is not a normal XLSX file.", part=part, limit=_n(limits.compression_ratio)))
    return archive


def _too_many_members(limits: UploadLimits, bundle: bool) -> FileRejected:
    if bundle:
        return FileRejected(_("The ZIP file holds more than %(limit)s files: split the bank into several ZIP files.",
                              limit=_n(limits.zip_members)))
    return FileRejected(_("The workbook has more than %(limit)s parts: it is not a normal XLSX file.",
                          limit=_n(limits.zip_members)))


class _Done(Exception):
    """Stop scanning this part: nothing in it needs counting."""


def _local(name: str) -> str:
    return name.rpartition(":")[2]


# Elements that make up cells inside <sheetData> (values, formulas, inline rich text).
_CELL_CONTENT = frozenset({"v", "f", "is", "t", "r", "rPr", "rPh", "phoneticPr", "b", "i", "u", "strike",
                           "sz", "color", "rFont", "family", "charset", "scheme", "vertAlign", "outline",
                           "shadow", "condense", "extend"})
_STYLE_RECORDS = frozenset({"xf", "font", "fill", "border", "numFmt", "dxf", "cellStyle"})
_SHEET_ROOTS = frozenset({"worksheet", "dialogsheet", "macrosheet"})
# Other parts openpyxl reads whole when it opens a workbook: content types, relationships,
# document properties. Parts with any other root (themes, drawings, images …) are not read
# in read-only mode, so their scan stops at the root.
_SMALL_ROOTS = frozenset({"Types", "Relationships", "coreProperties", "Properties"})
# Parts openpyxl finds by name: what their root must be.
_NAMED_PARTS = {"[Content_Types].xml": "Types", "xl/workbook.xml": "workbook", "xl/styles.xml": "styleSheet",
                "docProps/core.xml": "coreProperties", "docProps/custom.xml": "Properties"}


def _typed_roots() -> dict[str, str]:
    """Content type → the root its part must have, for the parts openpyxl finds by content type."""
    from openpyxl.xml.constants import SHARED_STRINGS, XLSM, XLSX, XLTM, XLTX

    return {SHARED_STRINGS: "sst", XLSX: "workbook", XLSM: "workbook", XLTX: "workbook", XLTM: "workbook"}


class _Package:
    """What the scan learns about a workbook: each part's root, the content types, the
    relationships and the workbooks' sheet ids, plus running totals over all worksheets."""

    def __init__(self):
        self.roots: dict[str, str] = {}
        self.content_types: dict[str, str] = {}
        self.relationships: dict[str, dict[str, tuple[str, str, str | None]]] = {}
        self.sheet_ids: dict[str, list[str]] = {}
        self.rows = 0
        self.cells = 0
        self.cell_elements = 0


class _PartScan:
    """One streaming pass of expat over one zip member, counting against the limits.

    The member's root element says what it is; members openpyxl does not parse when opening
    a workbook read-only are left after their root. Not-XML and broken XML end the scan
    quietly: openpyxl reads no further than expat does (it parses with expat too) and
    reports the damage itself."""

    def __init__(self, name: str, package: _Package, limits: UploadLimits, budget: _Budget):
        self.name = name
        self.package = package
        self.limits = limits
        self.budget = budget
        self.parser = expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.StartElementHandler = self._root
        self.elements = 0  # elements counted against a "too complex" limit
        self.count = 0     # shared strings, style records or sheets, by the root
        self.other = 0     # worksheet elements that are not rows or cells
        self.row = 0
        self.rows = 0
        self.column = 0
        self.in_data = False

    def run(self, stream) -> None:
        try:
            while True:
                chunk = stream.read(64 * 1024)
                if not chunk:
                    break
                self.parser.Parse(chunk, False)
                self.budget.check()
            self.parser.Parse(b"", True)
        except (_Done, expat.ExpatError):
            pass

    def _doctype(self, *args) -> None:
        # A real workbook never has one; it is how XML entity bombs start.
        raise _damaged()

    def _root(self, name: str, attrs: dict) -> None:
        root = _local(name)
        self.package.roots[self.name] = root
        handlers = {"sst": self._shared_strings, "styleSheet": self._styles, "workbook": self._workbook,
                    "Types": self._types, "Relationships": self._relationships}
        if root in _SHEET_ROOTS:
            self.parser.StartElementHandler = self._sheet
        elif root in handlers:
            self.parser.StartElementHandler = handlers[root]
        elif root in _SMALL_ROOTS:
            self.parser.StartElementHandler = self._small
        else:
            raise _Done

    def _sheet(self, name: str, attrs: dict) -> None:
        # Called for every element of every sheet (millions): kept lean on purpose.
        if ":" in name:
            name = name.rpartition(":")[2]
        if name == "c":
            package = self.package
            package.cells += 1
            ref = attrs.get("r")
            if ref:
                column = _COLUMNS.get(ref.rstrip("0123456789")) or _column_index(ref)
            else:
                column = self.column + 1
            self.column = column
            if column > self.limits.columns:
                raise _too_many_columns(self.limits, self.row, column)
            if package.cells > self.limits.cells:
                raise _too_many_cells(self.limits, self.row)
        elif name in _CELL_CONTENT:
            self.package.cell_elements += 1
            if self.package.cell_elements > 4 * self.limits.cells:
                raise _too_complex(self.limits, self.name, 4 * self.limits.cells)
        elif name == "row":
            self.rows += 1
            self.package.rows += 1
            self.row = _row_number(attrs.get("r"), self.row + 1)
            self.column = 0
            if self.row > self.limits.rows or self.package.rows > self.limits.rows:
                raise _too_many_rows(self.limits, max(self.row, self.package.rows))
        elif name == "sheetData":
            self.in_data = True
        else:
            self.other += 1
            if not self.in_data and self.other > _SHEET_HEAD_ELEMENTS:
                raise _too_complex(self.limits, self.name, _SHEET_HEAD_ELEMENTS)
            if self.other > self.limits.xml_elements:
                raise _too_complex(self.limits, self.name, self.limits.xml_elements)

    def _shared_strings(self, name: str, attrs: dict) -> None:
        self.elements += 1
        if _local(name) == "si":
            self.count += 1
            if self.count > self.limits.shared_strings:
                raise FileRejected(_("The workbook has more than %(limit)s shared strings: split the file "
                                     "or save it as CSV.", limit=_n(self.limits.shared_strings)))
        elif self.elements > 4 * self.limits.shared_strings:
            raise _too_complex(self.limits, self.name, 4 * self.limits.shared_strings)

    def _styles(self, name: str, attrs: dict) -> None:
        self.elements += 1
        if _local(name) in _STYLE_RECORDS:
            self.count += 1
            if self.count > self.limits.styles:
                raise FileRejected(_("The workbook has more than %(limit)s cell styles: copy the data into "
                                     "a new workbook or save it as CSV.", limit=_n(self.limits.styles)))
        elif self.elements > 10 * self.limits.styles:
            raise _too_complex(self.limits, self.name, 10 * self.limits.styles)

    def _workbook(self, name: str, attrs: dict) -> None:
        self._small(name, attrs)
        if _local(name) == "sheet":
            self.count += 1
            if self.count > self.limits.sheets:
                raise FileRejected(_("The workbook has more than %(limit)s sheets.",
                                     limit=_n(self.limits.sheets)))
            ids = self.package.sheet_ids.setdefault(self.name, [])
            ids.extend(value for key, value in attrs.items() if key.endswith(":id"))

    def _types(self, name: str, attrs: dict) -> None:
        self._small(name, attrs)
        if _local(name) == "Override" and "PartName" in attrs:
            self.package.content_types[attrs["PartName"].lstrip("/")] = attrs.get("ContentType", "")

    def _relationships(self, name: str, attrs: dict) -> None:
        self._small(name, attrs)
        if _local(name) == "Relationship":
            kind = attrs.get("Type", "")
            if "chartsheet" in kind:
                # openpyxl reads chart sheets whole, with their drawings and charts (each as often
                # as it is referenced); a table upload never needs one.
                raise FileRejected(_("The workbook has a chart sheet: delete it (or copy the table into "
                                     "a new workbook) and upload the file again."))
            self.package.relationships.setdefault(self.name, {})[attrs.get("Id", "")] = (
                kind, attrs.get("Target", ""), attrs.get("TargetMode"))

    def _small(self, name: str, attrs: dict) -> None:
        self.elements += 1
        if self.elements > self.limits.xml_elements:
            raise _too_complex(self.limits, self.name, self.limits.xml_elements)


_CELL_COLUMN = re.compile(r"\$?([A-Za-z]{1,4})")


def _column_letters() -> dict[str, int]:
    from openpyxl.utils.cell import get_column_letter

    return {get_column_letter(i): i for i in range(1, 16385)}


_COLUMNS = _column_letters()  # 'A' → 1 … 'XFD' → 16384: a dict lookup per cell while scanning


def _column_index(ref: str) -> int:
    """The column of a cell reference the fast path missed ('$B$2', 'b2', 'XFE1'); a reference
    past XFD counts as column 16,385 (past any limit); an unreadable one as column 1 (openpyxl
    then reports the file as damaged)."""
    match = _CELL_COLUMN.match(ref)
    if not match:
        return 1
    return _COLUMNS.get(match.group(1).upper(), 16385)


def _row_number(value: str | None, default: int) -> int:
    """A <row r="…"> as openpyxl reads it (it also accepts '5.0'); the default when absent."""
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            return default  # openpyxl rejects it; the file is reported as damaged then
        return int(number) if math.isfinite(number) else default


def _scan_xlsx(archive: zipfile.ZipFile, limits: UploadLimits, budget: _Budget) -> _Package:
    """Scan every member (see _PartScan), then check that the parts openpyxl will read are
    what the package says they are and that no sheet is read twice."""
    package = _Package()
    for info in archive.infolist():
        if info.is_dir() or info.file_size == 0:
            continue
        try:
            with archive.open(info) as stream:
                _PartScan(info.filename, package, limits, budget).run(stream)
        except FileRejected:
            raise
        except _ZIP_ERRORS:
            raise _damaged()
    _check_parts(package)
    return package


def _check_parts(package: _Package) -> None:
    """openpyxl finds some parts by name or content type and parses them whole or as a sheet:
    each must have the root the limits were checked for. A sheet listed twice would be read
    twice (and a hundred times, a hundred times)."""
    import posixpath

    from openpyxl.packaging.relationship import get_rels_path

    roots = package.roots
    expected = dict(_NAMED_PARTS)
    typed = _typed_roots()
    expected.update({part: typed[kind] for part, kind in package.content_types.items() if kind in typed})
    for part, root in roots.items():
        want = "Relationships" if part.endswith(".rels") else expected.get(part)
        if want is not None and root != want:
            raise _damaged()
    for workbook, ids in package.sheet_ids.items():
        relationships = package.relationships.get(get_rels_path(workbook), {})
        folder = posixpath.dirname(posixpath.dirname(get_rels_path(workbook)))
        targets = set()
        if len(set(ids)) != len(ids):
            raise _damaged()
        for sheet_id in ids:
            kind, target, mode = relationships.get(sheet_id, ("", "", None))
            if not target or mode == "External":
                continue
            # resolved as openpyxl.packaging.relationship.get_dependents does
            target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            if target in targets or (target in roots and roots[target] not in _SHEET_ROOTS):
                raise _damaged()
            targets.add(target)


def _read_xlsx(data: bytes, sheet: str | None, limits: UploadLimits, budget: _Budget) -> Table:
    from openpyxl import load_workbook

    archive = _open_zip(data, limits)
    try:
        _scan_xlsx(archive, limits, budget)
    finally:
        archive.close()
    budget.check()
    try:
        # keep_links=False: external-link parts (cached copies of other workbooks) are not read.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception:  # openpyxl raises assorted errors on damaged zips and XML
        raise _damaged()
    try:
        worksheets = workbook.worksheets
        if sheet:
            matches = [ws for ws in worksheets if ws.title == sheet]
            if not matches:
                raise FileRejected(_("The workbook has no sheet named “%(sheet)s”.", sheet=sheet))
            worksheet = matches[0]
        elif worksheets:
            worksheet = worksheets[0]
        else:
            raise FileRejected(_("The workbook has no worksheet: put the table on a worksheet and "
                                 "upload it again."))
        budget.check()
        # The declared <dimension> is not to be trusted: with it, openpyxl pads every row to
        # the declared last column and yields every row up to the declared last row.
        worksheet.reset_dimensions()
        table = _Rows(limits, budget)
        try:
            for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
                table.add(number, [cell_text(v) for v in values])
        except FileRejected:
            raise
        except Exception:
            raise _damaged()
        return Table(rows=table.rows, kind="xlsx")
    finally:
        workbook.close()


# ---------------------------------------------------------------- bank ZIPs (a spreadsheet and its pictures)

BUNDLE_EXTENSIONS = {".zip"}
# Files a ZIP made on Windows or macOS carries besides the ones packed on purpose.
_IGNORED_PREFIXES = ("__MACOSX/",)
_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}


class DamagedEntry(FileRejected):
    """One file in a bank ZIP cannot be unpacked (its rows can be reported, the rest read)."""


def is_bundle(filename: str) -> bool:
    """Is this upload a bank ZIP (by its name: a ZIP's content looks like an XLSX's)?"""
    return os.path.splitext(filename or "")[1].lower() in BUNDLE_EXTENSIONS


def _bad_bundle() -> FileRejected:
    return FileRejected(_("The file is not a valid ZIP file (it may be damaged)."))


def _member_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author typed it: a name without the UTF-8 flag (Windows' own zip
    tool, WinRAR on Chinese Windows) is in the local code page, which zipfile reads as cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return name
        for encoding in ("utf-8", "gb18030"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
    return name


def _unsafe_name(name: str, info: zipfile.ZipInfo) -> bool:
    """An absolute path, a drive letter, a `..` step, a control character or a symbolic link: never
    a file packed on purpose (nothing is ever unpacked to disk, but such a ZIP is refused whole)."""
    parts = re.split(r"[\\/]", name)
    return (name.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", name)) or ".." in parts
            or bool(_CONTROL.search(name)) or "\x00" in name
            or (info.external_attr >> 16) & 0o170000 == 0o120000)


def _ignored(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return (name.endswith("/") or name.startswith(_IGNORED_PREFIXES) or base.startswith((".", "~$"))
            or base.lower() in _IGNORED_NAMES)


def _clean_path(name: str) -> str:
    """A file name as a cell or an entry gives it → the key it is looked up by."""
    name = unicodedata.normalize("NFC", name.strip()).replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    name = posixpath.normpath(name.lstrip("/")) if name else ""
    return "" if name in (".", "") or name.startswith("../") or name == ".." else name


@dataclass
class Bundle:
    """A bank ZIP: the one spreadsheet in it and the other files (pictures) its cells may name."""

    sheet_name: str
    sheet: bytes
    files: dict[str, zipfile.ZipInfo]  # cleaned path → entry (the spreadsheet and ignored files left out)
    archive: zipfile.ZipFile
    budget: _Budget

    def find(self, cell: str) -> str | None:
        """The file a 图片 cell names: a path relative to the spreadsheet's folder or to the ZIP's
        top, in any letter case; or a bare file name found once anywhere in the ZIP."""
        name = _clean_path(cell)
        if not name:
            return None
        folder = self.sheet_name.rpartition("/")[0]
        lower = {path.lower(): path for path in self.files}
        for candidate in ((folder + "/" + name) if folder else name, name):
            if candidate in self.files:
                return candidate
            if candidate.lower() in lower:
                return lower[candidate.lower()]
        if "/" not in name:
            matches = [path for path in self.files if path.rsplit("/", 1)[-1].lower() == name.lower()]
            if len(matches) == 1:
                return matches[0]
        return None

    def size(self, path: str) -> int:
        return self.files[path].file_size

    def read(self, path: str) -> bytes:
        """The bytes of a file found by find() (at most its declared size: zipfile checks the CRC)."""
        self.budget.check()
        try:
            return self.archive.read(self.files[path])
        except _ZIP_ERRORS:
            raise DamagedEntry(_("The file “%(name)s” in the ZIP file is damaged.", name=path[:100]))


def open_bundle(data: bytes, *, limits: UploadLimits | None = None) -> Bundle:
    """Open a bank ZIP within the upload limits (entries, unpacked size, compression ratio, read
    time), refusing unsafe entry names, encrypted entries and ZIPs without exactly one spreadsheet.
    Raises FileRejected saying why."""
    limits = limits or UploadLimits.current()
    budget = _Budget(limits.seconds)
    if not data or not data.strip():
        raise FileRejected(_("The file is empty."))
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise _bad_bundle()
    archive = _open_zip(data, limits, bundle=True)
    files: dict[str, zipfile.ZipInfo] = {}
    sheets: list[tuple[str, zipfile.ZipInfo]] = []
    for info in archive.infolist():
        name = _member_name(info)
        if _unsafe_name(name, info):
            raise FileRejected(_("The ZIP file holds an entry with an unsafe name “%(name)s” (an absolute path, "
                                 "“..” or a link): pack the spreadsheet and the pictures again.",
                                 name=_CONTROL.sub("?", name)[:100]))
        if _ignored(name.replace("\\", "/")):
            continue
        if info.flag_bits & 0x1:
            raise FileRejected(_("The ZIP file is password-protected (“%(name)s”): pack it without a password.",
                                 name=name[:100]))
        path = _clean_path(name)
        if not path:
            continue
        if path in files or any(path == p for p, _info in sheets):
            raise FileRejected(_("The ZIP file holds “%(name)s” twice.", name=path[:100]))
        if os.path.splitext(path)[1].lower() in ALLOWED_EXTENSIONS:
            sheets.append((path, info))
        else:
            files[path] = info
    if not sheets:
        raise FileRejected(_("The ZIP file holds no spreadsheet: put the bank's CSV or XLSX file in it with the "
                             "pictures."))
    if len(sheets) > 1:
        raise FileRejected(_("The ZIP file holds several spreadsheets (%(names)s): leave only the bank's one.",
                             names="、".join(p for p, _info in sheets[:5])))
    sheet_name, info = sheets[0]
    try:
        sheet = archive.read(info)
    except _ZIP_ERRORS:
        raise FileRejected(_("The file “%(name)s” in the ZIP file is damaged.", name=sheet_name[:100]))
    return Bundle(sheet_name=sheet_name, sheet=sheet, files=files, archive=archive, budget=budget)


# ---------------------------------------------------------------- headers

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
