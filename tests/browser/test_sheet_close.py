"""A phone on the answer sheet learns within seconds that the organiser closed the quiz early
(it polls the sheet's clock) and says so, instead of counting down for minutes; a save refused
with 409 leads to the same message."""
from __future__ import annotations

import re
import time

from quiz.extensions import db
from tests.browser.test_participant import answer_current, card, get_attempt, join

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None


def _close(app, quiz_id: int) -> None:
    from quiz.models import Quiz
    from quiz.models.base import utcnow
    from quiz.services.quizzes import close_quiz

    with app.app_context():
        close_quiz(db.session.get(Quiz, quiz_id), actor=None, now=utcnow())
        db.session.commit()
        db.session.remove()


def test_phone_learns_of_an_early_close_within_seconds(page, live_server, make_quiz, app):
    quiz = make_quiz(duration_seconds=600)
    attempt_id = join(page, live_server, quiz["code"], phone="13800000021")
    answer_current(page, "B")
    expect(page.locator("#timer")).to_have_text(re.compile(r"^(09:\d\d|10:00)$"))
    _close(app, quiz["id"])
    closed_at = time.monotonic()
    overlay = page.locator("#overlay")
    expect(overlay).to_be_visible(timeout=6_000)
    assert time.monotonic() - closed_at < 6.5
    expect(overlay).to_have_attribute("data-reason", "closed_early")
    expect(page.locator("#overlay-text")).to_contain_text("组织者已提前结束")
    page.screenshot(path=str(_out("early-close-phone.png")))
    page.wait_for_url(re.compile(rf"/a/{attempt_id}/result$"), timeout=10_000)
    expect(page.locator("#ended-early")).to_be_visible()
    attempt = get_attempt(app, attempt_id)
    assert attempt.status == "submitted" and attempt.auto_submitted and attempt.score == 2


def test_a_refused_save_after_the_close_says_so(page, live_server, make_quiz, app):
    """The clock cannot be reached (so polling learns nothing), and the phone chooses an answer
    after the close: the 409 of the save leads to the same message."""
    quiz = make_quiz(duration_seconds=600)
    join(page, live_server, quiz["code"], phone="13800000022")
    page.route(re.compile(r".*/clock$"), lambda route: route.abort())
    _close(app, quiz["id"])
    page.wait_for_timeout(5_500)  # at least one poll has failed
    expect(page.locator("#overlay")).to_be_hidden()
    card(page).locator("label.opt").first.click()
    expect(page.locator("#overlay")).to_be_visible(timeout=5_000)
    expect(page.locator("#overlay")).to_have_attribute("data-reason", "closed_early")


def _out(name: str):
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
