"""The sheet's clock (GET /api/v1/attempts/<id>/clock) that phones poll, and the result level
(优秀 / 及格 / 不及格)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Attempt
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services.attempts import result_label, result_level
from quiz.services.quizzes import close_quiz, extend_quiz
from tests.quizdata import make_quiz
from tests.test_quizzes import answer_all, join


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sheet(app, tree):
    """An open sheet started a minute ago: {"id", "token", "quiz_id"}."""
    with app.app_context():
        start = utcnow() - timedelta(minutes=1)
        quiz = make_quiz(now=start - timedelta(minutes=1))
        attempt = join(quiz, start).attempt
        return {"id": attempt.id, "token": svc.attempt_token(attempt), "quiz_id": quiz.id}


def test_clock_reports_open_sheet_and_follows_an_extension(app, client, sheet):
    response = client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer(sheet["token"]))
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"status", "reason", "deadline", "server_time"}
    assert body["status"] == "open" and body["reason"] is None and body["deadline"] and body["server_time"]
    with app.app_context():
        from quiz.models import Quiz
        extend_quiz(db.session.get(Quiz, sheet["quiz_id"]), 5, actor=None, now=utcnow())
        db.session.commit()
    later = client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer(sheet["token"])).json
    assert later["deadline"] > body["deadline"]


def test_clock_needs_the_sheet_token(client, sheet):
    assert client.get(f"/api/v1/attempts/{sheet['id']}/clock").status_code == 401
    assert client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer("1.wrong")).status_code == 401
    assert client.get("/api/v1/attempts/999999/clock", headers=bearer(sheet["token"])).status_code == 404


def test_clock_after_early_close_says_closed(app, client, sheet):
    with app.app_context():
        from quiz.models import Quiz
        close_quiz(db.session.get(Quiz, sheet["quiz_id"]), actor=None, now=utcnow())
        db.session.commit()
    body = client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer(sheet["token"])).json
    assert body["status"] != "open" and body["reason"] == "closed"


def test_clock_past_the_deadline_reads_closed_without_grading(app, client, sheet):
    """Reads never write: an overdue sheet is reported closed but left for the write paths."""
    with app.app_context():
        attempt = db.session.get(Attempt, sheet["id"])
        attempt.deadline = utcnow() - timedelta(seconds=5)
        db.session.commit()
    body = client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer(sheet["token"])).json
    assert body["status"] == "closed" and body["reason"] == "time_up"
    with app.app_context():
        assert db.session.get(Attempt, sheet["id"]).status == "open"  # not graded by the read
    # the save that follows is refused with 409 and grades the sheet, as before
    with app.app_context():
        qid = db.session.get(Attempt, sheet["id"]).paper[0]["q"]
    refused = client.put(f"/api/v1/attempts/{sheet['id']}/answers/{qid}", json={"response": "A"},
                         headers=bearer(sheet["token"]))
    assert refused.status_code == 409
    body = client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer(sheet["token"])).json
    assert body["status"] == "submitted" and body["reason"] == "closed"


def test_clock_after_own_submission_says_submitted(app, client, sheet):
    assert client.post(f"/api/v1/attempts/{sheet['id']}/submit", headers=bearer(sheet["token"])).status_code == 200
    body = client.get(f"/api/v1/attempts/{sheet['id']}/clock", headers=bearer(sheet["token"])).json
    assert body == {**body, "status": "submitted", "reason": "submitted"}


@pytest.mark.parametrize("score, level", [(100, "excellent"), (90, "excellent"), (89.5, "pass"), (60, "pass"),
                                          (59.9, "fail"), (0, "fail")])
def test_result_level_with_both_marks(score, level):
    assert result_level(score, pass_score=60, excellent_score=90) == level


def test_result_level_edges(ctx):
    assert result_level(None, pass_score=60, excellent_score=90) is None
    assert result_level(50, pass_score=None, excellent_score=None) is None
    assert result_level(95, pass_score=None, excellent_score=90) == "excellent"
    assert result_level(80, pass_score=None, excellent_score=90) is None
    assert result_level(80, pass_score=60, excellent_score=None) == "pass"
    assert [result_label(x) for x in ("excellent", "pass", "fail", None)] == ["优秀", "及格", "不及格", None]


def test_result_page_shows_excellent_for_full_marks(app, client, tree):
    """A full score above the excellent mark shows 优秀 (it showed 及格)."""
    with app.app_context():
        start = utcnow() - timedelta(minutes=5)
        quiz = make_quiz(now=start, pass_score=6, excellent_score=9)
        attempt = join(quiz, start).attempt
        answer_all(attempt, start + timedelta(seconds=30))
        svc.submit(attempt, now=start + timedelta(seconds=60))
        db.session.commit()
        assert attempt.score == 10
        attempt_id, token = attempt.id, svc.attempt_token(attempt)
    html = client.get(f"/a/{attempt_id}/result?token={token}").get_data(as_text=True)
    assert 'data-level="excellent"' in html and "优秀" in html and "及格" not in html
    api = client.get(f"/api/v1/attempts/{attempt_id}", headers=bearer(token)).json
    assert api["result"]["level"] == "excellent" and api["result"]["passed"] is True
    with app.app_context():
        assert db.session.execute(select(Attempt.status).where(Attempt.id == attempt_id)).scalar() == "submitted"
