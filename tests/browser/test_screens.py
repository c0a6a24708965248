"""The big screen (/board/<id>/screen) in a real browser at 1920×1080 and 1366×768 with 5 and 500
entries: the header stays in view, each entry is shown once, the rows line up with the header, it
scrolls only when the list is longer than the screen, and new results arrive without a reload;
the freeze holds. Screenshots go to bench/out/screens/."""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from quiz.extensions import db
from tests.browser.conftest import UNITS

SIZES = [(1920, 1080), (1366, 768)]
OUT = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"


def _out(name: str) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    return str(OUT / name)


def populate(app, quiz_id: int, count: int, *, prefix: str, start_phone: int = 0, ago: int = 1800) -> None:
    """`count` submitted sheets through the services: varied scores (0–4 right answers) and times,
    started `ago` seconds before now."""
    from quiz.models import Question, Quiz
    from quiz.models.base import utcnow
    from quiz.services import attempts as svc
    from tests.quizdata import right_response

    with app.app_context():
        quiz = db.session.get(Quiz, quiz_id)
        begin = utcnow() - timedelta(seconds=ago)
        questions = {}
        for i in range(count):
            at = begin + timedelta(seconds=i % 600)
            attempt = svc.join(quiz, name=f"{prefix}{i:03d}", phone=f"137{start_phone + i:08d}",
                               unit_path=UNITS[i % len(UNITS)], now=at).attempt
            for n, entry in enumerate(attempt.paper[: i % 5]):
                if entry["q"] not in questions:
                    questions[entry["q"]] = db.session.get(Question, entry["q"])
                question = questions[entry["q"]]
                svc.save_answer(attempt, question.id, right_response(question, entry),
                                now=at + timedelta(seconds=n + 1))
            svc.submit(attempt, now=at + timedelta(seconds=20 + (i * 7) % 500))
        db.session.commit()
        db.session.remove()


GEOMETRY = """() => {
  const vp = document.getElementById('viewport');
  const ths = [...document.querySelectorAll('#standings thead th')].map(th => th.getBoundingClientRect());
  const rows = document.querySelectorAll('#rows tr');
  const cols = r => [...r.cells].map(td => td.getBoundingClientRect());
  const head = ths[0];
  const hit = document.elementFromPoint(head.left + head.width / 2, head.top + head.height / 2);
  return {
    names: [...document.querySelectorAll('#rows td.name')].map(td => td.textContent),
    heads: ths.map(r => [r.left, r.right, r.top, r.bottom]),
    first: rows.length ? cols(rows[0]).map(r => [r.left, r.right]) : [],
    last: rows.length ? cols(rows[rows.length - 1]).map(r => [r.left, r.right]) : [],
    headerOnTop: !!hit && hit.closest('thead') !== null,
    scrollTop: vp.scrollTop, overflow: vp.scrollHeight - vp.clientHeight,
    pageScroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    screen: [innerWidth, innerHeight],
    scrolling: document.body.getAttribute('data-scrolling'),
  };
}"""


def _check(page, url: str, *, entries: int, scrolls: bool, shot: str) -> None:
    page.goto(url)
    g = page.evaluate(GEOMETRY)
    # each entry once, in rank order of the board
    assert len(g["names"]) == entries and len(set(g["names"])) == entries
    # the page itself never scrolls: the list scrolls inside its own viewport
    assert g["pageScroll"][0] <= g["screen"][0] and g["pageScroll"][1] <= g["screen"][1]
    # rows line up with the header, column by column (first and last row)
    for row in (g["first"], g["last"]):
        assert len(row) == 5
        for (hl, hr, _t, _b), (cl, cr) in zip(g["heads"], row):
            assert abs(hl - cl) <= 1 and abs(hr - cr) <= 1, (g["heads"], row)
    top = g["heads"][0][2]
    assert 0 <= top and g["heads"][0][3] <= g["screen"][1] and g["headerOnTop"]
    page.wait_for_timeout(4_500)  # the pause at the top is 3 s
    later = page.evaluate(GEOMETRY)
    if scrolls:
        assert g["overflow"] > 0 and later["scrolling"] == "true" and later["scrollTop"] > 0
        page.wait_for_timeout(1_000)
        assert page.evaluate(GEOMETRY)["scrollTop"] > later["scrollTop"]  # still moving, smoothly
    else:
        assert g["overflow"] <= 1 and later["scrolling"] == "false" and later["scrollTop"] == 0
    # the header has not moved and nothing is painted over it
    assert abs(later["heads"][0][2] - top) <= 1 and later["headerOnTop"]
    page.screenshot(path=_out(shot))


def test_big_screen_at_two_sizes_with_5_and_500_entries(browser, live_server, make_quiz, app):
    small, large = make_quiz(title="五人赛"), make_quiz(title="五百人赛")
    populate(app, small["id"], 5, prefix="甲")
    populate(app, large["id"], 500, prefix="乙", start_phone=1000)
    for width, height in SIZES:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                      timezone_id="Asia/Shanghai")
        page = context.new_page()
        base = f"{live_server}/board"
        _check(page, f"{base}/{small['id']}/screen?top=20&scroll=1", entries=5, scrolls=False,
               shot=f"screen-{width}x{height}-5.png")
        _check(page, f"{base}/{large['id']}/screen?top=20&scroll=1", entries=20, scrolls=True,
               shot=f"screen-{width}x{height}-500-top20.png")
        _check(page, f"{base}/{large['id']}/screen?top=500&scroll=1", entries=500, scrolls=True,
               shot=f"screen-{width}x{height}-500-all.png")
        context.close()


def test_new_results_appear_without_reload_and_the_freeze_holds(browser, live_server, make_quiz, app):
    from quiz.models import Quiz
    from quiz.models.base import utcnow
    from quiz.services.quizzes import reveal, set_freeze

    quiz = make_quiz()
    populate(app, quiz["id"], 5, prefix="甲")
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto(f"{live_server}/board/{quiz['id']}/screen?top=20&scroll=1&refresh=3")
    page.evaluate("window.__notReloaded = true")
    names = lambda: page.locator("#rows td.name").all_text_contents()  # noqa: E731
    assert len(names()) == 5

    populate(app, quiz["id"], 1, prefix="新来", start_phone=500)
    deadline = time.monotonic() + 8
    while "新来000" not in names() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert "新来000" in names() and len(names()) == 6 == len(set(names()))
    assert page.evaluate("window.__notReloaded === true")  # updated in place

    with app.app_context():
        set_freeze(db.session.get(Quiz, quiz["id"]), None, actor=None, now=utcnow())
        db.session.commit()
        db.session.remove()
    page.wait_for_selector("#frozen:not([hidden])", timeout=8_000)
    populate(app, quiz["id"], 1, prefix="封榜后", start_phone=600, ago=5)  # submitted after the freeze
    page.wait_for_timeout(4_000)
    assert "封榜后000" not in names()  # submitted after the freeze: not on the public screen
    page.screenshot(path=_out("screen-frozen.png"))
    with app.app_context():
        reveal(db.session.get(Quiz, quiz["id"]), actor=None)
        db.session.commit()
        db.session.remove()
    page.wait_for_selector("#frozen[hidden]", state="attached", timeout=8_000)
    deadline = time.monotonic() + 8
    while "封榜后000" not in names() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert "封榜后000" in names() and page.evaluate("window.__notReloaded === true")
    context.close()


@pytest.mark.parametrize("top", ["abc", "0", "100000"])
def test_odd_top_values_still_render(client, make_quiz, top):
    quiz = make_quiz()
    assert client.get(f"/board/{quiz['id']}/screen?top={top}&refresh=x").status_code == 200
