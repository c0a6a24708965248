"""Quiz ranking (docs/rules.md "Which sheet counts", "Ranking").

The ranking key is written once, here: score descending, then time used ascending, then
submission time ascending (`RANK_KEY`). It makes the SQL ORDER BY (`order_by`), the SQL
"ranks strictly before" condition (`beats`) and the Python sort key (`sort_key`); entries equal
on the key share a rank and the next rank skips (1, 2, 2, 4), computed by `competition_rank`,
which every ranked list uses (boards, verify, regrade previews, points boards, unit reports).

One entry per participant: the sheet that counts is the best (the key, then the lower id) or the
latest submitted, as the quiz says; sheets excluded by an organiser never count.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Callable, Iterable, TypeVar

from sqlalchemy import and_, func, or_, select

from quiz.extensions import db
from quiz.models import Attempt, Participant, Quiz, Unit

T = TypeVar("T")

# ---------------------------------------------------------------- the ranking key
RANK_KEY = (("score", True), ("time_used_ms", False), ("submitted_at", False))  # (column, descending)


def _column(source, name: str):
    """A column of a table-like source: a mapped class or alias (attribute) or a subquery (.c)."""
    return getattr(source.c, name) if hasattr(source, "c") else getattr(source, name)


def order_by(source, *, by_id: bool = False) -> list:
    """ORDER BY clauses in rank order (best first) for `source`; with `by_id`, the sheet id
    breaks ties (the choice of a person's best sheet)."""
    clauses = [(_column(source, name).desc() if descending else _column(source, name).asc())
               for name, descending in RANK_KEY]
    return clauses + [_column(source, "id").asc()] if by_id else clauses


def beats(b, a, *, by_id: bool = False):
    """SQL condition: `b` ranks strictly before `a` (with `by_id`, a tie on the key goes to the
    lower id). `a` may be a table-like source or a plain object with the key's attributes."""
    names = [name for name, _desc in RANK_KEY] + (["id"] if by_id else [])
    descending = [desc for _name, desc in RANK_KEY] + ([False] if by_id else [])

    def value(source, name):
        return _column(source, name) if not isinstance(source, Attempt) else getattr(source, name)

    condition = None  # built from the last column back: b < a on it, or equal and b < a on the rest
    for name, desc in reversed(list(zip(names, descending))):
        left, right = value(b, name), value(a, name)
        strictly = left > right if desc else left < right
        condition = strictly if condition is None else or_(strictly, and_(left == right, condition))
    return condition


def sort_key(score: float, time_used_ms: int, submitted_at: datetime) -> tuple:
    """The Python sort key of RANK_KEY: sorting ascending puts the best first."""
    return (-score, time_used_ms, submitted_at)


def competition_rank(items: Iterable[T], key: Callable[[T], object]) -> list[tuple[int, T]]:
    """(rank, item) in order of `key` (ascending = better first; the sort is stable, so items
    equal on the key keep their given order): equal keys share a rank and the next rank skips
    (1, 2, 2, 4)."""
    out, previous, rank = [], object(), 0
    for position, item in enumerate(sorted(items, key=key), start=1):
        value = key(item)
        if value != previous:
            rank, previous = position, value
        out.append((rank, item))
    return out


def counted_attempts(quiz: Quiz, *, until: datetime | None = None, root: Unit | None = None):
    """Subquery of the attempt that counts for each participant (submitted attempts not excluded
    by an organiser; with `until`, only those submitted at or before it; with `root`, only people
    of that unit's subtree)."""
    order = (Attempt.number.desc(),) if quiz.attempt_policy == "latest" else order_by(Attempt, by_id=True)
    stmt = (
        select(Attempt.id, Attempt.participant_id, Attempt.score, Attempt.time_used_ms, Attempt.submitted_at,
               func.row_number().over(partition_by=Attempt.participant_id, order_by=order).label("pick"))
        .where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted", Attempt.excluded.is_(False))
    )
    if until is not None:
        stmt = stmt.where(Attempt.submitted_at <= until)
    if root is not None:
        from quiz.services.scope import subtree_condition

        stmt = stmt.where(Attempt.participant_id.in_(
            select(Participant.id).join(Unit, Unit.id == Participant.unit_id).where(subtree_condition(root))))
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
    rank = func.rank().over(order_by=order_by(counted)).label("rank")
    return (
        select(rank, Participant.name.label("name"), Unit.path.label("unit"), Unit.id.label("unit_id"),
               counted.c.score, counted.c.time_used_ms, counted.c.id.label("attempt_id"),
               counted.c.participant_id)
        .join(Participant, Participant.id == counted.c.participant_id)
        .join(Unit, Unit.id == Participant.unit_id)
    ).subquery()


BOARD_CACHE_SIZE = 8  # quizzes whose full ranking a process keeps
_boards: "OrderedDict[tuple, tuple[tuple, list[tuple]]]" = OrderedDict()


def board_version(quiz: Quiz, until: datetime | None) -> tuple:
    """What the ranking depends on, in one cheap query: how many sheets are submitted and the
    latest submission (both change on every submission or deadline grading), and the number of
    regrades and undos (they change scores without a new submission), and the number of
    exclusions and restorations of sheets."""
    from quiz.models import Regrade, SheetExclusion

    condition = [Attempt.quiz_id == quiz.id, Attempt.status == "submitted"]
    if until is not None:
        condition.append(Attempt.submitted_at <= until)
    regrades = select(func.count(Regrade.id)).where(Regrade.quiz_id == quiz.id).scalar_subquery()
    undone = select(func.count(Regrade.undone_at)).where(Regrade.quiz_id == quiz.id).scalar_subquery()
    exclusions = select(func.count(SheetExclusion.id)).where(SheetExclusion.quiz_id == quiz.id).scalar_subquery()
    row = db.session.execute(select(func.count(Attempt.id), func.max(Attempt.submitted_at), regrades, undone,
                                    exclusions)
                             .where(*condition)).one()
    return (quiz.id, until, quiz.attempt_policy, *row)


def ranked_list(quiz: Quiz, *, until: datetime | None = None) -> list[tuple]:
    """The whole ranking as (rank, name, unit, score, time_used_ms, attempt_id, participant_id),
    kept per process and recomputed only when board_version changes (cache invalidation on every
    score change: submissions, deadline grading, regrades and their undo)."""
    key = (quiz.id, until)
    version = board_version(quiz, until)
    hit = _boards.get(key)
    if hit is not None and hit[0] == version:
        _boards.move_to_end(key)
        return hit[1]
    ranked = ranked_entries(quiz, until=until)
    rows = [tuple(r) for r in db.session.execute(
        select(ranked.c.rank, ranked.c.name, ranked.c.unit, ranked.c.score, ranked.c.time_used_ms,
               ranked.c.attempt_id, ranked.c.participant_id).order_by(ranked.c.rank, ranked.c.attempt_id))]
    _boards[key] = (version, rows)
    if len(_boards) > BOARD_CACHE_SIZE:
        _boards.popitem(last=False)
    return rows


def clear_board_cache() -> None:
    _boards.clear()


def _matches(row: tuple, search: str, unit: Unit | None) -> bool:
    from quiz.models.units import PATH_SEPARATOR

    if search and search.casefold() not in row[1].casefold():
        return False
    return unit is None or row[2] == unit.path or row[2].startswith(unit.path + PATH_SEPARATOR)


def top_entries(quiz: Quiz, *, limit: int, until: datetime | None = None) -> list[tuple]:
    """The first `limit` entries in rank order without ranking the whole board: a sheet counts
    when no other submitted sheet of the same person beats it (the same rule as
    counted_attempts), read in ix_attempt_board order; ranks are given here (1, 2, 2, 4)."""
    from sqlalchemy import exists
    from sqlalchemy.orm import aliased

    a, b = aliased(Attempt, name="a"), aliased(Attempt, name="b")
    better = b.number > a.number if quiz.attempt_policy == "latest" else beats(b, a, by_id=True)
    beaten = select(b.id).where(b.quiz_id == a.quiz_id, b.participant_id == a.participant_id,
                                b.status == "submitted", b.excluded.is_(False), b.id != a.id, better)
    if until is not None:
        beaten = beaten.where(b.submitted_at <= until)
    stmt = (select(Participant.name, Unit.path, a.score, a.time_used_ms, a.submitted_at, a.id, a.participant_id)
            .join(Participant, Participant.id == a.participant_id).join(Unit, Unit.id == Participant.unit_id)
            .where(a.quiz_id == quiz.id, a.status == "submitted", a.excluded.is_(False), ~exists(beaten)))
    if until is not None:
        stmt = stmt.where(a.submitted_at <= until)
    rows = db.session.execute(stmt.order_by(*order_by(a, by_id=True)).limit(limit)).all()
    return [(rank, r.name, r.path, r.score, r.time_used_ms, r.id, r.participant_id)
            for rank, r in competition_rank(rows, key=lambda r: sort_key(r.score, r.time_used_ms, r.submitted_at))]


def leaderboard(quiz: Quiz, *, now: datetime, limit: int = 100, offset: int = 0, search: str = "",
                unit: Unit | None = None, public: bool = False) -> list[dict]:
    """The ranked entries, from stored state (a read never writes: a sheet past its deadline
    appears once it is graded, by a write path or `quiz close-overdue`). Ranks are over the whole
    board; `search` (name) and `unit` (subtree) only filter what is shown. A public board of a
    frozen quiz shows the standings at the freeze time."""
    until = public_cutoff(quiz, now) if public else None
    search = (search or "").strip()
    if not search and unit is None and offset == 0 and limit <= 1000:  # the board's first page: always fresh
        rows = top_entries(quiz, limit=limit, until=until)
        return [{"rank": r[0], "name": r[1], "unit": r[2], "score": r[3], "time_used_seconds": r[4] / 1000,
                     "attempt_id": r[5]} for r in rows]
    rows = ranked_list(quiz, until=until)
    if search or unit is not None:
        rows = [r for r in rows if _matches(r, search, unit)]
    return [{"rank": r[0], "name": r[1], "unit": r[2], "score": r[3], "time_used_seconds": r[4] / 1000,
             "attempt_id": r[5]} for r in rows[offset:offset + limit]]


def leaderboard_size(quiz: Quiz, *, now: datetime, search: str = "", unit: Unit | None = None,
                     public: bool = False) -> int:
    rows = ranked_list(quiz, until=public_cutoff(quiz, now) if public else None)
    search = (search or "").strip()
    if not search and unit is None:
        return len(rows)
    return sum(1 for r in rows if _matches(r, search, unit))


def rank_of(attempt: Attempt, *, now: datetime) -> int | None:
    """The rank this attempt holds now if it is the one that counts for its participant, else the
    rank it would hold (1 + entries strictly better)."""
    if attempt.status != "submitted" or attempt.excluded:
        return None
    counted = counted_attempts(attempt.quiz)
    better = db.session.scalar(select(func.count()).select_from(counted).where(
        counted.c.participant_id != attempt.participant_id, beats(counted, attempt)))
    return (better or 0) + 1


def ranks_for(quiz: Quiz, attempts: list[Attempt], scores: dict[int, float]) -> dict[int, int]:
    """The same rule computed in Python for given scores (used to check the SQL ranking and to
    preview a regrade): rank of each counted sheet, one per person (best or latest)."""
    best: dict[int, tuple] = {}
    for a in attempts:
        if a.excluded or a.status != "submitted":
            continue
        key = (-a.number,) if quiz.attempt_policy == "latest" else (
            *sort_key(scores[a.id], a.time_used_ms, a.submitted_at), a.id)
        if a.participant_id not in best or key < best[a.participant_id][0]:
            best[a.participant_id] = (key, a)
    ranked = competition_rank((a for _k, a in best.values()),
                              key=lambda a: sort_key(scores[a.id], a.time_used_ms, a.submitted_at))
    return {a.id: rank for rank, a in ranked}
