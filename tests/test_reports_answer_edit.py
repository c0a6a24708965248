"""Editing the answer of a question that answer sheets already have: the edit page warns (which
quizzes, open or closed, how many sheets) and, after a changed answer, offers each quiz's regrade."""
import re
from datetime import timedelta

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Attempt, Question
from quiz.models.base import utcnow
from quiz.services.regrade import quizzes_using
from tests.quizdata import make_quiz
from tests.test_boards import _sit


def _two_quizzes(app):
    """An open quiz with two sheets and a closed one with one sheet, both of all 4 判断 questions,
    plus a question nobody was given."""
    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        rules = [{"type": "判断", "count": 4, "points": 1}]
        live = make_quiz(now=now, title="=正在进行的竞赛", rules=rules)
        _sit(live, now, "13800000001", "甲", "乔司街道/三角村社区")
        _sit(live, now, "13800000002", "乙", "伦教街道/常教社区")
        closed = make_quiz(now=now, title="已结束的竞赛", rules=rules, banks=["题库"], closes_at=utcnow().isoformat(),
                           unit="伦教街道")
        _sit(closed, now, "13800000003", "丙", "伦教街道/常教社区")
        judge = db.session.execute(select(Question).where(Question.type == "judge")
                                   .order_by(Question.id)).scalars().first()
        unused = db.session.execute(select(Question).where(Question.type == "single")).scalars().first()
        return live.id, closed.id, judge.id, unused.id


def test_quizzes_using_a_question(app, ctx, users):
    from quiz.services.people import find_user

    live_id, closed_id, judge_id, unused_id = _two_quizzes(app)
    now = utcnow()
    uses = quizzes_using(db.session.get(Question, judge_id), actor=None, now=now)
    assert [(u.quiz.id, u.is_open, u.sheets, u.manageable) for u in uses] == [
        (closed_id, False, 1, True), (live_id, True, 2, True)]
    assert quizzes_using(db.session.get(Question, unused_id), actor=None, now=now) == []
    lunjiao = quizzes_using(db.session.get(Question, judge_id), actor=find_user("lunjiao"), now=now)
    assert [(u.quiz.id, u.manageable) for u in lunjiao] == [(closed_id, True), (live_id, False)]


def test_edit_page_warns_and_offers_the_regrade_after_an_answer_change(client, auth, app):
    live_id, closed_id, judge_id, unused_id = _two_quizzes(app)
    auth.login()
    page = client.get(f"/banks/questions/{judge_id}/edit").get_data(as_text=True)
    warning = page[page.index('id="question-in-use"'):page.index("</section>", page.index('id="question-in-use"'))]
    assert "此题出现在2场竞赛的答卷中" in warning
    assert "=正在进行的竞赛 · 进行中 · 2份答卷" in warning and "已结束的竞赛 · 已结束 · 1份答卷" in warning
    assert f'href="/quizzes/{live_id}/regrade"' in warning and f'href="/quizzes/{closed_id}/regrade"' in warning
    assert 'id="question-in-use"' not in client.get(f"/banks/questions/{unused_id}/edit").get_data(as_text=True)

    with app.app_context():
        question = db.session.get(Question, judge_id)
        form = {"stem": question.stem, "answer": "错误" if question.answer == "正确" else "正确", "explanation": "",
                "points": "", "difficulty": "", "tags": ""}
    saved = client.post(f"/banks/questions/{judge_id}/edit", data=form, follow_redirects=True)
    html = saved.get_data(as_text=True)
    message = re.search(r'<div class="flash flash-warning" role="alert">(.*?)</div>', html, re.S)
    assert message, html
    assert "答案已修改，有2场竞赛的答卷含有此题" in message.group(1)
    assert f'<a href="/quizzes/{live_id}/regrade">=正在进行的竞赛</a>' in message.group(1)
    assert f'<a href="/quizzes/{closed_id}/regrade">已结束的竞赛</a>' in message.group(1)
    with app.app_context():  # nothing regraded yet: the organiser decides on the regrade page
        assert sorted(db.session.execute(select(Attempt.score)).scalars()) == [4, 4, 4]

    # saving without changing the answer (only the explanation) offers nothing
    form["explanation"] = "补充解析"
    again = client.post(f"/banks/questions/{judge_id}/edit", data=form, follow_redirects=True).get_data(as_text=True)
    assert "flash-warning" not in again and "flash-success" in again
