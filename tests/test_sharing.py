"""Banks shared down the unit tree (read-only), and quizzes an organiser may view because their
audience includes the organiser's subtree (boards and figures restricted to that subtree)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Bank, Question, Unit, User
from quiz.models.base import utcnow
from quiz.services.banks import set_shared
from quiz.services.people import create_user
from quiz.services.quizzes import create_quiz
from tests.conftest import FIXED_NOW
from tests.quizdata import make_bank
from tests.test_boards import _sit

RULES = [{"type": "单选", "count": 2, "points": 2}]


def _village_organiser(app):
    with app.app_context():
        unit = db.session.execute(select(Unit).where(Unit.path == "乔司街道/三角村社区")).scalar_one()
        create_user("sanjiao", role="organiser", password="secret-pass", unit=unit, now=FIXED_NOW)
        db.session.commit()


def _login(app, username):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "secret-pass"}).status_code == 302
    return client


def test_admin_bank_shared_with_every_organiser_read_only(app, users, tree, token_for):
    with app.app_context():
        bank = db.session.execute(select(Bank).where(Bank.name == make_bank())).scalar_one()
        bank_id, question_id = bank.id, db.session.scalar(select(Question.id).where(Question.bank_id == bank.id))
    client = _login(app, "qiaosi")
    payload = {"title": "街道测试", "banks": [bank_id], "rules": RULES, "duration_seconds": 600}
    token = token_for("qiaosi")
    headers = {"Authorization": f"Bearer {token}"}
    # not shared: invisible and unusable
    assert client.get(f"/banks/{bank_id}").status_code == 403
    assert client.post("/api/v1/quizzes", json=payload, headers=headers).status_code == 403
    assert f'href="/banks/{bank_id}"' not in client.get("/banks/").get_data(as_text=True)
    with app.app_context():
        set_shared(db.session.get(Bank, bank_id), True, actor=None, now=FIXED_NOW)
        db.session.commit()
    page = client.get(f"/banks/{bank_id}").get_data(as_text=True)
    assert "单选题0" in page and f"/banks/questions/{question_id}/edit" not in page and "/share" not in page
    listed = client.get("/api/v1/banks", headers=headers).get_json()["banks"]
    assert [(b["name"], b["shared"], b["editable"]) for b in listed] == [("题库", True, False)]
    reply = client.post("/api/v1/quizzes", json=payload, headers=headers)
    assert reply.status_code == 201
    assert f'value="{bank_id}"' in client.get("/quizzes/new").get_data(as_text=True)
    assert f'href="/banks/{bank_id}"' in client.get("/banks/").get_data(as_text=True)
    # read-only: no edit, retire, import, export or un-sharing
    assert client.get(f"/banks/questions/{question_id}/edit").status_code == 403
    assert client.post(f"/banks/questions/{question_id}/retire").status_code == 403
    assert client.post(f"/banks/{bank_id}/share", data={"shared": "0"}).status_code == 403
    assert client.get(f"/banks/{bank_id}/export.csv").status_code == 403
    from tests.conftest import HEADER, csv_bytes
    upload = client.post("/api/v1/banks/import", headers=headers, data={
        "bank": "题库", "file": (__import__("io").BytesIO(csv_bytes([HEADER, ["判断", "新题", "", "", "", "", "对",
                                                                               "", "", "", ""]])), "x.csv")})
    assert upload.status_code == 403
    with app.app_context():
        assert db.session.get(Bank, bank_id).shared


def test_parent_units_shared_bank_reaches_descendants_only(app, users, tree):
    _village_organiser(app)
    with app.app_context():
        qiaosi = db.session.execute(select(User).where(User.username == "qiaosi")).scalar_one()
        bank = db.session.execute(select(Bank).where(Bank.name == make_bank())).scalar_one()
        bank.unit = qiaosi.unit
        db.session.commit()
        bank_id = bank.id
    owner = _login(app, "qiaosi")
    assert owner.post(f"/banks/{bank_id}/share", data={"shared": "1"}).status_code == 302
    village = _login(app, "sanjiao")
    assert village.get(f"/banks/{bank_id}").status_code == 200
    other_street = _login(app, "lunjiao")
    assert other_street.get(f"/banks/{bank_id}").status_code == 403
    with app.app_context():
        sanjiao = db.session.execute(select(User).where(User.username == "sanjiao")).scalar_one()
        quiz = create_quiz({"title": "村测试", "banks": [bank_id], "rules": RULES, "duration_seconds": 600},
                           actor=sanjiao, now=FIXED_NOW)
        assert quiz.unit.path == "乔司街道/三角村社区"


def test_village_organiser_views_the_streets_contest_for_their_village_only(app, users, tree):
    _village_organiser(app)
    with app.app_context():
        start = utcnow() - timedelta(hours=1)
        make_bank()
        quiz = create_quiz({"title": "街道知识竞赛", "banks": ["题库"], "rules": RULES, "duration_seconds": 600,
                            "unit": "乔司街道", "audience": {"units": ["乔司街道"]}}, actor=None, now=start)
        db.session.commit()
        _sit(quiz, start, "13800000001", "村民甲", "乔司街道/三角村社区")
        _sit(quiz, start, "13800000002", "邻村乙", "乔司街道/永丰村")
        other = create_quiz({"title": "伦教竞赛", "banks": ["题库"], "rules": RULES, "duration_seconds": 600,
                             "unit": "伦教街道", "audience": {"units": ["伦教街道"]}}, actor=None, now=start)
        open_to_all = create_quiz({"title": "全区竞赛", "banks": ["题库"], "rules": RULES, "duration_seconds": 600},
                                  actor=None, now=start)
        db.session.commit()
        quiz_id, other_id, all_id = quiz.id, other.id, open_to_all.id
    village = _login(app, "sanjiao")
    index = village.get("/quizzes/").get_data(as_text=True)
    assert "街道知识竞赛" in index and "全区竞赛" in index and "伦教竞赛" not in index
    page = village.get(f"/quizzes/{quiz_id}").get_data(as_text=True)
    assert "村民甲" in page and "邻村乙" not in page
    assert f"/quizzes/{quiz_id}/close" not in page and f"/quizzes/{quiz_id}/extend" not in page
    assert village.get(f"/quizzes/{quiz_id}/counts.json").get_json()["submitted"] == 1
    board = village.get(f"/quizzes/{quiz_id}/leaderboard").get_data(as_text=True)
    assert "村民甲" in board and "邻村乙" not in board and f"/quizzes/{quiz_id}/freeze" not in board
    # cross-unit filter attempts fall back to the organiser's own subtree
    board = village.get(f"/quizzes/{quiz_id}/leaderboard?unit=乔司街道/永丰村").get_data(as_text=True)
    assert "邻村乙" not in board
    # nothing can be changed
    assert village.post(f"/quizzes/{quiz_id}/close").status_code == 403
    assert village.post(f"/quizzes/{quiz_id}/extend", data={"minutes": "5"}).status_code == 403
    assert village.post(f"/quizzes/{quiz_id}/freeze").status_code == 403
    assert village.get(f"/quizzes/{other_id}").status_code == 403
    assert village.get(f"/quizzes/{all_id}").status_code == 200
    # the street's organiser manages it and sees everyone
    street = _login(app, "qiaosi")
    page = street.get(f"/quizzes/{quiz_id}").get_data(as_text=True)
    assert "村民甲" in page and "邻村乙" in page and f"/quizzes/{quiz_id}/close" in page


def test_api_quiz_status_for_a_viewing_organiser(app, users, tree, token_for):
    _village_organiser(app)
    with app.app_context():
        start = utcnow() - timedelta(hours=1)
        make_bank()
        quiz = create_quiz({"title": "街道知识竞赛", "banks": ["题库"], "rules": RULES, "duration_seconds": 600,
                            "unit": "乔司街道", "audience": {"units": ["乔司街道"]}}, actor=None, now=start)
        db.session.commit()
        _sit(quiz, start, "13800000001", "村民甲", "乔司街道/三角村社区")
        _sit(quiz, start, "13800000002", "邻村乙", "乔司街道/永丰村")
        quiz_id = quiz.id
    client = app.test_client()
    village = client.get(f"/api/v1/quizzes/{quiz_id}", headers={"Authorization": f"Bearer {token_for('sanjiao')}"})
    assert village.status_code == 200
    assert (village.get_json()["access"], village.get_json()["submitted"]) == ("view", 1)
    street = client.get(f"/api/v1/quizzes/{quiz_id}", headers={"Authorization": f"Bearer {token_for('qiaosi')}"})
    assert (street.get_json()["access"], street.get_json()["submitted"]) == ("manage", 2)
    other = client.get(f"/api/v1/quizzes/{quiz_id}", headers={"Authorization": f"Bearer {token_for('lunjiao')}"})
    assert other.status_code == 403


def test_viewing_organiser_gets_reports_and_exports_of_their_people_only(app, users, tree):
    import csv
    import io

    _village_organiser(app)
    with app.app_context():
        start = utcnow() - timedelta(hours=1)
        make_bank()
        quiz = create_quiz({"title": "街道知识竞赛", "banks": ["题库"], "rules": RULES, "duration_seconds": 600,
                            "unit": "乔司街道", "audience": {"units": ["乔司街道"]}}, actor=None, now=start)
        db.session.commit()
        _sit(quiz, start, "13800000001", "村民甲", "乔司街道/三角村社区")
        _sit(quiz, start, "13800000002", "邻村乙", "乔司街道/永丰村")
        quiz_id = quiz.id
    village = _login(app, "sanjiao")
    report = village.get(f"/quizzes/{quiz_id}/report")
    assert report.status_code == 200 and "永丰村" not in report.get_data(as_text=True)
    analysis = village.get(f"/quizzes/{quiz_id}/analysis").get_data(as_text=True)
    assert "Make a practice set" not in analysis and "练习" not in analysis.split("</h1>", 1)[1].split("<form")[0]
    for kind in ("leaderboard", "answers"):
        reply = village.get(f"/quizzes/{quiz_id}/export/{kind}.csv")
        assert reply.status_code == 200
        text = reply.get_data().decode("utf-8-sig")
        assert "村民甲" in text and "邻村乙" not in text, kind
    rows = list(csv.reader(io.StringIO(village.get(f"/quizzes/{quiz_id}/export/analysis.csv")
                                       .get_data().decode("utf-8-sig"))))
    assert len(rows) == 3 and {row[4] for row in rows[1:]} == {"1"}  # two questions, seen by one villager each
    assert village.get(f"/quizzes/{quiz_id}/poster/honour.png").status_code == 200
    # managing actions stay with the quiz's organisers
    assert village.get(f"/quizzes/{quiz_id}/regrade").status_code == 403
    assert village.post(f"/quizzes/{quiz_id}/analysis", data={"question": ["1"]}).status_code == 403
    assert village.get(f"/quizzes/{quiz_id}/paper").status_code == 403
    street = _login(app, "qiaosi")
    text = street.get(f"/quizzes/{quiz_id}/export/leaderboard.csv").get_data().decode("utf-8-sig")
    assert "村民甲" in text and "邻村乙" in text
