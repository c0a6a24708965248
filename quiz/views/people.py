"""People: roster participants (参赛名单) and accounts, within the manager's unit scope."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import BooleanField, SelectField

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
from quiz.views.common import flash_form_errors, import_upload, unit_choices

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
    code_form = AccessCodeForm()
    code_form.unit.choices = unit_choices()
    code_form.unit.data = unit_id
    return render_template("people/roster.html", page=page, q=q, unit_id=unit_id, form=form,
                           upload_form=UploadForm(), units=unit_choices(), code_form=code_form)


@bp.route("/import", methods=["POST"])
@manager_required
def import_roster():
    skip = request.form.get("skip_invalid") == "y"
    return import_upload(
        lambda data, filename: people_service.import_roster(data, filename, actor=current_user, now=utcnow(),
                                                            skip_invalid=skip),
        lambda report: _("Roster: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                         created=report.created, updated=report.updated, unchanged=report.unchanged),
        url_for("people.roster"))


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


class AccessCodeForm(FlaskForm):
    unit = SelectField(_l("Unit"), choices=[], validate_choice=False)
    missing_only = BooleanField(_l("Only people without a code"))


@bp.app_template_global()
def missing_access_codes(quiz) -> int:
    """For the quiz page: roster people of a code-checked quiz who cannot join yet."""
    return people_service.missing_access_codes(quiz)


@bp.route("/access-codes", methods=["POST"])
@manager_required
def generate_access_codes():
    """Give the roster people of a unit's subtree new personal access codes (old ones stop working)."""
    form = AccessCodeForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("people.roster", _anchor="access-codes"))
    try:
        unit = _unit_from_choice(form.unit.data)
        if unit is None:
            raise QuizError(_("Choose a unit."))
        made = people_service.generate_access_codes(unit, actor=current_user, now=utcnow(),
                                                    missing_only=form.missing_only.data)
    except QuizError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("people.roster", _anchor="access-codes"))
    db.session.commit()
    flash(ngettext("%(num)d access code made for %(unit)s. Download the list below and hand the codes out.",
                   "%(num)d access codes made for %(unit)s. Download the list below and hand the codes out.",
                   made, unit=unit.path), "success")
    return redirect(url_for("people.roster", unit=unit.id, _anchor="access-codes"))


@bp.route("/access-codes.<fmt>")
@manager_required
def access_code_list(fmt: str):
    """The access-code list of a unit's subtree (姓名, 单位, 手机号 masked, 访问码) as XLSX or CSV."""
    from quiz.services import exports
    from quiz.views.reports import MIMETYPES, _download

    if fmt not in MIMETYPES:
        raise QuizError(_("Choose CSV or XLSX."), status_code=404)
    unit = _unit_from_choice(request.args.get("unit", ""))
    if unit is None:
        raise QuizError(_("Choose a unit."))
    header, rows = people_service.access_code_table(unit, actor=current_user)
    title = _("Personal access codes: %(unit)s", unit=unit.path)
    data = exports.write_table(fmt, header, rows, title=title, sheet=_("Access codes"))
    return _download(data, _("access-codes-%(unit)s.%(fmt)s", unit=unit.path.replace("/", "-"), fmt=fmt), fmt)


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
