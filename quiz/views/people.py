"""People: roster participants (参赛名单) and accounts, within the manager's unit scope."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import ParticipantForm, UploadForm, UserForm
from quiz.inputs import page_arg, parse_id
from quiz.models import Participant, Unit, User
from quiz.models.users import ROLE_LABELS
from quiz.models.base import utcnow
from quiz.services import people as people_service
from quiz.services import scope
from quiz.views.auth import manager_required
from quiz.views.common import flash_form_errors, flash_problems, unit_choices

bp = Blueprint("people", __name__)


def _unit_from_choice(value: str) -> Unit | None:
    unit_id = parse_id(value)
    if unit_id is None:
        return None
    unit = db.session.get(Unit, unit_id)
    if unit is not None:
        scope.require_unit(current_user, unit)
    return unit


@bp.route("/")
@manager_required
def roster():
    q = request.args.get("q", "").strip()
    unit_id = request.args.get("unit", "")
    stmt = select(Participant).join(Unit, Participant.unit_id == Unit.id).order_by(Unit.path, Participant.name)
    condition = scope.unit_filter(current_user)
    if condition is not None:
        stmt = stmt.where(condition)
    filter_id = parse_id(unit_id)
    if filter_id is not None:
        unit = db.session.get(Unit, filter_id)
        if unit is not None:
            stmt = stmt.where(scope.subtree_condition(unit))
    if q:
        stmt = stmt.where(or_(Participant.name.icontains(q, autoescape=True),
                              Participant.phone.contains(q, autoescape=True)))
    page = db.paginate(stmt, page=page_arg(), per_page=50, error_out=False)
    form = ParticipantForm()
    form.unit.choices = unit_choices()
    return render_template("people/roster.html", page=page, q=q, unit_id=unit_id, form=form,
                           upload_form=UploadForm(), units=unit_choices())


@bp.route("/import", methods=["POST"])
@manager_required
def import_roster():
    form = UploadForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("people.roster"))
    upload = form.file.data
    skip = request.form.get("skip_invalid") == "y"
    report = people_service.import_roster(upload.read(), upload.filename, actor=current_user, now=utcnow(),
                                          skip_invalid=skip)
    if report.written:
        db.session.commit()
        flash(_("Roster: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                created=report.created, updated=report.updated, unchanged=report.unchanged), "success")
    else:
        db.session.rollback()
        flash(_("The file was rejected; nothing was changed."), "danger")
    flash_problems(report)
    return redirect(url_for("people.roster"))


@bp.route("/participants", methods=["POST"])
@manager_required
def save_participant():
    form = ParticipantForm()
    form.unit.choices = unit_choices()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("people.roster"))
    try:
        unit = _unit_from_choice(form.unit.data)
        if unit is None:
            raise QuizError(_("Choose a unit."))
        person, status = people_service.save_participant(
            name=form.name.data, phone=form.phone.data, unit=unit, actor=current_user, now=utcnow())
    except QuizError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("people.roster"))
    db.session.commit()
    labels = {"created": _("added"), "updated": _("updated"), "unchanged": _("unchanged")}
    flash(_("%(name)s saved (%(status)s).", name=person.name, status=labels[status]), "success")
    return redirect(url_for("people.roster"))


@bp.route("/accounts", methods=["GET", "POST"])
@manager_required
def accounts():
    form = UserForm()
    roles = ["judge", "participant"]
    if current_user.is_admin:
        roles = ["admin", "organiser", *roles]
    form.role.choices = [(r, ROLE_LABELS[r]) for r in roles]
    form.unit.choices = unit_choices(include_blank=current_user.is_admin)
    if form.validate_on_submit():
        try:
            unit = _unit_from_choice(form.unit.data)
            user = people_service.create_user(form.username.data, role=form.role.data, password=form.password.data,
                                              unit=unit, display_name=form.display_name.data or "",
                                              actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for("people.accounts"))
    else:
        flash_form_errors(form)
    stmt = select(User).outerjoin(Unit, User.unit_id == Unit.id).order_by(User.username)
    condition = scope.unit_filter(current_user)
    if condition is not None:
        stmt = stmt.where(condition)
    users = db.session.execute(stmt).scalars().all()
    return render_template("people/accounts.html", users=users, form=form, role_labels=ROLE_LABELS)
