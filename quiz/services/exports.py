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


# ---------------------------------------------------------------- live stage contests
LIVE_EXPORT_KINDS = ("standings", "ledger")


def live_score_kinds() -> dict[str, str]:
    """What each kind of score event (LiveScore.kind) is called in the ledger export."""
    return {"base": _("Base score"), "answer": _("Answer scored"), "early": _("Early buzz"), "wager": _("Stake"),
            "speed": _("Speed bonus"), "streak": _("Streak bonus"), "correction": _("Host correction"),
            "undo": _("Undo")}


def live_export_table(kind: str, contest, *, now: datetime) -> tuple[str, list[str], list[list]]:
    """(sheet name, header, rows) of a live contest's final standings or its score ledger (a kind
    in LIVE_EXPORT_KINDS): the host console's downloads and `quiz export live-…` both use it."""
    if kind == "standings":
        return (_("Standings"), *live_standings_table(contest))
    if kind == "ledger":
        return (_("Score ledger"), *live_ledger_table(contest))
    raise ValueError(f"unknown live export kind {kind!r}")


def live_standings_table(contest) -> tuple[list[str], list[list]]:
    """Entrants in rank order (live.standings: the one competition ranking): rank, name, unit,
    base score, points won in the contest, total."""
    from quiz.services.live import standings

    header = [_("Rank"), _("Team") if contest.mode == "teams" else _("Player"), _("Unit"), _("Base score"),
              _("Points in the contest"), _("Total score")]
    rows = [[s.rank, s.entrant.name, s.entrant.unit.path if s.entrant.unit else "", _number(s.entrant.base_score),
             _number(round(s.total - s.entrant.base_score, 4)), _number(s.total)] for s in standings(contest)]
    return header, rows


def live_ledger_table(contest) -> tuple[list[str], list[list]]:
    """Every score event in the order it was recorded (append-only: corrections and undos are
    events of their own), with the entrant's total after it, the reason and who recorded it."""
    from sqlalchemy import select

    from quiz.extensions import db
    from quiz.models.live import LiveEntrant, LiveQuestion, LiveRound, LiveScore

    header = [_("Entry no."), _("Time"), _("Team") if contest.mode == "teams" else _("Player"), _("Round"),
              _("Question no."), _("Event"), _("Points change"), _("Total after"), _("Reason"), _("Recorded by"),
              _("Cancels entry no.")]
    names = dict(db.session.execute(select(LiveEntrant.id, LiveEntrant.name)
                                    .where(LiveEntrant.contest_id == contest.id)).all())
    places = {qid: (round_position + 1, title, position + 1) for qid, round_position, title, position in
              db.session.execute(select(LiveQuestion.id, LiveRound.position, LiveRound.title, LiveQuestion.position)
                                 .join(LiveRound, LiveRound.id == LiveQuestion.round_id)
                                 .where(LiveQuestion.contest_id == contest.id)).all()}
    events = db.session.execute(select(LiveScore).where(LiveScore.contest_id == contest.id)
                                .order_by(LiveScore.id)).scalars().all()
    numbers = {event.id: number for number, event in enumerate(events, start=1)}
    kinds = live_score_kinds()
    totals: dict[int, float] = {}
    zone = local_tz()
    rows = []
    for number, event in enumerate(events, start=1):
        totals[event.entrant_id] = round(totals.get(event.entrant_id, 0.0) + event.points, 4)
        place = places.get(event.live_question_id)
        user = (event.user.display_name or event.user.username) if event.user else ""
        rows.append([number, event.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                     names.get(event.entrant_id, ""), f"{place[0]} {place[1]}" if place else "",
                     place[2] if place else "", kinds.get(event.kind, event.kind), _number(event.points),
                     _number(totals[event.entrant_id]), event.reason or "", user,
                     numbers.get(event.undoes, "") if event.undoes else ""])
    return header, rows
