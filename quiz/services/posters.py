"""Posters of a ranking, 光荣榜 (honour roll, top N), the unit ranking and a live contest's podium
(final standings), as a 1080 px wide PNG for WeChat groups and an A4 PDF: Jinja templates in
templates/posters/ laid out by WeasyPrint.

What this module owns (the look belongs to the templates and their CSS):
- The context of a poster: title, date in the configured time zone, organiser, the rows (at most
  MAX_ROWS, then a note pointing to the Excel 公示表) and the total.
- Rendering: WeasyPrint lays the HTML out with Pango, which takes each character from the first
  font of the CSS font stack that has it (fontconfig; Noto Sans CJK SC from fonts-noto-cjk). The
  PDF holds real text (selectable, searchable, tagged for screen readers) and repeats a long
  table's header on every page. The PNG is the same HTML on one tall page (png.css), rasterised
  with PDFium down to the #poster-end marker at exactly PNG_WIDTH px: one long image (长图).
- No tofu: a character that no installed font has stops the poster with PosterFontError naming
  the character, the text it is in, and what to install (docs/deployment.md "Posters").
- POSTER_FONT (config, FLASK_POSTER_FONT): a font family put first in the stack, or a font file.
"""
from __future__ import annotations

import io
import logging
import os
import re
import threading
import unicodedata
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pypdfium2
from flask import current_app, render_template
from flask_babel import format_date
from flask_babel import gettext as _
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from quiz.errors import Invalid, QuizError
from quiz.services.reports import level_rows, relative_names

MAX_ROWS = 300          # a poster is a notice, not an archive: the XLSX has every row
PNG_WIDTH = 1080        # px: the width WeChat shows without scaling
FORMATS = ("png", "pdf")
FONT_CONFIG_KEY = "POSTER_FONT"
INSTALL_HINT = "apt-get install -y fonts-noto-cjk"
TEMPLATES = {"honour": "posters/honour.html", "units": "posters/units.html", "podium": "posters/podium.html"}

_FONT_FILE = re.compile(r"\.(ttf|otf|ttc|woff2?)$", re.I)
_FAMILY = re.compile(r"[\w .+-]{1,100}")   # a family name that is safe inside a CSS string
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_FONT_FACE = "quiz-poster-font"             # the family name given to a POSTER_FONT file


class PosterFontError(QuizError):
    """A character of the poster that no installed font can draw, or a POSTER_FONT that is not
    usable: the message names it and what to install."""

    status_code = 422


# --------------------------------------------------------------------------------------------
# The posters callers ask for


def honour_poster(quiz, entries: list[dict], *, fmt: str, now: datetime, organiser: str | None = None,
                  top: int | None = None, footer: str | None = None) -> bytes:
    """光荣榜 / top N of a quiz leaderboard (entries from ranking.leaderboard) as PNG or PDF bytes."""
    rows = [{"rank": e["rank"], "name": _text(e["name"]), "unit": _text(e["unit"]), "score": _number(e["score"]),
             "time_used": _duration(e.get("time_used_seconds"))} for e in entries]
    return render("honour", _context(quiz, now, organiser, rows, footer, top=top), fmt)


def unit_poster(quiz, rows: list, *, fmt: str, now: datetime, organiser: str | None = None,
                level: int | None = None, footer: str | None = None) -> bytes:
    """The unit ranking (rows: reports.UnitRow) as PNG or PDF bytes. Ranks are within a level, so
    one level is shown: `level` (a depth), else the report page's default level; the ranks are
    the report's, and units that did not take part follow the ranked ones as 未参与 (rank None).
    Units are named relative to their common parent."""
    depth, chosen = level_rows(rows, level)
    labels = relative_names([r.path for r in chosen])
    body = [{"rank": r.rank, "unit": _text(label), "path": r.path, "participants": r.participants,
             "participation_rate": _percent(r.participation_rate), "average_score": _number(r.average_score)}
            for r, label in zip(chosen, labels)]
    return render("units", _context(quiz, now, organiser, body, footer, level=None if depth is None else depth + 1),
                  fmt)


def podium_poster(contest, standings: list, *, fmt: str, now: datetime, organiser: str | None = None,
                  footer: str | None = None) -> bytes:
    """The final standings of a live contest (standings: live.standings, in rank order) as PNG or
    PDF bytes: the podium (ranks 1-3, ties share a step) above the full ranking."""
    rows = [{"rank": s.rank, "name": _text(s.entrant.name), "total": _number(s.total),
             "unit": _text(s.entrant.unit.path if s.entrant.unit else "")} for s in standings]
    podium = {step: [r for r in rows if r["rank"] == step] for step in (1, 2, 3)}
    return render("podium", _context(contest, now, organiser, rows, footer, podium=podium,
                                     teams=contest.mode == "teams"), fmt)


def poster_date(now: datetime) -> str:
    """The day of `now` in the configured time zone (BABEL_DEFAULT_TIMEZONE, Beijing), in the
    user's language (zh_CN: 2026年11月23日)."""
    return format_date(now, "long")


def _context(quiz, now: datetime, organiser: str | None, rows: list[dict], footer: str | None, **extra) -> dict:
    return {"title": _text(quiz.title), "date": poster_date(now), "organiser": _text(organiser),
            "rows": rows[:MAX_ROWS], "total": len(rows), "footer": footer, **extra}


# --------------------------------------------------------------------------------------------
# Rendering


def render(kind: str, context: dict, fmt: str) -> bytes:
    """The poster `kind` (honour | units | podium) with `context` as PNG or PDF bytes."""
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise Invalid(_("The poster format must be PNG or PDF."))
    font = _font_setting()
    if fmt == "pdf":
        html = _html(TEMPLATES[kind], context, font, medium="pdf")
        return _draw(context, lambda: html.render(font_config=font.config).write_pdf(pdf_tags=True))
    return _png(TEMPLATES[kind], context, font)


def _png(template: str, context: dict, font: _Font) -> bytes:
    """One tall page, cut at #poster-end and rasterised PNG_WIDTH px wide. The page is made taller
    until everything fits on it (a poster is never paged; a template that forces page breaks
    gets its first page)."""
    height = 2400 + 240 * len(context["rows"])
    for _attempt in range(4):
        document = _html(template, context, font, medium="png", page_height=height).render(font_config=font.config)
        if len(document.pages) == 1:
            break
        height *= 2
    page = document.pages[0]
    end = page.anchors.get("poster-end")
    bottom = min(page.height, end[1]) if end else page.height
    pdf = pypdfium2.PdfDocument(_draw(context, document.write_pdf))
    try:
        sheet = pdf[0]
        width, full = sheet.get_size()   # points; the page is page.width CSS px wide
        scale = PNG_WIDTH / width
        cut = full * (1 - bottom / page.height)  # points below the end marker
        image = sheet.render(scale=scale, crop=(0, cut, 0, 0), fill_color=(255, 255, 255, 255)).to_pil()
    finally:
        pdf.close()
    if image.width != PNG_WIDTH:  # rounding of the scale: never a pixel off the contract
        image = image.resize((PNG_WIDTH, round(image.height * PNG_WIDTH / image.width)))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def _html(template: str, context: dict, font: _Font, **medium):
    """The WeasyPrint document source of one poster template."""
    source = render_template(template, **context, **medium, poster_font=font.family, font_face=font.face_css)
    static = Path(current_app.static_folder)
    return HTML(string=source, base_url=static.as_uri() + "/", url_fetcher=_LocalFetcher(font.path))


def _draw(context: dict, draw):
    """Run `draw` (which paints the glyphs) and refuse the poster if Pango had to draw a .notdef
    box (tofu) for a character no installed font has."""
    with _missing_glyphs() as missing:
        data = draw()
    if missing:
        chars = list(dict.fromkeys(missing))
        where = _texts_with(context, chars)
        raise PosterFontError(_(
            "No installed font can draw %(chars)s (in %(where)s), so the poster would show a box instead. "
            "Install a font that has these characters (for Chinese: %(command)s), or correct the text.",
            chars=" ".join(f"{c} (U+{ord(c):04X})" for c in chars[:10]) + (" …" if len(chars) > 10 else ""),
            where="、".join(where) or "—", command=INSTALL_HINT))
    return data


def _texts_with(context: dict, chars: list[str], limit: int = 3) -> list[str]:
    """The first texts of the poster (title, organiser, cells) that contain one of `chars`."""
    texts = [context.get("title") or "", context.get("organiser") or "", context.get("footer") or ""]
    texts += [str(v) for row in context.get("rows", []) for v in row.values() if isinstance(v, str)]
    found = [t for t in dict.fromkeys(texts) if t and any(c in t for c in chars)]
    return [f"“{t}”" for t in found[:limit]]


class _GlyphLog(logging.Handler):
    """Collects the characters WeasyPrint reports drawing as .notdef, in one thread."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.chars: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if (record.thread == self.thread and ".notdef" in str(record.msg) and len(args) == 2
                and isinstance(args[1], int)):
            self.chars.append(chr(args[1]))


@contextmanager
def _missing_glyphs():
    logger = logging.getLogger("weasyprint")
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)  # the report must reach us whatever the root level is
    handler = _GlyphLog()
    logger.addHandler(handler)
    try:
        yield handler.chars
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------------------------
# Fonts and resources


class _Font:
    """POSTER_FONT resolved: a family put first in the font stack, with an @font-face for a file."""

    def __init__(self, family: str | None = None, path: str | None = None):
        self.family = family
        self.path = path
        self.face_css = ""
        self.config = None
        if path:
            self.face_css = f'@font-face {{ font-family: "{_FONT_FACE}"; src: url("{Path(path).as_uri()}") }}'
            self.config = FontConfiguration()


def _font_setting() -> _Font:
    value = str(current_app.config.get(FONT_CONFIG_KEY) or "").strip()
    if not value:
        return _Font()
    if os.sep in value or "/" in value or _FONT_FILE.search(value):
        path = os.path.realpath(value)
        if not os.path.isfile(path):
            raise PosterFontError(_(
                "The poster font %(path)s does not exist or is not a font file. Install the fonts-noto-cjk "
                "package (%(command)s) or set POSTER_FONT to a font family or a font file.",
                path=value, command=INSTALL_HINT), status_code=500)
        return _Font(_FONT_FACE, path)
    if not _FAMILY.fullmatch(value):
        raise PosterFontError(_("POSTER_FONT must be a font family name (such as Noto Sans CJK SC) or a font "
                                "file, not %(value)s.", value=value), status_code=500)
    return _Font(value)


class _LocalFetcher(URLFetcher):
    """Resources of a poster come only from files: the static folder, the poster templates and the
    POSTER_FONT file. Nothing is fetched from the network."""

    def __init__(self, font_path: str | None = None):
        super().__init__(allowed_protocols=("file",))
        app = current_app
        self.roots = [os.path.realpath(app.static_folder),
                      os.path.realpath(os.path.join(app.template_folder, "posters"))]
        self.font_path = font_path

    def fetch(self, url, headers=None):
        path = os.path.realpath(unquote(urlsplit(url).path))
        if not (path == self.font_path or any(path.startswith(root + os.sep) for root in self.roots)):
            raise ValueError(f"posters load only local files, not {url}")
        return super().fetch(url, headers)


# --------------------------------------------------------------------------------------------
# Cell text


def _text(value) -> str:
    """A name or label as one line of text: NFC, control characters (tabs, newlines…) as a space."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    return _CONTROLS.sub(" ", text).strip()


def _number(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{round(value, 2):g}"


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    tenths = round(float(seconds) * 10)
    minutes, rest = divmod(tenths, 600)
    if minutes:
        return _("%(minutes)d min %(seconds)s s", minutes=minutes, seconds=f"{rest / 10:04.1f}")
    return _("%(seconds)s s", seconds=f"{rest / 10:.1f}")


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
