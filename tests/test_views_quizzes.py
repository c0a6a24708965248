"""Organiser quiz pages and participant pages through the test client."""
import re

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Attempt, Quiz
from tests.quizdata import make_bank


def _new_quiz_form(**overrides):
    form = {"title": "网页创建的竞赛", "mode": "exam", "duration_minutes": "15", "banks": [],
            "rule_type": ["single", "multi", "judge", "blank"], "rule_count": ["2", "1", "1", ""],
            "rule_points": ["2", "3", "1", "2"], "rule_tags": ["", "", "", ""], "attempts_allowed": "1",
            "attempt_policy": "best", "multi_partial": "none", "show_answers": "after_submit",
            "shuffle_questions": "y"}
    form.update(overrides)
    return form


def test_create_quiz_from_the_form_and_show_qr(client, auth, app):
    with app.app_context():
        make_bank()
        bank_id = db.session.execute(db.select(db.text("id")).select_from(db.text("bank"))).scalar()
    auth.login()
    response = client.post("/quizzes/new", data=_new_quiz_form(banks=[str(bank_id)]))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html
    with app.app_context():
        quiz = db.session.execute(select(Quiz)).scalar_one()
        assert quiz.duration_seconds == 900 and quiz.max_score == 8 and len(quiz.rules) == 3
        code = quiz.join_code
    assert code in html and f"/j/{code}" in html
    assert client.get("/quizzes/").status_code == 200


def test_create_quiz_form_errors_are_shown_not_500(client, auth, app):
    with app.app_context():
        make_bank()
        bank_id = db.session.execute(db.select(db.text("id")).select_from(db.text("bank"))).scalar()
    auth.login()
    response = client.post("/quizzes/new", data=_new_quiz_form(banks=[str(bank_id)], rule_count=["50", "", "", ""]))
    assert response.status_code == 200 and "50" in response.get_data(as_text=True)
    response = client.post("/quizzes/new", data=_new_quiz_form(banks=[str(bank_id)], duration_minutes="abc"))
    assert response.status_code == 200
    with app.app_context():
        assert db.session.execute(select(Quiz)).first() is None


def test_participant_join_page_flow_close_and_extend(client, auth, app, token_for):
    with app.app_context():
        make_bank()
    created = client.post("/api/v1/quizzes", headers={"Authorization": f"Bearer {token_for('admin')}"},
                          json={"title": "现场扫码", "banks": ["题库"], "duration_seconds": 600,
                                "rules": [{"type": "单选", "count": 2, "points": 5}]}).json
    page = client.get(f"/j/{created['join_code']}")
    assert page.status_code == 200 and "现场扫码" in page.get_data(as_text=True)
    assert "乔司街道/三角村社区" in page.get_data(as_text=True)
    bad = client.post(f"/j/{created['join_code']}", data={"name": "张三", "phone": "12", "unit": "乔司街道"})
    assert bad.status_code == 200 and "12" in bad.get_data(as_text=True)
    joined = client.post(f"/j/{created['join_code']}", data={"name": "张三", "phone": "13800138000",
                                                            "unit": "乔司街道/三角村社区"})
    assert joined.status_code == 302 and re.search(r"/a/\d+$", joined.headers["Location"])
    sheet = client.get(joined.headers["Location"])
    assert sheet.status_code == 200
    with app.app_context():
        attempt = db.session.execute(select(Attempt)).scalar_one()
        assert attempt.status == "open"
    other = app.test_client()  # another browser without the sheet's token
    assert other.get(joined.headers["Location"]).status_code == 401
    auth.login()
    assert client.post(f"/quizzes/{created['id']}/extend", data={"minutes": "5"}).status_code == 302
    assert client.post(f"/quizzes/{created['id']}/extend", data={"minutes": "abc"}).status_code == 302
    assert client.post(f"/quizzes/{created['id']}/close").status_code == 302
    with app.app_context():
        attempt = db.session.execute(select(Attempt)).scalar_one()
        assert attempt.status == "submitted" and attempt.auto_submitted
    closed = client.get(f"/j/{created['join_code']}")
    assert closed.status_code == 200
    assert client.get(f"/quizzes/{created['id']}/counts.json").json == {"joined": 1, "in_progress": 0, "submitted": 1}


def test_organiser_cannot_see_other_units_quizzes(client, auth, app, token_for):
    with app.app_context():
        make_bank()
    created = client.post("/api/v1/quizzes", headers={"Authorization": f"Bearer {token_for('admin')}"},
                          json={"title": "管理员的", "banks": ["题库"], "duration_seconds": 600,
                                "audience": {"units": ["伦教街道"]},  # another street's contest
                                "rules": [{"type": "单选", "count": 1, "points": 5}]}).json
    auth.login("qiaosi")
    assert client.get(f"/quizzes/{created['id']}").status_code == 403
    assert client.post(f"/quizzes/{created['id']}/close").status_code == 403
    assert "管理员的" not in client.get("/quizzes/").get_data(as_text=True)
    api = client.get(f"/api/v1/quizzes/{created['id']}", headers={"Authorization": f"Bearer {token_for('qiaosi')}"})
    assert api.status_code == 403
