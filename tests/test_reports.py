"""Unit report (roll-ups, rates, ranking) and `quiz verify`."""
import pytest
from sqlalchemy import update

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models import Attempt
from quiz.services import attempts as svc
from quiz.services.reports import default_level, level_rows, relative_names, unit_report
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
    assert rows["伦教街道/常教社区"].rank is None and rows["伦教街道/常教社区"].average_score is None
    mixed = {r.path: r for r in unit_report(quiz, now=later(now, 100), rank_by="mix", participation_weight=0.5)}
    assert mixed["乔司街道/永丰村"].rank == 1  # same average, higher participation (1/80 > 1/120)


def test_units_without_participants_are_not_ranked(ctx, tree, now):
    """Ranks are within a level among the units that took part; a unit with 0 participants has
    no rank (未参与) and takes no place, even in a level where nobody took part."""
    from quiz.services.units import ensure_path

    ensure_path(["乔司街道", "三角村社区", "一组"], actor=None, now=now, headcount=30)  # depth 2, nobody
    db.session.commit()
    quiz = make_quiz()
    _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区")               # 10
    _sit(quiz, now, "13800000002", "乙", "伦教街道/常教社区", right=False)    # 0
    for rank_by in ("average", "participation", "mix"):
        rows = {r.path: r for r in unit_report(quiz, now=later(now, 100), rank_by=rank_by)}
        assert rows["乔司街道/永丰村"].rank is None, rank_by                   # 0 participants
        assert rows["乔司街道/三角村社区/一组"].rank is None, rank_by          # was ranked 1
        assert {rows["乔司街道/三角村社区"].rank, rows["伦教街道/常教社区"].rank} == {1, 2}, rank_by
        assert rows["乔司街道"].rank in (1, 2) and rows["伦教街道"].rank in (1, 2)
    report = unit_report(quiz, now=later(now, 100))
    assert default_level(report) == 0  # two street offices
    depth, shown = level_rows(report, 1)
    assert depth == 1 and [(r.path, r.rank) for r in shown] == [
        ("乔司街道/三角村社区", 1), ("伦教街道/常教社区", 2), ("乔司街道/永丰村", None)]  # 未参与 last
    assert [r.rank for r in level_rows(report, 2)[1]] == [None]
    with pytest.raises(Invalid):
        level_rows(report, 7)
    assert relative_names([r.path for r in shown]) == ["乔司街道/三角村社区", "伦教街道/常教社区", "乔司街道/永丰村"]
    assert relative_names(["乔司街道/三角村社区", "乔司街道/永丰村"]) == ["三角村社区", "永丰村"]


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


def test_histogram_bins_are_whole_numbers_sized_for_full_marks():
    from quiz.services.charts import histogram_bins, score_histogram

    labels = lambda full: [b["label"] for b in histogram_bins(full)]  # noqa: E731
    assert labels(100) == ["0–9", "10–19", "20–29", "30–39", "40–49", "50–59", "60–69", "70–79", "80–89", "90–99",
                           "100"]
    assert labels(10) == [str(i) for i in range(11)]  # was 0–/2.1–/4.2– style decimals
    assert labels(150) == ["0–24", "25–49", "50–74", "75–99", "100–124", "125–149", "150"]
    assert labels(37)[-1] == "35–37" and labels(0) == []
    histogram = score_histogram([0, 9.5, 10, 99.5, 100, 100, 55], 100)
    assert histogram["width"] == 10
    assert histogram["counts"] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2]  # 9.5 in 0–9; full marks in 100
    assert sum(score_histogram([3.5, 10], 10)["counts"]) == 2
