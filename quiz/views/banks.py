"""Question banks: upload with preview and confirmation, browse/search/filter, edit, retire, export."""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from quiz.errors import Invalid, NotFound, QuizError
from quiz.extensions import db
from quiz.forms import BankUploadForm, ConfirmImportForm, EmptyForm, QuestionForm
from quiz.inputs import page_arg, parse_id
from quiz.models import Bank, ImportLog, Question, Unit
from quiz.models.base import utcnow
from quiz.questions import LETTERS, QUESTION_TYPES, type_choices
from quiz.services import banks as bank_service
from quiz.services import scope
from quiz.services.exports import CONTENT_TYPES
from quiz.services.importer import import_bank_file
from quiz.services.tables import ALLOWED_EXTENSIONS, BUNDLE_EXTENSIONS
from quiz.views.auth import manager_required
from quiz.views.common import flash_form_errors, unit_choices

bp = Blueprint("banks", __name__)

PREVIEW_ROWS = 300
UPLOAD_MAX_AGE = 24 * 3600
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def _bank_or_404(bank_id: int, *, write: bool = True) -> Bank:
    """The bank, if the user manages it (write) or may read it (a bank shared from above)."""
    bank = db.get_or_404(Bank, bank_id)
    (scope.require_bank if write else scope.require_bank_use)(current_user, bank)
    return bank


def _question_or_404(question_id: int) -> Question:
    question = db.get_or_404(Question, question_id)
    scope.require_bank(current_user, question.bank)
    return question


def _upload_dir() -> Path:
    path = Path(current_app.config["UPLOAD_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in path.iterdir():  # forget previews nobody confirmed
        try:
            if now - old.stat().st_mtime > UPLOAD_MAX_AGE:
                old.unlink()
        except OSError:
            pass
    return path


def _stored_upload(upload_id: str) -> tuple[Path, str]:
    uploads = session.get("uploads", {})
    if not _UPLOAD_ID.match(upload_id or "") or upload_id not in uploads:
        raise NotFound(_("The uploaded file has expired; please upload it again."))
    path = _upload_dir() / upload_id
    if not path.exists():
        raise NotFound(_("The uploaded file has expired; please upload it again."))
    return path, uploads[upload_id]


@bp.route("/")
@manager_required
def index():
    banks = db.session.execute(scope.usable_banks(current_user)).scalars().all()
    counts = {b.id: bank_service.bank_counts(b) for b in banks}
    form = BankUploadForm()
    form.unit.choices = unit_choices(include_blank=current_user.is_admin, blank_label=_("(administrators only)"))
    editable = {b.id for b in banks if scope.can_manage_bank(current_user, b)}
    return render_template("banks/index.html", banks=banks, counts=counts, form=form,
                           types=QUESTION_TYPES, editable=editable)


@bp.route("/upload", methods=["POST"])
@manager_required
def upload():
    """Step 1: keep the file, dry-run the import and show the preview."""
    form = BankUploadForm()
    form.unit.choices = unit_choices(include_blank=True)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("banks.index"))
    file = form.file.data
    filename = os.path.basename(file.filename or "upload")
    if os.path.splitext(filename)[1].lower() not in ALLOWED_EXTENSIONS | BUNDLE_EXTENSIONS:
        flash(_("Unsupported file type “%(ext)s”: upload a CSV or XLSX file, or a ZIP with the pictures.",
                ext=os.path.splitext(filename)[1] or filename), "danger")
        return redirect(url_for("banks.index"))
    data = file.read()
    unit = _unit(form.unit.data)
    report = import_bank_file(form.bank.data, data, filename, actor=current_user, now=utcnow(),
                              dry_run=True, unit=unit)
    db.session.rollback()
    upload_id = secrets.token_hex(16)
    (_upload_dir() / upload_id).write_bytes(data)
    uploads = dict(session.get("uploads", {}))
    uploads[upload_id] = filename
    session["uploads"] = dict(list(uploads.items())[-5:])
    confirm = ConfirmImportForm(upload_id=upload_id, bank=report.bank, unit=form.unit.data or "")
    rows = _preview_rows(report)
    return render_template("banks/preview.html", report=report, rows=rows[:PREVIEW_ROWS],
                           more=max(0, len(rows) - PREVIEW_ROWS), form=confirm, filename=filename,
                           types=QUESTION_TYPES, letters=LETTERS)


def _unit(value: str | None) -> Unit | None:
    if not value:
        return None
    unit_id = parse_id(value)
    unit = db.session.get(Unit, unit_id) if unit_id else None
    if unit is None:
        raise Invalid(_("Choose a unit."))
    scope.require_unit(current_user, unit)
    return unit


def _preview_rows(report) -> list[dict]:
    rows = [{"row": q.row, "question": q, "status": q.status, "problem": None} for q in report.items]
    rows += [{"row": p.row, "question": None, "status": "rejected", "problem": p.message} for p in report.rejected]
    return sorted(rows, key=lambda r: (r["status"] != "rejected", r["row"]))


@bp.route("/confirm", methods=["POST"])
@manager_required
def confirm():
    """Step 2: import the previewed file for real."""
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("banks.index"))
    path, filename = _stored_upload(form.upload_id.data)
    report = import_bank_file(form.bank.data, path.read_bytes(), filename, actor=current_user, now=utcnow(),
                              skip_invalid=form.skip_invalid.data, unit=_unit(form.unit.data))
    if not report.written:
        db.session.rollback()
        flash(_("The file was rejected; nothing was imported (%(n)d problems).", n=len(report.rejected)), "danger")
        return redirect(url_for("banks.index"))
    db.session.commit()
    path.unlink(missing_ok=True)
    uploads = dict(session.get("uploads", {}))
    uploads.pop(form.upload_id.data, None)
    session["uploads"] = uploads
    flash(_("Imported into “%(bank)s”: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
            "%(duplicates)d duplicates merged, %(rejected)d rows skipped.",
            bank=report.bank, created=report.created, updated=report.updated, unchanged=report.unchanged,
            duplicates=report.duplicates, rejected=len(report.rejected)), "success")
    bank = bank_service.get_bank(report.bank, actor=current_user)
    return redirect(url_for("banks.show", bank_id=bank.id))


@bp.route("/<int:bank_id>")
@manager_required
def show(bank_id: int):
    bank = _bank_or_404(bank_id, write=False)
    q = request.args.get("q", "").strip()
    qtype = request.args.get("type", "")
    qtype = qtype if qtype in QUESTION_TYPES else ""
    tag = request.args.get("tag", "").strip()
    status = request.args.get("status", "active")
    status = status if status in ("active", "retired", "all") else "active"
    page = db.paginate(bank_service.question_filter(bank, q=q, qtype=qtype, tag=tag, status=status),
                       page=page_arg(), per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False)
    logs = db.session.execute(db.select(ImportLog).where(ImportLog.bank_id == bank.id)
                              .order_by(ImportLog.id.desc()).limit(5)).scalars().all()
    return render_template("banks/show.html", bank=bank, page=page, q=q, qtype=qtype, tag=tag, status=status,
                           tags=bank_service.bank_tags(bank), counts=bank_service.bank_counts(bank),
                           type_choices=type_choices(), types=QUESTION_TYPES, letters=LETTERS,
                           empty_form=EmptyForm(), logs=logs, editable=scope.can_manage_bank(current_user, bank),
                           picture_count=bank_service.picture_count(bank))


@bp.route("/<int:bank_id>/share", methods=["POST"])
@manager_required
def share(bank_id: int):
    """Share the bank with the organisers below its owner unit (read-only), or stop sharing."""
    bank = _bank_or_404(bank_id)
    if EmptyForm().validate_on_submit():
        shared = request.form.get("shared") == "1"
        bank_service.set_shared(bank, shared, actor=current_user, now=utcnow())
        db.session.commit()
        flash(_("The bank is shared with the organisers below %(unit)s; they can draw from it but not change it.",
                unit=bank.unit.path if bank.unit else _("administrators")) if shared
              else _("The bank is no longer shared."), "success")
    return redirect(url_for("banks.show", bank_id=bank.id))


def _regrade_offer(uses) -> Markup:
    """The message after an answer change: links to the regrade page of every affected quiz."""
    links = Markup("、").join(
        Markup('<a href="{}">{}</a>').format(url_for("reports.regrade_page", quiz_id=u.quiz.id), u.quiz.title)
        for u in uses if u.manageable)
    message = escape(_("The answer changed, and %(n)d quizzes have answer sheets with this question: their scores "
                       "change only when you regrade them.", n=len(uses)))
    return message + (Markup(" ") + escape(_("Regrade:")) + Markup(" ") + links if links else Markup(""))


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@manager_required
def edit_question(question_id: int):
    from quiz.services.regrade import quizzes_using

    question = _question_or_404(question_id)
    kind = QUESTION_TYPES[question.type]
    form = QuestionForm()
    old_answer = question.answer
    if request.method == "GET":
        form.stem.data = question.stem
        for name, value in zip(QuestionForm.OPTION_FIELDS, question.options or []):
            getattr(form, name).data = value
        form.answer.data = question.answer
        form.explanation.data = question.explanation
        form.points.data = "" if question.points is None else f"{question.points:g}"
        form.difficulty.data = "" if question.difficulty is None else str(question.difficulty)
        form.tags.data = ";".join(question.tags)
    elif form.validate_on_submit():
        upload = form.picture.data
        picture = upload.read() if upload and getattr(upload, "filename", "") else None
        try:
            bank_service.edit_question(
                question, stem=form.stem.data, options=form.options(), answer=form.answer.data,
                explanation=form.explanation.data, points=form.points.data, difficulty=form.difficulty.data,
                tags=form.tags.data, actor=current_user, now=utcnow(),
                max_stem=current_app.config["MAX_STEM_LENGTH"], picture=picture,
                remove_picture=form.remove_picture.data)
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return render_template("banks/edit_question.html", question=question, form=form, kind=kind,
                                   uses=quizzes_using(question, actor=current_user, now=utcnow()),
                                   **_picture_limits()), 422
        db.session.commit()
        flash(_("Question saved."), "success")
        if question.answer != old_answer:
            uses = quizzes_using(question, actor=current_user, now=utcnow())
            if uses:
                flash(_regrade_offer(uses), "warning")
        return redirect(url_for("banks.show", bank_id=question.bank_id))
    else:
        flash_form_errors(form)
    return render_template("banks/edit_question.html", question=question, form=form, kind=kind,
                           uses=quizzes_using(question, actor=current_user, now=utcnow()), **_picture_limits())


def _picture_limits() -> dict:
    """The picture limits the edit page states (quiz/config.py PICTURE_*)."""
    from quiz.services.pictures import megabytes

    return {"picture_max_mb": megabytes(current_app.config["PICTURE_MAX_BYTES"]),
            "picture_max_side": current_app.config["PICTURE_MAX_SIDE"]}


@bp.route("/questions/<int:question_id>/retire", methods=["POST"])
@manager_required
def retire_question(question_id: int):
    question = _question_or_404(question_id)
    form = EmptyForm()
    if form.validate_on_submit():
        retire = request.form.get("restore") != "1"
        bank_service.set_retired(question, retire, actor=current_user, now=utcnow())
        db.session.commit()
        flash(_("Question retired.") if retire else _("Question restored."), "success")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("banks.show", bank_id=question.bank_id))


MIMETYPES = CONTENT_TYPES
DOWNLOAD_TYPES = {**CONTENT_TYPES, "zip": "application/zip"}


def _download(data: bytes, filename: str, fmt: str) -> Response:
    from urllib.parse import quote

    response = Response(data, content_type=DOWNLOAD_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"bank.{fmt}\"; filename*=UTF-8''{quote(filename)}")
    return response


@bp.route("/<int:bank_id>/export.<fmt>")
@manager_required
def export(bank_id: int, fmt: str):
    bank = _bank_or_404(bank_id)
    if fmt not in MIMETYPES:
        raise NotFound(_("Export format must be csv or xlsx."))
    exported = bank_service.export_bank_file(bank, fmt, include_retired=request.args.get("retired") == "1")
    return _download(exported.data, f"{bank.name}.{exported.extension}", exported.extension)


@bp.route("/template.<fmt>")
@manager_required
def template(fmt: str):
    if fmt not in MIMETYPES:
        raise NotFound(_("Export format must be csv or xlsx."))
    return _download(bank_service.blank_template(fmt), f"题库模板.{fmt}", fmt)
