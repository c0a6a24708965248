"""Shared data for quiz tests: a bank with known questions and a quiz factory."""
from __future__ import annotations

from datetime import timedelta

from quiz.extensions import db
from quiz.services.importer import import_bank_file
from quiz.services.quizzes import create_quiz
from tests.conftest import FIXED_NOW, HEADER, csv_bytes

ROWS = [HEADER]
for i in range(6):
    ROWS.append(["单选", f"单选题{i}", "甲", "乙", "丙", "丁", "ABCD"[i % 4], f"解析{i}", "", "", "枫桥经验" if i < 3 else "五治融合"])
for i in range(4):
    ROWS.append(["多选", f"多选题{i}", "甲", "乙", "丙", "丁", "AC", "", "", "", ""])
for i in range(4):
    ROWS.append(["判断", f"判断题{i}", "", "", "", "", "对" if i % 2 == 0 else "错", "", "", "", ""])
for i in range(2):
    ROWS.append(["填空", f"填空题{i}：____与____", "", "", "", "", "共建;共同建设|共享", "", "", "", ""])


def make_bank(name="题库", now=FIXED_NOW):
    report = import_bank_file(name, csv_bytes(ROWS), "b.csv", actor=None, now=now)
    db.session.commit()
    assert report.created == 16
    return name


def make_quiz(now=FIXED_NOW, actor=None, **overrides):
    payload = {
        "title": "应知应会测试",
        "banks": [make_bank(now=now) if "banks" not in overrides else None][0:1] or overrides["banks"],
        "rules": [{"type": "单选", "count": 2, "points": 2}, {"type": "多选", "count": 1, "points": 3},
                  {"type": "判断", "count": 1, "points": 1}, {"type": "填空", "count": 1, "points": 2}],
        "duration_seconds": 600,
        "shuffle_questions": False,
    }
    payload.update(overrides)
    quiz = create_quiz(payload, actor=actor, now=now)
    db.session.commit()
    return quiz


def right_response(question, entry):
    """The correct response as the participant would send it (shown letters)."""
    from quiz.questions import get_type

    if question.type in ("single", "multi"):
        return get_type(question.type).to_shown(question.answer, entry["order"])
    if question.type == "blank":
        return [b.split(";")[0] for b in question.answer.split("|")]
    return question.answer


def later(now, seconds):
    return now + timedelta(seconds=seconds)
