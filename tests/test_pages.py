"""What organisers and participants see (issue 8): favicon, the first visit, the rules summary,
closed and not-yet-open join pages, link previews for WeChat, Chinese date inputs, difficulty
words, the big screen's data."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Question, Quiz
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services.summary import rules_summary
from tests.quizdata import make_bank, make_quiz
from tests.test_quizzes import answer_all, join


# ---------------------------------------------------------------- favicon
def test_favicon_answers_and_every_page_links_an_icon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").status_code == 200
    for path in ("/", "/login", "/j"):
        html = client.get(path).get_data(as_text=True)
        assert 'rel="icon" href="/static/favicon.svg"' in html and 'href="/favicon.ico"' in html


def test_share_icon_is_big_enough():
    from pathlib import Path

    from PIL import Image

    image = Image.open(Path(__file__).resolve().parent.parent / "static" / "icon-512.png")
    assert min(image.size) >= 300 and image.mode == "RGB"


# ---------------------------------------------------------------- the first visit
def test_first_visit_shows_a_welcome_not_a_warning(client, users):
    """Opening / for the first time used to redirect to the login page with a "请先登录" warning."""
    home = client.get("/")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and 'id="welcome"' in html
    assert "flash-warning" not in html and "请先登录" not in html
    assert 'action="/j"' in html and 'href="/login"' in html  # join by code, or log in
    login = client.get("/login").get_data(as_text=True)
    assert "flash" not in login  # nothing was queued for the next page either
    # a protected page still says why it sent you to log in
    assert client.get("/banks/").status_code == 302
    assert "flash-warning" in client.get("/login").get_data(as_text=True)


def test_welcome_code_box_leads_to_the_join_page(client, app, tree):
    with app.app_context():
        code = make_quiz(now=utcnow()).join_code
    response = client.post("/j", data={"code": code.lower()})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/j/{code}")


# ---------------------------------------------------------------- rules summary
def test_rules_summary_in_plain_chinese(ctx, tree):
    quiz = make_quiz(now=utcnow(), pass_score=6, excellent_score=9, multi_partial="half", attempts_allowed=3,
                     attempt_policy="latest", shuffle_options=True, shuffle_questions=True,
                     show_answers="after_close", opens_at="2026-12-01 09:00", closes_at="2026-12-07 18:00")
    summary = rules_summary(quiz)
    assert summary.paper == ["单选：2道，每道2分", "多选：1道，每道3分", "判断：1道，每道1分", "填空：1道，每道2分"]
    assert summary.total == "共5题，满分10分。"
    text = "\n".join(summary.lines)
    for expected in ("限时10分钟", "2026-12-01 09:00 至 2026-12-07 18:00", "每人最多可作答3次，以最后一次为准",
                     "题目顺序和选项顺序各不相同", "少选且无错选得一半分", "及格分6分，优秀分9分",
                     "竞赛结束后公布正确答案和解析", "用时少者在前"):
        assert expected in text, (expected, text)


def test_rules_summary_for_practice_and_defaults(ctx, tree):
    practice = make_quiz(now=utcnow(), mode="practice", duration_seconds=None, attempts_allowed=0)
    text = "\n".join(rules_summary(practice).lines)
    assert "练习模式" in text and "不限作答次数，以最高分为准" in text and "排名规则" not in text
    exam = make_quiz(now=utcnow(), banks=["题库"], shuffle_questions=False, show_answers="never")
    text = "\n".join(rules_summary(exam).lines)
    assert "每人只能作答一次" in text and "不公布正确答案" in text and "顺序" not in text
    assert "须" in text or "完全一致" in text  # 多选 without partial credit


def test_rules_shown_on_quiz_page_and_join_page(client, auth, app, tree):
    with app.app_context():
        quiz = make_quiz(now=utcnow(), pass_score=6)
        quiz_id, code = quiz.id, quiz.join_code
    auth.login()
    page = client.get(f"/quizzes/{quiz_id}").get_data(as_text=True)
    assert 'id="rules"' in page and "共5题，满分10分。" in page and "及格分6分" in page
    join_page = client.get(f"/j/{code}").get_data(as_text=True)
    assert 'id="rules"' in join_page and "单选：2道，每道2分" in join_page


# ---------------------------------------------------------------- closed and not-yet-open join pages
def test_closed_join_page_links_to_board_and_own_result(client, app, tree):
    with app.app_context():
        start = utcnow() - timedelta(hours=2)
        quiz = make_quiz(now=start - timedelta(hours=1), closes_at=(utcnow() - timedelta(minutes=1)).isoformat())
        attempt = join(quiz, start).attempt
        answer_all(attempt, start + timedelta(seconds=20))
        svc.submit(attempt, now=start + timedelta(seconds=60))
        db.session.commit()
        quiz_id, code, attempt_id, token = quiz.id, quiz.join_code, attempt.id, svc.attempt_token(attempt)
    anonymous = client.get(f"/j/{code}").get_data(as_text=True)
    assert 'data-status="closed"' in anonymous and f'href="/board/{quiz_id}"' in anonymous
    assert "/result" not in anonymous  # this browser has no sheet of the quiz
    with client.session_transaction() as session:
        session["sheets"] = {str(attempt_id): token}
    mine = client.get(f"/j/{code}").get_data(as_text=True)
    assert f'href="/a/{attempt_id}/result"' in mine and f'href="/board/{quiz_id}"' in mine
    assert client.get(f"/a/{attempt_id}/result").status_code == 200


def test_not_yet_open_join_page_links_to_board_and_open_sheet(client, app, tree):
    with app.app_context():
        quiz = make_quiz(now=utcnow(), opens_at=(utcnow() + timedelta(days=1)).isoformat())
        practice = make_quiz(now=utcnow(), banks=["题库"], mode="practice", duration_seconds=None,
                             opens_at=(utcnow() + timedelta(days=1)).isoformat())
        quiz_id, code, practice_code = quiz.id, quiz.join_code, practice.join_code
    page = client.get(f"/j/{code}").get_data(as_text=True)
    assert 'data-status="not_open"' in page and f'href="/board/{quiz_id}"' in page
    practice_page = client.get(f"/j/{practice_code}").get_data(as_text=True)
    assert 'data-status="not_open"' in practice_page and 'href="/board/' not in practice_page  # not ranked


# ---------------------------------------------------------------- link previews (WeChat)
def test_join_page_carries_share_metadata(client, app, tree):
    with app.app_context():
        quiz = make_quiz(now=utcnow(), description="乔司街道2026年应知应会知识竞赛，欢迎参加。")
        code, title = quiz.join_code, quiz.title
    html = client.get(f"/j/{code}").get_data(as_text=True)
    head = html.split("</head>")[0]
    assert f"<title>{title}" in head
    assert '<meta name="description" content="乔司街道2026年应知应会知识竞赛，欢迎参加。">' in head
    assert f'<meta property="og:title" content="{title}">' in head
    assert '<meta property="og:description" content="乔司街道2026年应知应会知识竞赛，欢迎参加。">' in head
    image = re.search(r'<meta property="og:image" content="([^"]+)">', head).group(1)
    assert image.startswith("http://") and image.endswith("/static/icon-512.png")
    assert client.get(image.replace("http://localhost", "")).status_code == 200
    assert f'<meta property="og:url" content="http://localhost/j/{code}">' in head


def test_share_description_falls_back_to_the_rules(client, app, tree):
    with app.app_context():
        code = make_quiz(now=utcnow()).join_code
    head = client.get(f"/j/{code}").get_data(as_text=True).split("</head>")[0]
    assert re.search(r'<meta name="description" content="共5题，满分10分。 限时10分钟', head)


# ---------------------------------------------------------------- dates in the Chinese form
def test_quiz_form_takes_chinese_date_and_time_text(client, auth, app):
    with app.app_context():
        make_bank()
        bank_id = db.session.execute(select(db.text("id")).select_from(db.text("bank"))).scalar()
    auth.login()
    form = client.get("/quizzes/new").get_data(as_text=True)
    for name in ("opens_at", "closes_at"):
        field = re.search(rf'<input name="{name}"[^>]*>', form, re.S).group(0)
        assert 'type="text"' in field and 'placeholder="2026-' in field and "pattern=" in field
        assert "datetime-local" not in field
    from tests.test_views_quizzes import _new_quiz_form

    response = client.post("/quizzes/new", data=_new_quiz_form(banks=[str(bank_id)], opens_at="2026-12-01 09:00",
                                                               closes_at="2026-12-07 18:30"))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    with app.app_context():
        quiz = db.session.execute(select(Quiz)).scalar_one()
        assert quiz.opens_at == datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 Beijing time
        assert quiz.closes_at == datetime(2026, 12, 7, 10, 30, tzinfo=timezone.utc)


def test_freeze_and_points_forms_use_chinese_dates(client, auth, app, tree):
    with app.app_context():
        quiz_id = make_quiz(now=utcnow()).id
    auth.login()
    board = client.get(f"/quizzes/{quiz_id}/leaderboard").get_data(as_text=True)
    assert 'type="datetime-local"' not in board and 'name="at" class="datetime"' in board
    assert client.post(f"/quizzes/{quiz_id}/freeze", data={"at": "2026-12-01 09:00"}).status_code == 302
    with app.app_context():
        assert db.session.get(Quiz, quiz_id).freeze_at == datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    points = client.get("/points?period=custom&start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    assert 'type="date"' not in points and 'placeholder="2026-12-01"' in points
    assert "flash-danger" not in points and "2026-01-01 – 2026-12-31" in points


# ---------------------------------------------------------------- difficulty words
def test_edit_form_shows_the_difficulty_word_of_the_list(client, auth, app, tree):
    with app.app_context():
        make_bank()
        question = db.session.execute(select(Question).order_by(Question.id)).scalars().first()
        question.difficulty = 5
        db.session.commit()
        qid, bank_id = question.id, question.bank_id
    auth.login()
    listing = client.get(f"/banks/{bank_id}").get_data(as_text=True)
    assert "困难" in listing
    form = client.get(f"/banks/questions/{qid}/edit").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="difficulty"[^>]*>', form).group(0)
    assert 'value="困难"' in field, field
    from tests.test_views_banks import edit_form

    with app.app_context():
        q = db.session.get(Question, qid)
        data = edit_form(stem=q.stem, option_a=q.options[0], option_b=q.options[1], option_c=q.options[2],
                         option_d=q.options[3], answer=q.answer, difficulty="困难")
    assert client.post(f"/banks/questions/{qid}/edit", data=data).status_code == 302  # the word is accepted
    with app.app_context():
        assert db.session.get(Question, qid).difficulty == 5
    assert client.post(f"/banks/questions/{qid}/edit", data={**data, "difficulty": "2"}).status_code == 302
    with app.app_context():
        assert db.session.get(Question, qid).difficulty == 2  # numbers too
    assert 'value="较易"' in client.get(f"/banks/questions/{qid}/edit").get_data(as_text=True)


# ---------------------------------------------------------------- the big screen's data
def test_leaderboard_api_says_when_frozen(client, app, tree):
    from quiz.services.quizzes import set_freeze

    with app.app_context():
        quiz = make_quiz(now=utcnow() - timedelta(hours=1))
        quiz_id = quiz.id
    body = client.get(f"/api/v1/quizzes/{quiz_id}/leaderboard").json
    assert body["frozen_at"] is None and body["entries"] == [] and body["quiz"]["id"] == quiz_id
    with app.app_context():
        set_freeze(db.session.get(Quiz, quiz_id), None, actor=None, now=utcnow() - timedelta(minutes=1))
        db.session.commit()
    assert client.get(f"/api/v1/quizzes/{quiz_id}/leaderboard").json["frozen_at"]


def test_screen_top_is_bounded(client, app, tree):
    with app.app_context():
        quiz_id = make_quiz(now=utcnow()).id
    html = client.get(f"/board/{quiz_id}/screen?top=100000&refresh=1").get_data(as_text=True)
    assert f"/api/v1/quizzes/{quiz_id}/leaderboard?limit=500" in html and '"refresh": 3' in html
