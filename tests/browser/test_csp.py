"""Real browser: every page works under the Content Security Policy (no inline script, no inline
handler, nothing from another origin) — chromium logs each violation on the console, and the
`context` fixture fails a test that caused one. Here an organiser walks through every page and a
participant joins a quiz that asks for a personal access code."""
from __future__ import annotations

import re

from sqlalchemy import select

from quiz.extensions import db
from tests.browser.conftest import watch_csp

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None


def test_the_console_reports_violations(browser, live_server):
    """The watcher itself: a page with an inline script under the app's policy is caught."""
    context = browser.new_context()
    violations = watch_csp(context)
    page = context.new_page()
    policy = None

    def probe(route):
        nonlocal policy
        policy = page.request.get(f"{live_server}/login").headers["content-security-policy"]
        route.fulfill(status=200, content_type="text/html", headers={"Content-Security-Policy": policy},
                      body="<!doctype html><p>probe</p><script>document.title = 'ran'</script>"
                           "<button onclick=\"document.title='clicked'\">x</button>")

    page.route(f"{live_server}/csp-probe", probe)
    page.goto(f"{live_server}/csp-probe")
    page.click("button")
    page.wait_for_timeout(200)
    assert page.title() != "ran" and page.title() != "clicked"
    context.close()
    assert violations and all("Content Security Policy" in v for v in violations)


def _organiser_pages(app, quiz_id: int) -> list[str]:
    from quiz.models import Bank, Question, Unit

    with app.app_context():
        bank = db.session.execute(select(Bank)).scalars().first()
        question = db.session.execute(select(Question)).scalars().first()
        unit = db.session.execute(select(Unit).order_by(Unit.path)).scalars().first()
        return ["/", "/quizzes/", "/quizzes/new", f"/quizzes/{quiz_id}", f"/quizzes/{quiz_id}/report",
                f"/quizzes/{quiz_id}/analysis", f"/quizzes/{quiz_id}/regrade", f"/board/{quiz_id}",
                f"/board/{quiz_id}/screen?top=20&scroll=1", f"/quizzes/{quiz_id}/leaderboard", "/points", "/banks/",
                f"/banks/{bank.id}", f"/banks/questions/{question.id}/edit", "/units/", f"/units/{unit.id}/edit", "/people/", "/people/accounts",
                "/me/wrong", "/j"]


def test_organiser_pages_keep_to_the_policy(browser, live_server, make_quiz, app):
    from quiz.services.people import create_user
    from quiz.models.base import utcnow

    quiz = make_quiz(identity_check="code")
    with app.app_context():
        create_user("csp-admin", role="admin", password="secret-pass", now=utcnow())
        db.session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "csp-admin")
    page.fill("input[name=password]", "secret-pass")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    problems = []
    for path in _organiser_pages(app, quiz["id"]):
        response = page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        if response is None or response.status >= 400:
            problems.append(f"{path}: {response.status if response else 'no response'}")
    # a confirmation (data-confirm, handled by static/app.js) still runs under the policy
    page.goto(f"{live_server}/people/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#access-codes form[method=post] button[type=submit]")
    page.wait_for_timeout(300)
    assert page.url.endswith("/people/")  # dismissed: nothing sent
    context.close()
    assert not problems, problems
    assert not violations, "\n".join(violations)


def test_participant_with_an_access_code(page, live_server, make_quiz, app):
    from quiz.models import Participant
    from quiz.models.base import utcnow
    from quiz.services.people import generate_access_codes, save_participant
    from quiz.services.units import find_unit

    quiz = make_quiz(identity_check="code")
    with app.app_context():
        save_participant(name="张三", phone="13800000001", unit=find_unit("乔司街道/三角村社区"), actor=None,
                         now=utcnow())
        generate_access_codes(find_unit("乔司街道"), actor=None, now=utcnow())
        db.session.commit()
        code = db.session.execute(select(Participant.access_code)).scalar_one()
    page.goto(f"{live_server}/j/{quiz['code']}")
    assert page.locator("#unit").count() == 0  # the roster knows the unit
    page.fill("#name", "张三")
    page.fill("#phone", "13800000001")
    page.fill("#access_code", "WRONG1")
    page.click("#join-submit")
    expect(page.locator(".flash-danger")).to_be_visible()
    page.fill("#access_code", code.lower())
    page.click("#join-submit")
    page.wait_for_url(re.compile(r"/a/\d+$"))
    expect(page.locator("#q-card")).to_have_attribute("data-qid", re.compile(r"\d+"))
