"""Picture questions (看图题) in a real browser: on a phone the sheet shows each question's picture,
loaded from its signed URL under the Content Security Policy (the `context` fixture fails on any
violation) and fitted to the screen; the result page shows it too. A screenshot of the sheet is
saved in bench/out/pictures/."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from PIL import Image

from quiz.extensions import db
from tests.browser.conftest import PHONE
from tests.browser.test_participant import join
from tests.conftest import HEADER, csv_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # conftest skips these tests (or fails them in CI)
    expect = None

OUT = Path(__file__).resolve().parents[2] / "bench" / "out" / "pictures"


def _picture(color: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def _picture_bank() -> bytes:
    rows = [[*HEADER, "图片"],
            ["单选", "图中是什么颜色？", "红色", "蓝色", "", "", "B", "", "", "", "", "images/wide.jpg"],
            ["判断", "图中的颜色是红色。", "", "", "", "", "对", "", "", "", "", "images/tall.jpg"]]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("看图题.csv", csv_bytes(rows))
        archive.writestr("images/wide.jpg", _picture("blue", (1200, 500)))   # wider than a phone
        archive.writestr("images/tall.jpg", _picture("red", (400, 1400)))    # taller than a phone
    return buffer.getvalue()


def test_the_sheet_shows_each_picture_fitted_to_a_phone(app, page, live_server):
    from quiz.models.base import utcnow
    from quiz.services.importer import import_bank_file
    from quiz.services.quizzes import create_quiz
    from quiz.services.units import ensure_path

    with app.app_context():
        now = utcnow()
        ensure_path(["乔司街道", "三角村社区"], actor=None, now=now, headcount=50)
        report = import_bank_file("看图题", _picture_bank(), "看图题.zip", actor=None, now=now)
        assert report.written, report.as_dict()
        quiz = create_quiz({"title": "看图竞赛", "banks": ["看图题"], "duration_seconds": 600,
                            "rules": [{"type": "单选", "count": 1, "points": 5}, {"type": "判断", "count": 1, "points": 5}],
                            "shuffle_questions": False, "show_answers": "after_submit"}, actor=None, now=now)
        db.session.commit()
        code = quiz.join_code
    join(page, live_server, code)
    for _ in range(2):
        image = page.locator("#q-card .q-picture img")
        expect(image).to_have_attribute("src", re.compile(r"^/pictures/[0-9a-f]{32}/[0-9a-f]{64}$"))
        page.wait_for_function("() => { const i = document.querySelector('#q-card .q-picture img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        box = image.bounding_box()
        assert box["width"] <= PHONE["width"] and box["height"] <= PHONE["height"] * 0.45, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        # the first option is on the screen below the picture, above the bottom navigation bar
        option = page.locator("#q-card label.opt").first.bounding_box()
        assert option["y"] >= box["y"] + box["height"]
        assert option["y"] + option["height"] <= page.locator("#sheet-nav").bounding_box()["y"], (option, box)
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT / f"sheet-{card_type(page)}.png"))
        if _ == 0:
            page.click("#next-btn")


def card_type(page) -> str:
    return page.locator("#q-card").get_attribute("data-type")
