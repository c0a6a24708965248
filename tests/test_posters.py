"""Poster images of rankings: PNG 1080 px wide for WeChat groups and A4 PDF, drawn with a CJK font
that really has the glyphs (no tofu boxes).

Needs a CJK font (Debian: apt-get install -y fonts-noto-cjk). Without one the tests are skipped on
a workstation, but fail in CI (the CI environment variable is set there).
"""
from __future__ import annotations

import io
import os
from datetime import datetime, timezone

import pytest
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont, PdfParser

from quiz.errors import Invalid, QuizError
from quiz.services import posters
from quiz.services.posters import PosterFontError

TITLE = "2026年乔司街道“学习二十届四中全会精神”应知应会知识竞赛"
SUBTITLE = "2026年11月23日  ·  乔司街道党工委"
COLUMNS = ["名次", "姓名", "单位", "得分", "用时"]
ROWS = [
    [1, "张三", "乔司街道/三角村社区", 100, "2分05秒"],
    [2, "欧阳娜娜", "乔司街道/永丰村", 98.5, "3分21秒"],
    [2, "李四", "乔司街道/永丰村股份经济合作社第三党支部", 98.5, "3分21秒"],
    [4, "王五", "伦教街道/常教社区", 96, "59秒"],
    [5, "赵六", "乔司街道/杭州市临平区乔司街道办事处综合行政执法队（综合执法办公室）", 95, "5分00秒"],
]


@pytest.fixture
def fonts():
    """The poster fonts; skip when none is installed, except in CI where that is a failure."""
    try:
        return posters.find_font()
    except PosterFontError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have a CJK font installed (apt-get install -y fonts-noto-cjk): {exc.message}")
        pytest.skip(f"no CJK font installed: {exc.message}")


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _mask(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    """The glyph of one character as a fixed-size bitmap."""
    image = Image.new("L", (80, 80), 0)
    ImageDraw.Draw(image).text((10, 10), char, font=font, fill=255)
    return image.tobytes()


def _pdf_pages(data: bytes) -> list:
    parser = PdfParser.PdfParser(buf=data)
    return [parser.read_indirect(ref) for ref in parser.pages]


def test_png_is_1080_wide_and_not_blank(ctx, fonts):
    image = _open(posters.poster_png(TITLE, SUBTITLE, COLUMNS, ROWS, footer="按得分排名", banner="光荣榜"))
    assert image.format == "PNG" and image.width == 1080
    assert 900 < image.height < 3000
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=1_000_000)
    assert len(colours) > 500  # red band, gold, medals, anti-aliased text: far from a flat image
    background = max(colours)[1]
    share = sum(count for count, colour in colours if colour != background) / (image.width * image.height)
    assert share > 0.3
    # the header band is red and the table body has dark text on light paper
    assert rgb.getpixel((540, 10))[0] > 100 and rgb.getpixel((540, 10))[1] < 60
    table = rgb.crop((40, image.height // 2, 1040, image.height // 2 + 200)).convert("L")
    darkest, lightest = table.getextrema()
    assert darkest < 100 and lightest > 230


def test_chinese_glyphs_are_real_not_tofu(ctx, fonts):
    """Each character drawn is in the face's cmap, and its bitmap differs from the .notdef (tofu)
    box and from the other characters' bitmaps."""
    text = "光荣榜名次姓名单位得分用时参与率平均分乔司街道三角村社区"
    font = ImageFont.truetype(fonts.regular.path, size=48, index=fonts.regular.index)
    absent = next(c for c in ("\U000f0000", "\U0010fffd", "\ue000", "\uffff") if not fonts.regular.covers(c))
    tofu = _mask(font, absent)
    masks = {char: _mask(font, char) for char in text}
    for char, mask in masks.items():
        assert fonts.regular.covers(char), char
        assert mask != tofu, f"{char} draws as the .notdef box"
        assert any(mask), f"{char} draws nothing"
    assert len(set(masks.values())) == len(masks)  # every character has its own glyph
    if "Noto" in fonts.regular.name:
        assert "SC" in fonts.regular.name  # the Simplified Chinese face of the collection


def test_font_covers_everything_a_poster_draws(ctx, fonts, now):
    from types import SimpleNamespace

    entries = [{"rank": r[0], "name": r[1], "unit": r[2], "score": r[3], "time_used_seconds": 125.3} for r in ROWS]
    quiz = SimpleNamespace(title=TITLE)
    drawn = "".join([TITLE, posters.poster_date(now), "乔司街道党工委", *(str(c) for r in ROWS for c in r),
                     _("Honour roll"), _("Rank"), _("Unit"), _("Full name"), _("Participation rate"),
                     _("Average score")])
    assert posters.missing_glyphs(drawn) == ""
    assert all(fonts.regular.covers(c) for c in posters.clean_text(drawn))
    png = posters.honour_poster(quiz, entries, fmt="png", now=now, organiser="乔司街道党工委", top=10)
    assert _open(png).width == 1080


def test_date_is_beijing_time_in_chinese(ctx):
    late_utc = datetime(2026, 11, 22, 18, 30, tzinfo=timezone.utc)  # 02:30 on the 23rd in Beijing
    assert posters.poster_date(late_utc) == "2026年11月23日"


def test_pdf_has_a4_pages(ctx, fonts):
    data = posters.poster_pdf(TITLE, SUBTITLE, COLUMNS, ROWS, footer="按得分排名", banner="光荣榜")
    assert data.startswith(b"%PDF")
    pages = _pdf_pages(data)
    assert len(pages) == 1
    width, height = pages[0][b"MediaBox"][2:]
    assert width == pytest.approx(595.3, abs=1) and height == pytest.approx(841.9, abs=1)  # A4 in points
    many = posters.poster_pdf(TITLE, SUBTITLE, COLUMNS, ROWS * 12)
    assert many.startswith(b"%PDF") and len(_pdf_pages(many)) > 2  # paged, header repeated


def test_missing_font_gives_a_clear_error(ctx, tmp_path, monkeypatch):
    with pytest.raises(PosterFontError) as error:
        posters.poster_png(TITLE, SUBTITLE, COLUMNS, ROWS, font_path=str(tmp_path / "none.ttc"))
    assert isinstance(error.value, QuizError)
    assert "fonts-noto-cjk" in error.value.message and "none.ttc" in error.value.message
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(PosterFontError, match="fonts-noto-cjk"):
        posters.poster_pdf(TITLE, SUBTITLE, COLUMNS, ROWS, font_path=str(not_a_font))
    monkeypatch.setenv(posters.FONT_ENV, str(tmp_path / "missing.otf"))
    with pytest.raises(PosterFontError, match="missing.otf"):
        posters.find_font()


def test_font_without_chinese_is_refused(ctx, fonts):
    latin = next((p for p in posters.FALLBACK_FONTS if os.path.isfile(p)), None)
    if latin is None:
        pytest.skip("no DejaVu Sans to try")
    with pytest.raises(PosterFontError, match="fonts-noto-cjk"):
        posters.poster_png(TITLE, SUBTITLE, COLUMNS, ROWS, font_path=latin)


def test_character_no_font_has_is_an_error_not_tofu(ctx, fonts, monkeypatch):
    monkeypatch.setattr(posters, "_fallback_candidates", lambda missing: iter(()))
    rare = next(c for c in ("\u20bf", "\U00020000", "\U0001f600", "\u16a0", "\u0e01") if not fonts.regular.covers(c))
    with pytest.raises(PosterFontError) as error:
        posters.poster_png(TITLE, SUBTITLE, COLUMNS, [[1, "张" + rare, "乔司街道", 100, "1分"]])
    assert rare in error.value.message


def test_three_hundred_rows_make_one_long_image(ctx, fonts):
    rows = [[i + 1, f"参赛者{i}", "乔司街道/三角村社区", 100 - i / 10, f"{i}秒"] for i in range(400)]
    image = _open(posters.poster_png("标题", "副标题", COLUMNS, rows[:300]))
    assert image.width == 1080 and 15_000 < image.height < 32_000
    capped = _open(posters.poster_png("标题", "副标题", COLUMNS, rows))  # 400 rows: cut at 300 with a note
    assert image.height < capped.height <= image.height + 60
    pdf = posters.poster_pdf("标题", "副标题", COLUMNS, rows)  # the PDF pages the same 300 rows
    assert 10 < len(_pdf_pages(pdf)) < 30


def test_no_rows_still_make_a_poster(ctx, fonts):
    image = _open(posters.poster_png(TITLE, SUBTITLE, COLUMNS, [], banner="光荣榜"))
    assert image.width == 1080 and image.height > 500
    assert posters.poster_pdf(TITLE, SUBTITLE, COLUMNS, []).startswith(b"%PDF")


def test_long_names_wrap_then_ellipsize(ctx, fonts):
    fonts.ensure("杭州市临平区乔司街道办事处综合行政执法队（综合执法办公室）…")
    lines = posters.wrap(fonts, "杭州市临平区乔司街道办事处综合行政执法队（综合执法办公室）" * 3, 30, 300, 2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert all(posters.text_width(fonts, line, 30) <= 300 for line in lines)
    assert not any(line.endswith("（") or line.startswith("）") for line in
                   posters.wrap(fonts, "综合行政执法队（综合执法办公室）", 30, 30 * 7 + 5, 3))


def test_builders_from_real_rankings(ctx, tree, now, fonts):
    from quiz.services.ranking import leaderboard
    from quiz.services.reports import unit_report
    from tests.quizdata import later, make_quiz
    from tests.test_reports import _sit

    quiz = make_quiz(title="应知应会知识竞赛", pass_score=6)
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000002", "李四", "乔司街道/永丰村", right=False)
    _sit(quiz, now, "13800000003", "王五", "伦教街道/常教社区")
    entries = leaderboard(quiz, now=later(now, 100), limit=10)
    png = posters.honour_poster(quiz, entries, fmt="png", now=now, organiser="乔司街道党工委", top=10)
    assert _open(png).width == 1080
    pdf = posters.honour_poster(quiz, entries, fmt="PDF", now=now)
    assert pdf.startswith(b"%PDF")
    rows = unit_report(quiz, now=later(now, 100))
    assert _open(posters.unit_poster(quiz, rows, fmt="png", now=now)).width == 1080
    assert posters.unit_poster(quiz, rows, fmt="pdf", now=now, level=1).startswith(b"%PDF")
    from quiz.services.reports import level_rows, relative_names

    assert [r.path for r in level_rows(rows, None)[1]] == ["伦教街道", "乔司街道"]  # street level, by rank
    assert relative_names(["乔司街道/三角村社区", "乔司街道/永丰村"]) == ["三角村社区", "永丰村"]
    with pytest.raises(Invalid):
        posters.honour_poster(quiz, entries, fmt="gif", now=now)
