"""Item analysis: facility, discrimination, most-chosen wrong option, alpha, tag mastery."""
import pytest

from quiz.extensions import db
from quiz.models import Question
from quiz.services import attempts as svc
from quiz.services.analysis import analyse, cronbach_alpha, practice_from_missed
from tests.quizdata import later, make_quiz, right_response
from tests.test_quizzes import join


def test_cronbach_alpha_known_values():
    assert cronbach_alpha([[1, 1], [0, 0], [1, 1], [0, 0]]) == pytest.approx(1.0)
    assert cronbach_alpha([[1, 0], [0, 1], [1, 0], [0, 0]]) == pytest.approx(-8 / 3)
    assert cronbach_alpha([[1, 1]]) is None and cronbach_alpha([[1], [0]]) is None
    assert cronbach_alpha([[1, 1], [1, 1]]) is None  # no variance


def test_item_statistics(ctx, tree, now):
    # A fixed paper (everyone gets the same 3 单选) so alpha is defined.
    quiz = make_quiz(rules=[{"type": "单选", "count": 6, "points": 1}], shuffle_questions=False)
    people = []
    for i in range(8):
        attempt = join(quiz, now, phone=f"1380000{i:04d}", name=f"人{i}").attempt
        people.append(attempt)
        for n, entry in enumerate(attempt.paper):
            q = db.session.get(Question, entry["q"])
            right = right_response(q, entry)
            # the stronger half answers everything right; the weaker half only the first two,
            # choosing the same wrong letter elsewhere
            wrong_letter = "A" if right != "A" else "B"
            svc.save_answer(attempt, q.id, right if i < 4 or n < 2 else wrong_letter, now=later(now, 1))
        svc.submit(attempt, now=later(now, 30 + i))
    db.session.commit()
    result = analyse(quiz, now=later(now, 100))
    assert result.attempts == 8
    by_position = sorted(result.items, key=lambda i: i.question_id)
    easy, hard = by_position[0], by_position[5]
    assert easy.accuracy == 1 and easy.discrimination == 0
    assert hard.accuracy == 0.5 and hard.facility == 0.5 and hard.discrimination == 1
    assert hard.wrong_choice in ("A", "B") and hard.wrong_choice_count == 4
    assert result.alpha is not None and result.alpha > 0.8 and result.alpha_items == 6
    assert result.tags["枫桥经验"] == pytest.approx((8 + 8 + 4) / 24)
    missed = result.most_missed(limit=4)
    assert all(i.accuracy == 0.5 for i in missed)
    practice = practice_from_missed(quiz, [i.question_id for i in missed], actor=None, now=later(now, 200))
    db.session.commit()
    assert practice.is_practice and sum(r["count"] for r in practice.rules) == 4
    assert join(practice, later(now, 300), phone="13900000000", name="练习者").attempt.question_count == 4
