"""Leaderboard pages: public board (search, unit filter, paging), big screen, freeze and reveal."""
from datetime import timedelta

from quiz.extensions import db
from quiz.models import Quiz
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services.quizzes import reveal, set_freeze
from quiz.services.ranking import leaderboard, leaderboard_size
from tests.quizdata import make_quiz
from tests.test_quizzes import answer_all, join


def _sit(quiz, when, phone, name, unit, right=True):
    attempt = join(quiz, when, phone=phone, name=name, unit=unit).attempt
    if right:
        answer_all(attempt, when + timedelta(seconds=1))
    svc.submit(attempt, now=when + timedelta(seconds=30))
    db.session.commit()


def test_freeze_hides_later_results_from_the_public_only(ctx, tree):
    now = utcnow() - timedelta(hours=1)
    quiz = make_quiz(now=now)
    _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区", right=False)
    set_freeze(quiz, now + timedelta(minutes=5), actor=None, now=now)
    db.session.commit()
    _sit(quiz, now + timedelta(minutes=10), "13800000002", "乙", "伦教街道/常教社区")
    later = now + timedelta(minutes=20)
    assert [e["name"] for e in leaderboard(quiz, now=later, public=True)] == ["甲"]
    assert [e["name"] for e in leaderboard(quiz, now=later)] == ["乙", "甲"]
    reveal(quiz, actor=None)
    assert [e["name"] for e in leaderboard(quiz, now=later, public=True)] == ["乙", "甲"]


def test_search_and_unit_filter_keep_overall_ranks(ctx, tree):
    now = utcnow() - timedelta(hours=1)
    quiz = make_quiz(now=now)
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    _sit(quiz, now + timedelta(seconds=5), "13800000002", "李四", "伦教街道/常教社区")
    _sit(quiz, now, "13800000003", "张小五", "乔司街道/永丰村", right=False)
    later = now + timedelta(minutes=5)
    from quiz.services.units import find_unit
    lunjiao = leaderboard(quiz, now=later, unit=find_unit("伦教街道"))
    assert [(e["name"], e["rank"]) for e in lunjiao] == [("李四", 2)]
    assert [e["name"] for e in leaderboard(quiz, now=later, search="张")] == ["张三", "张小五"]
    assert leaderboard_size(quiz, now=later, search="张") == 2


def test_pages(client, auth, app, tree):
    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now)
        for i in range(55):
            _sit(quiz, now, f"1380000{i:04d}", f"人员{i:02d}", "乔司街道/三角村社区", right=i % 2 == 0)
        quiz_id = quiz.id
    page = client.get(f"/board/{quiz_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "人员00" in html and "13800000000" not in html
    assert "page=2" in html
    assert "人员" in client.get(f"/board/{quiz_id}?page=2").get_data(as_text=True)
    assert "人员07" in client.get(f"/board/{quiz_id}?q=人员07").get_data(as_text=True)
    screen = client.get(f"/board/{quiz_id}/screen?top=5&scroll=1")
    page = screen.get_data(as_text=True)
    assert screen.status_code == 200 and 'http-equiv="refresh"' not in page  # updated in place by screen.js
    assert "screen.js" in page and f"/api/v1/quizzes/{quiz_id}/leaderboard?limit=5" in page
    assert page.count("人员0") == 5  # each entry once (the old scrolling screen printed the table twice)
    assert client.get(f"/board/{quiz_id}/screen?top=abc").status_code == 200
    assert client.get("/board/9999").status_code == 404
    assert client.get(f"/quizzes/{quiz_id}/leaderboard").status_code == 302  # organisers only
    auth.login()
    assert client.get(f"/quizzes/{quiz_id}/leaderboard").status_code == 200
    assert client.post(f"/quizzes/{quiz_id}/freeze", data={"at": ""}).status_code == 302
    with app.app_context():
        assert db.session.get(Quiz, quiz_id).freeze_at is not None
    frozen = client.get(f"/board/{quiz_id}").get_data(as_text=True)
    assert "人员00" in frozen  # submitted before the freeze
    assert client.post(f"/quizzes/{quiz_id}/freeze", data={"at": "not a time"}).status_code == 302
    assert client.post(f"/quizzes/{quiz_id}/freeze", data={"reveal": "1"}).status_code == 302
    with app.app_context():
        assert db.session.get(Quiz, quiz_id).freeze_at is None
    auth.logout()
    auth.login("qiaosi")
    # the quiz is open to every unit: another organiser may view it (their people only), not change it
    assert client.get(f"/quizzes/{quiz_id}/leaderboard").status_code == 200
    assert client.post(f"/quizzes/{quiz_id}/freeze", data={"at": ""}).status_code == 403


def test_cached_board_follows_every_score_change(ctx, tree):
    now = utcnow() - timedelta(hours=1)
    quiz = make_quiz(now=now)
    _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区", right=False)
    later = now + timedelta(minutes=5)
    assert [e["name"] for e in leaderboard(quiz, now=later)] == ["甲"]
    _sit(quiz, now + timedelta(minutes=1), "13800000002", "乙", "乔司街道/永丰村")  # a new submission
    assert [e["name"] for e in leaderboard(quiz, now=later)] == ["乙", "甲"]
    # an open sheet past its deadline is shown once graded (reads never grade)
    join(quiz, now, phone="13800000003", name="丙", unit="伦教街道/常教社区")
    db.session.commit()
    assert [e["name"] for e in leaderboard(quiz, now=now + timedelta(hours=2))] == ["乙", "甲"]
    svc.close_overdue(quiz, now=now + timedelta(hours=2))
    assert [e["name"] for e in leaderboard(quiz, now=now + timedelta(hours=2))] == ["乙", "甲", "丙"]
