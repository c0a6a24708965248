"""Real browser: an organiser logs in, opens the unit report (ECharts charts with readable labels),
downloads the XLSX 公示表 and the 光荣榜 poster, and the files are what they claim to be."""
import io

from openpyxl import load_workbook

from quiz.extensions import db
from tests.browser.conftest import watch_csp


def _results(app, quiz_id):
    from datetime import timedelta

    from quiz.models import Quiz
    from quiz.models.base import utcnow
    from quiz.services import attempts as svc
    from quiz.services.people import create_user
    from quiz.services.units import find_unit

    with app.app_context():
        quiz = db.session.get(Quiz, quiz_id)
        now = utcnow() - timedelta(minutes=30)
        for i, unit in enumerate(["乔司街道/三角村社区", "乔司街道/永丰村", "伦教街道/常教社区"]):
            attempt = svc.join(quiz, name=f"参赛者{i}", phone=f"1380000000{i}", unit_path=unit, now=now).attempt
            first = attempt.paper[0]
            svc.save_answer(attempt, first["q"], "B" if i != 2 else "A", now=now)
            svc.submit(attempt, now=now + timedelta(seconds=40 + i))
        create_user("zuzhi", role="organiser", password="secret-pass", now=now, unit=find_unit("乔司街道"))
        quiz.unit = find_unit("乔司街道")
        db.session.commit()


def test_organiser_downloads_xlsx_and_poster(browser, live_server, make_quiz, app, tmp_path):
    quiz = make_quiz()
    _results(app, quiz["id"])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "zuzhi")
    page.fill("input[name=password]", "secret-pass")
    page.click("main button[type=submit]")  # not the language switch in the top bar
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server}/quizzes/{quiz['id']}/report")
    page.wait_for_selector("#chart-histogram svg")
    assert page.locator(".chart svg").count() == 3  # ECharts, drawn from the page's JSON block
    assert "三角村社区" in page.content()
    # full unit names on the bars, whole-number bins (full marks 8: 0 … 8), readable type
    bars = page.locator("#chart-participation svg text").all_text_contents()
    assert "三角村社区" in bars and "永丰村" in bars
    bins = page.locator("#chart-histogram svg text").all_text_contents()
    assert all(str(n) in bins for n in range(9)) and not any("." in b and "–" in b for b in bins)
    sizes = page.eval_on_selector_all(".chart svg text",
                                      "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert sizes and min(sizes) >= 13
    assert not errors
    with page.expect_download() as info:
        page.click("a[data-download=leaderboard-xlsx]")
    xlsx = tmp_path / "board.xlsx"
    info.value.save_as(xlsx)
    sheet = load_workbook(xlsx).active
    assert "应知应会知识竞赛" in sheet["A1"].value
    names = [row[1].value for row in sheet.iter_rows(min_row=3)]
    # an organiser's exports hold the people of their own subtree (参赛者2 is in 伦教街道)
    assert sorted(names) == ["参赛者0", "参赛者1"]
    with page.expect_download() as info:
        page.click("a[data-download=honour-png]")
    poster = tmp_path / "poster.png"
    info.value.save_as(poster)
    from PIL import Image
    image = Image.open(io.BytesIO(poster.read_bytes()))
    assert image.format == "PNG" and image.width == 1080
    small = image.convert("RGB").resize((108, 108))
    assert len({small.getpixel((x, y)) for x in range(108) for y in range(108)}) > 50  # not blank
    context.close()
    assert not violations, violations
