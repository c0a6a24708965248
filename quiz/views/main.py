"""Home page and language switch."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_login import current_user
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.forms import LanguageForm
from quiz.models import Participant, Question
from quiz.services import scope
from quiz.views.auth import safe_next

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        # A first-time visitor (usually a participant) gets a welcome with the join-code box and
        # the organisers' login link, not a redirect to the login page with a warning.
        from quiz.views.play import CodeForm

        return render_template("main/welcome.html", form=CodeForm())
    stats = {}
    if scope.is_manager(current_user):
        units = scope.visible_units(current_user).subquery()
        banks = db.session.execute(scope.visible_banks(current_user)).scalars().all()
        stats = {
            "units": db.session.scalar(select(func.count()).select_from(units)),
            "people": db.session.scalar(select(func.count(Participant.id)).where(Participant.unit_id.in_(select(units.c.id)))),
            "banks": banks,
            "questions": db.session.scalar(select(func.count(Question.id)).where(
                Question.bank_id.in_([b.id for b in banks]), Question.retired.is_(False))) if banks else 0,
        }
    return render_template("main/index.html", stats=stats)


@bp.route("/language", methods=["POST"])
def set_language():
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in current_app.config["LANGUAGES"]:
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            current_user.locale = form.lang.data
            db.session.commit()
    return redirect(safe_next(form.next.data, url_for("main.index")))


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every site; pages also link static/favicon.svg."""
    return current_app.send_static_file("favicon.ico")


@bp.route("/healthz")
def healthz():
    db.session.execute(select(1))
    return {"status": "ok"}
