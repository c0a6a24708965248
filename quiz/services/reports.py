"""Per-unit report of a quiz (docs/rules.md "Unit reports").

For every unit, figures include its sub-units (rolled up to parents):
- headcount: the unit's own 应参人数 plus its descendants';
- participants: people with a counted (submitted) attempt in the unit or below;
- participation rate = participants / headcount (None when the headcount is 0);
- average score over participants; pass rate and excellent rate = share of participants at or
  above the quiz's pass / excellent marks (None when the quiz has no such mark).
Ranks: a unit is ranked only among the units of the same level (depth in the tree) that took
part, i.e. have at least one participant, by the chosen figure: `average` (average score),
`participation` (participation rate) or `mix` (weighted: participation rate and average score as
a percentage of full marks, weights summing to 1). Higher is better; equal figures share a rank
and the next rank skips (1, 2, 2, 4). A unit with 0 participants is not ranked (rank None, shown
as 未参与 "did not take part") and takes no place from the others. A unit that took part but has
no figure (ranking by participation rate with a headcount of 0) shares the rank after the last
unit with a figure. Pages, exports and posters show one level at a time (`level_rows`), so a
rank column never mixes levels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models import Participant, Quiz, Unit
from quiz.models.units import PATH_SEPARATOR
from quiz.services.ranking import competition_rank, counted_attempts
from quiz.services.scope import subtree_condition

RANK_BY = ("average", "participation", "mix")


@dataclass
class UnitRow:
    unit_id: int
    path: str
    name: str
    depth: int
    headcount: int = 0
    participants: int = 0
    total_score: float = 0.0
    passed: int = 0
    excellent: int = 0
    participation_rate: float | None = None
    average_score: float | None = None
    pass_rate: float | None = None
    excellent_rate: float | None = None
    ranking_value: float | None = None
    rank: int | None = None
    children: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in (
            "path", "name", "depth", "headcount", "participants", "participation_rate", "average_score",
            "pass_rate", "excellent_rate", "rank")}


def unit_report(quiz: Quiz, *, now: datetime, root: Unit | None = None, rank_by: str = "average",
                participation_weight: float = 0.5) -> list[UnitRow]:
    """One row per unit under `root` (default: every unit with a headcount or participants),
    in tree order, with rolled-up figures and a rank within its level (rule in the module doc)."""
    if rank_by not in RANK_BY:
        raise Invalid(_("rank_by must be one of %(values)s.", values=", ".join(RANK_BY)))
    if not 0 <= participation_weight <= 1:
        raise Invalid(_("The participation weight must be between 0 and 1."))
    stmt = select(Unit).order_by(Unit.path)
    if root is not None:
        stmt = stmt.where(subtree_condition(root))
    units = db.session.execute(stmt).scalars().all()
    rows = {u.path: UnitRow(u.id, u.path, u.name, u.path.count(PATH_SEPARATOR), headcount=u.headcount)
            for u in units}
    # headcounts roll up
    for unit in units:
        for ancestor in _ancestors(unit.path):
            if ancestor in rows and ancestor != unit.path:
                rows[ancestor].headcount += unit.headcount
    counted = counted_attempts(quiz)
    results = db.session.execute(
        select(Unit.path, counted.c.score)
        .join(Participant, Participant.id == counted.c.participant_id)
        .join(Unit, Unit.id == Participant.unit_id))
    for path, score in results:
        for ancestor in _ancestors(path):
            row = rows.get(ancestor)
            if row is None:
                continue
            row.participants += 1
            row.total_score += score or 0
            if quiz.pass_score is not None and score >= quiz.pass_score:
                row.passed += 1
            if quiz.excellent_score is not None and score >= quiz.excellent_score:
                row.excellent += 1
    full = quiz.max_score or 0
    for row in rows.values():
        if row.headcount:
            row.participation_rate = row.participants / row.headcount
        if row.participants:
            row.average_score = round(row.total_score / row.participants, 4)
            if quiz.pass_score is not None:
                row.pass_rate = row.passed / row.participants
            if quiz.excellent_score is not None:
                row.excellent_rate = row.excellent / row.participants
            row.ranking_value = _ranking_value(row, rank_by, participation_weight, full)
    _rank_within_levels(list(rows.values()))
    return [rows[u.path] for u in units]


def _ancestors(path: str) -> list[str]:
    parts = path.split(PATH_SEPARATOR)
    return [PATH_SEPARATOR.join(parts[:i]) for i in range(1, len(parts) + 1)]


def _ranking_value(row: UnitRow, rank_by: str, weight: float, full: float) -> float | None:
    participation = row.participation_rate
    if rank_by == "average":
        return row.average_score
    if rank_by == "participation":
        return participation
    average_pct = (row.average_score / full * 100) if full else 0
    return round(weight * (participation or 0) * 100 + (1 - weight) * average_pct, 6)


def _rank_within_levels(rows: list[UnitRow]) -> None:
    by_depth: dict[int, list[UnitRow]] = {}
    for row in rows:
        by_depth.setdefault(row.depth, []).append(row)
    for level in by_depth.values():
        took_part = [r for r in level if r.participants]
        ranked = competition_rank([r for r in took_part if r.ranking_value is not None],
                                  key=lambda r: -r.ranking_value)
        for rank, row in ranked:
            row.rank = rank
        for row in took_part:
            if row.ranking_value is None:
                row.rank = len(ranked) + 1
        for row in level:
            if not row.participants:
                row.rank = None


def levels(rows: list[UnitRow]) -> list[int]:
    """The depths present in a report, top level first."""
    return sorted({r.depth for r in rows})


def default_level(rows: list[UnitRow]) -> int | None:
    """The level shown when none is chosen: the shallowest one with more than one unit (a
    street office's villages for its organiser), else the deepest; None for an empty report."""
    depths = levels(rows)
    for depth in depths:
        if sum(1 for r in rows if r.depth == depth) > 1:
            return depth
    return depths[-1] if depths else None


def level_rows(rows: list[UnitRow], level: int | None = None) -> tuple[int | None, list[UnitRow]]:
    """(depth, rows) of one level in rank order, units that did not take part last (by path).
    `level` is a depth (0 = top units); None chooses the default level. Raises Invalid when the
    report has no such level."""
    depths = levels(rows)
    if level is not None and level not in depths:
        raise Invalid(_("Level %(level)d does not exist: the units of this report have levels %(levels)s.",
                        level=level + 1, levels="、".join(str(d + 1) for d in depths) or "—"))
    depth = default_level(rows) if level is None else level
    chosen = [r for r in rows if r.depth == depth]
    chosen.sort(key=lambda r: (r.rank is None, r.rank or 0, r.path))
    return depth, chosen


def relative_names(paths: list[str]) -> list[str]:
    """Paths without the parent they all share (乔司街道/三角村社区 -> 三角村社区)."""
    if len(paths) < 2:
        return [p.split(PATH_SEPARATOR)[-1] if p else p for p in paths]
    parts = [p.split(PATH_SEPARATOR) for p in paths]
    common = 0
    while all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    return [PATH_SEPARATOR.join(p[common:]) for p in parts]
