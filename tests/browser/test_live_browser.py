"""A live stage contest in a real browser: the host's console, the big screen (1920×1080 and a
second one at 1366×768) and two phones, each in its own browser context, play a three-round
contest to the podium — 抢答 on a picture question (an early buzz, a buzz, a judging), 风险题 (a stake chosen on the
phone, a wrong answer), 共答 (a pause; both phones answer; one answer survives a network drop)
— and a phone reloads mid-contest and keeps its score and place, as does a third phone joining
with the same phone number. At each stage the big screens must fit
(no scrollbar, nothing outside the window, the question not cut off).

Screenshots of the big screen at each stage (lobby, question, buzz, reveal, question-long,
scoreboard, podium; 1920×1080, and the same at 1366×768 with a -1366 suffix) and of the phones
(phone-*.png, 360 px wide) are written to bench/out/live/ by every run, CI's included
(bench/out/ is git-ignored)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from quiz.extensions import db
from tests.browser.conftest import UNITS, watch_csp
from tests.conftest import HEADER, csv_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None

OUT = Path(__file__).resolve().parents[2] / "bench" / "out" / "live"
PHONE = {"width": 360, "height": 740}
ROWS = [HEADER,
        ["单选", "抢答题：党的二十大在哪一年召开？", "2021年", "2022年", "2023年", "2024年", "B", "2022年10月召开。", "", "", ""],
        # a long question with long options: the big screen shrinks it to fit
        ["单选", "风险题：党的二十大报告指出，全面从严治党永远在路上，党的自我革命永远在路上。新时代党的建设总要求中强调，"
         "以加强党的长期执政能力建设、先进性和纯洁性建设为主线，以党的政治建设为统领，以坚定理想信念宗旨为根基，"
         "以调动全党积极性、主动性、创造性为着力点。在新时代党的建设总要求中，被摆在首位的是哪一项建设？",
         "党的政治建设，这是党的根本性建设，决定党的建设方向和效果", "党的思想建设，这是党的基础性建设，要用党的创新理论武装全党",
         "党的组织建设，要建设堪当民族复兴重任的高素质干部队伍", "党的作风建设，要锲而不舍落实中央八项规定精神", "A",
         "把党的政治建设摆在首位。", "", "", ""],
        ["判断", "共答题：为人民服务是党的根本宗旨。", "", "", "", "", "对", "全心全意为人民服务。", "", "", ""]]
TEAMS = [("三角村社区", "乔司街道/三角村社区", "张三", "13800000001"),
         ("永丰村", "乔司街道/永丰村", "李四", "13800000002")]

# The screen fits its window: no scrollbar, every shown element inside the window, the question
# and the side panel not cut off (they shrink to fit).
FITS = """() => {
  const de = document.documentElement, W = innerWidth, H = innerHeight, out = [];
  for (const node of document.querySelectorAll('#screen .view:not([hidden]) *, #screen .bar *')) {
    if (node.closest('[hidden]')) continue;
    const r = node.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) out.push((node.id || node.className) + ' ' +
      [r.left, r.top, r.right, r.bottom].map(Math.round).join(','));
  }
  const cut = ['main', 'side'].filter(id => {
    const n = document.getElementById(id);
    return n.closest('[hidden]') === null && n.scrollHeight > n.clientHeight + 1;
  });
  return {scroll: [de.scrollWidth <= W, de.scrollHeight <= H], outside: out.slice(0, 5), cut};
}"""


def _shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"))


def _phone_shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def _fits(page, stage: str) -> None:
    page.wait_for_timeout(150)
    result = page.evaluate(FITS)
    assert result == {"scroll": [True, True], "outside": [], "cut": []}, (stage, page.viewport_size, result)


def _picture() -> bytes:
    """A 1200×800 PNG: a red bar under a yellow sun on blue."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1200, 800), "#335577")
    draw = ImageDraw.Draw(image)
    draw.rectangle([100, 520, 1100, 660], fill="#aa2222")
    draw.ellipse([450, 150, 750, 450], fill="#ffdd44")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def contest(app):
    """A teams contest with three rounds (one question each) over a three-question bank; each team
    registered one member's phone. → {"id", "code", "teams": {name: entrant id}}"""
    from quiz.models import Question
    from quiz.models.base import utcnow
    from quiz.services import live, pictures
    from quiz.services.importer import import_bank_file
    from quiz.services.units import ensure_path

    with app.app_context():
        now = utcnow()
        for path in UNITS:
            ensure_path(path.split("/"), actor=None, now=now, headcount=50)
        report = import_bank_file("现场赛题库", csv_bytes(ROWS), "live.csv", actor=None, now=now)
        assert report.accepted, report.as_dict()
        questions = {q.stem[:3]: q for q in db.session.execute(select(Question)).scalars()}
        ids = {key: q.id for key, q in questions.items()}
        questions["抢答题"].picture = pictures.store(pictures.check_picture(_picture()))  # a 看图题
        created = live.create_contest({
            "title": "“学习二十大 奋进新征程”知识竞赛决赛", "mode": "teams", "banks": ["现场赛题库"],
            "entrants": [{"name": name, "unit": unit, "base_score": 100, "members": [{"name": person, "phone": phone}]}
                         for name, unit, person, phone in TEAMS],
            "rounds": [
                {"type": "抢答", "title": "第一轮 抢答题", "questions": [ids["抢答题"]],
                 "settings": {"points": 20, "deduct": 10, "early_penalty": 5, "time_seconds": 120}},
                {"type": "风险题", "title": "第二轮 风险题", "questions": [ids["风险题"]],
                 "settings": {"values": [10, 20, 30], "time_seconds": 120}},
                {"type": "共答", "title": "第三轮 共答题", "questions": [{"id": ids["共答题"], "points": 10}],
                 "settings": {"time_seconds": 120}}]}, actor=None, now=now)
        db.session.commit()
        return {"id": created.id, "code": created.join_code, "teams": {e.name: e.id for e in created.entrants}}


def _host_page(browser, live_server, app, contest_id):
    from quiz.models.base import utcnow
    from quiz.services.people import create_user

    with app.app_context():
        create_user("live-host", role="admin", password="secret-pass", now=utcnow())
        db.session.commit()
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "live-host")
    page.fill("input[name=password]", "secret-pass")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    page.goto(f"{live_server}/live/{contest_id}/host")
    return context, page, violations


def command(host, name: str, *, right: bool | None = None) -> None:
    """Run a host command by clicking the console's button (its DOM contract: data-command, and
    data-right for judging)."""
    selector = f'button[data-command="{name}"]'
    if right is not None:
        selector += f'[data-right="{1 if right else 0}"]'
    host.locator(selector).first.click()


def _phone(browser, live_server, code):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(f"{live_server}/l/{code}")
    return context, page, violations


def _join(page, name, phone, unit):
    page.fill("#name", name)
    page.fill("#phone-number", phone)
    page.fill("#unit", unit)
    page.click("#join-submit")
    expect(page.locator("#play-view")).to_be_visible()


def _screen(browser, live_server, contest_id, size):
    context = browser.new_context(viewport=size, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(f"{live_server}/live/{contest_id}/screen")
    page.locator("#screen").click()  # the one click a browser needs before it plays sound
    return context, page, violations


def _row_order(page):
    return page.locator("#score-rows > li").evaluate_all("rows => rows.map(r => r.querySelector('.name').textContent)")


def test_a_live_contest_in_the_browser(browser, live_server, app, contest):
    code, teams = contest["code"], contest["teams"]
    host_ctx, host, host_violations = _host_page(browser, live_server, app, contest["id"])
    big_ctx, big, big_violations = _screen(browser, live_server, contest["id"], {"width": 1920, "height": 1080})
    small_ctx, small, small_violations = _screen(browser, live_server, contest["id"], {"width": 1366, "height": 768})
    screens = [(big, ""), (small, "-1366")]
    a_ctx, a, a_violations = _phone(browser, live_server, code)
    b_ctx, b, b_violations = _phone(browser, live_server, code)

    def stage(name: str) -> None:
        for page, suffix in screens:
            _fits(page, name)
            _shot(page, f"{name}{suffix}")

    try:
        # ---- the lobby: QR code, the code, how many joined
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "lobby")
            expect(page.locator("#join-qr svg")).to_be_visible()
            expect(page.locator("#join-code")).to_have_text(code)
            expect(page.locator("#joined")).to_have_text("0")
        _join(a, "张三", "13800000001", "乔司街道/三角村社区")
        _join(b, "李四", "13800000002", "乔司街道/永丰村")
        expect(a.locator("#my-name")).to_have_text("三角村社区")
        expect(b.locator("#my-name")).to_have_text("永丰村")
        expect(a.locator("#my-score")).to_have_text("100")
        for page, _suffix in screens:
            expect(page.locator("#joined")).to_have_text("2")
            expect(page.locator("#sound-hint")).to_be_hidden()  # the click allowed sound
        stage("lobby")

        # ---- round 1, 抢答: an early buzz costs 5 and locks out; a buzz, a judging
        command(host, "open")
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "open")
            expect(page.locator("#question")).to_contain_text("党的二十大在哪一年召开")
            expect(page.locator("#question #options li")).to_have_count(4)
            # the question's picture, shown large: at least a third of the window's width
            expect(page.locator("#q-image img")).to_be_visible()
            shown = page.locator("#q-image img").evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
            assert shown[0] > 0 and shown[1] >= page.viewport_size["width"] / 3, shown
        expect(a.locator("#q-image img")).to_be_visible()  # fitted on the phone
        assert a.locator("#q-image img").evaluate("i => i.naturalWidth > 0 && i.getBoundingClientRect().width <= 360")
        expect(a.locator("#buzz")).to_be_enabled()
        a.locator("#buzz").click()  # before the start: early
        expect(a.locator("#phone")).to_have_attribute("data-buzz", "early")
        expect(a.locator("#buzz")).to_be_disabled()
        expect(a.locator("#my-score")).to_have_text("95")
        _phone_shot(a, "phone-early")
        command(host, "start")
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "started")
            # 120 s, counting down
            expect(page.locator("#question #countdown")).to_contain_text(re.compile(r"^1[01]\d"))
            expect(page.locator("#early")).to_contain_text("三角村社区")
        expect(big.locator("#screen")).to_have_attribute("data-last-sound", re.compile(r"^start:"))
        stage("question")
        expect(b.locator("#buzz")).to_be_enabled()
        b.locator("#buzz").click()
        expect(b.locator("#buzz-note")).to_contain_text("1")
        for page, _suffix in screens:
            expect(page.locator("#buzz-list li")).to_have_count(1)
            expect(page.locator("#buzz-list li.first")).to_contain_text("永丰村")
        expect(big.locator("#screen")).to_have_attribute("data-last-sound", re.compile(r"^buzz:"))
        expect(b.locator("#status")).to_contain_text("你方作答")  # "your side answers now"
        stage("buzz")
        _phone_shot(b, "phone-buzz")
        command(host, "judge", right=True)
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "closed")
            expect(page.locator("#judged")).to_contain_text("永丰村")
            expect(page.locator("#judged")).to_contain_text("+20")
        expect(big.locator("#screen")).to_have_attribute("data-last-sound", re.compile(r"^right:"))
        expect(b.locator("#feedback")).to_have_class(re.compile(r"\bright\b"))
        expect(b.locator("#my-score")).to_have_text("120")
        command(host, "reveal")
        for page, _suffix in screens:
            expect(page.locator("#answer")).to_be_visible()
            expect(page.locator("#answer-text")).to_have_text("B")
            expect(page.locator('#options li.right[data-key="B"]')).to_have_count(1)
            expect(page.locator("#explanation")).to_contain_text("2022年10月")
        stage("reveal")
        command(host, "scoreboard")
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "scoreboard")
            expect(page.locator("#scoreboard [data-entrant]")).to_have_count(2)
            expect(page.locator(f'#score-rows li[data-entrant="{teams["永丰村"]}"] .badge')).to_have_text("+20")
            expect(page.locator(f'#score-rows li[data-entrant="{teams["永丰村"]}"] .total')).to_have_text("120")
            assert _row_order(page) == ["永丰村", "三角村社区"]

        # ---- round 2, 风险题: the leader stakes on its phone before the question shows
        command(host, "next")
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "open")
            expect(page.locator("#q-hidden")).to_contain_text("永丰村")
            expect(page.locator("#q-stem")).to_be_hidden()
        expect(a.locator("#stakes")).to_be_hidden()
        expect(a.locator("#status")).to_contain_text("永丰村")
        _phone_shot(b, "phone-stake")
        b.locator('button[data-stake="20"]').click()
        for page, _suffix in screens:
            expect(page.locator("#q-hidden")).to_contain_text("20")
        expect(b.locator('button[data-stake="20"]')).to_have_class(re.compile(r"\bchosen\b"))
        # a phone drops mid-contest (reload): it is back at once, same team, same score and place
        a.reload()
        expect(a.locator("#play-view")).to_be_visible()
        expect(a.locator("#join-view")).to_be_hidden()
        expect(a.locator("#my-name")).to_have_text("三角村社区")
        expect(a.locator("#my-score")).to_have_text("95")
        expect(a.locator("#my-rank")).to_have_text("2 / 2")
        # …and on another phone the same phone number is the same player (score and place kept)
        c_ctx, c, c_violations = _phone(browser, live_server, code)
        try:
            _join(c, "张三", "13800000001", "")
            expect(c.locator("#my-name")).to_have_text("三角村社区")
            expect(c.locator("#my-score")).to_have_text("95")
            expect(c.locator("#my-rank")).to_have_text("2 / 2")
        finally:
            c_ctx.close()
        assert not c_violations, c_violations
        command(host, "start")
        for page, _suffix in screens:
            expect(page.locator("#q-stem")).to_contain_text("被摆在首位")
            expect(page.locator("#q-points")).to_contain_text("20")
        stage("question-long")
        command(host, "judge", right=False)
        for page, _suffix in screens:
            expect(page.locator("#judged")).to_have_class(re.compile(r"\bwrong\b"))
            expect(page.locator("#judged")).to_contain_text("−20")
        expect(big.locator("#screen")).to_have_attribute("data-last-sound", re.compile(r"^wrong:"))
        expect(b.locator("#my-score")).to_have_text("100")

        # ---- round 3, 共答 on both phones; one answer is sent through a network drop
        command(host, "next")
        for page, _suffix in screens:
            expect(page.locator("#q-stem")).to_contain_text("为人民服务")
        expect(a.locator('button[data-answer="正确"]')).to_be_disabled()  # not started yet
        command(host, "start")
        expect(a.locator('button[data-answer="正确"]')).to_be_enabled()
        # the host pauses: the screens say so and their clocks stop; the phones wait
        command(host, "pause")
        for page, _suffix in screens:
            expect(page.locator("#paused")).to_be_visible()
        frozen = big.locator("#countdown-num").text_content()
        big.wait_for_timeout(1200)
        assert big.locator("#countdown-num").text_content() == frozen
        expect(a.locator('button[data-answer="正确"]')).to_be_disabled()
        expect(a.locator("#status")).to_contain_text("暂停")
        command(host, "resume")
        for page, _suffix in screens:
            expect(page.locator("#paused")).to_be_hidden()
        expect(a.locator('button[data-answer="正确"]')).to_be_enabled()
        a.locator('button[data-answer="正确"]').click()
        expect(a.locator("#phone")).to_have_attribute("data-save", "saved")
        b_ctx.set_offline(True)
        b.locator('button[data-answer="错误"]').click()
        expect(b.locator("#phone")).to_have_attribute("data-save", "retry")
        expect(b.locator('button[data-answer="错误"]')).to_have_attribute("aria-pressed", "true")
        b_ctx.set_offline(False)
        expect(b.locator("#phone")).to_have_attribute("data-save", "saved", timeout=15_000)
        command(host, "close")
        command(host, "reveal")
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "revealed")
            expect(page.locator('#answer #distribution .dist-row[data-key="正确"] .dist-count')).to_have_text("1")
            expect(page.locator('#distribution .dist-row[data-key="错误"] .dist-count')).to_have_text("1")
        expect(a.locator("#feedback")).to_have_class(re.compile(r"\bright\b"))
        expect(a.locator("#feedback")).to_contain_text("+10")
        expect(b.locator("#feedback")).to_have_class(re.compile(r"\bwrong\b"))
        expect(a.locator("#my-score")).to_have_text("105")
        _phone_shot(a, "phone-right")
        for page, _suffix in screens:
            _fits(page, "reveal, phones")

        # ---- the scoreboard: 三角村社区 overtakes 永丰村; the rows start in the order before the
        # latest scoring and move (FLIP), with the points won and the rank change
        command(host, "scoreboard")
        expect(big.locator("#screen")).to_have_attribute("data-phase", "scoreboard")
        assert _row_order(big) == ["永丰村", "三角村社区"]  # before: 100 and 95
        for page, _suffix in screens:
            row = page.locator(f'#score-rows li[data-entrant="{teams["三角村社区"]}"]')
            expect(row.locator(".badge")).to_have_text("+10")
            expect(row.locator(".change")).to_have_text("▲1")
            expect(row.locator(".total")).to_have_text("105")
            expect(row).to_have_attribute("data-rank", "1")
        big.wait_for_timeout(1500)  # the rows slide and the totals count up
        for page, _suffix in screens:
            assert _row_order(page) == ["三角村社区", "永丰村"]
        stage("scoreboard")

        # ---- the podium (the contest has no more questions)
        command(host, "next")
        for page, _suffix in screens:
            expect(page.locator("#screen")).to_have_attribute("data-phase", "podium")
            expect(page.locator('#podium .step[data-rank="1"]')).to_contain_text("三角村社区")
            expect(page.locator('#podium .step[data-rank="1"]')).to_contain_text("105")
            expect(page.locator('#podium .step[data-rank="2"]')).to_contain_text("永丰村")
        expect(big.locator("#screen")).to_have_attribute("data-last-sound", re.compile(r"^fanfare:"))
        expect(a.locator("#status")).to_contain_text("105")
        big.wait_for_timeout(2000)  # the steps rise
        stage("podium")

        # ---- the host switches the sound off: the screen follows
        command(host, "sound")
        expect(big.locator("#screen")).to_have_attribute("data-sound", "off")
    finally:
        for ctx in (a_ctx, b_ctx, big_ctx, small_ctx, host_ctx):
            ctx.close()
    violations = host_violations + big_violations + small_violations + a_violations + b_violations
    assert not violations, "pages broke the Content Security Policy:\n" + "\n".join(violations)


def test_screen_shows_a_dropped_stream_and_recovers(browser, live_server, app, contest):
    """The big screen loses the network: a discreet mark shows; back online it reconnects by
    itself and shows the current state at once (a question opened meanwhile)."""
    from quiz.models.base import utcnow
    from quiz.models.live import LiveContest
    from quiz.services import live

    context, page, violations = _screen(browser, live_server, contest["id"], {"width": 1366, "height": 768})
    try:
        expect(page.locator("#screen")).to_have_attribute("data-connection", "live")
        context.set_offline(True)
        expect(page.locator("#reconnecting")).to_be_visible()
        with app.app_context():
            live.command(db.session.get(LiveContest, contest["id"]), "open", {}, actor=None, now=utcnow())
            db.session.commit()
        context.set_offline(False)
        expect(page.locator("#screen")).to_have_attribute("data-phase", "open", timeout=15_000)
        expect(page.locator("#reconnecting")).to_be_hidden()
        expect(page.locator("#question")).to_contain_text("党的二十大")
        # a reload shows the current state at once (from the page, before the stream answers)
        page.route(re.compile(r".*/stream.*"), lambda route: route.abort())
        page.reload()
        expect(page.locator("#screen")).to_have_attribute("data-phase", "open")
        expect(page.locator("#question")).to_contain_text("党的二十大")
    finally:
        context.close()
    assert not violations, violations
