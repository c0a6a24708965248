"""Published tables (公示表): the quiz leaderboard and the unit report as XLSX and CSV.

XLSX: a title row (contest name, date, organiser), the header row frozen, column widths that fit
Chinese text, set up to print on A4 (fit to one page wide, header repeated on every page).
CSV: UTF-8 with BOM (Excel opens it), and any cell starting with = + - @ (or tab/CR) prefixed
with ' so it is never run as a formula.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from quiz.models import Quiz
from quiz.services.banks import escape_cell

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


EXPORT_KINDS = ("leaderboard", "units", "answers", "analysis")


def export_table(kind: str, quiz: Quiz, *, now: datetime, root=None, rank_by: str = "average",
                 participation_weight: float = 0.5) -> tuple[str, list[str], list[list]]:
    """(sheet name, header, rows) of one published table (a kind in EXPORT_KINDS); the report
    page's download and `quiz export` both use it."""
    if kind == "leaderboard":
        from quiz.services.ranking import leaderboard

        return (_("Leaderboard"), *leaderboard_table(quiz, leaderboard(quiz, now=now, limit=10 ** 9)))
    if kind == "units":
        from quiz.services.reports import unit_report

        return (_("Units"), *unit_table(unit_report(quiz, now=now, root=root, rank_by=rank_by,
                                                    participation_weight=participation_weight)))
    if kind == "answers":
        return (_("Answers"), *answers_table(quiz))
    if kind == "analysis":
        from quiz.services.analysis import analyse

        return (_("Item analysis"), *item_table(analyse(quiz, now=now)))
    raise ValueError(f"unknown export kind {kind!r}")


def leaderboard_table(quiz: Quiz, entries: list[dict]) -> tuple[list[str], list[list]]:
    header = [_("Rank"), _("Full name"), _("Unit"), _("Score"), _("Time used (s)")]
    rows = [[e["rank"], e["name"], e["unit"], _number(e["score"]), round(e["time_used_seconds"], 1)] for e in entries]
    return header, rows


def unit_table(rows) -> tuple[list[str], list[list]]:
    header = [_("Rank"), _("Unit"), _("Headcount"), _("Participants"), _("Participation rate"),
              _("Average score"), _("Pass rate"), _("Excellent rate")]
    body = [[r.rank, r.path, r.headcount, r.participants, _percent(r.participation_rate),
             _number(r.average_score), _percent(r.pass_rate), _percent(r.excellent_rate)] for r in rows]
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
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([escape_cell(str(c)) for c in header])
    for row in rows:
        writer.writerow([escape_cell(c) if isinstance(c, str) else c for c in row])
    return buffer.getvalue().encode("utf-8-sig")


def _display_width(text: str) -> int:
    """Columns a text needs: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in str(text))


def to_xlsx(title: str, header: list[str], rows: list[list], *, sheet: str) -> bytes:
    """Streamed (write-only) workbook: 100,000 rows in seconds. Title row, styled header frozen
    and repeated on every printed page, widths from the first 2,000 rows, A4 fit to width."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet[:31])
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
    title_cell = WriteOnlyCell(ws, value=title)
    title_cell.font = Font(bold=True, size=16)
    title_cell.alignment = Alignment(vertical="center")
    ws.row_dimensions[1].height = 30
    ws.append([title_cell])
    thin = Side(style="thin", color="999999")
    heading = []
    for name in header:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
        heading.append(cell)
    ws.append(heading)
    for row in rows:
        out = []
        for value in row:
            if isinstance(value, str) and value.startswith("="):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # text, never a formula
                out.append(cell)
            else:
                out.append(value)
        ws.append(out)
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


def answers_table(quiz: Quiz) -> tuple[list[str], list[list]]:
    """Every answer of every submitted attempt, for the organiser's archive (includes phones)."""
    from sqlalchemy import select

    from quiz.extensions import db
    from quiz.models import Answer, Attempt, Participant, Unit
    from quiz.services.attempts import questions_by_id, response_for_client, to_shown

    header = [_("Full name"), _("Mobile phone"), _("Unit"), _("Attempt"), _("Score"), _("Time used (s)"),
              _("Submitted at"), _("No."), _("Question"), _("Response"), _("Answer"), _("Points earned")]
    attempts = db.session.execute(
        select(Attempt, Participant, Unit).join(Participant, Participant.id == Attempt.participant_id)
        .join(Unit, Unit.id == Participant.unit_id)
        .where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted").order_by(Unit.path, Participant.name)
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
            response = "" if answer is None else response_for_client(q.type, answer.response, entry["order"])
            if isinstance(response, list):
                response = "|".join(response)
            right = to_shown(q.answer, entry["order"]) if q.type in ("single", "multi") else q.answer
            rows.append([person.name, person.phone, unit.path, attempt.number, _number(attempt.score),
                         round((attempt.time_used_ms or 0) / 1000, 1), submitted, number, q.stem, response, right,
                         _number(answer.earned if answer else 0)])
    return header, rows
