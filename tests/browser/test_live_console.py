"""Real browser: the organiser's side of a live contest under the Content Security Policy — the
set-up page (round settings by type, rows added, the question picker) and the host console driven
by its keyboard shortcuts and forms: commands, judging, undo, a refused command shown, a stake
entered for a team, a correction, pause, sound, a change pushed from elsewhere, finish."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from quiz.extensions import db
from tests.browser.conftest import watch_csp
from tests.conftest import HEADER, csv_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None

ROWS = [HEADER] + [["单选", f"现场单选题{i}", "甲", "乙", "丙", "丁", "B", f"解析{i}", "", "", ""] for i in range(12)]
TEAMS = [("三角村社区", "乔司街道/三角村社区"), ("永丰村", "乔司街道/永丰村")]


@pytest.fixture
def organiser(app):
    from quiz.models.base import utcnow
    from quiz.services.importer import import_bank_file
    from quiz.services.people import create_user
    from quiz.services.units import ensure_path

    with app.app_context():
        now = utcnow()
        for _name, path in TEAMS:
            ensure_path(path.split("/"), actor=None, now=now, headcount=50)
        from quiz.models import Unit

        street = db.session.execute(select(Unit).where(Unit.path == "乔司街道")).scalar_one()
        create_user("zhuchi", role="organiser", password="secret-pass", unit=street, now=now)
        import_bank_file("现场题库", csv_bytes(ROWS), "b.csv", actor=None, now=now, unit=street)
        db.session.commit()
    return "zhuchi"


@pytest.fixture
def desk(browser):
    """A desktop browser (the host's laptop); fails the test on any CSP violation."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    yield context
    context.close()
    assert not violations, "pages broke the Content Security Policy:\n" + "\n".join(violations)


def _login(page, server, username):
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "secret-pass")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_setup_page_in_a_browser(desk, live_server, organiser, app):
    page = desk.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server, organiser)
    page.click("nav >> text=现场赛")
    page.click("text=新建现场赛")
    page.fill("input[name=title]", "街道知识竞赛决赛")
    page.check("#banks input[type=checkbox]")
    page.select_option("select[name='entrants-0-unit']", label="乔司街道/三角村社区")
    page.select_option("select[name='entrants-1-unit']", label="乔司街道/永丰村")
    page.fill("input[name='entrants-1-name']", "永丰村代表队")
    # a round shows the settings of its type only, and its question source
    first = page.locator("[data-round]").nth(0)
    expect(first.locator('[data-settings="buzzer"]')).to_be_hidden()
    page.select_option("select[name='rounds-0-type']", "buzzer")
    expect(first.locator('[data-settings="buzzer"]')).to_be_visible()
    expect(first.locator('[data-settings="required"]')).to_be_hidden()
    page.fill("input[name='rounds-0-s_buzzer_points']", "20")
    first.locator('[data-source="pick"]').check()
    expect(first.locator('[data-when="draw"]')).to_be_hidden()
    first.locator("[data-find]").click()
    expect(page.locator("#question-picker")).to_be_visible()
    page.fill("#picker-q", "现场单选题1")
    page.click("#picker-search")
    expect(page.locator("#picker-results li")).to_have_count(3)  # 1, 10, 11
    page.locator("#picker-results li", has_text="现场单选题10").locator("button").click()
    page.locator("#picker-results li", has_text="现场单选题11").locator("button").click()
    page.locator("#question-picker button", has_text="关闭").click()
    ids = page.input_value("textarea[name='rounds-0-questions']").split()
    assert len(ids) == 2
    # a fifth round row, numbered and named like the others
    page.click("button[data-add=rounds]")
    expect(page.locator("[data-round]")).to_have_count(5)
    page.select_option("select[name='rounds-4-type']", "required")
    page.fill("input[name='rounds-4-draw_single']", "2")
    page.fill("input[name='rounds-4-title']", "加时必答")
    page.click("button[data-add=entrants]")
    page.fill("input[name='entrants-4-name']", "机关队")
    page.click("main button.primary[type=submit]")
    page.wait_for_url(re.compile(r".*/live/\d+/host$"))
    expect(page.locator("#run-sheet")).to_contain_text("现场单选题10")
    expect(page.locator("#scores")).to_contain_text("机关队")
    assert not errors, errors
    from quiz.models.live import LiveContest

    with app.app_context():
        contest = db.session.execute(select(LiveContest)).scalar_one()
        assert [(r.type, r.title, [q.question.stem for q in r.questions]) for r in contest.rounds][0] == \
            ("buzzer", "抢答题", ["现场单选题10", "现场单选题11"])
        assert (contest.rounds[1].type, contest.rounds[1].title, len(contest.rounds[1].questions)) == \
            ("required", "加时必答", 2)
        assert [e.name for e in contest.entrants] == ["三角村社区", "永丰村代表队", "机关队"]


def _contest(app) -> dict:
    from quiz.models.base import utcnow
    from quiz.services import live

    with app.app_context():
        contest = live.create_contest({
            "title": "现场赛主持台测试", "unit": "乔司街道", "banks": ["现场题库"],
            "entrants": [{"name": name, "unit": path, "base_score": 100} for name, path in TEAMS],
            "rounds": [{"type": "必答", "title": "必答题", "rules": [{"type": "单选", "count": 2}]},
                       {"type": "风险题", "title": "风险题", "rules": [{"type": "单选", "count": 2}],
                        "settings": {"values": [10, 20, 30]}}]}, actor=None, now=utcnow())
        db.session.commit()
        return {"id": contest.id, "wager": contest.rounds[1].questions[0].id}


def _total(page, name):
    return page.locator("#scores tbody tr", has_text=name).locator("td.total")


def test_host_console_drives_a_contest_from_the_keyboard(desk, live_server, organiser, app, token_for):
    contest = _contest(app)
    page = desk.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server, organiser)
    page.goto(f"{live_server}/live/{contest['id']}/host")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "lobby")
    expect(page.locator("#shortcuts")).to_contain_text("撤销上一次判定")
    expect(page.locator('[data-command="judge"][data-right="1"]')).to_be_disabled()

    page.locator("h1").click()  # the focus on the page, not in a field
    page.keyboard.press("o")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "open")
    expect(page.locator("#current")).to_contain_text("现场单选题")
    expect(page.locator("#current .host-answer")).to_contain_text("B. 乙")  # the host sees the answer
    expect(page.locator("#turn")).to_contain_text("三角村社区")
    expect(page.locator("#run-sheet li.current")).to_have_count(1)
    page.keyboard.press("s")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "started")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^\d+$"))
    page.keyboard.press("y")
    expect(_total(page, "三角村社区")).to_have_text("110")
    expect(page.locator("#scores tbody tr").first).to_contain_text("三角村社区")
    expect(page.locator("#ledger li").first).to_contain_text("答题")
    page.keyboard.press("u")
    expect(page.locator("#ledger li").first).to_contain_text("撤销")
    expect(_total(page, "三角村社区")).to_have_text("100")
    page.keyboard.press("x")
    expect(page.locator("#judged")).to_contain_text("答错")
    page.keyboard.press("r")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "revealed")

    # the 风险题 out of order: starting before the stake is refused, and the refusal is shown
    page.keyboard.press("n")
    expect(page.locator("#turn")).to_contain_text("永丰村")
    page.keyboard.press("c")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "closed")
    item = page.locator(f'[data-question="{contest["wager"]}"]')
    item.locator("summary").click()
    item.locator("[data-open-question]").click()
    expect(page.locator("#wager-form")).to_be_visible()
    page.locator("h1").click()
    page.keyboard.press("s")
    expect(page.locator("#command-error")).to_be_visible()
    expect(page.locator("#command-error-text")).to_contain_text("分值")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "open")
    page.click("#command-error-close")
    expect(page.locator("#command-error")).to_be_hidden()
    page.select_option("#wager-form select[name=value]", "20")
    page.click("#wager-form button[type=submit]")
    expect(page.locator("#stake")).to_contain_text("20")
    page.click('button[data-command="start"]')
    expect(page.locator("#wager-form")).to_be_hidden()
    turn = page.locator("#turn").inner_text()
    page.click('button[data-command="judge"][data-right="1"]')
    winner = "三角村社区" if "三角村社区" in turn else "永丰村"
    expect(_total(page, winner)).to_have_text("120")

    # a correction with its reason, audited in the ledger
    page.select_option("#correct-form select[name=entrant]", label="永丰村")
    page.fill("#correct-form input[name=points]", "-5")
    page.fill("#correct-form input[name=reason]", "提示后作答，裁判组扣分")
    page.click("#correct-form button[type=submit]")
    expect(page.locator("#ledger li").first).to_contain_text("提示后作答，裁判组扣分")
    expect(page.locator("#correct-form input[name=reason]")).to_have_value("")

    # pause and resume, sound off
    page.locator("h1").click()
    page.keyboard.press("p")
    expect(page.locator("#paused")).to_be_visible()
    expect(page.locator('[data-command="resume"]')).to_be_enabled()
    page.keyboard.press("p")
    expect(page.locator("#paused")).to_be_hidden()
    page.click('button[data-command="sound"]')
    expect(page.locator('button[data-command="sound"]')).to_have_attribute("aria-pressed", "false")

    # a command from elsewhere (the API) reaches the console by push, without a reload
    token = token_for(organiser)
    reply = app.test_client().post(f"/api/v1/live/{contest['id']}/host/scoreboard",
                                   headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    expect(page.locator("#phase")).to_have_attribute("data-phase", "scoreboard")

    # a reload shows the same state at once; finishing asks first
    page.reload()
    expect(page.locator("#phase")).to_have_attribute("data-phase", "scoreboard")
    expect(_total(page, winner)).to_have_text("120")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('button[data-command="finish"]')
    expect(page.locator("#host")).to_have_attribute("data-status", "finished")
    expect(page.locator('[data-command="open"]')).to_be_disabled()
    assert not errors, errors
