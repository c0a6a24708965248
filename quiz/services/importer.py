"""Question-bank import: header aliases, answer normalisation, row-numbered problems,
atomic by default, merging exact repeats, idempotent re-import.

Rules (docs/rules.md "Question banks"): one bad row rejects the whole file unless
`skip_invalid`; an exact repeat (same type, stem, options after folding white space and
full-width forms, and the same picture) is merged; a known question whose answer, explanation,
points, difficulty or tags changed is updated; everything else is unchanged. A bank uploaded as a
ZIP holds the spreadsheet and the pictures its 图片 column names (docs/formats.md "Pictures"); a
picture that is missing or not an acceptable image is a problem of the row naming it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update

from quiz.errors import Forbidden, Invalid
from quiz.extensions import db
from quiz.models import Bank, ImportLog, Question, Unit, User
from quiz.models.banks import encode_tags
from quiz.questions import LETTERS, AnswerError, fold, get_type, type_from_label
from quiz.questions.judge import judge_value
from quiz.services import pictures, scope
from quiz.services.pictures import CheckedPicture, PictureProblem
from quiz.services.rows import RowProblem, RowReport, cell_number, parse_number, read_rows, shown
from quiz.services.tables import Bundle, DamagedEntry, FileRejected, is_bundle, normalise_header, open_bundle

MAX_OPTION_LENGTH = 1000
MAX_EXPLANATION_LENGTH = 10000
MAX_TAG_LENGTH = 50
# All of a question's tags as stored (";a;b;"): the length of the tags_text column, which
# PostgreSQL enforces (a longer value would fail the insert).
MAX_TAGS_TEXT_LENGTH = Question.__table__.c.tags_text.type.length

# field → accepted header names (compared after normalise_header)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "type": ("题型", "题目类型", "试题类型", "类型", "type", "题目类别", "试题类别"),
    "stem": ("题干", "题目", "试题内容", "题目内容", "问题", "stem", "试题", "题目名称"),
    "answer": ("答案", "正确答案", "参考答案", "标准答案", "answer"),
    "explanation": ("解析", "答案解析", "试题解析", "explanation", "题目解析"),
    "points": ("分值", "分数", "points", "score"),
    "difficulty": ("难度", "difficulty", "难易程度", "难度系数"),
    "tags": ("知识点", "分类", "专题", "标签", "章节", "tags", "tag"),
    # a file in the bank ZIP (quiz/services/pictures.py)
    "picture": ("图片", "image", "图片文件", "配图", "图像", "picture"),
}
for _i, _letter in enumerate(LETTERS):
    COLUMN_ALIASES[f"option{_i}"] = (f"选项{_letter}", _letter, f"{_letter}选项", f"option{_letter}")

ALIASES: dict[str, str] = {
    normalise_header(name): fieldname for fieldname, names in COLUMN_ALIASES.items() for name in names
}
REQUIRED = ("stem", "answer")

DIFFICULTY_WORDS = {"容易": 1, "简单": 1, "易": 1, "较易": 2, "中等": 3, "一般": 3, "中": 3,
                    "较难": 4, "困难": 5, "难": 5}
DIFFICULTY_NAMES = {1: "容易", 3: "中等", 5: "困难"}

_FORMULA_ESCAPE = re.compile(r"^'(?=[=+\-@\t\r])")
_TAG_SPLIT = re.compile(r"[;；,，、]+")


def required_labels() -> dict[str, str]:
    return {"stem": "题干", "answer": "答案"}


@dataclass
class ParsedQuestion:
    row: int
    type: str
    stem: str
    options: list[str]
    answer: str
    explanation: str
    points: float | None
    difficulty: int | None
    tags: list[str]
    fingerprint: str
    picture: CheckedPicture | None = None
    status: str = "created"  # created | updated | unchanged | duplicate

    def content(self) -> tuple:
        return (self.answer, self.explanation, self.points, self.difficulty, encode_tags(self.tags))


@dataclass
class ImportReport(RowReport):
    """What a bank import did (or, for a dry run or a rejected file, would have done): the row
    report of every import (rows.RowReport) plus the bank, merged repeats and the parsed rows."""

    bank: str = ""
    duplicates: int = 0
    items: list[ParsedQuestion] = field(default_factory=list)
    file_error: bool = False
    dry_run: bool = False
    skip_invalid: bool = False

    @property
    def accepted(self) -> bool:
        """True when the file is (or in a dry run, would be) imported: no problems, or problems
        skipped with `skip_invalid` while some rows are good."""
        if self.file_error:
            return False
        return not self.rejected or (self.skip_invalid and bool(self.items))

    def as_dict(self) -> dict:
        """The JSON contract. A rejected file wrote nothing, so its counts are all 0; the
        planned counts stay on the report (the web preview shows them)."""
        accepted = self.accepted
        return {
            "bank": self.bank,
            "created": self.created if accepted else 0,
            "updated": self.updated if accepted else 0,
            "unchanged": self.unchanged if accepted else 0,
            "duplicates": self.duplicates if accepted else 0,
            "rejected": [p.as_dict() for p in self.rejected],
        }


def fingerprint(qtype: str, stem: str, options: list[str], picture: str | None = None) -> str:
    """Identity of a question within a bank: type + folded stem + folded options (+ the picture's
    hash: "which sign is this?" with another picture is another question)."""
    parts = [qtype, fold(stem), *[fold(o) for o in options]]
    if picture:
        parts.append("picture:" + picture)
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def unescape_formula(text: str) -> str:
    """Undo the `'` our CSV export puts before a cell starting with = + - @ (tab, CR)."""
    return _FORMULA_ESCAPE.sub("", text)


def parse_difficulty(raw: str) -> int | None:
    """容易/较易/中等/较难/困难 (and a few synonyms) or a whole number 1–5; AnswerError otherwise."""
    text = fold(raw)
    if not text:
        return None
    if text in DIFFICULTY_WORDS:
        return DIFFICULTY_WORDS[text]
    value = cell_number(text)
    if value is not None and value.is_integer() and 1 <= value <= 5:
        return int(value)
    raise AnswerError(_("difficulty “%(value)s” should be 容易/较易/中等/较难/困难 or 1–5",
                        value=shown(text)))


def parse_points(raw: str) -> float | None:
    """A number more than 0 and at most 1000; AnswerError otherwise."""
    return parse_number(raw, low=0, high=1000, low_open=True, error=AnswerError,
                        not_a_number=_l("points “%(value)s” is not a number"),
                        out_of_range=_l("points “%(value)s” must be more than 0 and at most 1000"))


def _strip_option_prefix(text: str, letter: str) -> str:
    """'A、共建' in column 选项A → '共建' (pasted banks often repeat the letter)."""
    return re.sub(rf"^[{letter}{letter.lower()}{chr(ord(letter) + 0xFEE0)}]\s*[.、．:：)）]\s*", "", text)


def split_tags(text: str) -> list[str]:
    """'枫桥经验；矛盾化解、自治' → ['枫桥经验', '矛盾化解', '自治'] (unique, in order).

    Raises AnswerError for an over-long tag. Used by import and by the question form alike.
    """
    tags: list[str] = []
    for tag in _TAG_SPLIT.split(fold(text)):
        tag = tag.strip()
        if tag and tag not in tags:
            if len(tag) > MAX_TAG_LENGTH:
                raise AnswerError(_("tag “%(tag)s” is too long", tag=tag[:20] + "…"))
            tags.append(tag)
    if len(encode_tags(tags)) > MAX_TAGS_TEXT_LENGTH:
        raise AnswerError(_("too many tags (at most %(limit)d characters in all)", limit=MAX_TAGS_TEXT_LENGTH))
    return tags


def infer_type(answer: str, options: list[str]) -> str:
    """The type of a row whose 题型 cell is empty (or the file has no 题型 column)."""
    if options:
        letters = re.sub(r"[\s,;、/]+", "", fold(answer).upper())
        if len(options) == 2 and judge_value(options[0]) and judge_value(options[1]):
            return "judge"
        return "multi" if len(set(letters)) > 1 else "single"
    if judge_value(answer) is not None:
        return "judge"
    return "blank"


class PictureFiles:
    """The pictures a bank file's 图片 cells name: files of its ZIP (tables.Bundle), each checked
    once however many rows name it; a plain CSV/XLSX has none."""

    def __init__(self, bundle: Bundle | None):
        self.bundle = bundle
        self.checked: dict[str, CheckedPicture | str] = {}  # path in the ZIP → picture or problem

    def get(self, cell: str) -> CheckedPicture | None:
        """The picture a cell names (None for an empty cell), or AnswerError naming the file."""
        cell = cell.strip()
        if not cell:
            return None
        name = shown(cell, 60)
        if self.bundle is None:
            raise AnswerError(_("picture “%(name)s”: upload the spreadsheet together with its pictures in one "
                                "ZIP file", name=name))
        path = self.bundle.find(cell)
        if path is None:
            raise AnswerError(_("picture “%(name)s” is not in the ZIP file", name=name))
        if path not in self.checked:
            self.checked[path] = self._check(path)
        result = self.checked[path]
        if isinstance(result, str):
            raise AnswerError(_("picture “%(name)s”: %(problem)s", name=name, problem=result))
        return result

    def _check(self, path: str) -> CheckedPicture | str:
        limit = current_app.config["PICTURE_MAX_BYTES"]
        size = self.bundle.size(path)
        if size > limit:  # declared size: not unpacked at all
            return _("the picture is %(size)s MB, more than the limit of %(limit)s MB",
                     size=pictures.megabytes(size), limit=pictures.megabytes(limit))
        try:
            return pictures.check_picture(self.bundle.read(path))
        except PictureProblem as exc:
            return str(exc)
        except DamagedEntry:
            return _("the file is damaged in the ZIP file")


def parse_row(number: int, cells: list[str], columns: dict[str, int], max_stem: int,
              picture_files: PictureFiles | None = None) -> ParsedQuestion:
    """One spreadsheet row → ParsedQuestion, or AnswerError with a Chinese reason."""

    def get(name: str) -> str:
        index = columns.get(name)
        if index is None or index >= len(cells):
            return ""
        return unescape_formula(cells[index] or "")

    stem = get("stem").strip()
    if not stem:
        raise AnswerError(_("the stem is empty"))
    if len(stem) > max_stem:
        raise AnswerError(_("the stem is too long (%(length)d characters, at most %(limit)d)",
                            length=len(stem), limit=max_stem))
    options: list[str] = []
    gap_at: str | None = None
    for i, letter in enumerate(LETTERS):
        text = _strip_option_prefix(get(f"option{i}").strip(), letter)
        if not text:
            if gap_at is None:
                gap_at = letter
            continue
        if gap_at is not None:
            raise AnswerError(_("option %(empty)s is empty but option %(letter)s is filled",
                                empty=gap_at, letter=letter))
        if len(text) > MAX_OPTION_LENGTH:
            raise AnswerError(_("option %(letter)s is too long (at most %(limit)d characters)",
                                letter=letter, limit=MAX_OPTION_LENGTH))
        options.append(text)
    raw_answer = get("answer").strip()
    type_cell = get("type").strip()
    if type_cell:
        qtype = type_from_label(type_cell)
        if qtype is None:
            raise AnswerError(_("question type “%(value)s” is not recognised (use 单选, 多选, 判断 or 填空)",
                                value=type_cell))
    else:
        if not raw_answer:
            raise AnswerError(_("the answer is empty"))
        qtype = infer_type(raw_answer, options)
    kind = get_type(qtype)
    if not raw_answer:
        raise AnswerError(_("the answer is empty"))
    answer = kind.parse_answer(raw_answer, options, stem)
    options = kind.clean_options(options)
    explanation = get("explanation").strip()
    if len(explanation) > MAX_EXPLANATION_LENGTH:
        raise AnswerError(_("the explanation is too long (at most %(limit)d characters)",
                            limit=MAX_EXPLANATION_LENGTH))
    tags = split_tags(get("tags"))
    points, difficulty = parse_points(get("points")), parse_difficulty(get("difficulty"))
    picture = (picture_files or PictureFiles(None)).get(get("picture"))
    return ParsedQuestion(
        row=number, type=qtype, stem=stem, options=options, answer=answer,
        explanation=explanation, points=points, difficulty=difficulty, tags=tags,
        fingerprint=fingerprint(qtype, stem, options, picture.sha256 if picture else None), picture=picture,
    )


ProgressCallback = Callable[[int, int], None]


def parse_file(data: bytes, filename: str, *, sheet: str | None = None, max_stem: int | None = None,
               progress: ProgressCallback | None = None
               ) -> tuple[list[ParsedQuestion], list[RowProblem], int]:
    """Parse a bank file into questions and row problems, merging exact repeats.

    A ZIP (by its name) holds the spreadsheet and the pictures its 图片 column names.
    Returns (questions, problems, duplicates). Raises FileRejected for file-level problems.
    `progress(done, total)` is called every few hundred rows.
    """
    if max_stem is None:
        max_stem = current_app.config.get("MAX_STEM_LENGTH", 5000)
    bundle = None
    if is_bundle(filename):
        bundle = open_bundle(data)
        data, filename = bundle.sheet, bundle.sheet_name
    picture_files = PictureFiles(bundle)
    body, columns = read_rows(data, filename, aliases=ALIASES, required=REQUIRED, labels=required_labels(),
                              sheet=sheet)
    questions: list[ParsedQuestion] = []
    problems: list[RowProblem] = []
    seen: dict[str, ParsedQuestion] = {}
    duplicates = 0
    for position, (number, cells) in enumerate(body, start=1):
        if progress is not None and (position % 500 == 0 or position == len(body)):
            progress(position, len(body))
        try:
            parsed = parse_row(number, cells, columns, max_stem, picture_files)
        except AnswerError as exc:
            problems.append(RowProblem(number, str(exc)))
            continue
        first = seen.get(parsed.fingerprint)
        if first is not None:
            if first.answer != parsed.answer:
                problems.append(RowProblem(number, _(
                    "same question as row %(first)d but with a different answer", first=first.row)))
                continue
            duplicates += 1
            continue
        seen[parsed.fingerprint] = parsed
        questions.append(parsed)
    if not questions and not problems:
        raise FileRejected(_("The file has a header but no questions."))
    return questions, problems, duplicates


def find_bank(name: str) -> Bank | None:
    return db.session.execute(select(Bank).where(Bank.name == name)).scalar_one_or_none()


def get_or_create_bank(name: str, *, actor: User | None, unit: Unit | None, now: datetime) -> Bank:
    """The bank called `name`, created (owned by `unit`, or the actor's unit) when missing.

    Raises Forbidden when an organiser names a bank outside their subtree.
    """
    name = (name or "").strip()
    if not name:
        raise Invalid(_("A bank name is required."))
    if len(name) > 200:
        raise Invalid(_("The bank name is too long (at most %(n)d characters).", n=200))
    bank = find_bank(name)
    if bank is not None:
        scope.require_bank(actor, bank)
        return bank
    if unit is None and actor is not None and not actor.is_admin:
        unit = actor.unit
    if unit is not None:
        scope.require_unit(actor, unit)
    elif actor is not None and not actor.is_admin:
        raise Forbidden(_("You do not have permission to do this."))
    bank = Bank(name=name, unit=unit, created_at=now, updated_at=now)
    db.session.add(bank)
    db.session.flush()
    return bank


def import_bank_file(bank_name: str, data: bytes, filename: str, *, actor: User | None,
                     now: datetime, skip_invalid: bool = False, dry_run: bool = False,
                     unit: Unit | None = None, sheet: str | None = None,
                     progress: ProgressCallback | None = None) -> ImportReport:
    """Import a CSV/XLSX file into the bank called `bank_name` (created if missing).

    Atomic unless `skip_invalid`: any rejected row means nothing is written. A dry run
    reports the same counts and problems without writing. The caller commits.
    """
    report = ImportReport(bank=(bank_name or "").strip(), dry_run=dry_run, skip_invalid=skip_invalid)
    bank = find_bank(report.bank)
    if bank is not None:
        scope.require_bank(actor, bank)
    elif not report.bank:
        raise Invalid(_("A bank name is required."))
    try:
        questions, problems, duplicates = parse_file(data, filename, sheet=sheet, progress=progress)
    except FileRejected as exc:
        report.file_error = True
        report.rejected = [RowProblem(exc.row, exc.message)]
        return report
    report.rejected = problems
    report.duplicates = duplicates
    existing: dict[str, tuple] = {}
    if bank is not None:
        result = db.session.execute(
            select(Question.id, Question.fingerprint, Question.answer, Question.explanation,
                   Question.points, Question.difficulty, Question.tags_text)
            .where(Question.bank_id == bank.id)
        )
        existing = {r.fingerprint: (r.id, (r.answer, r.explanation, r.points, r.difficulty, r.tags_text))
                    for r in result}
    to_create, to_update = [], []
    for q in questions:
        known = existing.get(q.fingerprint)
        if known is None:
            q.status = "created"
            to_create.append(q)
        elif known[1] == q.content():
            q.status = "unchanged"
        else:
            q.status = "updated"
            to_update.append((known[0], q))
    report.items = questions
    report.created = len(to_create)
    report.updated = len(to_update)
    report.unchanged = len(questions) - len(to_create) - len(to_update)
    if not report.accepted or dry_run:
        return report
    if bank is None:
        bank = get_or_create_bank(report.bank, actor=actor, unit=unit, now=now)
    for picture in {q.picture.sha256: q.picture for q in to_create if q.picture}.values():
        pictures.store(picture)
    if to_create:
        db.session.execute(insert(Question), [
            {"bank_id": bank.id, "type": q.type, "stem": q.stem, "options": q.options,
             "answer": q.answer, "explanation": q.explanation, "points": q.points,
             "difficulty": q.difficulty, "tags_text": encode_tags(q.tags),
             "fingerprint": q.fingerprint, "picture": q.picture.sha256 if q.picture else None,
             "retired": False, "source_row": q.row,
             "created_at": now, "updated_at": now}
            for q in to_create
        ])
    if to_update:
        db.session.execute(update(Question), [
            {"id": qid, "answer": q.answer, "explanation": q.explanation, "points": q.points,
             "difficulty": q.difficulty, "tags_text": encode_tags(q.tags), "source_row": q.row,
             "updated_at": now}
            for qid, q in to_update
        ])
    bank.updated_at = now
    db.session.add(ImportLog(
        bank_id=bank.id, user_id=actor.id if actor else None, filename=(filename or "")[:255],
        created=report.created, updated=report.updated, unchanged=report.unchanged,
        duplicates=report.duplicates, rejected=len(report.rejected), created_at=now,
    ))
    db.session.flush()
    from quiz.services.papers import invalidate_pools
    invalidate_pools()
    report.written = True
    return report

