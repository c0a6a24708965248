"""Unit report (roll-ups, rates, ranking) and `quiz verify`."""
import pytest
from sqlalchemy import update

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models import Attempt
from quiz.services import attempts as svc
from quiz.services.reports import unit_report
from quiz.services.verify import verify_quiz
from tests.quizdata import later, make_quiz
from tests.test_quizzes import answer_all, join


def _sit(quiz, now, phone, name, unit, right=True, seconds=60):
    attempt = join(quiz, now, phone=phone, name=name, unit=unit).attempt
    answer_all(attempt, later(now, 1), right=right)
    svc.submit(attempt, now=later(now, seconds))
    db.session.commit()
    return attempt


def test_unit_report_rolls_up_and_ranks(ctx, tree, now):
    # headcounts: 乔司街道 10 (+120 三角村社区 +80 永丰村), 伦教街道 5 (+60 常教社区)
    quiz = make_quiz(pass_score=6, excellent_score=10)
    _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区")               # 10
    _sit(quiz, now, "13800000002", "乙", "乔司街道/三角村社区", right=False)  # 0
    _sit(quiz, now, "13800000003", "丙", "乔司街道/永丰村")                   # 10
    _sit(quiz, now, "13800000004", "丁", "伦教街道/常教社区", right=False)    # 0
    rows = {r.path: r for r in unit_report(quiz, now=later(now, 100))}
    top = rows["乔司街道"]
    assert (top.headcount, top.participants, top.average_score) == (210, 3, pytest.approx(20 / 3, abs=1e-3))
    assert top.participation_rate == pytest.approx(3 / 210)
    assert top.pass_rate == pytest.approx(2 / 3) and top.excellent_rate == pytest.approx(2 / 3)
    village = rows["乔司街道/三角村社区"]
    assert (village.participants, village.average_score, village.pass_rate) == (2, 5, 0.5)
    assert rows["乔司街道/永丰村"].rank == 1 and village.rank == 2 and rows["伦教街道/常教社区"].rank == 3
    assert rows["乔司街道"].rank == 1 and rows["伦教街道"].rank == 2
    by_participation = {r.path: r.rank for r in unit_report(quiz, now=later(now, 100), rank_by="participation")}
    # 1/60 equals 2/120 (a shared rank), both beat 1/80
    assert by_participation["伦教街道/常教社区"] == by_participation["乔司街道/三角村社区"] == 1
    assert by_participation["乔司街道/永丰村"] == 3
    with pytest.raises(Invalid):
        unit_report(quiz, now=now, rank_by="nonsense")


def test_unit_report_ties_and_empty_units(ctx, tree, now):
    quiz = make_quiz()
    _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000003", "丙", "乔司街道/永丰村")
    rows = {r.path: r for r in unit_report(quiz, now=later(now, 100))}
    assert rows["乔司街道/三角村社区"].rank == rows["乔司街道/永丰村"].rank == 1
    assert rows["伦教街道/常教社区"].rank == 3 and rows["伦教街道/常教社区"].average_score is None
    mixed = {r.path: r for r in unit_report(quiz, now=later(now, 100), rank_by="mix", participation_weight=0.5)}
    assert mixed["乔司街道/永丰村"].rank == 1  # same average, higher participation (1/80 > 1/120)


def test_verify_finds_no_difference_then_a_tampered_score(app, ctx, tree, now, runner):
    quiz = make_quiz()
    first = _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000002", "乙", "乔司街道/三角村社区", right=False)
    assert verify_quiz(quiz, now=later(now, 100)).differences == []
    result = runner.invoke(args=["verify", str(quiz.id)])
    assert result.exit_code == 0, result.output
    db.session.execute(update(Attempt).where(Attempt.id == first.id).values(score=3))
    db.session.commit()
    report = verify_quiz(quiz, now=later(now, 100))
    assert any(f"attempt {first.id}" in d for d in report.differences)
    assert runner.invoke(args=["verify", str(quiz.id)]).exit_code == 1
    assert runner.invoke(args=["verify", "9999"]).exit_code == 1
