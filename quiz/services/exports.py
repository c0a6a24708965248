"""Published tables (公示表): the quiz leaderboard, the unit report, the answer archive and the
item analysis, as (sheet name, header, rows) for the one writer, services/spreadsheets.py (XLSX
with the title row built by `title_line`, or CSV), which also formats every other export.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from quiz.localtime import local_tz
from quiz.models import Quiz
# The writer lives in spreadsheets.py; its names stay importable from here (exports.to_csv …).
from quiz.services.spreadsheets import (CONTENT_TYPES, FORMULA_START, safe_cell, to_csv,  # noqa: F401
                                        to_xlsx, write_table)

EXPORT_KINDS = ("leaderboard", "units", "answers", "analysis")


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
    day = now.astimezone(local_tz()).strftime("%Y-%m-%d")
    parts = [quiz.title, day]
    if organiser:
        parts.append(organiser)
    return "  ".join(parts)


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
    zone = local_tz()
    for attempt, person, unit in attempts:
        submitted = attempt.submitted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
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
