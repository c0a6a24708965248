"""Poster images of a ranking: a PNG for WeChat groups and a printable PDF (光荣榜 / top N and the
unit ranking).

Rules this module owns:
- Text is drawn only with a font that has a glyph for every character drawn (checked against the
  font's cmap with fontTools): a CJK font first (argument `font_path`, then the app config
  `POSTER_FONT`, then the environment variable `QUIZ_POSTER_FONT`, then the usual install paths of
  fonts-noto-cjk / WenQuanYi, then `fc-match`), and for a character the CJK font lacks, another
  installed font that has it. If no font has it, `PosterFontError` names what to install: a poster
  never shows tofu boxes.
- At most `MAX_ROWS` (300) rows are drawn; more are cut with a note pointing to the Excel 公示表.
- PNG: 1080 px wide, one long image (长图) whose height grows with the rows (300 one-line rows are
  about 22,000 px; the bound is about 32,000 px when every row wraps to two lines).
- PDF: A4 portrait pages (printable for a notice board), the same design drawn at 1.5x (about
  196 dpi, JPEG q90 per page), the table header repeated on every page, page numbers; pages are
  drawn and appended one at a time, so memory stays at one page.
- Ranks 1-3 get gold, silver and bronze medals (ties share a medal); long names wrap to two lines
  and are then ellipsized.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont

from quiz.errors import Invalid, QuizError

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

FONT_CONFIG_KEY = "POSTER_FONT"
FONT_ENV = "QUIZ_POSTER_FONT"
INSTALL_HINT = "apt-get install -y fonts-noto-cjk"

# Regular faces with Simplified Chinese, best first (Debian/Ubuntu, Fedora, Arch, macOS, Windows).
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
# Tried for characters the CJK font lacks (symbols, some Latin extensions).
FALLBACK_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
# The CJK font must at least have these (the labels and digits every poster draws).
CJK_SAMPLE = "光荣榜名次姓名单位得分用时参与率平均年月日第页共0123456789%…"
# Face names that mean Simplified Chinese inside a collection (.ttc).
_SC_MARKERS = re.compile(r"(\bSC\b|\bGB\b|\bCN\b|Hans|Simplified|\bSC$|微软雅黑|YaHei|PingFang SC)", re.I)

MAX_ROWS = 300                     # a poster is a notice, not an archive: the XLSX has every row
WIDTH = 1080                       # design units = PNG pixels
A4_HEIGHT = WIDTH * 297 / 210     # 1527.4: an A4 page at the design width
PDF_SCALE = 1.5                    # PDF pages are 1620 x 2291 px, about 196 dpi on A4

# Colours: deep red and gold on warm paper.
RED_DARK = (139, 18, 24)
RED = (186, 28, 34)
GOLD = (226, 175, 72)
GOLD_LIGHT = (248, 224, 168)
PAPER = (251, 246, 236)
INK = (52, 40, 33)
MUTED = (128, 112, 98)
RULE = (236, 224, 205)
HEAD_FILL = (246, 229, 200)
HEAD_INK = (124, 24, 24)
ROW_ALT = (253, 250, 244)
TOP_FILL = (255, 244, 216)
WHITE = (255, 255, 255)
MEDALS = {1: ((233, 182, 52), (176, 128, 20)),   # gold: fill, ring
          2: ((178, 185, 195), (128, 136, 148)),  # silver
          3: ((209, 139, 78), (158, 96, 44))}     # bronze

_IGNORABLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff\U000e0100-\U000e01ef]")


class PosterFontError(QuizError):
    """No installed font can draw the poster's text (the server needs a CJK font)."""

    status_code = 500


# --------------------------------------------------------------------------------------------
# Fonts


@dataclass(frozen=True)
class FontFace:
    """One face of a font file (`index` selects the face inside a .ttc collection)."""

    path: str
    index: int = 0

    @property
    def name(self) -> str:
        return " ".join(_pil_font(self, 20).getname())

    @property
    def cmap(self) -> frozenset[int]:
        return _cmap(self.path, self.index)

    def covers(self, char: str) -> bool:
        return ord(char) in self.cmap


@dataclass
class PosterFonts:
    """The faces a poster is drawn with: regular and bold CJK faces, then fallbacks per character."""

    regular: FontFace
    bold: FontFace | None = None
    fallbacks: list[FontFace] = field(default_factory=list)

    def missing(self, text: str) -> str:
        """Characters of `text` (after cleaning) that none of the faces has, in order, once each."""
        seen: dict[str, None] = {}
        for char in clean_text(text):
            if char not in seen and self._face_for(char, False) is None:
                seen[char] = None
        return "".join(seen)

    def ensure(self, text: str) -> None:
        """Add installed fallback faces for characters the CJK face lacks; raise if none has them."""
        missing = self.missing(text)
        if not missing:
            return
        for face in _fallback_candidates(missing):
            if face not in self.fallbacks and face != self.regular and any(face.covers(c) for c in missing):
                self.fallbacks.append(face)
                missing = self.missing(missing)
                if not missing:
                    return
        raise PosterFontError(_(
            "No installed font can draw %(chars)s on the poster. Install a font that has these "
            "characters, or set QUIZ_POSTER_FONT to one.", chars=" ".join(f"{c} (U+{ord(c):04X})" for c in missing)))

    def _face_for(self, char: str, bold: bool) -> tuple[FontFace, bool] | None:
        """The face to draw `char` with, and whether to embolden it with a stroke."""
        if bold and self.bold is not None and self.bold.covers(char):
            return self.bold, False
        if self.regular.covers(char):
            return self.regular, bold
        for face in self.fallbacks:
            if face.covers(char):
                return face, bold
        return None

    def runs(self, text: str, bold: bool) -> list[tuple[str, FontFace, bool]]:
        """`text` split into runs drawn with one face each."""
        runs: list[tuple[str, FontFace, bool]] = []
        for char in text:
            found = self._face_for(char, bold)
            if found is None:  # ensure() was not called for this text: never draw tofu
                raise PosterFontError(_no_font_message())
            face, stroke = found
            if runs and runs[-1][1] == face and runs[-1][2] == stroke:
                runs[-1] = (runs[-1][0] + char, face, stroke)
            else:
                runs.append((char, face, stroke))
        return runs


def clean_text(value) -> str:
    """A cell or label as one line of drawable text: NFC, tabs and newlines as spaces, control,
    format, private-use and variation-selector characters removed (they have no standard glyph)."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = re.sub(r"[\t\r\n\v\f]+", " ", text)
    text = _IGNORABLE.sub("", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"))


def _no_font_message() -> str:
    return _("No font with Chinese characters was found for posters. Install the fonts-noto-cjk package "
             "(%(command)s) or set QUIZ_POSTER_FONT to a font file with Chinese characters.", command=INSTALL_HINT)


@lru_cache(maxsize=32)
def _cmap(path: str, index: int) -> frozenset[int]:
    """Code points the face maps to a glyph (its best Unicode cmap)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset((font.getBestCmap() or {}).keys())


_thread_fonts = threading.local()


def _pil_font(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    """A loaded face at a size, cached per thread (a FreeType face must not be shared by threads)."""
    cache = getattr(_thread_fonts, "cache", None)
    if cache is None:
        cache = _thread_fonts.cache = {}
    font = cache.get((face, size))
    if font is None:
        if len(cache) > 128:
            cache.clear()
        font = cache[(face, size)] = ImageFont.truetype(face.path, size=size, index=face.index)
    return font


@lru_cache(maxsize=32)
def _simplified_face_index(path: str) -> int:
    """The face of a collection for Simplified Chinese (Noto Sans CJK: 'Noto Sans CJK SC', index 2);
    0 for a single-face file or when no face says it is Simplified Chinese."""
    names = []
    for index in range(64):
        try:
            names.append(" ".join(ImageFont.truetype(path, size=12, index=index).getname()))
        except OSError:
            break
    proportional = [i for i, n in enumerate(names) if _SC_MARKERS.search(n) and "Mono" not in n]
    any_sc = [i for i, n in enumerate(names) if _SC_MARKERS.search(n)]
    return (proportional or any_sc or [0])[0]


def _face(path: str, index: int | None = None) -> FontFace | None:
    """The Simplified Chinese face of a readable font file, or None."""
    if not path or not os.path.isfile(path):
        return None
    try:
        face = FontFace(path, _simplified_face_index(path) if index is None else index)
        face.cmap  # noqa: B018  (loads the cmap: fails for files that are not fonts)
        _pil_font(face, 20)
    except Exception:  # noqa: BLE001  (any unreadable file is just not a candidate)
        return None
    return face


def _has_cjk(face: FontFace | None) -> bool:
    return face is not None and all(face.covers(c) for c in CJK_SAMPLE)


def _fc_match(pattern: str) -> tuple[str, int] | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", pattern], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.splitlines()
    if not lines or not lines[0]:
        return None
    index = int(lines[1]) if len(lines) > 1 and lines[1].strip().isdigit() else None
    return lines[0].strip(), index


def _configured_font() -> str | None:
    try:
        from flask import current_app, has_app_context

        if has_app_context() and current_app.config.get(FONT_CONFIG_KEY):
            return str(current_app.config[FONT_CONFIG_KEY])
    except ImportError:  # pragma: no cover
        pass
    return os.environ.get(FONT_ENV) or None


def find_font(font_path: str | None = None) -> PosterFonts:
    """The fonts to draw posters with. An explicit `font_path` (or POSTER_FONT / QUIZ_POSTER_FONT)
    must exist and have Chinese characters, else PosterFontError; otherwise the known install paths
    are tried, then fc-match."""
    explicit = font_path or _configured_font()
    if explicit:
        face = _face(explicit)
        if face is None:
            raise PosterFontError(_(
                "The poster font %(path)s does not exist or is not a font file. Install the fonts-noto-cjk "
                "package (%(command)s) or set QUIZ_POSTER_FONT to a font file with Chinese characters.",
                path=explicit, command=INSTALL_HINT))
        if not _has_cjk(face):
            raise PosterFontError(_(
                "The poster font %(path)s has no Chinese characters. Install the fonts-noto-cjk package "
                "(%(command)s) or set QUIZ_POSTER_FONT to a font file with Chinese characters.",
                path=explicit, command=INSTALL_HINT))
        return PosterFonts(face, _bold_sibling(face))
    for path in KNOWN_FONTS:
        face = _face(path)
        if _has_cjk(face):
            return PosterFonts(face, _bold_sibling(face))
    for pattern in ("Noto Sans CJK SC", "sans-serif:lang=zh-cn"):
        found = _fc_match(pattern)
        face = _face(*found) if found else None
        if _has_cjk(face):
            return PosterFonts(face, _bold_sibling(face))
    raise PosterFontError(_no_font_message())


def _bold_sibling(face: FontFace) -> FontFace | None:
    """NotoSansCJK-Regular.ttc -> NotoSansCJK-Bold.ttc (same face index), when installed."""
    base = os.path.basename(face.path)
    if "Regular" not in base:
        return None
    bold = _face(os.path.join(os.path.dirname(face.path), base.replace("Regular", "Bold")), face.index)
    return bold if _has_cjk(bold) else None


def _fallback_candidates(missing: str):
    for path in (*KNOWN_FONTS, *FALLBACK_FONTS):
        face = _face(path)
        if face is not None:
            yield face
    for char in missing[:20]:
        found = _fc_match(f":charset={ord(char):x}")
        face = _face(*found) if found else None
        if face is not None:
            yield face


def missing_glyphs(text: str, font_path: str | None = None) -> str:
    """Characters of `text` the poster fonts cannot draw ('' when all can be drawn)."""
    fonts = find_font(font_path)
    try:
        fonts.ensure(text)
    except PosterFontError:
        pass
    return fonts.missing(text)


# --------------------------------------------------------------------------------------------
# Drawing


class _Canvas:
    """Drawing in design units (1080 wide) on an image scaled by `scale`, text through PosterFonts."""

    def __init__(self, fonts: PosterFonts, height: float, scale: float = 1.0):
        self.fonts = fonts
        self.scale = scale
        self.image = Image.new("RGB", (self.px(WIDTH), self.px(height)), PAPER)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, value: float) -> int:
        return int(round(value * self.scale))

    def box(self, x0, y0, x1, y1) -> list[int]:
        return [self.px(x0), self.px(y0), self.px(x1) - 1, self.px(y1) - 1]

    def rect(self, x0, y0, x1, y1, fill, radius: float = 0, outline=None, width: float = 1) -> None:
        box = self.box(x0, y0, x1, y1)
        if radius:
            self.draw.rounded_rectangle(box, radius=self.px(radius), fill=fill, outline=outline,
                                        width=max(1, self.px(width)) if outline else 0)
        else:
            self.draw.rectangle(box, fill=fill, outline=outline, width=max(1, self.px(width)) if outline else 0)

    def line(self, x0, y0, x1, y1, fill, width: float = 1) -> None:
        self.draw.line([self.px(x0), self.px(y0), self.px(x1), self.px(y1)], fill=fill, width=max(1, self.px(width)))

    def circle(self, cx, cy, r, fill, outline=None, width: float = 0) -> None:
        self.draw.ellipse(self.box(cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline,
                          width=self.px(width) if outline else 0)

    def text_width(self, text: str, size: float, bold: bool = False, tracking: float = 0) -> float:
        return text_width(self.fonts, text, size, bold, tracking)

    def text(self, x, baseline, text: str, size: float, fill, bold: bool = False, tracking: float = 0,
             align: str = "left") -> None:
        """One line of text on `baseline`; x is its left edge, centre or right edge per `align`."""
        if align != "left":
            width = self.text_width(text, size, bold, tracking)
            x -= width / 2 if align == "center" else width
        for run, face, stroke in self.fonts.runs(text, bold):
            font = _pil_font(face, self.px(size))
            stroke_width = max(1, self.px(size / 36)) if stroke else 0
            pieces = list(run) if tracking else [run]
            for piece in pieces:
                self.draw.text((self.px(x), self.px(baseline)), piece, font=font, fill=fill, anchor="ls",
                               stroke_width=stroke_width, stroke_fill=fill)
                x += _pil_font(face, 100).getlength(piece) * size / 100 + (tracking if tracking and _wide(piece) else 0)


def text_width(fonts: PosterFonts, text: str, size: float, bold: bool = False, tracking: float = 0) -> float:
    """Width of one line of text in design units (measured at 100 px and scaled, so layout is the
    same at every output scale)."""
    total = 0.0
    for run, face, _stroke in fonts.runs(text, bold):
        total += _pil_font(face, 100).getlength(run) * size / 100
    return total + tracking * sum(1 for c in text if _wide(c))


def _wide(char: str) -> bool:
    """CJK (wide) characters get letter-spacing in the banner; digits and Latin stay together."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _baseline(top: float, height: float, size: float) -> float:
    """Baseline that centres CJK ideographs (and digits) vertically in a box."""
    return top + height / 2 + size * 0.36


def wrap(fonts: PosterFonts, text: str, size: float, width: float, max_lines: int, bold: bool = False) -> list[str]:
    """Greedy line breaks (anywhere between CJK characters, at spaces or slashes in Latin text when
    possible); the last allowed line ends with … when text remains."""
    text = clean_text(text).strip()
    if not text:
        return [""]
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines:
        if text_width(fonts, rest, size, bold) <= width:
            lines.append(rest)
            rest = ""
            break
        cut = _fit(fonts, rest, size, width, bold)
        soft = max(rest.rfind(" ", 0, cut + 1), rest.rfind("/", 0, cut))
        if soft >= cut // 2 and soft > 0 and _latin(rest[cut - 1:cut + 1]):
            cut = soft + 1
        # 禁则: no opening bracket at a line end, no closing punctuation at a line start
        while cut > 1 and (rest[cut - 1] in _NO_LINE_END or (cut < len(rest) and rest[cut] in _NO_LINE_START)):
            cut -= 1
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        lines[-1] = ellipsize(fonts, lines[-1] + rest, size, width, bold)
    return lines


_NO_LINE_END = "([{（【《〈「『“‘〔"
_NO_LINE_START = ")]}）】》〉」』”’〕，。、；：？！,.;:?!%…·－—"


def _latin(pair: str) -> bool:
    """Both characters belong to a word that should not be split (letters or digits, not CJK)."""
    return len(pair) == 2 and all(c.isalnum() and unicodedata.east_asian_width(c) not in ("W", "F") for c in pair)


def _fit(fonts: PosterFonts, text: str, size: float, width: float, bold: bool) -> int:
    """How many leading characters fit in `width` (at least one)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(fonts, text[:middle], size, bold) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def ellipsize(fonts: PosterFonts, text: str, size: float, width: float, bold: bool = False) -> str:
    if text_width(fonts, text, size, bold) <= width:
        return text
    keep = _fit(fonts, text, size, max(0.0, width - text_width(fonts, "…", size, bold)), bold)
    return text[:keep].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Layout

MARGIN = 40                 # table card inset from the page edge
PAD = 16                    # cell padding left/right
BODY = 30                   # body font size
HEAD = 26                   # table header font size
LINE = 38                   # line height of wrapped body text
MEDAL_R = 24
EMPTY_ROW = 96              # height of the "no results yet" row of an empty table


@dataclass
class _Table:
    columns: list[list[str]]        # header lines per column
    widths: list[float]
    aligns: list[str]
    cells: list[list[list[str]]]    # rows -> columns -> lines
    heights: list[float]
    ranks: list[int | None]
    header_height: float
    body: float = BODY
    rank_column: int | None = 0
    empty: str = ""                 # shown in place of rows when there are none

    def rows_height(self, rows: range) -> float:
        return sum(self.heights[i] for i in rows) if self.heights else EMPTY_ROW


@dataclass
class _Poster:
    raw_title: str
    title: list[str]
    title_size: float
    subtitle: list[str]
    banner: str
    table: _Table
    footer: list[str]
    note: str


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{round(value, 2):g}"
    return clean_text(value)


# Numbers, percentages and durations ("98.5", "92.3%", "2分05.3秒", "2 min 05.3 s", "—") are centred.
_NUMBERISH = re.compile(r"[-+]?\d[\d.,]*\s*(%|分|秒|s|min)?(\s*\d[\d.,]*\s*(秒|s))?|[—–-]")


def _rank_value(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _layout_table(fonts: PosterFonts, columns: list[str], rows: list[list], rank_column: int | None) -> _Table:
    count = len(columns)
    body = BODY if count <= 6 else 26
    texts = [[_cell_text(r[i]) if i < len(r) else "" for i in range(count)] for r in rows]
    numeric = [all(_NUMBERISH.fullmatch(t[i]) or not t[i] for t in texts) and any(t[i] for t in texts)
               for i in range(count)]
    aligns = ["center" if (numeric[i] or i == rank_column) else "left" for i in range(count)]
    heads = [clean_text(c) for c in columns]
    natural = []
    for i in range(count):
        cells = max((text_width(fonts, t[i], body, True) for t in texts[:2000]), default=0)  # bold: top 3
        head = text_width(fonts, heads[i], HEAD, True)
        width = max(cells, head) + 2 * PAD + 2  # +2: slack against rounding
        if i == rank_column:
            width = max(width, 2 * MEDAL_R + 2 * PAD)
        elif numeric[i]:
            width += 24  # figures get some air even when a long unit name takes the rest
        natural.append(width)
    available = WIDTH - 2 * MARGIN
    widths = _share(natural, [not numeric[i] and i != rank_column for i in range(count)], available, body)
    header_lines = [wrap(fonts, heads[i], HEAD, widths[i] - 2 * PAD, 2, bold=True) for i in range(count)]
    header_height = 64 if max(len(h) for h in header_lines) == 1 else 64 + 32
    cells, heights, ranks = [], [], []
    for t in texts:
        rank = _rank_value(t[rank_column]) if rank_column is not None and rank_column < count else None
        bold = rank is not None and rank <= 3
        lines = [wrap(fonts, t[i], body, widths[i] - 2 * PAD, 1 if numeric[i] else 2, bold=bold and i != rank_column)
                 for i in range(count)]
        cells.append(lines)
        ranks.append(rank)
        heights.append(72 + LINE * (max(len(x) for x in lines) - 1))
    return _Table(header_lines, widths, aligns, cells, heights, ranks, header_height, body, rank_column,
                  "" if rows else _("No results yet."))


def _share(natural: list[float], flexible: list[bool], available: float, body: float) -> list[float]:
    """Column widths filling `available`: fixed (numeric) columns keep their natural width; text
    columns narrower than an equal share of the rest keep theirs, and the wider ones split what is
    left equally (never below four characters), so a long unit name cannot squeeze a short name."""
    total = sum(natural)
    if total <= available:
        return [w + (available - total) * w / total for w in natural]
    minimum = 4 * body + 2 * PAD
    flex = sorted((i for i, f in enumerate(flexible) if f), key=lambda i: natural[i])
    room = available - sum(w for w, f in zip(natural, flexible) if not f)
    if not flex or room < minimum * len(flex):
        return [w * available / total for w in natural]  # too many columns: shrink them all
    widths = list(natural)
    for position, i in enumerate(flex):
        share = room / (len(flex) - position)
        widths[i] = max(minimum, min(natural[i], share))
        room -= widths[i]
    excess = sum(widths) - available
    if excess > 0:  # the minimums pushed past the edge: take it from the widest text column
        widths[max(flex, key=lambda i: widths[i])] -= excess
    return widths


def _header_height(poster: _Poster) -> float:
    height = 56
    if poster.banner:
        height += 60 + 24
    height += poster.title_size * 1.3 * len(poster.title)
    if poster.subtitle:
        height += 14 + 42 * len(poster.subtitle)
    return height + 70


def _footer_height(poster: _Poster, with_page_number: bool = False) -> float:
    lines = len(poster.footer) + (1 if poster.note else 0) + (1 if with_page_number else 0)
    return 36 + 36 * lines + 40


def _build(fonts: PosterFonts, title: str, subtitle: str, columns: list[str], rows: list[list], footer: str,
           banner: str, rank_column: int | None, limit: int) -> _Poster:
    drawn = [title, subtitle, footer, banner, *columns, *(_cell_text(c) for r in rows[:limit] for c in r),
             "…", "0123456789%"]
    note = ""
    if len(rows) > limit:
        note = _("Showing the first %(shown)d of %(total)d rows; the full list is in the Excel export.",
                 shown=limit, total=len(rows))
        drawn.append(note)
    drawn += [_("Page %(page)d of %(pages)d", page=1, pages=1), _("No results yet.")]
    fonts.ensure("".join(clean_text(t) for t in drawn))
    title_size, title_lines = 60, []
    for size in (60, 52, 46):
        title_size = size
        title_lines = wrap(fonts, title, size, WIDTH - 2 * 70, 3, bold=True)
        if len(title_lines) <= 2:
            break
    return _Poster(
        raw_title=clean_text(title).strip(), title=title_lines, title_size=title_size,
        subtitle=wrap(fonts, subtitle, 30, WIDTH - 2 * 80, 2) if clean_text(subtitle).strip() else [],
        banner=clean_text(banner).strip(),
        table=_layout_table(fonts, columns, rows[:limit], rank_column),
        footer=wrap(fonts, footer, 24, WIDTH - 2 * 60, 4) if clean_text(footer).strip() else [],
        note=ellipsize(fonts, note, 24, WIDTH - 2 * 60))


def _draw_header(canvas: _Canvas, poster: _Poster) -> float:
    """The red band with banner, title and subtitle; returns its height."""
    height = _header_height(poster)
    _red_band(canvas, 0, height)
    y = 56
    if poster.banner:
        width = canvas.text_width(poster.banner, 34, True, tracking=10) + 64
        x0 = (WIDTH - width) / 2
        canvas.rect(x0, y, x0 + width, y + 60, fill=GOLD, radius=30)
        canvas.rect(x0 + 5, y + 5, x0 + width - 5, y + 55, fill=None, radius=25, outline=RED_DARK, width=1.5)
        canvas.text(WIDTH / 2 + 5, _baseline(y, 60, 34), poster.banner, 34, RED_DARK, bold=True, tracking=10,
                    align="center")
        for side in (-1, 1):  # small ornaments either side of the banner
            cx = WIDTH / 2 + side * (width / 2 + 54)
            canvas.line(cx - 34, y + 30, cx + 34, y + 30, GOLD, 2)
            _diamond(canvas, cx + side * 44, y + 30, 7, GOLD)
        y += 60 + 24
    line_height = poster.title_size * 1.3
    for line in poster.title:
        canvas.text(WIDTH / 2, _baseline(y, line_height, poster.title_size), line, poster.title_size, WHITE,
                    bold=True, align="center")
        y += line_height
    if poster.subtitle:
        y += 14
        for line in poster.subtitle:
            canvas.text(WIDTH / 2, _baseline(y, 42, 30), line, 30, GOLD_LIGHT, align="center")
            y += 42
    return height


def _red_band(canvas: _Canvas, top: float, height: float) -> None:
    """A red band (dark at the top) with two faint rings clipped to it and a double gold rule."""
    band = _Canvas(canvas.fonts, height, canvas.scale)
    steps = 24
    for i in range(steps):
        t = i / (steps - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(RED_DARK, RED))
        band.rect(0, height * i / steps, WIDTH, height * (i + 1) / steps + 1, fill=colour)
    for cx, cy, r in ((-40, 30, 170), (WIDTH + 30, height - 20, 200)):
        band.circle(cx, cy, r, fill=None, outline=(200, 60, 56), width=3)
        band.circle(cx, cy, r - 26, fill=None, outline=(196, 48, 46), width=2)
    band.rect(0, height - 12, WIDTH, height - 8, fill=GOLD)
    band.rect(0, height - 4, WIDTH, height, fill=GOLD)
    canvas.image.paste(band.image, (0, canvas.px(top)))


def _diamond(canvas: _Canvas, cx: float, cy: float, r: float, fill) -> None:
    canvas.draw.polygon([(canvas.px(cx), canvas.px(cy - r)), (canvas.px(cx + r), canvas.px(cy)),
                         (canvas.px(cx), canvas.px(cy + r)), (canvas.px(cx - r), canvas.px(cy))], fill=fill)


def _draw_table(canvas: _Canvas, table: _Table, top: float, rows: range) -> float:
    """The table card with its header and the given rows; returns the y below the card."""
    height = table.header_height + table.rows_height(rows)
    x0, x1 = MARGIN, WIDTH - MARGIN
    canvas.rect(x0 + 2, top + 5, x1 + 2, top + height + 6, fill=(234, 222, 204), radius=18)  # shadow
    canvas.rect(x0, top, x1, top + height, fill=WHITE, radius=18)
    canvas.rect(x0, top, x1, top + table.header_height + 18, fill=HEAD_FILL, radius=18)
    canvas.rect(x0, top + table.header_height - 2, x1, top + table.header_height, fill=GOLD)
    x = x0
    for lines, width, align in zip(table.columns, table.widths, table.aligns):
        y = top + (table.header_height - 32 * len(lines)) / 2
        for line in lines:
            _cell_line(canvas, line, x, width, y, 32, HEAD, HEAD_INK, True, "center" if align == "center" else "left")
            y += 32
        x += width
    y = top + table.header_height
    if not table.heights:
        canvas.rect(x0, y, x1, y + EMPTY_ROW, fill=WHITE, radius=18)
        canvas.rect(x0, y, x1, y + EMPTY_ROW - 18, fill=WHITE)
        canvas.text(WIDTH / 2, _baseline(y, EMPTY_ROW, table.body), table.empty, table.body, MUTED, align="center")
    for n, i in enumerate(rows):
        row_height = table.heights[i]
        rank = table.ranks[i]
        top3 = rank is not None and 1 <= rank <= 3
        bottom = y + row_height
        last = n == len(rows) - 1
        fill = TOP_FILL if top3 else (ROW_ALT if n % 2 else WHITE)
        if last:
            canvas.rect(x0, y, x1, bottom, fill=fill, radius=18)
            canvas.rect(x0, y, x1, bottom - 18, fill=fill)
        else:
            canvas.rect(x0, y, x1, bottom, fill=fill)
            canvas.line(x0 + 12, bottom - 1, x1 - 12, bottom - 1, RULE, 1)
        x = x0
        for column, (lines, width, align) in enumerate(zip(table.cells[i], table.widths, table.aligns)):
            if top3 and column == table.rank_column:
                _medal(canvas, x + width / 2, y + row_height / 2, rank)
            else:
                ly = y + (row_height - LINE * len(lines)) / 2
                for line in lines:
                    _cell_line(canvas, line, x, width, ly, LINE, table.body, HEAD_INK if top3 else INK, top3, align)
                    ly += LINE
            x += width
        y = bottom
    canvas.rect(x0, top, x1, top + height, fill=None, radius=18, outline=(232, 214, 186), width=1.5)
    return top + height


def _cell_line(canvas, text, x, width, top, line_height, size, fill, bold, align) -> None:
    if align == "center":
        canvas.text(x + width / 2, _baseline(top, line_height, size), text, size, fill, bold, align="center")
    else:
        canvas.text(x + PAD, _baseline(top, line_height, size), text, size, fill, bold)


def _medal(canvas: _Canvas, cx: float, cy: float, rank: int) -> None:
    fill, ring = MEDALS[rank]
    ribbon = (RED, (168, 24, 30))
    for side, colour in ((-1, ribbon[0]), (1, ribbon[1])):  # two ribbon tails behind the medal
        canvas.draw.polygon([(canvas.px(cx + side * 4), canvas.px(cy)), (canvas.px(cx + side * 18), canvas.px(cy)),
                             (canvas.px(cx + side * 22), canvas.px(cy + MEDAL_R + 6)),
                             (canvas.px(cx + side * 13), canvas.px(cy + MEDAL_R + 1)),
                             (canvas.px(cx + side * 6), canvas.px(cy + MEDAL_R + 8))], fill=colour)
    canvas.circle(cx, cy - 2, MEDAL_R, fill=ring)
    canvas.circle(cx, cy - 2, MEDAL_R - 4, fill=fill)
    canvas.circle(cx, cy - 2, MEDAL_R - 8, fill=None, outline=tuple(min(255, c + 40) for c in fill), width=1.5)
    canvas.text(cx, _baseline(cy - 2 - MEDAL_R, 2 * MEDAL_R, 26), str(rank), 26, WHITE, True, align="center")


def _draw_footer(canvas: _Canvas, poster: _Poster, top: float, page: str = "") -> None:
    y = top + 30
    for line in ([poster.note] if poster.note else []) + poster.footer + ([page] if page else []):
        canvas.text(WIDTH / 2, _baseline(y, 36, 24), line, 24, MUTED, align="center")
        y += 36
    bottom = canvas.image.height / canvas.scale
    canvas.rect(0, bottom - 14, WIDTH, bottom, fill=RED)
    canvas.rect(0, bottom - 18, WIDTH, bottom - 15, fill=GOLD)


def _png(poster: _Poster, fonts: PosterFonts) -> bytes:
    table = poster.table
    table_top = _header_height(poster) + 36
    table_bottom = table_top + table.header_height + table.rows_height(range(len(table.heights)))
    canvas = _Canvas(fonts, table_bottom + _footer_height(poster) + 18)
    _draw_header(canvas, poster)
    _draw_table(canvas, table, table_top, range(len(table.heights)))
    _draw_footer(canvas, poster, table_bottom)
    buffer = io.BytesIO()
    canvas.image.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _compact_header(canvas: _Canvas, poster: _Poster) -> float:
    """Pages after the first: a slim band with the title on one line."""
    height = 96
    _red_band(canvas, 0, height)
    title = ellipsize(canvas.fonts, poster.raw_title, 32, WIDTH - 2 * 60, True)
    canvas.text(WIDTH / 2, _baseline(0, height - 12, 32), title, 32, WHITE, True, align="center")
    return height


def _pages(poster: _Poster) -> list[range]:
    """Rows per A4 page: the first page under the full header, later ones under a slim band."""
    table = poster.table
    footer = _footer_height(poster, with_page_number=True) + 18
    pages, start, count = [], 0, len(table.heights)
    first = True
    while start < count or not pages:
        top = (_header_height(poster) if first else 96) + 36
        room = A4_HEIGHT - footer - top - table.header_height
        end, used = start, 0.0
        while end < count and (used + table.heights[end] <= room or end == start):
            used += table.heights[end]
            end += 1
        pages.append(range(start, end))
        start, first = end, False
    return pages


def _pdf(poster: _Poster, fonts: PosterFonts, title: str) -> bytes:
    """A4 pages drawn one at a time and appended to the PDF (memory stays at one page)."""
    pages = _pages(poster)
    buffer = io.BytesIO()
    resolution = WIDTH * PDF_SCALE / (210 / 25.4)  # pixels per inch so the page is exactly A4
    for number, rows in enumerate(pages, start=1):
        canvas = _Canvas(fonts, A4_HEIGHT, PDF_SCALE)
        header = _draw_header(canvas, poster) if number == 1 else _compact_header(canvas, poster)
        bottom = _draw_table(canvas, poster.table, header + 36, rows)
        last = number == len(pages)
        page_label = _("Page %(page)d of %(pages)d", page=number, pages=len(pages))
        shown = replace(poster, footer=poster.footer if last else [], note=poster.note if last else "")
        _draw_footer(canvas, shown, bottom, page_label)
        buffer.seek(0, io.SEEK_END)
        # document info only with the first page: repeating it on append duplicates its keys
        info = {"title": clean_text(title), "creator": "quiz", "producer": "quiz"} if number == 1 else {}
        canvas.image.save(buffer, "PDF", append=number > 1, resolution=resolution, quality=90, subsampling=0,
                          **info)
    return buffer.getvalue()


def poster_png(title: str, subtitle: str, columns: list[str], rows: list[list], *, footer: str = "",
               font_path: str | None = None, banner: str = "", rank_column: int | None = 0) -> bytes:
    """A 1080 px wide PNG: red band with `banner`, `title` and `subtitle`, then the table (ranks
    1-3 of `rank_column` as medals), then `footer`. At most MAX_ROWS rows (then a note)."""
    fonts = find_font(font_path)
    poster = _build(fonts, title, subtitle, columns, rows, footer, banner, rank_column, MAX_ROWS)
    return _png(poster, fonts)


def poster_pdf(title: str, subtitle: str, columns: list[str], rows: list[list], *, footer: str = "",
               font_path: str | None = None, banner: str = "", rank_column: int | None = 0) -> bytes:
    """The same poster as a PDF of A4 pages (header repeated, page numbers); at most MAX_ROWS rows."""
    fonts = find_font(font_path)
    poster = _build(fonts, title, subtitle, columns, rows, footer, banner, rank_column, MAX_ROWS)
    return _pdf(poster, fonts, title)


# --------------------------------------------------------------------------------------------
# Builders for routes and the CLI


def poster_date(now: datetime) -> str:
    """The day in Beijing time in the user's language (zh_CN: 2026年11月23日)."""
    day: date = now.astimezone(LOCAL_TZ).date()
    try:
        from flask_babel import format_date

        return format_date(day, "long")
    except (RuntimeError, KeyError, AttributeError):  # no app context
        return f"{day.year}年{day.month}月{day.day}日"


def _subtitle(now: datetime, organiser: str | None) -> str:
    parts = [poster_date(now)]
    if organiser and organiser.strip():
        parts.append(organiser.strip())
    return "  ·  ".join(parts)


def _render(fmt: str, title: str, subtitle: str, columns, rows, **options) -> bytes:
    kind = (fmt or "").lower()
    if kind == "png":
        return poster_png(title, subtitle, columns, rows, **options)
    if kind == "pdf":
        return poster_pdf(title, subtitle, columns, rows, **options)
    raise Invalid(_("The poster format must be PNG or PDF."))


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


def honour_poster(quiz, entries: list[dict], *, fmt: str, now: datetime, organiser: str | None = None,
                  top: int | None = None, footer: str | None = None, font_path: str | None = None) -> bytes:
    """光荣榜 / top N of a quiz leaderboard (entries from ranking.leaderboard) as PNG or PDF bytes."""
    banner = _("Honour roll")
    if top:
        banner = banner + " · " + _("Top %(count)d", count=top)
    columns = [_("Rank"), _("Full name"), _("Unit"), _("Score"), _("Time used")]
    rows = [[e["rank"], e["name"], e["unit"], _number(e["score"]), _duration(e.get("time_used_seconds"))]
            for e in entries]
    if footer is None:
        footer = _("Ranked by score (higher first), then by time used (shorter first).")
    return _render(fmt, quiz.title, _subtitle(now, organiser), columns, rows, footer=footer, banner=banner,
                   font_path=font_path)


def unit_poster(quiz, rows: list, *, fmt: str, now: datetime, organiser: str | None = None,
                level: int | None = None, footer: str | None = None, font_path: str | None = None) -> bytes:
    """The unit ranking (rows: reports.UnitRow) as PNG or PDF bytes. Ranks are within a level, so
    one level is shown: `level` (a depth), else the report page's default level; the ranks are
    the report's, and units that did not take part are listed after the ranked ones as 未参与.
    Units are named relative to their common parent."""
    from quiz.services.reports import level_rows, relative_names

    _depth, chosen = level_rows(rows, level)
    labels = relative_names([r.path for r in chosen])
    columns = [_("Rank"), _("Unit"), _("Participation rate"), _("Average score")]
    body = [[_("Did not take part") if r.rank is None else r.rank, label, _percent(r.participation_rate),
             _number(r.average_score)] for r, label in zip(chosen, labels)]
    if footer is None:
        footer = _("Participation rate = participants ÷ headcount; the average score is over participants.")
    return _render(fmt, quiz.title, _subtitle(now, organiser), columns, body, footer=footer,
                   banner=_("Unit ranking"), font_path=font_path)


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
