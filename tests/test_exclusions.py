"""Organisers exclude a sheet (e.g. one flagged 用时过短) from rankings, reports and posters, with a
reason, audited and reversible; excluded sheets are shown to organisers only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz.errors import Conflict, Forbidden, Invalid
from quiz.extensions import db
from quiz.models import Attempt, SheetExclusion, User
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services.analysis import analyse
from quiz.services.exclusions import exclude_sheet, excluded_sheets, restore_sheet
from quiz.services.points import PointsRule, person_points
from quiz.services.ranking import leaderboard, leaderboard_size, ranked_list, top_entries
from quiz.services.reports import unit_report
from quiz.services.verify import verify_quiz
from tests.quizdata import make_quiz
from tests.test_quizzes import answer_all, join


def _sheet(quiz, when, phone, name, unit, seconds):
    attempt = join(quiz, when, phone=phone, name=name, unit=unit).attempt
    answer_all(attempt, when + timedelta(seconds=1))
    svc.submit(attempt, now=when + timedelta(seconds=seconds))
    db.session.commit()
    return attempt


def _contest():
    """Three full scores: 快手 in 5 s (flagged 用时过短), 张三 in 100 s, 李四 in 200 s."""
    start = utcnow() - timedelta(hours=1)
    quiz = make_quiz(now=start, min_seconds=60, attempts_allowed=2, unit="乔司街道")
    fast = _sheet(quiz, start, "13800000001", "快手", "乔司街道/三角村社区", 5)
    _sheet(quiz, start, "13800000002", "张三", "乔司街道/永丰村", 100)
    _sheet(quiz, start, "13800000003", "李四", "伦教街道/常教社区", 200)
    assert fast.flagged_fast
    return quiz, fast


def _names(entries):
    return [(e["rank"], e["name"]) for e in entries]


def test_an_excluded_sheet_leaves_every_ranking_and_report(ctx, tree):
    quiz, fast = _contest()
    now = utcnow()
    assert _names(leaderboard(quiz, now=now, public=True))[0] == (1, "快手")
    record = exclude_sheet(fast, reason="40秒交卷，经核实", actor=None, now=now)
    db.session.commit()
    assert record.action == "exclude" and fast.excluded
    expected = [(1, "张三"), (2, "李四")]
    assert _names(leaderboard(quiz, now=now, public=True)) == expected            # first page (top-N query)
    assert _names(leaderboard(quiz, now=now, search="", unit=None, offset=0, limit=10 ** 6)) == expected
    assert [(r[0], r[1]) for r in ranked_list(quiz)] == expected                   # deep pages, filters
    assert [(r[0], r[1]) for r in top_entries(quiz, limit=10)] == expected
    assert leaderboard_size(quiz, now=now, public=True) == 2
    assert svc.result_payload(fast, now=now)["rank"] is None
    rows = {r.path: r for r in unit_report(quiz, now=now)}
    assert rows["乔司街道/三角村社区"].participants == 0 and rows["乔司街道"].participants == 1
    people = person_points([quiz], PointsRule(), start=now - timedelta(days=1), end=now + timedelta(days=1))
    assert "快手" not in {p.name for p in people}
    assert analyse(quiz, now=now).attempts == 2
    assert verify_quiz(quiz, now=now).differences == []
    listed = excluded_sheets(quiz)
    assert [(x.name, x.reason) for x in listed] == [("快手", "40秒交卷，经核实")]

    restore_sheet(fast, reason="复核后恢复", actor=None, now=now + timedelta(minutes=1))
    db.session.commit()
    assert _names(leaderboard(quiz, now=now, public=True))[0] == (1, "快手")
    assert [(r[0], r[1]) for r in ranked_list(quiz)][0] == (1, "快手")
    assert excluded_sheets(quiz) == []
    history = db.session.execute(select(SheetExclusion).order_by(SheetExclusion.id)).scalars().all()
    assert [(h.action, h.reason) for h in history] == [("exclude", "40秒交卷，经核实"), ("restore", "复核后恢复")]


def test_the_next_best_sheet_of_the_same_person_counts(ctx, tree):
    quiz, fast = _contest()
    second = join(quiz, utcnow() - timedelta(minutes=30), phone="13800000001", name="快手",
                  unit="乔司街道/三角村社区").attempt
    svc.submit(second, now=utcnow() - timedelta(minutes=29))  # nothing answered: 0 points
    db.session.commit()
    exclude_sheet(fast, reason="用时过短", actor=None, now=utcnow())
    db.session.commit()
    board = leaderboard(quiz, now=utcnow(), public=True)
    assert _names(board) == [(1, "张三"), (2, "李四"), (3, "快手")]
    assert board[2]["attempt_id"] == second.id
    assert verify_quiz(quiz, now=utcnow()).differences == []


def test_reason_state_and_scope_are_checked(ctx, users, tree):
    quiz, fast = _contest()
    lunjiao = db.session.execute(select(User).where(User.username == "lunjiao")).scalar_one()
    with pytest.raises(Invalid):
        exclude_sheet(fast, reason="  ", actor=None, now=utcnow())
    with pytest.raises(Forbidden):
        exclude_sheet(fast, reason="越权", actor=lunjiao, now=utcnow())
    with pytest.raises(Conflict):
        restore_sheet(fast, reason="未排除", actor=None, now=utcnow())
    open_sheet = join(quiz, utcnow(), phone="13800000009", name="答题中", unit="乔司街道/永丰村").attempt
    with pytest.raises(Conflict):
        exclude_sheet(open_sheet, reason="未交卷", actor=None, now=utcnow())
    assert not fast.excluded and db.session.scalar(select(SheetExclusion.id)) is None


def test_organiser_pages_and_api(client, auth, app, users, tree, token_for):
    with app.app_context():
        quiz, fast = _contest()
        quiz_id, fast_id = quiz.id, fast.id
    auth.login("qiaosi")
    page = client.get(f"/quizzes/{quiz_id}")
    assert f"/quizzes/{quiz_id}/sheets/{fast_id}" in page.get_data(as_text=True)
    sheet = client.get(f"/quizzes/{quiz_id}/sheets/{fast_id}").get_data(as_text=True)
    assert "快手" in sheet and "reason" in sheet
    reply = client.post(f"/quizzes/{quiz_id}/sheets/{fast_id}/exclude", data={"reason": ""}, follow_redirects=True)
    with app.app_context():
        assert not db.session.get(Attempt, fast_id).excluded  # no reason, nothing changed
    client.post(f"/quizzes/{quiz_id}/sheets/{fast_id}/exclude", data={"reason": "用时过短"})
    organiser_board = client.get(f"/quizzes/{quiz_id}/leaderboard").get_data(as_text=True)
    assert "用时过短" in organiser_board and "快手" in organiser_board
    public = client.get(f"/board/{quiz_id}").get_data(as_text=True)
    assert "快手" not in public and "用时过短" not in public
    screen = client.get(f"/board/{quiz_id}/screen").get_data(as_text=True)
    assert "快手" not in screen
    api = client.get(f"/api/v1/quizzes/{quiz_id}/leaderboard").get_json()
    assert [e["name"] for e in api["entries"]] == ["张三", "李四"]
    # another unit's organiser can neither see nor change it
    other = app.test_client()
    other.post("/login", data={"username": "lunjiao", "password": "secret-pass"})
    assert other.get(f"/quizzes/{quiz_id}/sheets/{fast_id}").status_code == 403
    assert other.post(f"/quizzes/{quiz_id}/sheets/{fast_id}/restore", data={"reason": "x"}).status_code == 403
    # API: restore with the organiser's token
    token = token_for("qiaosi")
    reply = client.post(f"/api/v1/quizzes/{quiz_id}/sheets/{fast_id}/restore", json={"reason": "复核"},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200 and reply.get_json() == {"attempt_id": fast_id, "excluded": False}
    reply = client.post(f"/api/v1/quizzes/{quiz_id}/sheets/{fast_id}/restore", json={"reason": "复核"},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 409
    assert client.post(f"/api/v1/quizzes/{quiz_id}/sheets/{fast_id}/exclude", json={},
                       headers={"Authorization": f"Bearer {token_for('lunjiao')}"}).status_code == 403
