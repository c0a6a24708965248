"""Row imports (units, rosters and question banks): the report every import returns, the reading
of an uploaded table down to its body rows, the one number-cell parser, and the write of the
unit and roster imports (atomic unless skip-invalid).

Rules (docs/rules.md "Question banks"; they hold for units and rosters too): rows are numbered as
the spreadsheet shows them; a row that cannot be understood is reported with its number and a
reason; by default one bad row rejects the whole file and nothing is written (its counts are then
0), with `skip_invalid` the good rows are written and the others reported; a dry run reports the
same without writing.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from quiz.errors import Invalid, QuizError
from quiz.extensions import db
from quiz.questions import fold
from quiz.services.tables import FileRejected, find_header, read_table

# A plain decimal number as people type it: 2, 1.5, .5, +3, 1e2 (after fold(): ASCII digits).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

Getter = Callable[[str], str]


@dataclass
class RowProblem:
    row: int
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "message": self.message}


@dataclass
class RowReport:
    """What a row import did (for a dry run, would do): how many rows created, updated or left
    unchanged something, the rejected rows, and whether anything was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    written: bool = False

    def reject(self, row: int, message: str) -> None:
        self.rejected.append(RowProblem(row, message))

    def count(self, status: str) -> None:
        """One more row with `status` (created, updated or unchanged)."""
        setattr(self, status, getattr(self, status) + 1)

    def as_dict(self) -> dict:
        """The JSON contract of `quiz unit|roster import --json`."""
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": [p.as_dict() for p in self.rejected]}


def read_rows(data: bytes, filename: str, *, aliases: dict[str, str], required: tuple[str, ...],
              labels: dict[str, str], sheet: str | None = None) -> tuple[list[tuple[int, list[str]]], dict[str, int]]:
    """The body rows under the header as (spreadsheet row number, cells), blank rows left out, and
    the column of each field found. Raises FileRejected for the file as a whole."""
    table = read_table(data, filename, sheet)
    position, columns = find_header(table, aliases, required, labels)
    return [(n, cells) for n, cells in table.rows[position + 1:] if any(c.strip() for c in cells)], columns


def getter(cells: list[str], columns: dict[str, int]) -> Getter:
    """cell(field) → the row's text in that field's column ('' when absent)."""
    def get(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""
    return get


def cell_number(text: str) -> float | None:
    """A folded cell's number, or None when it is not a finite number ('高', 'nan', 'inf', '1e999').

    float() alone is not enough: it accepts 'nan', 'infinity' and '1_0', and an exponent like
    '1e999' overflows to inf."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def shown(text: str, limit: int = 20) -> str:
    """A cell quoted in a message: at most `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


def parse_number(raw: Any, *, low: float, high: float, low_open: bool = False, whole: bool = False,
                 not_a_number: Any, out_of_range: Any, error: type[Exception] = Invalid) -> float | int | None:
    """The one number-cell parser: None for an empty cell, else a finite number from `low` (or,
    with `low_open`, more than `low`) to `high`, an int when `whole`. Otherwise raises `error`
    with `not_a_number` or `out_of_range` (texts with a %(value)s placeholder, e.g. _l(…)) filled
    with the cell as typed (full-width digits folded)."""
    text = fold(raw)
    if not text:
        return None
    value = cell_number(text)
    if value is None:
        raise error(str(not_a_number % {"value": shown(text)}))
    if (value <= low if low_open else value < low) or value > high or (whole and not value.is_integer()):
        raise error(str(out_of_range % {"value": shown(text)}))
    return int(value) if whole else value


def import_rows(data: bytes, filename: str, *, aliases: dict[str, str], required: tuple[str, ...],
                labels: dict[str, str], parse: Callable[[int, Getter], tuple[Hashable, Any]],
                duplicate: Callable[[Hashable, int], str], save: Callable[[Any], str],
                skip_invalid: bool = False, dry_run: bool = False) -> RowReport:
    """Read a CSV/XLSX and write its rows (the unit and roster imports). The caller commits.

    `parse(number, get)` turns a body row into (key, item) or raises Invalid (the row is
    rejected with its message); a key seen before rejects the row with `duplicate(key, first
    row)`. Then, unless a row was rejected and not `skip_invalid`, `save(item)` writes each item
    in one savepoint and returns created / updated / unchanged, or raises a QuizError (the row is
    rejected with its message). A dry run, or a rejected row without `skip_invalid`, rolls the
    savepoint back; a rejected file reports 0 rows created, updated and unchanged.
    """
    report = RowReport()
    try:
        body, columns = read_rows(data, filename, aliases=aliases, required=required, labels=labels)
    except FileRejected as exc:
        report.reject(exc.row, exc.message)
        return report
    items: list[tuple[int, Any]] = []
    seen: dict[Hashable, int] = {}
    for number, cells in body:
        try:
            key, item = parse(number, getter(cells, columns))
        except Invalid as exc:
            report.reject(number, exc.message)
            continue
        if key in seen:
            report.reject(number, duplicate(key, seen[key]))
            continue
        seen[key] = number
        items.append((number, item))
    if report.rejected and not skip_invalid:
        return report
    savepoint = db.session.begin_nested()
    for number, item in items:
        try:
            report.count(save(item))
        except QuizError as exc:
            report.reject(number, exc.message)
    rejected_file = bool(report.rejected) and not skip_invalid
    if dry_run or rejected_file:
        savepoint.rollback()
        if rejected_file:
            report.created = report.updated = report.unchanged = 0
        return report
    savepoint.commit()
    report.written = True
    return report
