"""Answer-key correction: regrade a quiz's submitted sheets with the bank's current answers.

`quizzes_using` finds the quizzes whose answer sheets have a question (the question edit page
warns with it and offers their regrade pages). `preview` lists every sheet whose score would
change, with its rank before and after (ranks by the quiz rule over the counted sheets).
`apply` writes the new scores and an audit record (who, when, why, every before/after value);
`undo` puts the recorded before values back (the answer key itself stays as it is in the bank),
with a reason that is recorded too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import exists, func, select

from quiz import events
from quiz.errors import Conflict, Forbidden, Invalid
from quiz.extensions import db
from quiz.models import Answer, Attempt, Question, Quiz, Regrade, User
from quiz.models.quizzes import quiz_bank
from quiz.services.attempts import grade_paper, questions_by_id
from quiz.services import scope
from quiz.services.ranking import ranks_for


@dataclass
class Change:
    attempt: Attempt
    score: tuple[float, float]
    correct: tuple[int, int]
    rank: tuple[int | None, int | None]
    answers: list[list]


@dataclass
class QuizUse:
    quiz: Quiz
    is_open: bool
    sheets: int
    manageable: bool  # the actor may open the quiz (and regrade it)


def _paper_has(question_id: int):
    """SQL condition: the attempt's paper (JSON list of {"q": id, …}) has this question."""
    if db.session.get_bind().dialect.name == "postgresql":
        entry = func.json_array_elements(Attempt.paper).table_valued("value").alias("entry")
        return exists(select(1).select_from(entry).where(entry.c.value.op("->>")("q") == str(question_id)))
    entry = func.json_each(Attempt.paper).table_valued("value").alias("entry")
    return exists(select(1).select_from(entry).where(func.json_extract(entry.c.value, "$.q") == question_id))


def quizzes_using(question: Question, *, actor: User | None, now: datetime) -> list[QuizUse]:
    """Exam quizzes drawing from the question's bank with answer sheets (open or submitted) whose
    paper has the question, newest first: open or closed at `now`, how many sheets, and whether
    the actor manages the quiz."""
    counts = db.session.execute(
        select(Attempt.quiz_id, func.count())
        .join(quiz_bank, quiz_bank.c.quiz_id == Attempt.quiz_id)
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .where(quiz_bank.c.bank_id == question.bank_id, Quiz.mode == "exam", _paper_has(question.id))
        .group_by(Attempt.quiz_id)).all()
    uses = []
    for quiz_id, sheets in sorted(counts, key=lambda c: -c[0]):
        quiz = db.session.get(Quiz, quiz_id)
        try:
            scope.require_quiz(actor, quiz)
            manageable = True
        except Forbidden:
            manageable = False
        uses.append(QuizUse(quiz, quiz.is_open(now), sheets, manageable))
    return uses


def preview(quiz: Quiz, *, now: datetime) -> list[Change]:
    """Sheets whose score changes under the current answer key, with ranks before and after."""
    attempts = db.session.execute(select(Attempt).where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted")
                                  .order_by(Attempt.id)).scalars().all()
    if not attempts:
        return []
    answers: dict[int, list[Answer]] = {}
    for a in db.session.execute(select(Answer).where(Answer.attempt_id.in_(select(Attempt.id).where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted")))).scalars():
        answers.setdefault(a.attempt_id, []).append(a)
    questions = questions_by_id(list({e["q"] for a in attempts for e in a.paper}))
    before = {a.id: a.score or 0 for a in attempts}
    after, details = {}, {}
    for attempt in attempts:
        saved = {answer.question_id: answer for answer in answers.get(attempt.id, [])}
        score, correct, marks = grade_paper(attempt.paper, {q: a.response for q, a in saved.items()}, questions,
                                            quiz.multi_partial)
        rows = [[saved[q].id, saved[q].earned, saved[q].correct, earned, right]
                for q, (earned, right) in marks.items()
                if earned != saved[q].earned or right != saved[q].correct]
        after[attempt.id] = score
        details[attempt.id] = (correct, rows)
    rank_before, rank_after = ranks_for(quiz, attempts, before), ranks_for(quiz, attempts, after)
    changes = []
    for attempt in attempts:
        correct, rows = details[attempt.id]
        if rows or abs(after[attempt.id] - before[attempt.id]) > 1e-9 or rank_before.get(attempt.id) != rank_after.get(attempt.id):
            changes.append(Change(attempt, (before[attempt.id], after[attempt.id]), (attempt.correct_count or 0, correct),
                                  (rank_before.get(attempt.id), rank_after.get(attempt.id)), rows))
    return changes


def apply(quiz: Quiz, *, actor: User | None, reason: str, now: datetime) -> Regrade:
    """Regrade and record it. Raises Invalid without a reason, Conflict when nothing changes."""
    scope.require_quiz(actor, quiz)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Say why the sheets are regraded (for the audit record)."))
    changes = preview(quiz, now=now)
    if not any(c.answers for c in changes):
        raise Conflict(_("No score changes: the answer key gives the same results."))
    ids = [row[0] for c in changes for row in c.answers]
    by_id = {}
    for start in range(0, len(ids), 10_000):  # PostgreSQL takes at most 65,535 parameters
        by_id.update({a.id: a for a in db.session.execute(select(Answer).where(
            Answer.id.in_(ids[start:start + 10_000]))).scalars()})
    for change in changes:
        for answer_id, _eb, _cb, earned, right in change.answers:
            by_id[answer_id].earned, by_id[answer_id].correct = earned, right
        change.attempt.score, change.attempt.correct_count = change.score[1], change.correct[1]
    record = Regrade(quiz_id=quiz.id, user_id=actor.id if actor else None, reason=reason[:2000], created_at=now,
                     changes=[{"attempt": c.attempt.id, "name": c.attempt.participant.name, "score": list(c.score),
                               "correct": list(c.correct), "rank": list(c.rank), "answers": c.answers}
                              for c in changes])
    db.session.add(record)
    db.session.flush()
    events.quiz_event(quiz.id, "regrade", regrade=record.id, changed=len(changes), undone=False)
    return record


def undo(record: Regrade, *, actor: User | None, reason: str = "", now: datetime) -> None:
    """Put back the scores recorded before the regrade (only the latest regrade, once). Raises
    Invalid without a reason (it goes into the audit record)."""
    quiz = db.session.get(Quiz, record.quiz_id)
    scope.require_quiz(actor, quiz)
    if record.undone_at is not None:
        raise Conflict(_("This regrade has already been undone."))
    if not (reason or "").strip():
        raise Invalid(_("Say why the regrade is undone (for the audit record)."))
    newer = db.session.execute(select(Regrade.id).where(Regrade.quiz_id == record.quiz_id, Regrade.id > record.id,
                                                        Regrade.undone_at.is_(None))).first()
    if newer:
        raise Conflict(_("Undo the later regrades first."))
    ids = [row[0] for c in record.changes for row in c["answers"]]
    answers = {}
    for start in range(0, len(ids), 10_000):  # PostgreSQL takes at most 65,535 parameters
        answers.update({a.id: a for a in db.session.execute(
            select(Answer).where(Answer.id.in_(ids[start:start + 10_000]))).scalars()})
    for change in record.changes:
        attempt = db.session.get(Attempt, change["attempt"])
        attempt.score, attempt.correct_count = change["score"][0], change["correct"][0]
        for answer_id, earned_before, correct_before, _ea, _ca in change["answers"]:
            answers[answer_id].earned, answers[answer_id].correct = earned_before, correct_before
    record.undone_at = now
    record.undone_by_id = actor.id if actor else None
    record.undo_reason = reason.strip()[:1000]
    db.session.flush()
    events.quiz_event(quiz.id, "regrade", regrade=record.id, changed=len(record.changes), undone=True)
