"""Published tables (公示表): the quiz leaderboard, the unit report, the answer archive and the
item analysis as XLSX and CSV, and the one formula-safe cell writer every export uses.

XLSX: a title row (contest name, date, organiser) merged across the table and centred, the
header row frozen, column widths that fit Chinese text, thin borders on every cell of the table,
set up to print on A4 (fit to one page wide, header repeated on every page).
CSV: UTF-8 with BOM (Excel opens it).
Formulas: every cell of every export (titles and headers included, and the question bank export
in services/banks.py) is written through `safe_cell`: in XLSX a text cell is stored as a string,
never as a formula; in CSV a text starting with = + - @ tab or CR is prefixed with ' (which the
bank import removes again).
"""
from __future__ import annotations

import csv
import io
import unicodedata
from copy import copy
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from quiz.models import Quiz

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

EXPORT_KINDS = ("leaderboard", "units", "answers", "analysis")


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


def export_table(kind: str, quiz: Quiz, *, now: datetime, root=None, rank_by: str = "average",
                 participation_weight: float = 0.5, level: int | None = None) -> tuple[str, list[str], list[list]]:
    """(sheet name, header, rows) of one published table (a kind in EXPORT_KINDS); the report
    page's download and `quiz export` both use it. The unit report is one level (a depth; the
    default level when None), in rank order, as on the report page."""
    if kind == "leaderboard":
        from quiz.services.ranking import leaderboard

        return (_("Leaderboard"), *leaderboard_table(quiz, leaderboard(quiz, now=now, limit=10 ** 9, unit=root)))
    if kind == "units":
        from quiz.services.reports import level_rows, unit_report

        rows = unit_report(quiz, now=now, root=root, rank_by=rank_by, participation_weight=participation_weight)
        return (_("Units"), *unit_table(level_rows(rows, level)[1]))
    if kind == "answers":
        return (_("Answers"), *answers_table(quiz, root=root))
    if kind == "analysis":
        from quiz.services.analysis import analyse

        return (_("Item analysis"), *item_table(analyse(quiz, now=now, root=root)))
    raise ValueError(f"unknown export kind {kind!r}")


def leaderboard_table(quiz: Quiz, entries: list[dict]) -> tuple[list[str], list[list]]:
    header = [_("Rank"), _("Full name"), _("Unit"), _("Score"), _("Time used (s)")]
    rows = [[e["rank"], e["name"], e["unit"], _number(e["score"]), round(e["time_used_seconds"], 1)] for e in entries]
    return header, rows


def unit_table(rows) -> tuple[list[str], list[list]]:
    """Units of one level: rank (未参与 for a unit without participants), path and figures."""
    header = [_("Rank"), _("Unit"), _("Headcount"), _("Participants"), _("Participation rate"),
              _("Average score"), _("Pass rate"), _("Excellent rate")]
    body = [[_("Did not take part") if r.rank is None else r.rank, r.path, r.headcount, r.participants,
             _percent(r.participation_rate), _number(r.average_score), _percent(r.pass_rate),
             _percent(r.excellent_rate)] for r in rows]
    return header, body


def _number(value):
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else round(value, 2)


def _percent(value):
    return "" if value is None else f"{value * 100:.1f}%"


def title_line(quiz: Quiz, *, now: datetime, organiser: str | None) -> str:
    day = now.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")
    parts = [quiz.title, day]
    if organiser:
        parts.append(organiser)
    return "  ".join(parts)


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


def to_xlsx(title: str, header: list[str], rows: list[list], *, sheet: str) -> bytes:
    """Streamed (write-only) workbook: 100,000 rows in seconds. Title row merged across the
    table and centred, styled header frozen and repeated on every printed page, thin borders on
    the body, widths from the first 2,000 rows, A4 fit to width. Every cell goes through
    safe_cell."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet[:31])
    columns = max(1, len(header))
    for index, name in enumerate(header, start=1):
        values = [name] + [r[index - 1] for r in rows[:2000]]
        width = max(_display_width(v) for v in values) + 2
        ws.column_dimensions[get_column_letter(index)].width = min(max(width, 6), 60)
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.orientation = "portrait" if len(header) <= 6 else "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    thin = Side(style="thin", color="999999")
    box = Border(top=thin, bottom=thin, left=thin, right=thin)
    title_style = WriteOnlyCell(ws)
    title_style.font = Font(bold=True, size=16)
    title_style.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 36
    ws.append([safe_cell(title, ws, title_style)])
    if columns > 1:
        ws.merged_cells.add(f"A1:{get_column_letter(columns)}1")
    head_style = WriteOnlyCell(ws)
    head_style.font = Font(bold=True)
    head_style.fill = PatternFill("solid", fgColor="DDEBF7")
    head_style.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    head_style.border = box
    ws.append([safe_cell(name, ws, head_style) for name in header])
    body_style = WriteOnlyCell(ws)
    body_style.border = box
    for row in rows:
        ws.append([safe_cell(value, ws, body_style) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def item_table(analysis) -> tuple[list[str], list[list]]:
    """Item analysis as a table (one row per question)."""
    from quiz.questions import QUESTION_TYPES

    header = [_("Question"), _("Type"), _("Tags"), _("Answer"), _("People"), _("Accuracy"), _("Facility"),
              _("Discrimination"), _("Most-chosen wrong option")]
    rows = [[i.stem, str(QUESTION_TYPES[i.type].label), ";".join(i.tags), i.answer, i.seen, _percent(i.accuracy),
             _number(i.facility), _number(i.discrimination),
             f"{i.wrong_choice} ({i.wrong_choice_count})" if i.wrong_choice else ""] for i in analysis.items]
    return header, rows


def answers_table(quiz: Quiz, *, root=None) -> tuple[list[str], list[list]]:
    """Every answer of every submitted attempt, for the organiser's archive (includes phones);
    with `root` (a Unit), of the people of that unit's subtree only."""
    from sqlalchemy import select

    from quiz.extensions import db
    from quiz.models import Answer, Attempt, Participant, Unit
    from quiz.questions import get_type
    from quiz.services.attempts import questions_by_id
    from quiz.services.scope import subtree_condition

    header = [_("Full name"), _("Mobile phone"), _("Unit"), _("Attempt"), _("Score"), _("Time used (s)"),
              _("Submitted at"), _("No."), _("Question"), _("Response"), _("Answer"), _("Points earned")]
    attempts = db.session.execute(
        select(Attempt, Participant, Unit).join(Participant, Participant.id == Attempt.participant_id)
        .join(Unit, Unit.id == Participant.unit_id)
        .where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted",
               *([subtree_condition(root)] if root is not None else [])).order_by(Unit.path, Participant.name)
    ).all()
    questions = questions_by_id(list({e["q"] for a, _p, _u in attempts for e in a.paper}))
    answers = {}
    if attempts:
        for a in db.session.execute(select(Answer).where(Answer.attempt_id.in_(select(Attempt.id).where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted")))).scalars():
            answers[(a.attempt_id, a.question_id)] = a
    rows = []
    for attempt, person, unit in attempts:
        submitted = attempt.submitted_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
        for number, entry in enumerate(attempt.paper, start=1):
            q = questions[entry["q"]]
            answer = answers.get((attempt.id, q.id))
            kind = get_type(q.type)
            response = "" if answer is None else kind.export_text(answer.response)  # the bank's letters
            right = kind.export_text(q.answer)
            rows.append([person.name, person.phone, unit.path, attempt.number, _number(attempt.score),
                         round((attempt.time_used_ms or 0) / 1000, 1), submitted, number, q.stem, response, right,
                         _number(answer.earned if answer else 0)])
    return header, rows
