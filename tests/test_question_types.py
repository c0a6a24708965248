"""Question types own their behaviour: a type registered here, in the test suite only, goes
through import, paper drawing, both answer-save transports, grading, exports and item analysis
without any other file knowing it; and every export shows answers in the bank's letters."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Answer, Attempt, Question
from quiz.models.banks import sync_question_types
from quiz.models.base import utcnow
from quiz.questions import QUESTION_TYPES, AnswerError, QuestionType, fold
from quiz.questions.base import _ALIASES, register
from quiz.services.analysis import analyse
from quiz.services.exports import export_table
from quiz.services.importer import import_bank_file
from quiz.services.quizzes import create_quiz
from tests.conftest import answer_lane
from tests.conftest import HEADER, csv_bytes


class Number(QuestionType):
    """数值题 (a toy type): the answer is a number; right when equal to it within 0.01."""

    key = "number"
    label = "数值"
    canonical_name = "数值"
    aliases = ("数值题",)
    widget = "blanks"

    def parse_answer(self, raw, options, stem):
        return self._number(raw)

    def normalise_response(self, response, options_count):
        if isinstance(response, list) and len(response) == 1:
            response = response[0]
        return self._number(response)

    def grade(self, answer, response, policy="none"):
        return 1.0 if response is not None and abs(float(answer) - float(response)) < 0.01 else 0.0

    def blank_count(self, answer):
        return 1

    @staticmethod
    def _number(raw) -> str:
        try:
            value = float(fold(raw))
        except (TypeError, ValueError):
            raise AnswerError("not a number")
        if value != value or value in (float("inf"), float("-inf")):
            raise AnswerError("not a number")
        return f"{value:g}"


@pytest.fixture
def toy_type(app):
    register(Number)
    with app.app_context():  # as `quiz init-db` does for a type added to quiz/questions/
        sync_question_types()
        db.session.commit()
    yield QUESTION_TYPES["number"]
    del QUESTION_TYPES["number"]
    for alias in [k for k, v in _ALIASES.items() if v == "number"]:
        del _ALIASES[alias]


def test_a_new_type_registered_in_one_place_works_end_to_end(app, client, tree, toy_type):
    rows = [HEADER, ["数值", "1+1=？", "", "", "", "", "2", "", "", "", ""],
            ["数值题", "圆周率取两位小数？", "", "", "", "", "3.14", "", "", "", ""],
            ["单选", "中国共产党成立于哪一年？", "1919", "1921", "1949", "1978", "B", "", "", "", ""]]
    with app.app_context():
        report = import_bank_file("数值题库", csv_bytes(rows), "n.csv", actor=None, now=utcnow())
        assert report.written and report.created == 3
        assert {q.type for q in db.session.execute(select(Question)).scalars()} == {"number", "single"}
        quiz = create_quiz({"title": "数值测试", "banks": ["数值题库"], "duration_seconds": 600,
                            "rules": [{"type": "数值", "count": 2, "points": 5}, {"type": "单选", "count": 1, "points": 2}],
                            "shuffle_questions": True, "shuffle_options": True}, actor=None, now=utcnow(),
                           rng=random.Random(3))
        db.session.commit()
        code = quiz.join_code
    people = []
    for n, (first, second) in enumerate([("2", "3.14"), ("2.0", "3")]):  # the second person misses one
        body = client.post(f"/api/v1/join/{code}", json={"name": f"人{n}", "phone": f"1380000000{n}",
                                                           "unit": "乔司街道/三角村社区"}).json
        numbers = [q for q in body["questions"] if q["type"] == "number"]
        assert all(q["widget"] == "blanks" and q["blanks"] == 1 and q["label"] == "数值" for q in numbers)
        assert all(q["options"] == [] for q in numbers)
        headers = {"Authorization": f"Bearer {body['token']}"}
        by_stem = {q["stem"]: q["id"] for q in numbers}
        # one save through the answer lane, one through the Flask view (a list, as a blanks widget sends)
        lane = client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{by_stem['1+1=？']}",
                          json={"response": first}, headers=headers)
        assert lane.status_code == 200 and lane.json["response"] == "2"
        answer_lane(app).enabled = False
        view = client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{by_stem['圆周率取两位小数？']}",
                          json={"response": [second]}, headers=headers)
        answer_lane(app).enabled = True
        assert view.status_code == 200 and view.json["response"] in ("3.14", "3")
        bad = client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{by_stem['1+1=？']}",
                         json={"response": "二"}, headers=headers)
        assert bad.status_code == 422
        result = client.post(f"/api/v1/attempts/{body['attempt_id']}/submit", headers=headers).json
        people.append(result)
    assert [p["score"] for p in people] == [10, 5]
    with app.app_context():
        quiz_obj = db.session.get(type(quiz), quiz.id)
        _sheet, header, rows = export_table("answers", quiz_obj, now=utcnow())
        numbers = [r for r in rows if r[8] in ("1+1=？", "圆周率取两位小数？")]
        assert sorted((r[9], r[10]) for r in numbers) == [("2", "2"), ("2", "2"), ("3", "3.14"), ("3.14", "3.14")]
        analysis = analyse(quiz_obj, now=utcnow())
        by_stem = {i.stem: i for i in analysis.items}
        assert by_stem["1+1=？"].accuracy == 1 and by_stem["圆周率取两位小数？"].accuracy == 0.5
        assert by_stem["圆周率取两位小数？"].wrong_choice is None  # not a choice type
        _sheet, _header, table = export_table("analysis", quiz_obj, now=utcnow())
        assert any(row[1] == "数值" for row in table)


def test_exports_show_the_banks_letters_whatever_order_people_saw(app, client, tree):
    """Two people see the options of a 多选 question in different orders and pick the same two
    options through different letters: the answer export shows the same (bank) letters for both."""
    rows = [HEADER, ["多选", "下列属于新发展理念的是", "创新", "协调", "封闭", "共享", "ABD", "", "", "", ""]]
    with app.app_context():
        import_bank_file("理念", csv_bytes(rows), "m.csv", actor=None, now=utcnow())
        quiz = create_quiz({"title": "乱序", "banks": ["理念"], "duration_seconds": 600, "paper_mode": "random",
                            "rules": [{"type": "多选", "count": 1, "points": 3}], "shuffle_options": True},
                           actor=None, now=utcnow())
        db.session.commit()
        code, quiz_id = quiz.join_code, quiz.id
    shown_letters = set()
    for n in range(8):
        body = client.post(f"/api/v1/join/{code}", json={"name": f"人{n}", "phone": f"1390000000{n}",
                                                           "unit": "乔司街道/三角村社区"}).json
        question = body["questions"][0]
        picks = "".join(sorted(o["key"] for o in question["options"] if o["text"] in ("创新", "协调")))
        shown_letters.add(picks)
        assert client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{question['id']}", json={"response": picks},
                          headers={"Authorization": f"Bearer {body['token']}"}).json["response"] == picks
        client.post(f"/api/v1/attempts/{body['attempt_id']}/submit", headers={"Authorization": f"Bearer {body['token']}"})
    assert len(shown_letters) > 1, "options were not shuffled"
    with app.app_context():
        from quiz.models import Quiz

        assert {a.response for a in db.session.execute(select(Answer)).scalars()} == {"AB"}
        _sheet, _header, table = export_table("answers", db.session.get(Quiz, quiz_id), now=utcnow())
        assert {(row[9], row[10]) for row in table} == {("AB", "ABD")}
        assert db.session.scalar(select(Attempt.score).limit(1)) == 0
