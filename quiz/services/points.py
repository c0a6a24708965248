"""Points board (积分榜) and honour roll (光荣榜) across quizzes.

Rule: in each quiz a person's counted attempt (best or latest, as the quiz says) earns points
on the local day (localtime.py) it was submitted, either its score (`mode="score"`) or fixed points
(`mode="fixed"`): `participate` for taking part, plus `passed` at or above the pass mark, plus
`full_marks` for a full score. A person's points per day are capped at `daily_cap` (if set).
Only submissions inside the period [start, end) count; practice quizzes never count. People are
ranked by points (desc); equal points share a rank and the next rank skips (1, 2, 2, 4). A
unit's points are the sum of its people's, sub-units rolled up to parents.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import gettext as _
from sqlalchemy import select

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.localtime import local_tz
from quiz.models import Participant, Quiz, Unit
from quiz.models.units import PATH_SEPARATOR
from quiz.services.ranking import competition_rank, counted_attempts

PERIODS = ("week", "month", "quarter", "year")


@dataclass
class PointsRule:
    mode: str = "score"          # "score" | "fixed"
    participate: float = 0
    passed: float = 0
    full_marks: float = 0
    daily_cap: float | None = None

    def validate(self) -> "PointsRule":
        if self.mode not in ("score", "fixed"):
            raise Invalid(_("The points mode must be score or fixed."))
        values = (self.participate, self.passed, self.full_marks, self.daily_cap or 0)
        if any(v < 0 for v in values):
            raise Invalid(_("Points and the daily cap cannot be negative."))
        return self


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local (quiz.localtime) week (Mon–Sun), month, quarter or year
    holding `now`."""
    local = now.astimezone(local_tz()).date()
    if period == "week":
        start = local - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = local.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    elif period == "quarter":
        first_month = 3 * ((local.month - 1) // 3) + 1
        start = date(local.year, first_month, 1)
        end = date(local.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    elif period == "year":
        start, end = date(local.year, 1, 1), date(local.year + 1, 1, 1)
    else:
        raise Invalid(_("The period must be one of %(values)s, or a custom range.", values=", ".join(PERIODS)))
    return _utc(start), _utc(end)


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=local_tz()).astimezone(timezone.utc)


@dataclass
class PersonPoints:
    participant_id: int
    name: str
    unit: str
    points: float
    quizzes: int
    full_marks: int
    rank: int = 0


def person_points(quizzes: list[Quiz], rule: PointsRule, *, start: datetime, end: datetime) -> list[PersonPoints]:
    """Everyone's points in [start, end), ranked (rule in the module docstring)."""
    rule.validate()
    if end <= start:
        raise Invalid(_("The end of the period must be after its start."))
    zone = local_tz()
    per_day: dict[tuple[int, date], float] = {}
    info: dict[int, list] = {}
    for quiz in quizzes:
        if quiz.is_practice:
            continue
        counted = counted_attempts(quiz)
        rows = db.session.execute(
            select(counted.c.participant_id, counted.c.score, counted.c.submitted_at, Participant.name, Unit.path)
            .join(Participant, Participant.id == counted.c.participant_id)
            .join(Unit, Unit.id == Participant.unit_id)
            .where(counted.c.submitted_at >= start, counted.c.submitted_at < end))
        for pid, score, submitted_at, name, path in rows:
            full = quiz.max_score > 0 and score >= quiz.max_score
            if rule.mode == "score":
                earned = score or 0
            else:
                earned = rule.participate
                if quiz.pass_score is not None and score >= quiz.pass_score:
                    earned += rule.passed
                if full:
                    earned += rule.full_marks
            submitted = submitted_at if submitted_at.tzinfo else submitted_at.replace(tzinfo=timezone.utc)
            day = submitted.astimezone(zone).date()
            per_day[(pid, day)] = per_day.get((pid, day), 0) + earned
            entry = info.setdefault(pid, [name, path, 0, 0])
            entry[2] += 1
            entry[3] += full
    totals: dict[int, float] = {}
    for (pid, _day), points in per_day.items():
        if rule.daily_cap is not None:
            points = min(points, rule.daily_cap)
        totals[pid] = totals.get(pid, 0) + points
    people = [PersonPoints(pid, info[pid][0], info[pid][1], round(points, 4), info[pid][2], info[pid][3])
              for pid, points in totals.items()]
    people.sort(key=lambda p: (p.name, p.participant_id))  # equal points: listed by name
    ranked = competition_rank(people, key=lambda p: -p.points)
    for rank, person in ranked:
        person.rank = rank
    return [person for _rank, person in ranked]


def unit_points(people: list[PersonPoints]) -> list[dict]:
    """Units ranked by the sum of their people's points (sub-units rolled up), within each level."""
    totals: dict[str, dict] = {}
    for person in people:
        parts = person.unit.split(PATH_SEPARATOR)
        for i in range(1, len(parts) + 1):
            path = PATH_SEPARATOR.join(parts[:i])
            row = totals.setdefault(path, {"unit": path, "depth": i - 1, "points": 0.0, "people": 0})
            row["points"] = round(row["points"] + person.points, 4)
            row["people"] += 1
    rows = sorted(totals.values(), key=lambda r: (r["depth"], r["unit"]))
    for depth in sorted({r["depth"] for r in rows}):
        for rank, row in competition_rank([r for r in rows if r["depth"] == depth], key=lambda r: -r["points"]):
            row["rank"] = rank
    return sorted(rows, key=lambda r: (r["depth"], r["rank"], r["unit"]))


def honour_roll(quizzes: list[Quiz], rule: PointsRule, *, start: datetime, end: datetime, top: int = 10) -> dict:
    """光荣榜: people with at least one full score in the period, and the top N by points."""
    people = person_points(quizzes, rule, start=start, end=end)
    return {"full_marks": [p for p in people if p.full_marks],
            "top": [p for p in people if p.rank <= top]}
