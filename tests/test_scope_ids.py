"""Ids that come from a form or the API are checked against the caller's scope."""
from __future__ import annotations

from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Bank, Question, Unit, User
from quiz.services.importer import import_bank_file
from tests.conftest import FIXED_NOW, HEADER, csv_bytes
from tests.quizdata import make_bank, make_quiz

SECRET_ROWS = [HEADER, ["单选", "伦教街道内部题：机密题干", "甲", "乙", "丙", "丁", "C", "机密解析", "", "", ""],
               ["判断", "伦教街道内部判断题", "", "", "", "", "对", "", "", "", ""]]


def _quiz_and_foreign_questions(app):
    """A quiz of 乔司街道's organiser, and question ids of a bank owned by 伦教街道."""
    with app.app_context():
        qiaosi = db.session.execute(select(User).where(User.username == "qiaosi")).scalar_one()
        lunjiao_unit = db.session.execute(select(Unit).where(Unit.path == "伦教街道")).scalar_one()
        report = import_bank_file("伦教内部题库", csv_bytes(SECRET_ROWS), "s.csv", actor=None, now=FIXED_NOW,
                                  unit=lunjiao_unit)
        assert report.written
        bank = db.session.execute(select(Bank).where(Bank.name == make_bank())).scalar_one()
        bank.unit = qiaosi.unit  # the quiz's own bank belongs to 乔司街道
        quiz = make_quiz(banks=[bank.name], actor=qiaosi)
        foreign = list(db.session.execute(select(Question.id).join(Bank).where(Bank.name == "伦教内部题库")).scalars())
        own = list(db.session.execute(select(Question.id).where(Question.bank_id == bank.id).limit(2)).scalars())
        db.session.commit()
        return quiz.id, foreign, own


def test_practice_set_refuses_questions_of_another_units_bank(client, auth, app):
    quiz_id, foreign, own = _quiz_and_foreign_questions(app)
    auth.login("qiaosi")
    reply = client.post(f"/quizzes/{quiz_id}/analysis", data={"question": [str(i) for i in foreign]},
                        follow_redirects=True)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "机密题干" not in html
    with app.app_context():
        copies = db.session.scalar(select(func.count(Question.id)).where(Question.stem.contains("机密")))
        assert copies == 1  # only the original: nothing was copied into 乔司街道's unit
        assert db.session.scalar(select(func.count(Bank.id))) == 2
    # mixing one foreign id into the quiz's own ids is refused as a whole
    reply = client.post(f"/quizzes/{quiz_id}/analysis", data={"question": [str(own[0]), str(foreign[0])]})
    assert reply.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Bank.id))) == 2
    # the quiz's own questions still make a practice set
    reply = client.post(f"/quizzes/{quiz_id}/analysis", data={"question": [str(i) for i in own]})
    assert reply.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Bank.id))) == 3
