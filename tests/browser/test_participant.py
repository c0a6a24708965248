"""The participant's path in a real browser (Debian chromium, phone-sized viewport): join, answer
every question type, reload mid-quiz, review, submit, result; the countdown's automatic
submission; tab-switch counting; practice feedback; a dropped connection; the 错题本.

Selectors use ids and data attributes, never UI text (the text is translated)."""
from __future__ import annotations

import re
import time

from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Answer, Attempt

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None

RIGHT = {"single": "B", "multi": "ABD", "judge": "正确", "blank": ["共商", "共建"]}


# ---------------------------------------------------------------- helpers
def join(page, base: str, code: str, *, name="张三", phone="13800000001", unit_query="三角",
         unit="乔司街道/三角村社区", by_code=False) -> int:
    """Fill the join form (picking the unit from the filter list) and land on the sheet."""
    if by_code:  # typed on /j, in lower case, as people do
        page.goto(f"{base}/j")
        page.fill("#code", code.lower())
        page.click("#code-submit")
        page.wait_for_url(f"{base}/j/{code}")
    else:
        page.goto(f"{base}/j/{code}")
    page.fill("#name", name)
    page.fill("#phone", phone)
    page.click("#unit")
    page.locator("#unit").press_sequentially(unit_query)
    page.locator(f'#unit-list button[data-value="{unit}"]').click()
    expect(page.locator("#unit")).to_have_value(unit)
    page.click("#join-submit")
    page.wait_for_url(re.compile(r"/a/\d+$"))
    expect(page.locator("#q-card")).to_have_attribute("data-qid", re.compile(r"\d+"))
    return int(page.url.rsplit("/", 1)[1])


def card(page):
    return page.locator("#q-card")


def choose(page, value: str):
    """Tap the option whose input has this value (letter, or 正确/错误)."""
    card(page).locator("label.opt", has=page.locator(f'input[value="{value}"]')).click()


def answer_current(page, response):
    kind = card(page).get_attribute("data-type")
    if kind in ("single", "judge"):
        choose(page, response)
    elif kind == "multi":
        for letter in response:
            choose(page, letter)
    else:
        inputs = card(page).locator("input[data-blank]")
        for i, text in enumerate(response):
            inputs.nth(i).fill(text)
        inputs.nth(len(response) - 1).blur()
    expect(card(page).locator(".save-state")).to_have_attribute("data-state", "saved")
    return kind


def answer_all(page, answers: dict) -> list[str]:
    """Answer every question on the sheet (one per screen), returning the types seen in order."""
    count = page.locator("#jump-grid button").count()
    seen = []
    for i in range(count):
        kind = card(page).get_attribute("data-type")
        seen.append(answer_current(page, answers[kind]))
        if i < count - 1:
            page.click("#next-btn")
            expect(page.locator("#position")).to_contain_text(str(i + 2))
    return seen


def go_to(page, index: int):
    page.click("#list-toggle")
    page.locator(f'#jump-grid button[data-index="{index}"]').click()
    expect(page.locator("#jump-grid button.current")).to_have_attribute("data-index", str(index))


def saved_answers(app, attempt_id: int) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(select(Answer.question_id, Answer.response)
                                  .where(Answer.attempt_id == attempt_id)).all()
        db.session.remove()
        return dict(rows)


def get_attempt(app, attempt_id: int) -> Attempt:
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        db.session.expunge(attempt)
        db.session.remove()
        return attempt


def switch_away_and_back(page):
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
        Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")


def wait_for(predicate, timeout=10.0, interval=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# ---------------------------------------------------------------- (a) the whole path
def test_join_answer_reload_review_submit(page, live_server, make_quiz, app):
    quiz = make_quiz()
    attempt_id = join(page, live_server, quiz["code"], by_code=True)

    # phone layout: nothing wider than the screen, big touch targets
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = card(page).locator("label.opt").first.bounding_box() if card(page).locator("label.opt").count() else None
    if box:
        assert box["height"] >= 48 and box["width"] >= 300
    expect(page.locator("#timer")).to_be_visible()
    expect(page.locator("#timer")).to_have_text(re.compile(r"^(09:5\d|10:00)$"))

    kinds = answer_all(page, RIGHT)
    assert sorted(kinds) == ["blank", "judge", "multi", "single"]

    # every answer reached the database, in the bank's letters
    rows = wait_for(lambda: len(saved_answers(app, attempt_id)) == 4 and saved_answers(app, attempt_id))
    assert sorted(rows.values()) == sorted(["B", "ABD", "正确", '["共商", "共建"]'])

    # reload mid-quiz: the answers are back on screen
    page.reload()
    expect(card(page)).to_have_attribute("data-qid", re.compile(r"\d+"))
    expect(page.locator("#jump-grid button.answered")).to_have_count(4)
    go_to(page, 0)  # (choosing a number closes the list)
    expect(page.locator("#jump")).to_be_hidden()
    page.wait_for_timeout(300)  # let the progress bar finish its transition
    page.screenshot(path="/tmp/sheet.png")
    for index in range(4):
        go_to(page, index)
        kind = card(page).get_attribute("data-type")
        if kind == "blank":
            inputs = card(page).locator("input[data-blank]")
            expect(inputs.nth(0)).to_have_value("共商")
            expect(inputs.nth(1)).to_have_value("共建")
        else:
            for value in (RIGHT[kind] if kind == "multi" else [RIGHT[kind]]):
                expect(card(page).locator(f'input[value="{value}"]')).to_be_checked()
            expect(card(page).locator("input:checked")).to_have_count(len(RIGHT[kind]) if kind == "multi" else 1)
        expect(card(page).locator(".save-state")).to_have_attribute("data-state", "saved")

    # review, then submit
    page.click("#list-toggle")
    page.click("#jump-review")
    expect(page.locator("#review")).to_be_visible()
    expect(page.locator("#review-all")).to_be_visible()
    expect(page.locator("#review-missing-block")).to_be_hidden()
    page.click("#submit-btn")
    page.wait_for_url(re.compile(rf"/a/{attempt_id}/result$"))
    expect(page.locator("#score")).to_have_attribute("data-score", "8.0")
    expect(page.locator("#correct-count")).to_have_text("4/4")
    expect(page.locator("#rank")).to_have_attribute("data-rank", "1")
    expect(page.locator("#passed")).to_have_attribute("data-passed", "true")
    expect(page.locator("#time-used")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(page.locator(".review-item")).to_have_count(4)
    expect(page.locator(".review-item .right-answer")).to_have_count(4)
    expect(page.locator("#wrong-link")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    attempt = get_attempt(app, attempt_id)
    assert attempt.status == "submitted" and attempt.score == 8 and attempt.tab_switches == 0


def test_review_lists_unanswered_questions(page, live_server, make_quiz, app):
    quiz = make_quiz()
    join(page, live_server, quiz["code"], phone="13800000002")
    answer_current(page, RIGHT[card(page).get_attribute("data-type")])
    page.click("#list-toggle")
    page.click("#jump-review")
    expect(page.locator("#review-missing button")).to_have_count(3)
    page.locator("#review-missing button").first.click()
    expect(page.locator("#question-screen")).to_be_visible()
    expect(page.locator("#position")).to_contain_text("2")


# ---------------------------------------------------------------- (b) the countdown submits
def test_countdown_submits_at_the_deadline(page, live_server, make_quiz, app):
    quiz = make_quiz(duration_seconds=10)
    started = time.monotonic()
    attempt_id = join(page, live_server, quiz["code"], phone="13800000003")
    expect(page.locator("#timer")).to_have_text(re.compile(r"^00:(0\d|10)$"))
    kind = card(page).get_attribute("data-type")
    assert kind == "single"
    answer_current(page, "B")        # right: 2 points
    page.click("#next-btn")
    answer_current(page, "C")        # 多选, wrong: 0 points
    page.wait_for_url(re.compile(rf"/a/{attempt_id}/result$"), timeout=15_000)
    assert time.monotonic() - started < 16
    expect(page.locator("#score")).to_have_attribute("data-score", "2.0")
    expect(page.locator("#correct-count")).to_have_text("1/4")
    attempt = get_attempt(app, attempt_id)
    assert attempt.status == "submitted" and attempt.score == 2 and attempt.correct_count == 1
    assert attempt.time_used_ms <= 10_000 + 50


def test_countdown_follows_an_extension(page, live_server, make_quiz, app):
    """The organiser adds time: the sheet is not submitted at the old deadline."""
    from quiz.models import Quiz
    from quiz.models.base import utcnow
    from quiz.services.quizzes import extend_quiz

    quiz = make_quiz(duration_seconds=10)
    attempt_id = join(page, live_server, quiz["code"], phone="13800000007")
    with app.app_context():
        extend_quiz(db.session.get(Quiz, quiz["id"]), 1, actor=None, now=utcnow())
        db.session.commit()
        db.session.remove()
    answer_current(page, "B")
    page.wait_for_timeout(11_500)
    assert re.search(r"/a/\d+$", page.url)
    expect(page.locator("#timer")).to_have_text(re.compile(r"^00:5\d$"))
    assert get_attempt(app, attempt_id).status == "open"


# ---------------------------------------------------------------- (c) tab switches are counted
def test_tab_switches_are_counted(page, live_server, make_quiz, app):
    quiz = make_quiz()
    attempt_id = join(page, live_server, quiz["code"], phone="13800000004")

    # The participant switches to another app and back. Headless chromium keeps every page
    # "visible" (bring_to_front on a second page changes nothing), so the switch is simulated.
    for expected in (1, 2):
        switch_away_and_back(page)
        assert wait_for(lambda: get_attempt(app, attempt_id).tab_switches == expected)
    # a reload is not a tab switch
    page.reload()
    expect(card(page)).to_have_attribute("data-qid", re.compile(r"\d+"))
    time.sleep(0.5)
    assert get_attempt(app, attempt_id).tab_switches == 2


# ---------------------------------------------------------------- (d) practice: instant feedback
def test_practice_shows_feedback_at_once(page, live_server, make_quiz, app):
    quiz = make_quiz(mode="practice", duration_seconds=None, pass_score=None)
    attempt_id = join(page, live_server, quiz["code"], phone="13800000005")
    expect(page.locator("#timer")).to_be_hidden()
    assert card(page).get_attribute("data-type") == "single"

    choose(page, "A")
    feedback = card(page).locator(".feedback")
    expect(feedback).to_have_attribute("data-correct", "false")
    expect(feedback.locator(".answer")).to_contain_text("B")
    expect(feedback.locator(".explanation")).to_contain_text("2022年10月")
    choose(page, "B")
    expect(feedback).to_have_attribute("data-correct", "true")

    page.click("#next-btn")
    assert card(page).get_attribute("data-type") == "multi"
    choose(page, "A")
    expect(card(page).locator(".feedback")).to_have_attribute("data-correct", "false")

    page.click("#next-btn")
    choose(page, "正确")
    expect(card(page).locator(".feedback")).to_have_attribute("data-correct", "true")

    page.click("#next-btn")
    inputs = card(page).locator("input[data-blank]")
    inputs.nth(0).fill("共商")
    inputs.nth(1).fill("共建")
    expect(card(page).locator(".feedback")).to_have_attribute("data-correct", "true")

    # finish: practice results are not ranked; the wrong 多选 goes to the 错题本
    page.click("#next-btn")
    page.click("#submit-btn")
    page.wait_for_url(re.compile(rf"/a/{attempt_id}/result$"))
    expect(page.locator("#rank")).not_to_have_attribute("data-rank", re.compile("."))
    page.click("#wrong-link")
    page.wait_for_url(re.compile(r"/me/wrong$"))
    items = page.locator(".wrong-item")
    expect(items).to_have_count(1)
    item = items.first
    assert item.get_attribute("data-type") == "multi"
    item.locator("label.opt", has=page.locator('input[value="A"]')).click()
    item.locator(".check-btn").click()
    expect(item.locator(".feedback")).to_have_attribute("data-correct", "false")
    for letter in "BD":
        item.locator("label.opt", has=page.locator(f'input[value="{letter}"]')).click()
    item.locator(".check-btn").click()
    expect(item.locator(".feedback")).to_have_attribute("data-correct", "true")
    expect(item.locator(".answer-text")).to_have_text("ABD")


# ---------------------------------------------------------------- a dropped connection
def test_unsent_answers_survive_a_dropped_connection(page, context, live_server, make_quiz, app):
    quiz = make_quiz()
    attempt_id = join(page, live_server, quiz["code"], phone="13800000006")
    sheet_url = page.url
    qid = int(card(page).get_attribute("data-qid"))

    # the network drops: saving fails, the answer stays on the phone
    page.route(re.compile(r"/api/v1/attempts/\d+/answers/"), lambda route: route.abort("internetdisconnected"))
    choose(page, "B")
    expect(card(page).locator(".save-state")).to_have_attribute("data-state", "failed")
    assert qid not in saved_answers(app, attempt_id)
    stored = page.evaluate(f"localStorage.getItem('quiz-sheet:{attempt_id}')")
    assert '"B"' in stored

    # the tab is closed; opened again later with a working connection, the answer is sent
    page.close()
    again = context.new_page()
    again.goto(sheet_url)
    expect(again.locator('#q-card input[value="B"]')).to_be_checked()
    assert wait_for(lambda: saved_answers(app, attempt_id).get(qid) == "B")
    expect(again.locator("#q-card .save-state")).to_have_attribute("data-state", "saved")
