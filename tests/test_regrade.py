"""Answer-key correction: regrade preview (scores and ranks), audit, undo."""
import pytest
from sqlalchemy import select

from quiz.errors import Conflict, Invalid
from quiz.extensions import db
from quiz.models import Attempt, Question, Regrade
from quiz.services import regrade
from quiz.services.verify import verify_quiz
from tests.quizdata import later, make_quiz
from tests.test_reports import _sit


def test_fix_key_preview_apply_undo(ctx, users, now):
    from quiz.services.people import find_user

    quiz = make_quiz(rules=[{"type": "单选", "count": 6, "points": 1}], shuffle_questions=False)
    good = _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区", seconds=50)
    bad = _sit(quiz, now, "13800000002", "乙", "乔司街道/三角村社区", right=False, seconds=40)
    assert regrade.preview(quiz, now=later(now, 100)) == []
    with pytest.raises(Conflict):
        regrade.apply(quiz, actor=None, reason="无变化", now=later(now, 100))
    # the organiser discovers the key of every question was wrong: 乙's letters were right
    wrong_letters = {a.question_id: a.response for a in db.session.execute(
        select(db.text("question_id, response")).select_from(db.text("answer")).where(db.text(f"attempt_id = {bad.id}")))}
    for qid, letter in wrong_letters.items():
        db.session.get(Question, qid).answer = letter
    db.session.commit()
    changes = regrade.preview(quiz, now=later(now, 100))
    by_name = {c.attempt.participant.name: c for c in changes}
    assert by_name["甲"].score == (6, 0) and by_name["乙"].score == (0, 6)
    assert by_name["甲"].rank == (1, 2) and by_name["乙"].rank == (2, 1)
    with pytest.raises(Invalid):
        regrade.apply(quiz, actor=None, reason="  ", now=later(now, 100))
    record = regrade.apply(quiz, actor=find_user("admin"), reason="第3题答案有误", now=later(now, 200))
    db.session.commit()
    assert db.session.get(Attempt, bad.id).score == 6 and db.session.get(Attempt, good.id).score == 0
    assert verify_quiz(quiz, now=later(now, 300)).differences == []
    assert record.user.username == "admin" and record.reason == "第3题答案有误"
    regrade.undo(record, actor=find_user("admin"), reason="误操作", now=later(now, 400))
    db.session.commit()
    assert db.session.get(Attempt, good.id).score == 6 and db.session.get(Attempt, bad.id).score == 0
    assert db.session.get(Regrade, record.id).undone_at is not None
    with pytest.raises(Conflict):
        regrade.undo(record, actor=None, now=later(now, 500))


def test_regrade_page(client, auth, app):
    from datetime import timedelta
    from quiz.models.base import utcnow
    from tests.test_boards import _sit as sit

    with app.app_context():
        start = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=start, rules=[{"type": "判断", "count": 4, "points": 1}])
        sit(quiz, start, "13800000001", "甲", "乔司街道/三角村社区")
        for q in db.session.execute(select(Question).where(Question.type == "judge")).scalars():
            q.answer = "错误" if q.answer == "正确" else "正确"
        db.session.commit()
        quiz_id = quiz.id
    auth.login()
    page = client.get(f"/quizzes/{quiz_id}/regrade")
    assert page.status_code == 200 and "甲" in page.get_data(as_text=True)
    assert client.post(f"/quizzes/{quiz_id}/regrade", data={"reason": ""}).status_code == 200
    assert client.post(f"/quizzes/{quiz_id}/regrade", data={"reason": "答案更正"}).status_code == 302
    with app.app_context():
        record = db.session.execute(select(Regrade)).scalar_one()
        assert db.session.execute(select(Attempt.score)).scalar_one() == 0
    assert client.post(f"/quizzes/{quiz_id}/regrade", data={"undo": str(record.id), "reason": "误操作"}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(Attempt.score)).scalar_one() == 4
