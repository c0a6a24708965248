"""Every participant, public and organiser page on phones 360 and 430 px wide (Debian chromium):
the page never scrolls sideways (document.documentElement.scrollWidth <= the viewport width; a
wide table scrolls inside its own box) and no short text such as a name is broken over lines
(it was shown one character per line). Data: the demo's sample units, roster, banks and quizzes.
Screenshots of every page go to bench/out/layouts/."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from quiz.extensions import db

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None

WIDTHS = [360, 430]
OUT = Path(__file__).resolve().parents[2] / "bench" / "out" / "layouts"
PASSWORD = "demo-pass-123"

# Text nodes (2–40 characters) rendered on more lines than allowed: a short text (≤ 6 characters:
# a name, a status, a number) must stay on one line; a longer one must not have one character per
# line. Hidden elements, scripts and option lists are skipped.
BROKEN_TEXT = """() => {
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    const chars = [...text];
    if (chars.length < 2 || chars.length > 40) continue;
    const el = node.parentElement;
    if (!el || el.closest('script, style, noscript, svg, select, datalist, title, [hidden]')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0.5 && r.height > 0.5);
    if (!rects.length) continue;
    const lines = new Set(rects.map(r => Math.round(r.top))).size;
    if ((chars.length <= 6 && lines > 1) || (lines >= 2 && lines >= chars.length)) {
      bad.push(text + ' (' + lines + ' lines)');
    }
  }
  return bad;
}"""


@pytest.fixture
def demo_site(app):
    """The demo data plus a quiz that has not opened yet, an open sheet and a submitted one."""
    from quiz import ROOT
    from quiz.models import Attempt, Bank, Question, Unit
    from quiz.models.base import utcnow
    from quiz.services import attempts as svc
    from quiz.services.demo import load_demo
    from quiz.services.quizzes import create_quiz
    from sqlalchemy import select

    with app.app_context():
        now = utcnow()
        result = load_demo(ROOT, now=now, password_factory=lambda: PASSWORD)
        finished, open_quiz = result.quizzes
        later = create_quiz({"title": "下周的知识竞赛（未开始）", "banks": [b.name for b in finished.banks],
                             "rules": [{"type": "单选", "count": 5, "points": 2}], "duration_seconds": 600,
                             "opens_at": now + timedelta(days=7)}, actor=None, now=now)
        done = db.session.execute(select(Attempt).where(Attempt.quiz_id == finished.id)
                                  .order_by(Attempt.score.desc())).scalars().first()
        sheet = svc.join(open_quiz, name="王芳", phone="13800138001", unit_path="乔司街道/永丰村", now=now).attempt
        db.session.commit()
        site = {
            "finished": finished.id, "finished_code": finished.join_code, "open_code": open_quiz.join_code,
            "open": open_quiz.id, "later_code": later.join_code,
            "result": f"/a/{done.id}/result?token={svc.attempt_token(done)}",
            "sheet": f"/a/{sheet.id}?token={svc.attempt_token(sheet)}",
            "bank": db.session.execute(select(Bank.id).order_by(Bank.id)).scalars().first(),
            "question": db.session.execute(select(Question.id).order_by(Question.id)).scalars().first(),
            "unit": db.session.execute(select(Unit.id).where(Unit.path == "乔司街道/三角村社区")).scalar_one(),
        }
        db.session.remove()
    return site


def participant_pages(site) -> list[str]:
    return ["/", "/login", "/j", f"/j/{site['open_code']}?open", f"/j/{site['finished_code']}?closed",
            f"/j/{site['later_code']}?not-open", site["sheet"], site["result"], "/me/wrong",
            f"/board/{site['finished']}", f"/board/{site['finished']}?page=1&q=张",
            f"/board/{site['finished']}/screen?top=20&scroll=1", "/no-such-page"]


def organiser_pages(site) -> list[str]:
    quiz = site["finished"]
    return ["/", "/quizzes/", "/quizzes/new", f"/quizzes/{quiz}", f"/quizzes/{site['open']}",
            f"/quizzes/{quiz}/leaderboard", f"/quizzes/{quiz}/report", f"/quizzes/{quiz}/analysis",
            f"/quizzes/{quiz}/regrade", "/points", "/points?period=custom&start=2026-01-01&end=2027-01-01",
            "/banks/", f"/banks/{site['bank']}", f"/banks/questions/{site['question']}/edit",
            "/people/", "/people/accounts", "/units/", f"/units/{site['unit']}/edit"]


def _slug(path: str) -> str:
    path = re.sub(r"/j/[A-Z0-9]{6}", "/j", path.split("?token=")[0])  # join codes differ per run
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")[:50] or "home"


def _phone(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 800}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    return context


def _problems(page, base: str, path: str, width: int, name: str) -> list[str]:
    response = page.goto(base + path)
    assert response is not None and response.status < 500, (path, response and response.status)
    page.wait_for_load_state("load")
    problems = []
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        wide = page.evaluate("""(width) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest('.table, table'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""",
                             width)
        problems.append(f"{path}: page is {scroll_width}px wide at {width}px ({wide})")
    broken = page.evaluate(BROKEN_TEXT)
    if broken:
        problems.append(f"{path}: text broken over lines at {width}px: {broken[:8]}")
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{width}-{name}.png"))
    return problems


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_a_phone(browser, live_server, demo_site, width):
    problems = []
    # participants and the public: no account
    context = _phone(browser, width)
    page = context.new_page()
    for i, path in enumerate(participant_pages(demo_site)):
        if path == "/me/wrong":  # the 错题本 of someone who joined in this browser
            page.goto(f"{live_server}/j/{demo_site['open_code']}")
            page.fill("#name", "张伟")
            page.fill("#phone", "13800138000")
            page.fill("#unit", "乔司街道/三角村社区")
            page.click("#join-submit")
            page.wait_for_url(re.compile(r"/a/\d+$"))
        problems += _problems(page, live_server, path, width, f"p{i:02d}-{_slug(path)}")
    context.close()

    # organisers (logged in as the demo admin)
    context = _phone(browser, width)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("main button.primary")
    page.wait_for_url(f"{live_server}/")
    for i, path in enumerate(organiser_pages(demo_site)):
        problems += _problems(page, live_server, path, width, f"o{i:02d}-{_slug(path)}")
    context.close()
    assert not problems, "\n".join(problems)


def test_names_on_the_public_board_stay_whole(browser, live_server, demo_site):
    """The defect as reported: on a 360 px phone the public board showed 张伟 as 张 / 伟."""
    context = _phone(browser, 360)
    page = context.new_page()
    page.goto(f"{live_server}/board/{demo_site['finished']}")
    cells = page.locator("table.board tbody tr td:nth-child(2)")
    expect(cells.first).to_be_visible()
    heights = page.evaluate("""() => [...document.querySelectorAll('table.board tbody tr td:nth-child(2)')].map(td => {
        const r = document.createRange(); r.selectNodeContents(td);
        return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })""")
    assert heights and max(heights) == 1, heights
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_quiz_page_flag_column_can_be_reached(browser, live_server, demo_site, width):
    """The answer-sheet table of the organiser's quiz page scrolls inside its box, so its last
    column (标记 / flags) can be brought into view; the page itself does not scroll sideways."""
    context = _phone(browser, width)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("main button.primary")
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/quizzes/{demo_site['finished']}")
    box = page.evaluate("""(width) => {
        const table = document.getElementById('sheets');
        table.scrollLeft = table.scrollWidth;
        const last = table.querySelector('thead th:last-child').getBoundingClientRect();
        const cell = table.querySelector('tbody tr td:last-child').getBoundingClientRect();
        const name = table.querySelector('tbody tr td:first-child').getBoundingClientRect();
        const frame = table.getBoundingClientRect();
        return {left: last.left, right: last.right, cellRight: cell.right, page: document.documentElement.scrollWidth,
                nameLeft: name.left, frameLeft: frame.left, scrolled: table.scrollLeft};
    }""", width)
    assert 0 <= box["left"] and box["right"] <= width and box["cellRight"] <= width and box["page"] <= width, box
    # scrolled to the flags, the name column is still in view (it sticks to the left edge)
    assert box["scrolled"] > 0 and abs(box["nameLeft"] - box["frameLeft"]) <= 1, box
    context.close()
