"""`quiz verify`: recompute every submitted attempt's score from its stored answers and the
current answer key, and every rank from those scores, and compare them with both ranking paths
(the full ranking and the index-ordered first page); list the differences (0 expected)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Answer, Attempt, Quiz
from quiz.services.attempts import grade_paper, questions_by_id
from quiz.services.ranking import leaderboard, ranks_for, top_entries

TOP_CHECKED = 1000  # the longest first page the board serves from the index-ordered query


@dataclass
class VerifyReport:
    attempts: int = 0
    entries: int = 0
    differences: list[str] = field(default_factory=list)


def verify_quiz(quiz: Quiz, *, now: datetime) -> VerifyReport:
    """Recompute scores, correct counts, each answer's points and ranks independently of the
    stored figures."""
    report = VerifyReport()
    attempts = db.session.execute(select(Attempt).where(Attempt.quiz_id == quiz.id,
                                                        Attempt.status == "submitted")).scalars().all()
    ids = list({e["q"] for a in attempts for e in a.paper})
    questions = questions_by_id(ids)
    stored: dict[tuple[int, int], Answer] = {
        (a.attempt_id, a.question_id): a
        for a in db.session.execute(select(Answer).where(Answer.attempt_id.in_(select(Attempt.id).where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted")))).scalars()
    } if attempts else {}
    recomputed: dict[int, tuple[float, int]] = {}
    for attempt in attempts:
        report.attempts += 1
        score, correct, marks = grade_paper(
            attempt.paper, {e["q"]: stored[(attempt.id, e["q"])].response for e in attempt.paper
                            if (attempt.id, e["q"]) in stored}, questions, quiz.multi_partial)
        for question_id, (earned, right) in marks.items():
            answer = stored[(attempt.id, question_id)]
            if answer.earned is None or abs(answer.earned - earned) > 1e-6 or answer.correct != right:
                report.differences.append(
                    f"attempt {attempt.id} question {question_id}: stored {answer.earned} points "
                    f"({'right' if answer.correct else 'wrong' if answer.correct is not None else 'ungraded'}), "
                    f"recomputed {earned:g}")
        recomputed[attempt.id] = (score, correct)
        if abs(score - (attempt.score or 0)) > 1e-6 or correct != attempt.correct_count:
            report.differences.append(
                f"attempt {attempt.id} ({attempt.participant.name}): stored {attempt.score:g}/{attempt.correct_count} "
                f"correct, recomputed {score:g}/{correct}")
    # ranks: recompute with the rule in Python and compare with the SQL leaderboard
    expected = ranks_for(quiz, attempts, {a: score for a, (score, _c) in recomputed.items()})
    served = {e["attempt_id"]: e["rank"] for e in leaderboard(quiz, now=now, limit=10 ** 9)}
    # the index-ordered first page (the board's first page, the big screen) is checked as well
    for rank, _name, _unit, _score, _time, attempt_id, _person in top_entries(quiz, limit=TOP_CHECKED):
        if expected.get(attempt_id) != rank:
            report.differences.append(f"attempt {attempt_id}: first-page rank {rank}, recomputed "
                                      f"{expected.get(attempt_id)}")
    report.entries = len(expected)
    for attempt_id, rank in expected.items():
        if served.get(attempt_id) != rank:
            report.differences.append(f"attempt {attempt_id}: leaderboard rank {served.get(attempt_id)}, "
                                      f"recomputed {rank}")
    for attempt_id in set(served) - set(expected):
        report.differences.append(f"attempt {attempt_id} is on the leaderboard but should not count")
    return report
