"""`quiz demo`: sample quizzes (a finished one with answered sheets, an open one) and a sample live
contest, idempotent; join links from PUBLIC_BASE_URL (quiz page, QR code, API join_url) and the LAN
address with --host 0.0.0.0."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Attempt, Quiz
from quiz.models.base import utcnow
from quiz.services import demo


def _quizzes(app):
    with app.app_context():
        rows = []
        for quiz in db.session.execute(select(Quiz).where(Quiz.mode != "live").order_by(Quiz.id)).scalars():
            submitted = db.session.scalar(select(func.count(Attempt.id)).where(
                Attempt.quiz_id == quiz.id, Attempt.status == "submitted"))
            units = db.session.execute(select(func.count(func.distinct(Attempt.participant_id))).where(
                Attempt.quiz_id == quiz.id)).scalar()
            scores = db.session.execute(select(Attempt.score).where(Attempt.quiz_id == quiz.id)).scalars().all()
            rows.append({"id": quiz.id, "title": quiz.title, "open": quiz.is_open(utcnow()), "submitted": submitted,
                         "people": units, "scores": scores})
        return rows


def test_demo_twice_makes_one_finished_and_one_open_quiz(app, runner):
    first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    quizzes = _quizzes(app)
    assert [q["title"] for q in quizzes] == [demo.FINISHED_TITLE, demo.OPEN_TITLE]
    finished, open_quiz = quizzes
    assert not finished["open"] and open_quiz["open"]
    assert finished["submitted"] >= 30 and finished["people"] == finished["submitted"]
    assert len(set(finished["scores"])) >= 10  # varied answers, not one pattern
    assert open_quiz["submitted"] == 0
    verify = runner.invoke(args=["verify", str(finished["id"])])
    assert verify.exit_code == 0 and "发现0处差异" in verify.output, verify.output
    with app.app_context():
        sheets = db.session.execute(select(Attempt).where(Attempt.quiz_id == finished["id"])).scalars().all()
        assert all(a.status == "submitted" for a in sheets)
        assert any(a.auto_submitted for a in sheets) and any(not a.auto_submitted for a in sheets)
        units = {a.participant.unit.path for a in sheets}
        assert len(units) >= 5  # across the sample units
        used = sorted(a.time_used_ms for a in sheets)
        assert used[0] < used[-1] - 5 * 60 * 1000  # varied times
    m = re.search(r"http://127\.0\.0\.1:5000/j/([A-Z0-9]{6})", second.output)
    assert m, second.output
    assert "127.0.0.1" in second.output and "--host 0.0.0.0" in second.output  # a hint for phones


def test_demo_on_the_lan_prints_a_reachable_join_link(app, runner, monkeypatch):
    monkeypatch.setattr(demo, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    result = runner.invoke(args=["demo", "--no-serve", "--host", "0.0.0.0", "--port", "8080"])
    assert result.exit_code == 0, result.output
    assert re.search(r"http://192\.168\.1\.20:8080/j/[A-Z0-9]{6}", result.output), result.output
    assert "http://10.0.0.5:8080" in result.output


def test_join_url_uses_public_base_url(app, client, auth, token_for):
    from tests.quizdata import make_quiz

    with app.app_context():
        quiz = make_quiz(now=utcnow())
        quiz_id, code = quiz.id, quiz.join_code
    token = token_for("admin")
    before = client.get(f"/api/v1/quizzes/{quiz_id}", headers={"Authorization": f"Bearer {token}"}).json
    assert before["join_url"] == f"http://localhost/j/{code}"  # the request's host when not set
    app.config["PUBLIC_BASE_URL"] = "http://192.168.1.20:5000/"
    after = client.get(f"/api/v1/quizzes/{quiz_id}", headers={"Authorization": f"Bearer {token}"}).json
    assert after["join_url"] == f"http://192.168.1.20:5000/j/{code}"
    auth.login()
    page = client.get(f"/quizzes/{quiz_id}").get_data(as_text=True)
    assert f'href="http://192.168.1.20:5000/j/{code}"' in page
    join = client.get(f"/j/{code}").get_data(as_text=True)
    assert f'<meta property="og:url" content="http://192.168.1.20:5000/j/{code}">' in join
    assert '<meta property="og:image" content="http://192.168.1.20:5000/static/icon-512.png">' in join
    with app.app_context():
        from quiz.urls import join_url
        from quiz.views.quizzes import qr_svg

        assert join_url(db.session.get(Quiz, quiz_id)) == f"http://192.168.1.20:5000/j/{code}"  # no request needed
        assert qr_svg(f"http://192.168.1.20:5000/j/{code}") in page  # the QR code encodes the public link


def test_demo_sets_up_one_live_contest_and_prints_its_three_links(app, runner, client):
    from quiz.models.live import LiveContest
    from quiz.services import live

    first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        contests = db.session.execute(select(LiveContest)).scalars().all()
        assert [c.title for c in contests] == [demo.LIVE_TITLE]  # once
        contest = contests[0]
        assert (contest.mode, contest.status, contest.unit.path) == ("teams", "setup", "乔司街道")
        assert [(e.name, e.unit.path, e.base_score) for e in contest.entrants] == [
            (name, path, 100) for name, path in demo.LIVE_TEAMS]
        assert [(r.type, len(r.questions)) for r in contest.rounds] == [
            ("required", 4), ("buzzer", 4), ("wager", 4), ("all", 3)]
        assert all(e.team_code for e in contest.entrants)
        assert {s.total for s in live.standings(contest)} == {100}
        contest_id, code = contest.id, contest.join_code
        codes = [e.team_code for e in contest.entrants]
    for output in (first.output, second.output):
        assert f"http://127.0.0.1:5000/live/{contest_id}/host" in output
        assert f"http://127.0.0.1:5000/live/{contest_id}/screen" in output
        assert f"http://127.0.0.1:5000/l/{code}" in output
        assert all(team_code in output for team_code in codes)
    # the demo organiser (乔司街道) hosts it; the phone page and big screen open
    password = re.search(r"organiser / ([A-Za-z0-9_-]+)", second.output).group(1)
    client.post("/login", data={"username": "organiser", "password": password})
    assert client.get(f"/live/{contest_id}/host").status_code == 200
    assert client.get(f"/live/{contest_id}/screen").status_code == 200
    assert client.get(f"/l/{code}").status_code == 200
    assert demo.LIVE_TITLE in client.get("/live/").get_data(as_text=True)
    # ... and may change its set-up: the sample banks are shared with every organiser
    page = client.get(f"/live/{contest_id}/edit")
    assert page.status_code == 200
    from werkzeug.datastructures import MultiDict

    form = [(name, demo.LIVE_TITLE + "（彩排）" if name == "title" else value)
            for name, value in _form_fields(page.get_data(as_text=True))]
    saved = client.post(f"/live/{contest_id}/edit", data=MultiDict(form))
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    with app.app_context():
        assert db.session.get(LiveContest, contest_id).title == demo.LIVE_TITLE + "（彩排）"


def _form_fields(html: str) -> list:
    """The values a browser would post from the page's first form with a CSRF token."""
    from html.parser import HTMLParser

    fields: list = []

    class Parser(HTMLParser):
        select = textarea = None

        def handle_data(self, data):
            if self.textarea is not None:
                fields.append((self.textarea, data))
                self.textarea = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
                if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                    return
                fields.append((a["name"], a.get("value", "y" if a.get("type") == "checkbox" else "")))
            elif tag == "select" and a.get("name"):
                self.select = a["name"]
            elif tag == "textarea" and a.get("name"):
                self.textarea = a["name"]
            elif tag == "option" and self.select and "selected" in a:
                fields.append((self.select, a.get("value", "")))

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            elif tag == "textarea" and self.textarea is not None:  # an empty textarea
                fields.append((self.textarea, ""))
                self.textarea = None

    Parser().feed(html)
    return fields
