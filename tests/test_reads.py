"""Reads never write: GET pages and API reads issue no INSERT, UPDATE or DELETE, even when a
sheet is past its deadline (it is graded by a write path or `quiz close-overdue`)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from quiz.extensions import db
from quiz.models import Attempt
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services.attempts import attempt_token
from tests.quizdata import make_quiz
from tests.test_boards import _sit


@pytest.fixture
def contest(app, users, tree):
    """A finished sheet, and an open sheet now past its deadline (nobody graded it)."""
    with app.app_context():
        start = utcnow() - timedelta(hours=2)
        quiz = make_quiz(now=start, duration_seconds=600, unit="乔司街道")
        _sit(quiz, start, "13800000001", "张三", "乔司街道/三角村社区")
        overdue = svc.join(quiz, name="李四", phone="13800000002", unit_path="乔司街道/永丰村", now=start).attempt
        db.session.commit()
        return {"quiz": quiz.id, "overdue": overdue.id, "token": attempt_token(overdue)}


def _writes(app, run) -> list[str]:
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def test_get_pages_and_api_reads_write_nothing(app, client, contest, token_for):
    quiz_id, overdue_id = contest["quiz"], contest["overdue"]
    token = token_for("qiaosi")
    client.post("/login", data={"username": "qiaosi", "password": "secret-pass"})
    sheet_client = app.test_client()
    with sheet_client.session_transaction() as session:
        session["sheets"] = {str(overdue_id): contest["token"]}
    bearer = {"Authorization": f"Bearer {token}"}
    sheet = {"Authorization": f"Bearer {contest['token']}"}
    gets = [(client, f"/board/{quiz_id}", {}), (client, f"/board/{quiz_id}?page=2&q=张", {}),
            (client, f"/board/{quiz_id}/screen", {}), (client, f"/api/v1/quizzes/{quiz_id}/leaderboard", {}),
            (client, f"/quizzes/{quiz_id}", {}), (client, f"/quizzes/{quiz_id}/leaderboard", {}),
            (client, f"/quizzes/{quiz_id}/report", {}), (client, f"/quizzes/{quiz_id}/analysis", {}),
            (client, f"/quizzes/{quiz_id}/regrade", {}), (client, f"/quizzes/{quiz_id}/export/leaderboard.csv", {}),
            (client, "/quizzes/", {}), (client, "/points", {}),
            (client, f"/api/v1/quizzes/{quiz_id}", bearer), (client, "/api/v1/banks", bearer),
            (sheet_client, f"/a/{overdue_id}", {}), (sheet_client, f"/a/{overdue_id}/result", {}),
            (client, f"/api/v1/attempts/{overdue_id}", sheet), (client, f"/api/v1/attempts/{overdue_id}/clock", sheet)]
    replies = {}

    def run():
        for who, url, headers in gets:
            replies[url] = who.get(url, headers=headers)

    writes = _writes(app, run)
    assert all(reply.status_code in (200, 302) for reply in replies.values()), \
        {url: r.status_code for url, r in replies.items() if r.status_code not in (200, 302)}
    assert writes == []
    assert replies[f"/api/v1/attempts/{overdue_id}"].get_json()["status"] == "closed"
    assert "一分钟" in replies[f"/a/{overdue_id}/result"].get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Attempt, overdue_id).status == "open"


def test_close_overdue_command_grades_them(app, runner, contest):
    result = runner.invoke(args=["close-overdue"])
    assert result.exit_code == 0 and "1" in result.output
    with app.app_context():
        attempt = db.session.get(Attempt, contest["overdue"])
        assert attempt.status == "submitted" and attempt.auto_submitted and attempt.submitted_at == attempt.deadline
    assert "0" in runner.invoke(args=["close-overdue"]).output
    verify = runner.invoke(args=["verify", str(contest["quiz"])])
    assert verify.exit_code == 0, verify.output
