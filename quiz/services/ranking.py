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


def counted_attempts(quiz: Quiz, *, until: datetime | None = None):
    """Subquery of the attempt that counts for each participant (submitted attempts only;
    with `until`, only those submitted at or before it)."""
    if quiz.attempt_policy == "latest":
        order = (Attempt.number.desc(),)
    else:
        order = (Attempt.score.desc(), Attempt.time_used_ms.asc(), Attempt.submitted_at.asc(), Attempt.id.asc())
    stmt = (
        select(Attempt.id, Attempt.participant_id, Attempt.score, Attempt.time_used_ms, Attempt.submitted_at,
               func.row_number().over(partition_by=Attempt.participant_id, order_by=order).label("pick"))
        .where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted")
    )
    if until is not None:
        stmt = stmt.where(Attempt.submitted_at <= until)
    numbered = stmt.subquery()
    return select(numbered).where(numbered.c.pick == 1).subquery()


def public_cutoff(quiz: Quiz, now: datetime) -> datetime | None:
    """The freeze time if the public board is frozen now, else None."""
    if quiz.freeze_at is not None and quiz.freeze_at <= now:
        return quiz.freeze_at
    return None


def ranked_entries(quiz: Quiz, *, until: datetime | None = None):
    """Subquery: every counted entry with its rank, name, unit path and unit id."""
    counted = counted_attempts(quiz, until=until)
    rank = func.rank().over(order_by=(counted.c.score.desc(), counted.c.time_used_ms.asc(),
                                      counted.c.submitted_at.asc())).label("rank")
    return (
        select(rank, Participant.name.label("name"), Unit.path.label("unit"), Unit.id.label("unit_id"),
               counted.c.score, counted.c.time_used_ms, counted.c.id.label("attempt_id"),
               counted.c.participant_id)
        .join(Participant, Participant.id == counted.c.participant_id)
        .join(Unit, Unit.id == Participant.unit_id)
    ).subquery()


def leaderboard(quiz: Quiz, *, now: datetime, limit: int = 100, offset: int = 0, search: str = "",
                unit: Unit | None = None, public: bool = False) -> list[dict]:
    """The ranked entries (attempts past their deadline are graded first). Ranks are over the
    whole board; `search` (name) and `unit` (subtree) only filter what is shown. A public board
    of a frozen quiz shows the standings at the freeze time."""
    finalise_overdue(quiz, now=now)
    ranked = ranked_entries(quiz, until=public_cutoff(quiz, now) if public else None)
    stmt = select(ranked).order_by(ranked.c.rank, ranked.c.attempt_id)
    stmt = _filtered(stmt, ranked, search, unit)
    rows = db.session.execute(stmt.limit(limit).offset(offset))
    return [{"rank": r.rank, "name": r.name, "unit": r.unit, "score": r.score,
             "time_used_seconds": r.time_used_ms / 1000, "attempt_id": r.attempt_id} for r in rows]


def leaderboard_size(quiz: Quiz, *, now: datetime, search: str = "", unit: Unit | None = None,
                     public: bool = False) -> int:
    ranked = ranked_entries(quiz, until=public_cutoff(quiz, now) if public else None)
    stmt = _filtered(select(func.count()).select_from(ranked), ranked, search, unit)
    return db.session.scalar(stmt) or 0


def _filtered(stmt, ranked, search: str, unit: Unit | None):
    from quiz.models.units import PATH_SEPARATOR

    if search:
        stmt = stmt.where(ranked.c.name.icontains(search.strip(), autoescape=True))
    if unit is not None:
        stmt = stmt.where(or_(ranked.c.unit == unit.path,
                              ranked.c.unit.startswith(unit.path + PATH_SEPARATOR, autoescape=True)))
    return stmt


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


def ranks_for(quiz: Quiz, attempts: list[Attempt], scores: dict[int, float]) -> dict[int, int]:
    """The same rule computed in Python for given scores (used to check the SQL ranking and to
    preview a regrade): rank of each counted sheet, one per person (best or latest)."""
    best: dict[int, tuple] = {}
    for a in attempts:
        score = scores[a.id]
        key = ((-a.number,) if quiz.attempt_policy == "latest" else (-score, a.time_used_ms, a.submitted_at, a.id))
        if a.participant_id not in best or key < best[a.participant_id][0]:
            best[a.participant_id] = (key, a)
    chosen = sorted((a for _k, a in best.values()), key=lambda a: (-scores[a.id], a.time_used_ms, a.submitted_at))
    ranks, previous, rank = {}, None, 0
    for position, a in enumerate(chosen, start=1):
        key = (scores[a.id], a.time_used_ms, a.submitted_at)
        if key != previous:
            rank, previous = position, key
        ranks[a.id] = rank
    return ranks
