"""One ranking key, one competition_rank: the SQL paths (full ranking, index-ordered first page,
rank_of) and the Python rule agree, ties included; `quiz verify` checks both board paths."""
from __future__ import annotations

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Attempt
from quiz.services import attempts as svc
from quiz.services.ranking import competition_rank, leaderboard, rank_of, ranked_list, ranks_for, top_entries
from quiz.services.verify import verify_quiz
from tests.quizdata import later, make_quiz
from tests.test_quizzes import answer_all, join


def test_competition_rank_shares_and_skips():
    ranked = competition_rank(["b", "a", "c", "d", "e"], key=lambda x: {"a": 1, "b": 2, "c": 2, "d": 3, "e": 2}[x])
    assert ranked == [(1, "a"), (2, "b"), (2, "c"), (2, "e"), (5, "d")]
    assert competition_rank([], key=lambda x: x) == []


def test_every_path_agrees_on_ties(ctx, tree, now):
    """Nine people: full marks in equal and different times, equal times with different
    submission moments, and a zero; the first page (index-ordered query), the full ranking,
    rank_of and the Python rule give the same ranks."""
    quiz = make_quiz(attempts_allowed=2)
    plan = [("甲", 10, 50, 0), ("乙", 10, 60, 0), ("丙", 10, 60, 0), ("丁", 10, 60, 5), ("戊", 0, 10, 0),
            ("己", 10, 40, 90), ("庚", 0, 10, 0), ("辛", 10, 70, 0), ("壬", 10, 70, 0)]
    for n, (name, score, seconds, offset) in enumerate(plan):
        start = later(now, offset)
        attempt = join(quiz, start, phone=f"138000000{n:02d}", name=name).attempt
        if score:
            answer_all(attempt, later(start, 1))
        svc.submit(attempt, now=later(start, seconds))
    # 甲 sits again, worse: the better sheet keeps counting
    second = join(quiz, later(now, 300), phone="13800000000", name="甲").attempt
    svc.submit(second, now=later(now, 305))
    db.session.commit()
    attempts = db.session.execute(select(Attempt).where(Attempt.quiz_id == quiz.id)).scalars().all()
    expected = ranks_for(quiz, attempts, {a.id: a.score for a in attempts})
    first_page = {r[5]: r[0] for r in top_entries(quiz, limit=100)}
    full = {r[5]: r[0] for r in ranked_list(quiz)}
    assert first_page == full == expected
    assert {a.id: rank_of(a, now=later(now, 400)) for a in attempts if a.id in expected} == expected
    board = leaderboard(quiz, now=later(now, 400))
    assert [(e["name"], e["rank"]) for e in board] == [
        ("己", 1), ("甲", 2), ("乙", 3), ("丙", 3), ("丁", 5), ("辛", 6), ("壬", 6), ("戊", 8), ("庚", 8)]
    # a short first page cut inside a tie still ranks like the full board
    assert [(r[1], r[0]) for r in top_entries(quiz, limit=4)] == [("己", 1), ("甲", 2), ("乙", 3), ("丙", 3)]
    assert verify_quiz(quiz, now=later(now, 400)).differences == []


def test_verify_reports_a_first_page_that_disagrees(ctx, tree, now, monkeypatch):
    quiz = make_quiz()
    for n, seconds in enumerate((30, 40)):
        attempt = join(quiz, now, phone=f"1380000000{n}", name=f"人{n}").attempt
        answer_all(attempt, later(now, 1))
        svc.submit(attempt, now=later(now, seconds))
    db.session.commit()
    import quiz.services.verify as verify

    real = verify.top_entries
    monkeypatch.setattr(verify, "top_entries", lambda q, limit: [(2,) + r[1:] if r[0] == 1 else r
                                                                  for r in real(q, limit=limit)])
    assert any("first-page rank" in d for d in verify_quiz(quiz, now=later(now, 100)).differences)
