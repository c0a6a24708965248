"""Real-browser fixtures: the app served by werkzeug in a background thread, Debian's chromium
driven by Playwright (sync API), and quizzes made through the services.

Without Playwright or chromium these tests are skipped locally, but fail when the CI
environment variable is set (a CI machine without its browser must not pass silently).
Playwright's own browser downloads are not used: chromium comes from the system
(/usr/bin/chromium, or the CHROMIUM environment variable).
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest

from quiz.extensions import db
from tests.conftest import HEADER, csv_bytes

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 375, "height": 740}

# One question of each type; the right answers are B, ABD, 正确 and 共商|共建.
BANK_ROWS = [
    HEADER,
    ["单选", "党的二十大在哪一年召开？", "2021年", "2022年", "2023年", "2024年", "B", "2022年10月召开。", "", "", "党史"],
    ["多选", "下列属于新发展理念的是（多选）", "创新", "协调", "封闭", "共享", "ABD", "新发展理念：创新、协调、绿色、开放、共享。",
     "", "", ""],
    ["判断", "为人民服务是党的根本宗旨。", "", "", "", "", "对", "全心全意为人民服务。", "", "", ""],
    ["填空", "坚持____、____、共享的原则。", "", "", "", "", "共商|共建", "共商共建共享。", "", "", ""],
]
RULES = [{"type": "单选", "count": 1, "points": 2}, {"type": "多选", "count": 1, "points": 3},
         {"type": "判断", "count": 1, "points": 1}, {"type": "填空", "count": 1, "points": 2}]
UNITS = ["乔司街道/三角村社区", "乔司街道/永丰村", "伦教街道/常教社区"]


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install 'playwright>=1.45,<2')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"chromium not found at {CHROMIUM}"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def watch_csp(context) -> list[str]:
    """Collect the Content Security Policy violations chromium reports on the console of any page
    of `context` ("Refused to execute inline script because it violates … Content Security
    Policy …")."""
    violations: list[str] = []

    def listen(message):
        if "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url', '')}: {message.text}")

    context.on("console", listen)
    return violations


@pytest.fixture
def context(browser):
    """A phone: 375×740, touch, Chinese locale. Fails when any page logs a CSP violation."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    yield context
    context.close()
    assert not violations, "pages broke the Content Security Policy:\n" + "\n".join(violations)


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def live_server(app):
    """The app at http://127.0.0.1:<free port>, served from a background thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def make_quiz(app):
    """make_quiz(**settings) → {"id", "code"}: a quiz over the four-question bank, real time."""
    from quiz.models.base import utcnow
    from quiz.services.importer import import_bank_file
    from quiz.services.quizzes import create_quiz
    from quiz.services.units import ensure_path

    def make(**settings) -> dict:
        with app.app_context():
            now = utcnow()
            for path in UNITS:
                ensure_path(path.split("/"), actor=None, now=now, headcount=50)
            from quiz.models import Bank
            from sqlalchemy import select
            if db.session.execute(select(Bank).where(Bank.name == "应知应会")).first() is None:
                report = import_bank_file("应知应会", csv_bytes(BANK_ROWS), "b.csv", actor=None, now=now)
                assert report.accepted, report.as_dict()
            payload = {"title": "应知应会知识竞赛", "description": "每人一次，限时作答。", "banks": ["应知应会"],
                       "rules": RULES, "duration_seconds": 600, "shuffle_questions": False,
                       "shuffle_options": False, "pass_score": 6, "show_answers": "after_submit"}
            payload.update(settings)
            quiz = create_quiz(payload, actor=None, now=utcnow())
            db.session.commit()
            return {"id": quiz.id, "code": quiz.join_code}

    return make
