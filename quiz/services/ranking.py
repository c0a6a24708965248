"""Quiz ranking: score descending, then time used ascending, then submission time ascending;
entries equal on all three share a rank and the next rank skips (1, 2, 2, 4).

One entry per participant: the attempt that counts is the best (highest score, then less
time, then earlier) or the latest submitted, as the quiz says.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select

from quiz.extensions import db
from quiz.models import Attempt, Participant, Quiz, Unit
from quiz.services.attempts import finalise_overdue


def counted_attempts(quiz: Quiz):
    """Subquery of the attempt that counts for each participant (submitted attempts only)."""
    if quiz.attempt_policy == "latest":
        order = (Attempt.number.desc(),)
    else:
        order = (Attempt.score.desc(), Attempt.time_used_ms.asc(), Attempt.submitted_at.asc(), Attempt.id.asc())
    numbered = (
        select(Attempt.id, Attempt.participant_id, Attempt.score, Attempt.time_used_ms, Attempt.submitted_at,
               func.row_number().over(partition_by=Attempt.participant_id, order_by=order).label("pick"))
        .where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted")
        .subquery()
    )
    return select(numbered).where(numbered.c.pick == 1).subquery()


def leaderboard(quiz: Quiz, *, now: datetime, limit: int = 100, offset: int = 0) -> list[dict]:
    """The ranked entries (attempts past their deadline are graded first)."""
    finalise_overdue(quiz, now=now)
    counted = counted_attempts(quiz)
    rank = func.rank().over(order_by=(counted.c.score.desc(), counted.c.time_used_ms.asc(),
                                      counted.c.submitted_at.asc())).label("rank")
    stmt = (
        select(rank, Participant.name, Unit.path, counted.c.score, counted.c.time_used_ms, counted.c.id)
        .join(Participant, Participant.id == counted.c.participant_id)
        .join(Unit, Unit.id == Participant.unit_id)
        .order_by(rank, counted.c.id)
        .limit(limit).offset(offset)
    )
    return [{"rank": r.rank, "name": r.name, "unit": r.path, "score": r.score,
             "time_used_seconds": r.time_used_ms / 1000, "attempt_id": r.id}
            for r in db.session.execute(stmt)]


def rank_of(attempt: Attempt, *, now: datetime) -> int | None:
    """The rank this attempt holds now if it is the one that counts for its participant, else the
    rank it would hold (1 + entries strictly better)."""
    if attempt.status != "submitted":
        return None
    counted = counted_attempts(attempt.quiz)
    better = db.session.scalar(
        select(func.count()).select_from(counted).where(
            counted.c.participant_id != attempt.participant_id,
            or_(counted.c.score > attempt.score,
                and_(counted.c.score == attempt.score, counted.c.time_used_ms < attempt.time_used_ms),
                and_(counted.c.score == attempt.score, counted.c.time_used_ms == attempt.time_used_ms,
                     counted.c.submitted_at < attempt.submitted_at))))
    return (better or 0) + 1
