"""Small helpers shared by the HTML blueprints."""
from __future__ import annotations

from typing import Callable

from flask import flash, redirect
from flask_babel import gettext as _
from flask_login import current_user

from quiz.extensions import db
from quiz.forms import UploadForm
from quiz.services import scope


def unit_choices(include_blank: bool = False, blank_label: str | None = None) -> list[tuple[str, str]]:
    """(id, path) for every unit the current user may manage."""
    choices = [(str(u.id), u.path) for u in db.session.execute(scope.visible_units(current_user)).scalars()]
    if include_blank:
        choices.insert(0, ("", blank_label or _("(none)")))
    return choices


def flash_form_errors(form) -> None:
    """One flash per field error, naming the field."""
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(_("%(field)s: %(error)s", field=label, error=error), "danger")


def flash_problems(report, limit: int = 20) -> None:
    for problem in report.rejected[:limit]:
        flash(_("Row %(row)d: %(message)s", row=problem.row, message=problem.message), "danger")
    if len(report.rejected) > limit:
        flash(_("… and %(n)d more problems.", n=len(report.rejected) - limit), "danger")


def import_upload(run: Callable, summary: Callable, back: str):
    """The one upload path of the row imports (units, roster): check the uploaded file, run the
    import (`run(data, filename)` → rows.RowReport), commit what it wrote or roll back, flash
    `summary(report)` or that the file was rejected, then the rejected rows, and go back."""
    form = UploadForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    upload = form.file.data
    report = run(upload.read(), upload.filename)
    if report.written:
        db.session.commit()
        flash(summary(report), "success")
    else:
        db.session.rollback()
        flash(_("The file was rejected; nothing was changed."), "danger")
    flash_problems(report)
    return redirect(back)
