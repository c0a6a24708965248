"""Posters of rankings from the templates in templates/posters/, laid out by WeasyPrint: a PNG
1080 px wide (one long image for WeChat groups) and an A4 PDF with real, extractable text.

Needs Pango (WeasyPrint's system libraries) and a CJK font (Debian: apt-get install -y
fonts-noto-cjk); .ci/run installs both. Without a CJK font the tests are skipped on a workstation
but fail in CI (the CI environment variable is set there).
"""
from __future__ import annotations

import ctypes
import io
import os
import shutil
import subprocess
from datetime import datetime, timezone
from types import SimpleNamespace

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from quiz.errors import Invalid, QuizError
from quiz.services import posters
from quiz.services.posters import PosterFontError

TITLE = "2026年乔司街道“学习二十届四中全会精神”应知应会知识竞赛"
ORGANISER = "乔司街道党工委"
ENTRIES = [
    {"rank": 1, "name": "张三", "unit": "乔司街道/三角村社区", "score": 100, "time_used_seconds": 125.3},
    {"rank": 2, "name": "欧阳娜娜", "unit": "乔司街道/永丰村", "score": 98.5, "time_used_seconds": 201},
    {"rank": 2, "name": "李四", "unit": "乔司街道/永丰村股份经济合作社第三党支部", "score": 98.5, "time_used_seconds": 201},
    {"rank": 4, "name": "王五", "unit": "伦教街道/常教社区", "score": 96, "time_used_seconds": 59},
    {"rank": 5, "name": "赵六", "unit": "乔司街道/杭州市临平区乔司街道办事处综合行政执法队（综合执法办公室）",
     "score": 95, "time_used_seconds": 300},
]
QUIZ = SimpleNamespace(title=TITLE)


def _font_files(pattern: str) -> list[str]:
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(["fc-list", pattern, "file"], capture_output=True, text=True, check=False).stdout
    return [line.strip().rstrip(":") for line in out.splitlines() if line.strip()]


@pytest.fixture
def cjk():
    """Skip without a Chinese font on a workstation; in CI that is a failure."""
    if not _font_files(":lang=zh-cn"):
        if os.environ.get("CI"):
            pytest.fail("CI must have a CJK font installed (apt-get install -y fonts-noto-cjk)")
        pytest.skip("no CJK font installed (apt-get install -y fonts-noto-cjk)")


def _entries(count: int) -> list[dict]:
    return [{"rank": i + 1, "name": f"参赛者{i}", "unit": "乔司街道/三角村社区", "score": 100 - i / 10,
             "time_used_seconds": 60 + i} for i in range(count)]


def _honour(fmt: str, entries=ENTRIES, now=None, **options) -> bytes:
    now = now or datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    return posters.honour_poster(QUIZ, entries, fmt=fmt, now=now, organiser=ORGANISER, **options)


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _pages_text(data: bytes) -> list[str]:
    """The text of each page of a PDF, as a reader or screen reader gets it."""
    pdf = pypdfium2.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def _flat(text: str) -> str:
    return "".join(text.split())


def _fonts_of(data: bytes, chars: str) -> dict[str, str]:
    """The font each of `chars` (BMP characters) is drawn with in the PDF, by PDFium (its name
    without spaces and hyphens: NotoSansCJKSCRegular)."""
    found: dict[str, str] = {}
    pdf = pypdfium2.PdfDocument(data)
    try:
        for i in range(len(pdf)):
            text = pdf[i].get_textpage()
            for index in range(text.count_chars()):
                char = chr(pdfium_c.FPDFText_GetUnicode(text.raw, index))
                if char in chars and char not in found:
                    size = pdfium_c.FPDFText_GetFontInfo(text.raw, index, None, 0, None)
                    buffer = ctypes.create_string_buffer(size)
                    pdfium_c.FPDFText_GetFontInfo(text.raw, index, buffer, size, None)
                    found[char] = buffer.value.decode("utf-8", "replace").replace("-", "").replace(" ", "")
    finally:
        pdf.close()
    return found


def test_png_is_one_long_image_1080_wide(ctx, cjk):
    image = _image(_honour("png", top=10))
    assert image.format == "PNG" and image.width == 1080
    assert 900 < image.height < 3000
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=1_000_000)
    assert len(colours) > 500  # red band, gold, medals, anti-aliased text: far from a flat image
    red, green, _blue = rgb.getpixel((540, 10))
    assert red > 100 and green < 60  # the red band on top
    table = rgb.crop((60, image.height // 2, 1020, image.height // 2 + 200)).convert("L")
    darkest, lightest = table.getextrema()
    assert darkest < 100 and lightest > 230  # dark text on light paper
    bottom = rgb.getpixel((540, image.height - 3))
    assert bottom[0] > 150 and bottom[1] < 60  # cut at the end of the poster: its closing red band


def test_png_grows_for_rows_that_wrap_many_lines(ctx, cjk):
    """Long unit names wrap over many lines: the long image still holds the whole poster, down
    to its closing band (the first page laid out was too short and was made taller)."""
    unit = "乔司街道/" + "杭州市临平区乔司街道办事处综合行政执法队（综合执法办公室）" * 8
    entries = [{**entry, "unit": unit} for entry in ENTRIES]
    rgb = _image(_honour("png", entries=entries)).convert("RGB")
    assert rgb.width == 1080 and rgb.height > 2400 + 240 * len(entries)
    bottom = rgb.getpixel((540, rgb.height - 3))
    assert bottom[0] > 150 and bottom[1] < 60  # the closing red band: nothing was cut off
    text = _flat("".join(_pages_text(_honour("pdf", entries=entries))))
    assert text.count("综合执法办公室") == 8 * len(entries)  # every line of every row


def test_pdf_is_a4_with_real_text(ctx, cjk):
    data = _honour("pdf", top=10)
    assert data.startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(data)
    assert len(pdf) == 1
    width, height = pdf[0].get_size()
    assert width == pytest.approx(595.3, abs=1) and height == pytest.approx(841.9, abs=1)  # A4 in points
    assert pdfium_c.FPDFCatalog_IsTagged(pdf.raw)  # a screen reader can follow the table
    pdf.close()
    text = _flat(_pages_text(data)[0])
    for expected in (_flat(TITLE), "光荣榜", "前10名", "2026年11月23日", ORGANISER, "名次", "姓名", "单位", "得分",
                     "用时", "欧阳娜娜", "乔司街道/永丰村股份经济合作社第三党支部", "98.5", "2分05.3秒", "59.0秒"):
        assert expected in text, expected
    # in rank order: ties share a rank and the next rank skips
    assert text.index("张三") < text.index("欧阳娜娜") < text.index("李四") < text.index("王五") < text.index("赵六")


def test_long_table_repeats_its_header_on_every_page(ctx, cjk):
    pages = _pages_text(_honour("pdf", entries=_entries(120)))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        text = _flat(page)
        assert "名次姓名单位得分用时" in text, number  # the header row, on every page
        assert f"第{number}页，共{len(pages)}页" in text
    later = _flat(pages[1])
    assert _flat(TITLE) in later  # the title heads the later pages too
    # every row is printed exactly once, in order
    everything = _flat("".join(pages))
    positions = [everything.index(f"参赛者{i}单位"[:-2] + "乔司") for i in range(120)]
    assert positions == sorted(positions)


def test_three_hundred_rows_at_most(ctx, cjk):
    image = _image(_honour("png", entries=_entries(300)))
    assert image.width == 1080 and 15_000 < image.height < 40_000  # one long image, never paged
    capped = _image(_honour("png", entries=_entries(400)))  # cut at 300, with a note
    assert image.height < capped.height <= image.height + 120
    text = _flat("".join(_pages_text(_honour("pdf", entries=_entries(400)))))
    assert "参赛者299乔司" in text and "参赛者300" not in text
    assert "仅显示前300条（共400条），完整名单见Excel公示表。" in text


def test_rare_chinese_characters_and_other_scripts_render(ctx, cjk):
    """Names with rare characters (䶮 from CJK extension A, 𬌗 from extension E, 龘) are drawn with
    the CJK font; a Uyghur name in Arabic script has no glyph there and Pango falls back to
    another installed font. Either way the text is real, and no box is drawn (that would stop the
    poster with PosterFontError)."""
    uyghur = "ئەخمەت"
    entries = [{**ENTRIES[0], "name": "刘䶮"}, {**ENTRIES[1], "name": "赵𬌗"}, {**ENTRIES[2], "name": "龘龘"},
               {**ENTRIES[3], "name": uyghur}]
    data = _honour("pdf", entries=entries)
    text = _pages_text(data)[0]
    for name in ("刘䶮", "赵𬌗", "龘龘"):
        assert name in text, name
    fonts = _fonts_of(data, "䶮张" + uyghur[0])
    assert "NotoSansCJK" in fonts["䶮"]
    if _font_files(":charset=626"):  # an installed font with Arabic letters (DejaVu Sans)
        assert "CJK" not in fonts[uyghur[0]]  # the fallback: a font the CSS does not name
    assert _image(_honour("png", entries=entries)).width == 1080


def _char_no_font_has() -> str:
    for char in ("\U00020000", "\u16a0", "\U0001e900", "\U00011005", "\U0001d800"):
        if not _font_files(f":charset={ord(char):x}"):
            return char
    pytest.skip("every candidate character has an installed font")


def test_a_character_no_font_has_stops_the_poster_with_a_message(ctx, cjk):
    rare = _char_no_font_has()
    entries = [*ENTRIES[:2], {**ENTRIES[2], "name": "张" + rare}]
    for fmt in ("png", "pdf"):
        with pytest.raises(PosterFontError) as error:
            _honour(fmt, entries=entries)
        assert isinstance(error.value, QuizError) and error.value.status_code == 422
        message = error.value.message
        assert rare in message and f"U+{ord(rare):04X}" in message and "张" + rare in message
        assert "fonts-noto-cjk" in message


def test_a_character_no_font_has_is_a_clear_page_not_a_crash(client, auth, app, cjk):
    from quiz.services.quizzes import utcnow
    from tests.quizdata import make_quiz
    from tests.test_reports import _sit

    rare = _char_no_font_has()
    with app.app_context():
        from datetime import timedelta

        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now, title="应知应会")
        _sit(quiz, now, "13800000001", "张" + rare, "乔司街道/三角村社区")
        quiz_id = quiz.id
    auth.login()
    response = client.get(f"/quizzes/{quiz_id}/poster/honour.png")
    assert response.status_code == 422
    assert f"U+{ord(rare):04X}" in response.get_data(as_text=True)


def test_names_are_text_not_markup(ctx, cjk):
    entries = [{**ENTRIES[0], "name": "<b>张三</b>&amp;", "unit": "<img src='file:///etc/passwd'>"}]
    text = _flat(_pages_text(_honour("pdf", entries=entries))[0])
    assert "<b>张三</b>&amp;" in text and "<imgsrc='file:///etc/passwd'>" in text


def test_poster_loads_no_resource_from_outside(ctx):
    fetcher = posters._LocalFetcher()
    with pytest.raises(ValueError):
        fetcher.fetch("file:///etc/passwd")
    with pytest.raises(ValueError):
        fetcher.fetch("http://127.0.0.1/logo.png")
    from flask import current_app

    style = os.path.join(current_app.static_folder, "app.css")
    if os.path.isfile(style):
        assert fetcher.fetch("file://" + style).read()


def test_date_is_beijing_time_in_chinese(ctx):
    late_utc = datetime(2026, 11, 22, 18, 30, tzinfo=timezone.utc)  # 02:30 on the 23rd in Beijing
    assert posters.poster_date(late_utc) == "2026年11月23日"


def test_no_rows_still_make_a_poster(ctx, cjk):
    image = _image(_honour("png", entries=[]))
    assert image.width == 1080 and image.height > 500
    assert "暂无成绩" in _pages_text(_honour("pdf", entries=[]))[0]


def test_unknown_format_is_refused(ctx):
    with pytest.raises(Invalid):
        _honour("gif")


def test_poster_font_setting(app, ctx, cjk):
    """POSTER_FONT puts a family (or a font file) before the CSS font stack; Chinese still falls
    back to the CJK font. A missing file or a name that is not a family is a clear error."""
    serif = _font_files(":family=DejaVu Serif:style=Book")
    if not serif:
        pytest.skip("DejaVu Serif is not installed")
    app.config["POSTER_FONT"] = "DejaVu Serif"
    data = _honour("pdf")
    fonts = _fonts_of(data, "9张")
    assert "DejaVuSerif" in fonts["9"] and "CJK" in fonts["张"]
    app.config["POSTER_FONT"] = serif[0]  # a font file, loaded with @font-face
    fonts = _fonts_of(_honour("pdf"), "9张")
    assert "quizposterfont" in fonts["9"] and "CJK" in fonts["张"]
    app.config["POSTER_FONT"] = "/nonexistent/none.ttc"
    with pytest.raises(PosterFontError) as error:
        _honour("png")
    assert "none.ttc" in error.value.message and "fonts-noto-cjk" in error.value.message
    app.config["POSTER_FONT"] = 'Evil"; } body { display: none'
    with pytest.raises(PosterFontError, match="POSTER_FONT"):
        _honour("pdf")


def test_builders_from_real_rankings(ctx, tree, now, cjk):
    from quiz.services.ranking import leaderboard
    from quiz.services.reports import unit_report
    from tests.quizdata import later, make_quiz
    from tests.test_reports import _sit

    quiz = make_quiz(title="应知应会知识竞赛", pass_score=6)
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000002", "李四", "乔司街道/永丰村", right=False)
    _sit(quiz, now, "13800000003", "王五", "伦教街道/常教社区")
    entries = leaderboard(quiz, now=later(now, 100), limit=10)
    png = posters.honour_poster(quiz, entries, fmt="png", now=now, organiser=ORGANISER, top=10)
    assert _image(png).width == 1080
    text = _flat(_pages_text(posters.honour_poster(quiz, entries, fmt="PDF", now=now))[0])
    assert text.index("张三") < text.index("李四") and text.index("王五") < text.index("李四")
    rows = unit_report(quiz, now=later(now, 100))
    assert _image(posters.unit_poster(quiz, rows, fmt="png", now=now)).width == 1080
    # the default level: the streets, by rank
    streets = _flat(_pages_text(posters.unit_poster(quiz, rows, fmt="pdf", now=now))[0])
    assert "单位排名" in streets and streets.index("1伦教街道") < streets.index("2乔司街道")
    # level 1 (a depth): the villages relative to nothing shared; 永丰村 (0 points) ranks, and a
    # unit without participants is listed last as 未参与
    rows = unit_report(quiz, now=later(now, 100))
    villages = _flat(_pages_text(posters.unit_poster(quiz, rows, fmt="pdf", now=now, level=1))[0])
    assert "乔司街道/三角村社区" in villages and "伦教街道/常教社区" in villages
    assert villages.index("伦教街道/常教社区") < villages.index("乔司街道/永丰村")
    with pytest.raises(Invalid):
        posters.honour_poster(quiz, entries, fmt="gif", now=now)


def test_units_that_did_not_take_part_come_last(ctx, tree, now, cjk):
    from quiz.services.reports import unit_report
    from tests.quizdata import later, make_quiz
    from tests.test_reports import _sit

    quiz = make_quiz(title="应知应会", pass_score=6)
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000002", "王五", "伦教街道/常教社区", right=False)
    rows = unit_report(quiz, now=later(now, 100))
    text = _flat(_pages_text(posters.unit_poster(quiz, rows, fmt="pdf", now=now, level=1))[0])
    assert text.index("1乔司街道/三角村社区") < text.index("2伦教街道/常教社区") < text.index("未参与乔司街道/永丰村")
