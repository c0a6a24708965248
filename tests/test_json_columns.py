"""JSON columns are written and read with orjson (quiz/models/base.py), with the standard
library's results: the same values back, integers beyond 64 bits exact, what json.dumps refuses
still refused."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from quiz.extensions import db
from quiz.models import Quiz
from quiz.models.base import json_column_bytes, json_column_text, json_column_value

VALUES = [
    [{"q": 12, "points": 2.5, "order": [2, 0, 1, 3], "t": "single", "n": 4}],
    {"标题": "基层治理应知应会", "nested": {"list": [1, -0.0, True, None, "“引号”\n换行"]}},
    {1: "an integer key", 2.5: "a float key"},  # keys become strings, as json.dumps makes them
    123456789012345678901234567890,  # beyond 64 bits
    [9_223_372_036_854_775_807, -9_223_372_036_854_775_808],
    "\u0000 and \U0001F600",
    {"digits in a string": "12345678901234567890123", "full-width": "１２３４５６７８９０１２３４５６７８９０"},
    [18_446_744_073_709_551_616, 999_999_999_999_999_999, 1.5e300],  # 2**64; 18 digits; a large float
]


@pytest.mark.parametrize("value", VALUES)
def test_values_come_back_as_the_standard_library_reads_them(value):
    expected = json.loads(json.dumps(value))
    for written in (json_column_bytes(value), json_column_text(value)):
        assert json_column_value(written) == expected
        assert type(json_column_value(written)) is type(expected)
    assert json_column_value(memoryview(json_column_bytes(value))) == expected


def test_text_written_by_the_standard_library_reads_the_same():
    for value in VALUES:
        stored = json.dumps(value)  # rows written before orjson (ensure_ascii, spaces)
        assert json_column_value(stored) == json.loads(stored)
    assert json_column_value("[NaN]")[0] != json_column_value("[NaN]")[0]  # still read, as before


def test_what_json_dumps_refuses_is_still_refused():
    for value in (datetime.now(timezone.utc), {1, 2}, object()):
        with pytest.raises(TypeError):
            json_column_bytes(value)


def test_a_quiz_row_round_trips_through_the_database(ctx):
    from tests.quizdata import make_quiz

    quiz = make_quiz()
    rules = [{"type": "single", "count": 2, "points": 2.0, "tags": ["党史", "“二十大”"], "difficulty": []}]
    quiz.rules = rules
    quiz.paper = [{"q": 1, "points": 2.0, "big": 123456789012345678901234567890}]
    db.session.commit()
    db.session.expire_all()
    again = db.session.execute(select(Quiz).where(Quiz.id == quiz.id)).scalar_one()
    assert again.rules == rules
    assert again.paper[0]["big"] == 123456789012345678901234567890
    stored = db.session.execute(text("SELECT rules FROM quiz WHERE id = :id"), {"id": quiz.id}).scalar()
    assert (stored if not isinstance(stored, str) else json.loads(stored)) == rules
