"""Units: the tree with headcounts, spreadsheet upload, add, edit and delete."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm, NewUnitForm, UnitForm, UploadForm
from quiz.inputs import parse_id
from quiz.models import Unit
from quiz.models.base import utcnow
from quiz.services import scope
from quiz.services import units as unit_service
from quiz.views.auth import manager_required
from quiz.views.common import flash_form_errors, import_upload, unit_choices

bp = Blueprint("units", __name__)


def _unit_or_404(unit_id: int) -> Unit:
    unit = db.get_or_404(Unit, unit_id)
    scope.require_unit(current_user, unit)
    return unit


@bp.route("/")
@manager_required
def index():
    q = request.args.get("q", "").strip()
    stmt = scope.visible_units(current_user)
    if q:
        stmt = stmt.where(Unit.path.icontains(q, autoescape=True))
    units = db.session.execute(stmt).scalars().all()
    new_form = NewUnitForm()
    new_form.parent.choices = unit_choices(include_blank=current_user.is_admin, blank_label=_("(top level)"))
    return render_template("units/index.html", units=units, q=q, upload_form=UploadForm(),
                           new_form=new_form, empty_form=EmptyForm())


@bp.route("/import", methods=["POST"])
@manager_required
def import_file():
    return import_upload(
        lambda data, filename: unit_service.import_units(data, filename, actor=current_user, now=utcnow()),
        lambda report: _("Units: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                         created=report.created, updated=report.updated, unchanged=report.unchanged),
        url_for("units.index"))


@bp.route("/new", methods=["POST"])
@manager_required
def create():
    form = NewUnitForm()
    form.parent.choices = unit_choices(include_blank=True)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("units.index"))
    parent = _unit_or_404(parse_id(form.parent.data) or 0) if form.parent.data else None  # 0: no such unit
    try:
        unit = unit_service.create_unit(parent=parent, name=form.name.data, headcount=form.headcount.data or 0,
                                        actor=current_user, now=utcnow())
    except QuizError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("units.index"))
    db.session.commit()
    flash(_("Unit “%(path)s” added.", path=unit.path), "success")
    return redirect(url_for("units.index"))


@bp.route("/<int:unit_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(unit_id: int):
    unit = _unit_or_404(unit_id)
    form = UnitForm(obj=unit)
    if form.validate_on_submit():
        try:
            unit_service.edit_unit(unit, name=form.name.data, headcount=form.headcount.data or 0,
                                   actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return render_template("units/edit.html", unit=unit, form=form, empty_form=EmptyForm()), exc.status_code
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("units.index"))
    flash_form_errors(form)
    return render_template("units/edit.html", unit=unit, form=form, empty_form=EmptyForm())


@bp.route("/<int:unit_id>/delete", methods=["POST"])
@manager_required
def delete(unit_id: int):
    unit = _unit_or_404(unit_id)
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            unit_service.delete_unit(unit, actor=current_user)
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for("units.index"))
        db.session.commit()
        flash(_("Unit deleted."), "success")
    return redirect(url_for("units.index"))


@bp.route("/search.json")
@manager_required
def search_json():
    """Unit paths matching ?q= within scope (for searchable pickers)."""
    q = request.args.get("q", "").strip()
    stmt = scope.visible_units(current_user)
    if q:
        stmt = stmt.where(Unit.path.icontains(q, autoescape=True))
    return {"units": [{"id": u.id, "path": u.path} for u in db.session.execute(stmt.limit(50)).scalars()]}
