"""Points board (积分榜) with caps per period, and the honour roll."""
from datetime import datetime, timezone

import pytest

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.services import attempts as svc
from quiz.services.points import PointsRule, honour_roll, period_bounds, person_points, unit_points
from tests.quizdata import later, make_quiz
from tests.test_quizzes import answer_all, join



def _sit(quiz, when, phone, name, unit="乔司街道/三角村社区", right=True):
    attempt = join(quiz, when, phone=phone, name=name, unit=unit).attempt
    answer_all(attempt, later(when, 1), right=right)
    svc.submit(attempt, now=later(when, 60))
    db.session.commit()


def test_period_bounds_in_beijing_time():
    now = datetime(2026, 11, 22, 17, 0, tzinfo=timezone.utc)  # Monday 01:00 in Beijing
    start, end = period_bounds("week", now)
    assert start == datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)  # Monday 00:00 Beijing
    assert (end - start).days == 7
    start, end = period_bounds("quarter", now)
    assert start == datetime(2026, 9, 30, 16, 0, tzinfo=timezone.utc) and end == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)
    start, end = period_bounds("year", now)
    assert start == datetime(2025, 12, 31, 16, 0, tzinfo=timezone.utc) and end == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)
    with pytest.raises(Invalid):
        period_bounds("decade", now)


def test_score_points_with_daily_cap_and_ranks(ctx, tree, now):
    q1 = make_quiz(title="第一期")
    q2 = make_quiz(title="第二期", banks=["题库"])
    _sit(q1, now, "13800000001", "甲")
    _sit(q2, now, "13800000001", "甲")                      # same day: 10 + 10, capped at 15
    _sit(q1, now, "13800000002", "乙")
    _sit(q2, later(now, 86400), "13800000002", "乙")        # next day: 10 + 10
    _sit(q1, now, "13800000003", "丙", unit="伦教街道/常教社区", right=False)
    start, end = period_bounds("month", now)
    board = person_points([q1, q2], PointsRule(mode="score", daily_cap=15), start=start, end=end)
    assert [(p.name, p.points, p.rank) for p in board] == [("乙", 20, 1), ("甲", 15, 2), ("丙", 0, 3)]
    units = {r["unit"]: r for r in unit_points(board)}
    assert units["乔司街道"]["points"] == 35 and units["乔司街道"]["rank"] == 1
    assert units["伦教街道"]["rank"] == 2 and units["乔司街道/三角村社区"]["people"] == 2


def test_fixed_points_and_period_filter(ctx, tree, now):
    q1 = make_quiz(title="第一期", pass_score=6)
    _sit(q1, now, "13800000001", "甲")                       # takes part + passes + full marks
    _sit(q1, now, "13800000002", "乙", right=False)          # takes part only
    rule = PointsRule(mode="fixed", participate=1, passed=2, full_marks=5)
    start, end = period_bounds("week", now)
    board = person_points([q1], rule, start=start, end=end)
    assert [(p.name, p.points) for p in board] == [("甲", 8), ("乙", 1)]
    empty = person_points([q1], rule, start=later(now, 86400 * 30), end=later(now, 86400 * 60))
    assert empty == []
    roll = honour_roll([q1], rule, start=start, end=end, top=1)
    assert [p.name for p in roll["full_marks"]] == ["甲"] and [p.name for p in roll["top"]] == ["甲"]
    with pytest.raises(Invalid):
        person_points([q1], PointsRule(mode="bogus"), start=start, end=end)
    with pytest.raises(Invalid):
        person_points([q1], rule, start=end, end=start)


def test_ties_share_points_rank(ctx, tree, now):
    q1 = make_quiz()
    _sit(q1, now, "13800000001", "甲")
    _sit(q1, now, "13800000002", "乙")
    _sit(q1, now, "13800000003", "丙", right=False)
    start, end = period_bounds("year", now)
    assert [p.rank for p in person_points([q1], PointsRule(), start=start, end=end)] == [1, 1, 3]
