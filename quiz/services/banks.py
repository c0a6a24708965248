"""Bank browsing, question edits (the picture included) and retirement, and export to the
canonical template (a ZIP with the pictures when questions have some)."""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from quiz.errors import Invalid, NotFound
from quiz.extensions import db
from quiz.models import Bank, Picture, Question, User
from quiz.models.banks import encode_tags
from quiz.questions import LETTERS, AnswerError, get_type
from quiz.services import pictures, scope, spreadsheets
from quiz.services.papers import invalidate_pools
from quiz.services.importer import (DIFFICULTY_NAMES, find_bank, fingerprint, parse_difficulty,
                                    parse_points, split_tags)

TEMPLATE_HEADER = ["题型", "题干", *[f"选项{c}" for c in LETTERS], "答案", "解析", "分值", "难度", "知识点"]
# Added after 知识点 when a bank exports pictures: the file's path in the exported ZIP.
PICTURE_HEADER = "图片"
PICTURE_FOLDER = "images"


def get_bank(name: str, *, actor: User | None) -> Bank:
    """The bank called `name` within the actor's scope, or NotFound / Forbidden."""
    bank = find_bank(name)
    if bank is None:
        raise NotFound(_("Question bank “%(name)s” does not exist.", name=name))
    scope.require_bank(actor, bank)
    return bank


def question_filter(bank: Bank | list[Bank], *, q: str = "", qtype: str = "", tag: str = "",
                    status: str = "active"):
    """Select of a bank's (or several banks') questions filtered by text (stem/explanation),
    type, tag and status."""
    banks = bank if isinstance(bank, list) else [bank]
    stmt = select(Question).where(Question.bank_id.in_([b.id for b in banks]))
    if status == "active":
        stmt = stmt.where(Question.retired.is_(False))
    elif status == "retired":
        stmt = stmt.where(Question.retired.is_(True))
    if qtype:
        stmt = stmt.where(Question.type == qtype)
    if tag:
        stmt = stmt.where(Question.tags_text.contains(f";{tag.strip()};", autoescape=True))
    if q:
        stmt = stmt.where(or_(Question.stem.icontains(q.strip(), autoescape=True),
                              Question.explanation.icontains(q.strip(), autoescape=True)))
    return stmt.order_by(Question.id)


def bank_tags(bank: Bank) -> list[str]:
    """Every tag used in the bank, sorted."""
    tags: set[str] = set()
    for text in db.session.execute(select(Question.tags_text).where(Question.bank_id == bank.id).distinct()).scalars():
        tags.update(t for t in text.split(";") if t)
    return sorted(tags)


def bank_counts(bank: Bank) -> dict[str, int]:
    """Active questions per type."""
    rows = db.session.execute(
        select(Question.type, func.count()).where(Question.bank_id == bank.id, Question.retired.is_(False))
        .group_by(Question.type)
    )
    return {t: n for t, n in rows}


def picture_count(bank: Bank) -> int:
    """Active questions with a picture (their bank exports as a ZIP)."""
    return db.session.scalar(select(func.count()).select_from(Question).where(
        Question.bank_id == bank.id, Question.retired.is_(False), Question.picture.is_not(None))) or 0


def edit_question(question: Question, *, stem: str, options: list[str], answer: str,
                  explanation: str, points: str, difficulty: str, tags: str, actor: User | None,
                  now: datetime, max_stem: int = 5000, picture: bytes | None = None,
                  remove_picture: bool = False) -> Question:
    """Change a question; the answer is normalised as on import. `picture` (an uploaded file's
    bytes) replaces its picture, `remove_picture` removes it; a picture no question shows any more
    is deleted. Raises Invalid naming the field."""
    scope.require_bank(actor, question.bank)
    new_picture = None
    if picture is not None:
        try:
            new_picture = pictures.check_picture(picture)
        except pictures.PictureProblem as exc:
            raise Invalid(_("Picture: %(error)s", error=str(exc)))
    stem = (stem or "").strip()
    if not stem:
        raise Invalid(_("Stem: %(error)s", error=_("the stem is empty")))
    if len(stem) > max_stem:
        raise Invalid(_("Stem: %(error)s", error=_("the stem is too long (%(length)d characters, at most %(limit)d)",
                                                    length=len(stem), limit=max_stem)))
    kind = get_type(question.type)
    options = [o.strip() for o in options]
    while options and not options[-1]:
        options.pop()
    if any(not o for o in options):
        raise Invalid(_("Options: an empty option cannot be followed by a filled one."))
    options = kind.clean_options(options)
    try:
        canonical = kind.parse_answer(answer, options, stem)
        points_value = parse_points(points)
        difficulty_value = parse_difficulty(difficulty)
        tag_list = split_tags(tags or "")
    except AnswerError as exc:
        raise Invalid(_("Answer, points, difficulty or tags: %(error)s", error=str(exc)))
    old_picture = question.picture
    picture_hash = new_picture.sha256 if new_picture else (None if remove_picture else old_picture)
    new_fingerprint = fingerprint(question.type, stem, options, picture_hash)
    if new_fingerprint != question.fingerprint and db.session.execute(
        select(Question.id).where(Question.bank_id == question.bank_id,
                                  Question.fingerprint == new_fingerprint)
    ).first():
        raise Invalid(_("Another question in this bank already has this stem and these options."))
    if new_picture is not None:
        pictures.store(new_picture)
    question.picture = picture_hash
    question.stem, question.options, question.answer = stem, options, canonical
    question.explanation = (explanation or "").strip()
    question.points, question.difficulty = points_value, difficulty_value
    question.tags_text = encode_tags(tag_list)
    question.fingerprint = new_fingerprint
    question.updated_at = now
    db.session.flush()
    if old_picture and old_picture != picture_hash:
        pictures.release(old_picture)
    invalidate_pools()
    return question


def set_retired(question: Question, retired: bool, *, actor: User | None, now: datetime) -> None:
    """Retire a question (kept for past papers, never drawn again) or bring it back."""
    scope.require_bank(actor, question.bank)
    question.retired = retired
    question.updated_at = now
    db.session.flush()
    invalidate_pools()


def set_shared(bank: Bank, shared: bool, *, actor: User | None, now: datetime) -> None:
    """Share the bank down the tree (scope.can_use_bank) or stop sharing it. Quizzes already drawn
    from it keep their questions."""
    scope.require_bank(actor, bank)
    bank.shared = bool(shared)
    bank.updated_at = now
    db.session.flush()


def template_rows(questions, picture_names: dict[str, str] | None = None) -> list[list[str]]:
    """Questions as rows of the canonical template (header not included); with `picture_names`
    (picture hash → file name in the ZIP) a 图片 cell ends each row."""
    rows = []
    for q in questions:
        options = list(q.options or []) + [""] * (len(LETTERS) - len(q.options or []))
        points = "" if q.points is None else (str(int(q.points)) if float(q.points).is_integer() else str(q.points))
        difficulty = "" if q.difficulty is None else DIFFICULTY_NAMES.get(q.difficulty, str(q.difficulty))
        row = [get_type(q.type).canonical_name, q.stem, *options, q.answer, q.explanation or "",
               points, difficulty, ";".join(q.tags)]
        if picture_names is not None:
            row.append(picture_names.get(getattr(q, "picture", None) or "", ""))
        rows.append(row)
    return rows


# The template's column widths: 题型, 题干, 选项A–H, 答案, 解析, 分值, 难度, 知识点 (, 图片).
TEMPLATE_WIDTHS = (8, 60, *[18] * len(LETTERS), 10, 40, 8, 8, 20)
TEMPLATE_LAYOUT = replace(spreadsheets.TEMPLATE, widths=TEMPLATE_WIDTHS)
PICTURE_LAYOUT = replace(spreadsheets.TEMPLATE, widths=(*TEMPLATE_WIDTHS, 28))


def export_csv(questions, picture_names: dict[str, str] | None = None) -> bytes:
    """Canonical template as CSV, UTF-8 with BOM (Excel opens it), formula-looking cells escaped
    (spreadsheets.to_csv, the one CSV writer)."""
    header = TEMPLATE_HEADER if picture_names is None else [*TEMPLATE_HEADER, PICTURE_HEADER]
    return spreadsheets.to_csv(header, template_rows(questions, picture_names))


def export_xlsx(questions, *, title: str = "题库", picture_names: dict[str, str] | None = None) -> bytes:
    """Canonical template as XLSX (spreadsheets.to_xlsx with the template layout): the header row
    frozen, readable column widths, wrapped text, every cell text (never a formula)."""
    if picture_names is None:
        return spreadsheets.to_xlsx(None, TEMPLATE_HEADER, template_rows(questions), sheet=title or "题库",
                                    layout=TEMPLATE_LAYOUT)
    return spreadsheets.to_xlsx(None, [*TEMPLATE_HEADER, PICTURE_HEADER], template_rows(questions, picture_names),
                                sheet=title or "题库", layout=PICTURE_LAYOUT)


@dataclass
class BankFile:
    """An exported bank: the bytes and what they are (csv, xlsx, or zip when it has pictures)."""

    data: bytes
    extension: str


_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def export_bank_file(bank: Bank, fmt: str, *, include_retired: bool = False, bundle: bool | None = None) -> BankFile:
    """A bank in the canonical template, `fmt` 'csv' or 'xlsx'. When its questions have pictures
    (or `bundle` is True) the result is a ZIP: the spreadsheet, with a 图片 column, and the pictures
    in images/ — the same layout the import reads, so the ZIP imports back as the same questions."""
    if fmt not in ("csv", "xlsx"):
        raise Invalid(_("Export format must be csv or xlsx."))
    stmt = select(Question).where(Question.bank_id == bank.id).order_by(Question.id)
    if not include_retired:
        stmt = stmt.where(Question.retired.is_(False))
    questions = db.session.execute(stmt).scalars().all()
    hashes = list(dict.fromkeys(q.picture for q in questions if q.picture))
    if bundle is None:
        bundle = bool(hashes)
    if not bundle:
        data = export_csv(questions) if fmt == "csv" else export_xlsx(questions, title=bank.name)
        return BankFile(data, fmt)
    rows = db.session.execute(select(Picture.sha256, Picture.content_type).where(Picture.sha256.in_(hashes))).all() \
        if hashes else []
    names = {sha: f"{PICTURE_FOLDER}/{sha[:16]}.{pictures.EXTENSIONS[content_type]}" for sha, content_type in rows}
    sheet = export_csv(questions, names) if fmt == "csv" else export_xlsx(questions, title=bank.name,
                                                                          picture_names=names)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{_UNSAFE_FILE_CHARS.sub('_', bank.name) or '题库'}.{fmt}", sheet)
        for sha in hashes:  # one at a time: a bank's pictures need not all sit in memory at once
            if sha in names:
                data = db.session.execute(select(Picture.data).where(Picture.sha256 == sha)).scalar_one()
                archive.writestr(zipfile.ZipInfo(names[sha], date_time=(2020, 1, 1, 0, 0, 0)), bytes(data),
                                 compress_type=zipfile.ZIP_STORED)  # pictures are compressed already
    return BankFile(buffer.getvalue(), "zip")


def export_bank(bank: Bank, fmt: str, *, include_retired: bool = False) -> bytes:
    """A bank in the canonical template, `fmt` 'csv' or 'xlsx' (a ZIP when it has pictures)."""
    return export_bank_file(bank, fmt, include_retired=include_retired).data


def blank_template(fmt: str) -> bytes:
    """The empty template (header and one example row per type)."""
    examples = [
        _Example("single", "新时代“枫桥经验”的核心是什么？", ["矛盾不上交", "全部上交", "一律诉讼", "事后处置"], "A",
                 "小事不出村、大事不出镇、矛盾不上交。", 2, 1, "枫桥经验"),
        _Example("multi", "“五治融合”包括哪些？", ["政治", "自治", "法治", "德治", "智治"], "ABCDE", "", None, 3,
                 "五治融合"),
        _Example("judge", "共建共治共享是社会治理制度的要求。", [], "正确", "", None, None, "共建共治共享"),
        _Example("blank", "坚持和发展新时代“____经验”。", [], "枫桥", "", None, None, "枫桥经验"),
    ]
    return export_csv(examples) if fmt == "csv" else export_xlsx(examples, title="模板")


class _Example:
    def __init__(self, type, stem, options, answer, explanation, points, difficulty, tags):
        self.type, self.stem, self.options, self.answer = type, stem, options, answer
        self.explanation, self.points, self.difficulty, self.tags = explanation, points, difficulty, [tags]
